"""The functional stage: run the kernel on every core for real and check its output.

Cores run one after another (custom-operator cores never synchronise, so the order cannot
change a race-free kernel's result; ``order`` lets tests prove that). Each core leaves a
``CoreTrace`` of records for the timing stage.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..api import runtime
from ..api.tensor import Tensor, garbage_like
from ..errors import KernelFault, SimError
from .loader import LoadedKernel, user_line
from ..loops import LoopCompileError
from ..records import CoreTrace
from .references import REFERENCES, compare
from ..wall_clock import wall_limit


@dataclass
class FunctionalResult:
    output: np.ndarray
    expected: np.ndarray
    correct: bool
    max_abs_error: float
    wrong_elements: int
    traces: list[CoreTrace]


def reference_for(kernel: LoadedKernel):
    ref = kernel.spec.reference
    if callable(ref):
        return ref
    if ref not in REFERENCES:
        raise SimError(f"{kernel.path}: unknown reference {ref!r} "
                       f"(built in: {', '.join(REFERENCES)}; or pass a function)")
    return REFERENCES[ref]


def run_functional(kernel: LoadedKernel, inputs: list[np.ndarray], cores: int,
                   tcm_pool_bytes: int, limits: runtime.Limits = runtime.Limits(),
                   order: list[int] | None = None, timeout_s: float | None = None
                   ) -> FunctionalResult:
    """Run ``kernel`` on ``cores`` cores (1 unless multicore) and compare with NumPy."""
    reference = reference_for(kernel)
    try:
        expected = np.asarray(reference(*[x.copy() for x in inputs]))
    except Exception as exc:  # noqa: BLE001 - e.g. a kernel of 3 tensors, a 1-input reference
        raise SimError(f"{kernel.path}: the reference of kernel {kernel.name} failed on its "
                       f"{len(inputs)} input tensor(s): {type(exc).__name__}: {exc}") from None
    params = kernel.fn.__code__.co_varnames[:kernel.fn.__code__.co_argcount]
    if len(params) != len(inputs):
        raise SimError(f"{kernel.path}: kernel {kernel.name} takes {len(params)} tensors, "
                       f"the reference {len(inputs)}")
    tensors = [Tensor(x.copy(), name) for x, name in zip(inputs, params)]
    multicore = kernel.spec.multicore
    dst = Tensor(garbage_like(expected.shape, expected.dtype), "dst") if multicore else None
    order = list(range(cores)) if order is None else list(order)
    if sorted(order) != list(range(cores)):
        raise SimError(f"core order {order} is not a permutation of 0..{cores - 1}")
    traces: dict[int, CoreTrace] = {}
    returned = None
    with wall_limit(timeout_s, kernel.path):
        for core in order:
            ctx = runtime.CoreContext(core, cores, multicore, tcm_pool_bytes, kernel.filename,
                                      dst, limits, kernel.path)
            runtime.activate(ctx)
            try:
                returned = kernel.fn(*tensors)
            except SimError:
                raise
            except LoopCompileError as exc:  # a @loop numba could not type for these arguments
                raise KernelFault(f"{str(exc).replace(kernel.filename, kernel.path, 1)} "
                                  f"(core {core})") from None
            except RecursionError:
                raise KernelFault(f"{kernel.path}: core {core}: kernel recursed too deeply") from None
            except Exception as exc:  # noqa: BLE001 - the user's kernel raised: report it
                line = user_line(exc.__traceback__, kernel.filename)
                raise KernelFault(f"{kernel.path}:{line}: core {core}: kernel raised "
                                  f"{type(exc).__name__}: {exc}") from None
            finally:
                runtime.activate(None)
            traces[core] = ctx.finish()
    if multicore:
        output = dst.data
    else:
        if not isinstance(returned, Tensor):
            raise KernelFault(f"{kernel.path}: kernel {kernel.name} returned "
                              f"{type(returned).__name__}, expected a tensor (single-core "
                              "kernels return their output)")
        output = returned.data
    correct, max_err, wrong = compare(output, expected)
    return FunctionalResult(output, expected, correct, max_err, wrong,
                            [traces[c] for c in range(cores)])
