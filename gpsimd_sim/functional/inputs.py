"""Seeded inputs: standard-normal values in the kernel's dtype."""
from __future__ import annotations

import numpy as np


def make_inputs(count: int, shape: tuple[int, ...], dtype, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    out = []
    for _ in range(count):
        x = rng.standard_normal(shape)
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            x = np.clip(np.round(x * 16), info.min, info.max)
        out.append(np.ascontiguousarray(x.astype(dtype)))
    return out
