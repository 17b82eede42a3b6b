"""The dtypes of the custom-operator API, as NumPy dtypes (bfloat16 from ``ml_dtypes``).

C++ ``torch::kFloat, kBFloat16, kHalf, kInt, kShort, kChar, kByte``.
"""
from __future__ import annotations

import ml_dtypes
import numpy as np

float32, float16, int32, int16, int8, uint8 = (np.float32, np.float16, np.int32, np.int16,
                                               np.int8, np.uint8)
bfloat16 = ml_dtypes.bfloat16

DTYPES = {"float32": float32, "bfloat16": bfloat16, "float16": float16, "int32": int32,
          "int16": int16, "int8": int8, "uint8": uint8}
_BY_DTYPE = {np.dtype(v): k for k, v in DTYPES.items()}


def dtype_name(dtype) -> str | None:
    """The API's name of ``dtype`` ("float32", "bfloat16", ...), or None if it has none."""
    try:
        return _BY_DTYPE.get(np.dtype(dtype))
    except TypeError:
        return None


def is_float(dtype) -> bool:
    """True for float32, float16 and bfloat16 (bfloat16's NumPy kind is not "f")."""
    return dtype_name(dtype) in ("float32", "float16", "bfloat16")


class Scalar:
    """``c10::Scalar`` as a kernel parameter's annotation: a number of either kind."""
