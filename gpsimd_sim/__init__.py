"""gpsimd_sim: a cycle-approximate simulator of the Trainium / Inferentia2 GPSIMD engine.

From Python: ``gpsimd_sim.simulate(kernel, *arrays_and_scalars, cores=..., preset=...)``
(docs/python-api.md). From a shell: ``gpsimd-sim run KERNEL`` (README).
"""
import importlib

__version__ = "0.2.0"

__all__ = ["simulate", "RunResult", "__version__"]


def __getattr__(name):
    # imported on first use: `import gpsimd_sim` stays cheap
    if name in ("simulate", "RunResult"):
        return getattr(importlib.import_module("gpsimd_sim.simulation"), name)
    raise AttributeError(f"module 'gpsimd_sim' has no attribute {name!r}")
