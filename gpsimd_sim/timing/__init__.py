"""The timing stage: per-core records replayed on a SimPy model of the GPSIMD engine."""
