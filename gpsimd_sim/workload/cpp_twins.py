"""The C++ rows of ``validate``: each documented point run again with the C++ source the
tutorial ran (kernels/cpp/, not one character edited), on the same configuration as its
Python row, so the table shows whether the two front ends agree and how far each is from the
documented value. The Python rows stay the ones the fit sees and the verdict judges: the
C++ rows are a check on the C++ front end, not more data."""
from __future__ import annotations

from dataclasses import replace

from ..config.presets import load_config
from ..errors import SimError
from .calibration import DEFAULT_MODEL, measurements_for, simulate_measurement


def cpp_rows(preset: str = "trn1", model_path: str = DEFAULT_MODEL) -> dict[str, dict]:
    """Per documented variant with a C++ source: its kernel, simulated iter/s, error against
    the documented value, difference from the Python row's kernel, and whether its output was
    right; or why it could not run (no compiler, say)."""
    config, provenance = load_config(preset)
    out = {}
    for m in measurements_for(preset):
        if not m.cpp_kernel:
            continue
        try:
            result = simulate_measurement(replace(m, kernel=m.cpp_kernel), config, provenance,
                                          model_path)
        except SimError as exc:
            out[m.variant] = {"kernel": m.cpp_kernel, "skipped": str(exc)}
            continue
        ips = result.iter_per_s
        out[m.variant] = {
            "kernel": m.cpp_kernel,
            "simulated_iter_per_s": ips,
            "error_pct": 100.0 * (ips - m.iter_per_s) / m.iter_per_s,
            "correct": result.correct,
        }
    return out


def add_cpp_rows(doc: dict, model_path: str = DEFAULT_MODEL) -> dict:
    """Give each row of a validate document its C++ twin (``row["cpp"]``), with the
    difference from the Python row; returns ``doc``."""
    twins = cpp_rows(doc["preset"], model_path)
    for row in doc["rows"]:
        twin = twins.get(row["variant"])
        if twin and "simulated_iter_per_s" in twin:
            twin["vs_python_pct"] = 100.0 * (twin["simulated_iter_per_s"]
                                             / row["simulated_iter_per_s"] - 1.0)
        row["cpp"] = twin
    return doc
