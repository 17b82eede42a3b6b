"""What the functional stage hands a front end, and what a front end hands back.

Both front ends (Python kernels, ``loader.py``; C++ kernels, ``cpp/``) implement
``execute(args, plan, out_shape, out_dtype) -> Execution``: run the kernel on the plan's
cores and return the output and each core's records.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..api.runtime import Limits
from ..config.hardware import HardwareConfig
from ..errors import SimError


@dataclass(frozen=True)
class ExecPlan:
    """How to run a kernel: cores, the TCM and stream geometry, constants, limits."""
    cores: int
    tcm_pool_bytes: int
    # the TCM and stream geometry come from the preset (for_config): no defaults here, so
    # the preset's declared ones are the only ones
    tcm_align: int
    stream_buffer_bytes: int
    fast_streams: int
    buffer_size: int | None = None
    limits: Limits = Limits()
    timeout_s: float | None = None
    core_order: tuple[int, ...] | None = None

    @classmethod
    def for_config(cls, config: HardwareConfig, cores: int, **kw) -> "ExecPlan":
        """The plan a preset implies for ``cores`` cores."""
        t = config.tcm
        return cls(cores, t.tcm_pool_bytes, t.tcm_width_bytes, t.stream_buffer_bytes,
                   t.fast_streams, **kw)

    def order(self) -> list[int]:
        """The order the cores run in (any order gives the same result without races)."""
        if self.core_order is None:
            return list(range(self.cores))
        order = list(self.core_order)
        if sorted(order) != list(range(self.cores)):
            raise SimError(f"core order {order} is not a permutation of 0..{self.cores - 1}")
        return order


@dataclass
class Execution:
    """A kernel run: its output, each core's records, and what it printed."""
    output: np.ndarray
    traces: list
    printed: str = ""
