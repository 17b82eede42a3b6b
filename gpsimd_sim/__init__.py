"""gpsimd_sim: a cycle-approximate simulator of the Trainium / Inferentia2 GPSIMD engine."""
__version__ = "0.1.0"
