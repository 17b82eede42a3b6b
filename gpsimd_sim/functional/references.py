"""NumPy references of the operators kernels implement: the output every run is checked against."""
from __future__ import annotations

import numpy as np


def relu(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, np.zeros((), dtype=x.dtype)).astype(x.dtype)


REFERENCES = {"relu": relu}


def tolerance(dtype) -> tuple[float, float]:
    """(rtol, atol) for comparing a kernel's output with the reference."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        return 0.0, 0.0
    return (1e-3, 1e-3) if dtype.itemsize == 2 else (1e-6, 1e-6)


def compare(output: np.ndarray, expected: np.ndarray) -> tuple[bool, float, int]:
    """(correct, max_abs_error, wrong_elements); NaN (an element never written) is wrong."""
    if output.shape != expected.shape or output.dtype != expected.dtype:
        # a kernel that returns float32 for a float16 operator is wrong even if values agree
        return False, float("inf"), int(expected.size)
    out = output.astype(np.float64)
    exp = expected.astype(np.float64)
    rtol, atol = tolerance(expected.dtype)
    diff = np.abs(out - exp)
    bad = ~(diff <= atol + rtol * np.abs(exp))  # NaN compares False, so it is counted bad
    max_err = float(np.nanmax(np.where(np.isnan(diff), np.inf, diff))) if diff.size else 0.0
    return not bad.any(), max_err, int(bad.sum())
