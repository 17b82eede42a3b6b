"""Design-space sweeps: a kernel (or the MLP) over buffer sizes, core counts and preset
parameters, run in parallel (local processes or Dask), resumable, with tables and plots.

``build_spec`` checks the options, ``run_sweep`` runs the points not yet in the output
folder, ``format_outcome`` summarises. See docs/sweeps.md.
"""
from .grid import SWEEP_SCHEMA_VERSION, Point, SweepSpec, build_spec
from .point import run_point
from .runner import SweepOutcome, format_outcome, run_sweep

__all__ = ["SWEEP_SCHEMA_VERSION", "Point", "SweepSpec", "SweepOutcome", "build_spec",
           "format_outcome", "run_point", "run_sweep"]
