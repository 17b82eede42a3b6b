"""Honest numbers: every estimate with its error band (docs/calibration.md).

- ``run_band(result)`` / ``model_band(result)`` / ``validate_bands(preset)``: bands of a kernel
  run, a whole-model throughput, the documented points (``bands.py``);
- ``get_ensemble(preset, members, seed)``: the members behind them (``ensemble.py``);
- ``calibrate_from_measurements(csv, preset)``: narrow the ranges with your own trn1
  measurements of the microbenchmarks in kernels/microbench (``measured.py``).
"""
from .bands import band, band_text, model_band, run_band, validate_bands
from .ensemble import DEFAULT_MEMBERS, Ensemble, get_ensemble

__all__ = ["band", "band_text", "run_band", "model_band", "validate_bands", "get_ensemble",
           "Ensemble", "DEFAULT_MEMBERS", "calibrate_from_measurements"]


def calibrate_from_measurements(*args, **kwargs):
    """See ``gpsimd_sim.uncertainty.measured.calibrate_from_measurements``."""
    from .measured import calibrate_from_measurements as impl
    return impl(*args, **kwargs)
