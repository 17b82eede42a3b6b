"""The output check: the kernel's output against its NumPy reference, on every run.

Tolerances by dtype (``rtol``, ``atol``: an element is right when
``|out - expected| <= atol + rtol * |expected|``), overridable per kernel (``@kernel(rtol=,
atol=)``) and per run (``--rtol``/``--atol``). NaN where a number is expected is wrong (an
element the kernel never wrote, ``empty()`` and ``get_dst_tensor()`` start as NaN). A
wrong output is reported with its first wrong element: index, expected and actual value.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..api.dtypes import dtype_name

# (rtol, atol) by dtype: about 8 units in the last place of each float format, so sums and
# reductions computed in another order pass; integers exactly.
TOLERANCES = {"float32": (1e-5, 1e-6), "float16": (1e-3, 1e-3), "bfloat16": (1e-2, 1e-2)}


def relu(x: np.ndarray) -> np.ndarray:
    """The tutorial's operator, ``x > 0 ? x : 0`` in x's dtype (NaN and -0 give +0)."""
    return np.where(x > 0, x, x.dtype.type(0))   # one pass (zeros_like then copyto: two)


# built-in references, by the name @kernel(reference=...) gives: each element-wise on the
# kernel's one input (so its output has the input's shape)
REFERENCES = {"relu": relu}


def tolerance(dtype, rtol: float | None = None, atol: float | None = None
              ) -> tuple[float, float]:
    """(rtol, atol) for comparing an output of ``dtype``; given values win."""
    default = TOLERANCES.get(dtype_name(dtype), (0.0, 0.0))
    return (default[0] if rtol is None else rtol, default[1] if atol is None else atol)


@dataclass
class Check:
    """The outcome of comparing an output with its reference."""
    checked: bool                  # False: the kernel has no reference
    correct: bool
    max_abs_error: float
    wrong_elements: int
    rtol: float = 0.0
    atol: float = 0.0
    first_wrong: tuple | None = None   # index of the first wrong element
    expected_value: object = None
    actual_value: object = None
    why: str = ""                  # a shape or dtype mismatch, said in words

    def to_dict(self) -> dict:
        return {"checked": self.checked, "correct": self.correct,
                "max_abs_error": self.max_abs_error, "wrong_elements": self.wrong_elements,
                "rtol": self.rtol, "atol": self.atol,
                "first_wrong_index": list(self.first_wrong) if self.first_wrong else None,
                "expected_value": _plain(self.expected_value),
                "actual_value": _plain(self.actual_value), "mismatch": self.why or None}


def _plain(v):
    if v is None:
        return None
    v = float(v) if np.asarray(v).dtype.kind in "fcV" else int(v)
    return v


UNCHECKED = Check(False, True, 0.0, 0)
_BLOCK = 1 << 20   # elements compared at a time: float64 temporaries stay small


def compare(output: np.ndarray, expected: np.ndarray, rtol: float | None = None,
            atol: float | None = None) -> Check:
    """Compare elementwise; exact equality is checked first (cheap, and the common case)."""
    rtol, atol = tolerance(expected.dtype, rtol, atol)
    if output.shape != expected.shape or output.dtype != expected.dtype:
        why = (f"output {list(output.shape)} {dtype_name(output.dtype) or output.dtype}, "
               f"expected {list(expected.shape)} {dtype_name(expected.dtype) or expected.dtype}")
        return Check(True, False, float("inf"), int(expected.size), rtol, atol, why=why)
    if output.size == 0:
        return Check(True, True, 0.0, 0, rtol, atol)
    if np.array_equal(output, expected):  # NaN != NaN: an unwritten element is not equal
        return Check(True, True, 0.0, 0, rtol, atol)
    out, exp = output.reshape(-1), expected.reshape(-1)
    max_err, wrong, first = 0.0, 0, None
    for start in range(0, out.size, _BLOCK):
        o, e = _f64(out[start:start + _BLOCK]), _f64(exp[start:start + _BLOCK])
        with np.errstate(invalid="ignore"):  # inf - inf: handled below
            diff = np.abs(o - e)
            # equal values (the same infinity) and the reference's own NaN (log(-1)) match
            same = (o == e) | (np.isnan(o) & np.isnan(e))
            bad = ~((diff <= atol + rtol * np.abs(e)) | same)  # any other NaN: wrong
        diff[same] = 0.0
        diff[np.isnan(diff)] = np.inf
        if diff.size:
            max_err = max(max_err, float(diff.max()))
        n = int(bad.sum())
        if n and first is None:
            first = start + int(np.flatnonzero(bad)[0])
        wrong += n
    if first is None:
        return Check(True, True, max_err, 0, rtol, atol)
    index = tuple(int(i) for i in np.unravel_index(first, output.shape))
    return Check(True, False, max_err, wrong, rtol, atol, index, exp[first], out[first])


def _f64(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float64)

