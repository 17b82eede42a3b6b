"""The functional stage: run the kernel on every core for real and check its output.

The output's shape comes from the kernel's shape function (or its first input); the
expected output from its NumPy reference, run on copies of the same arguments; the kernel
runs on the front end (``plan.py``); the two are compared (``check.py``). Cores run one
after another: custom-operator cores never synchronise, so the order cannot change a
race-free kernel's result (``ExecPlan.core_order`` lets tests prove that).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..api.dtypes import dtype_name
from ..background import Background
from ..errors import KernelFault, SimError
from .check import REFERENCES, UNCHECKED, Check, compare
from .inputs import check_output
from .plan import ExecPlan
from .signature import TensorSpec


@dataclass
class FunctionalResult:
    output: np.ndarray
    expected: np.ndarray | None
    check: Check
    traces: list
    printed: str = ""

    @property
    def correct(self) -> bool | None:
        """True or False as the check found; None when there was nothing to check against."""
        return self.check.correct if self.check.checked else None

    @property
    def max_abs_error(self) -> float:
        return self.check.max_abs_error

    @property
    def wrong_elements(self) -> int:
        return self.check.wrong_elements


BUILT_IN = frozenset(REFERENCES.values())


def reference_for(kernel):
    """The kernel's NumPy reference, or None when it has none."""
    ref = getattr(kernel, "reference", None)
    if ref is None and getattr(kernel, "spec", None) is not None:
        ref = kernel.spec.reference
    if ref is None or callable(ref):
        return ref
    if ref not in REFERENCES:
        raise SimError(f"{kernel.path}: unknown reference {ref!r} "
                       f"(built in: {', '.join(REFERENCES)}; or pass a function)")
    return REFERENCES[ref]


def output_spec(kernel, args: list) -> tuple[tuple[int, ...], np.dtype]:
    """The output's shape and dtype: the kernel's shape function, or its first input's."""
    params = kernel.params
    spec = getattr(kernel, "spec", None)     # a Python kernel's @kernel(shape=...)
    shape_fn = spec.shape if spec is not None else None
    if hasattr(kernel, "output_spec") and shape_fn is None:
        return kernel.output_spec(args)      # the C++ front end's shape.cpp
    if shape_fn is None:
        first = next((a for a, p in zip(args, params) if p.is_tensor), None)
        if first is None:
            raise SimError(f"{kernel.path}: kernel {kernel.name} has no tensor input and no "
                           "shape function to say what it returns")
        return tuple(first.shape), first.dtype
    specs = [TensorSpec(tuple(a.shape), a.dtype) if p.is_tensor else a
             for a, p in zip(args, params)]
    try:
        out = shape_fn(*specs)
    except Exception as exc:  # noqa: BLE001 - the user's shape function rejected the inputs
        raise SimError(f"{kernel.path}: the shape function of {kernel.name} rejected the "
                       f"inputs ({_shapes(args, params)}): {type(exc).__name__}: {exc}"
                       ) from None
    first_dtype = next((a.dtype for a, p in zip(args, params) if p.is_tensor), np.float32)
    if isinstance(out, TensorSpec):
        shape, dtype = out.shape, out.dtype
    elif (isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], (tuple, list))):
        shape, dtype = out
    else:
        shape, dtype = out, first_dtype
    try:
        shape = tuple(int(s) for s in shape)
        dtype = np.dtype(dtype)
    except (TypeError, ValueError):
        raise SimError(f"{kernel.path}: the shape function of {kernel.name} returned "
                       f"{out!r}, not a shape (and dtype)") from None
    if not shape or any(s <= 0 for s in shape) or dtype_name(dtype) is None:
        raise SimError(f"{kernel.path}: the shape function of {kernel.name} returned shape "
                       f"{list(shape)} {dtype}: sizes must be positive, the dtype one of "
                       "the API's")
    return shape, dtype


def _shapes(args, params) -> str:
    return ", ".join(f"{p.name} {list(a.shape)} {dtype_name(a.dtype)}" if p.is_tensor
                     else f"{p.name}={a!r}" for a, p in zip(args, params))


def read_only(a: np.ndarray) -> np.ndarray:
    """A view nobody can write through (no copy: inputs can be a GiB): the caller's array
    is never changed, by the reference or by the kernel."""
    v = a.view()
    v.flags.writeable = False
    return v


def run_reference(kernel, args: list, out_shape) -> np.ndarray | None:
    reference = reference_for(kernel)
    if reference is None:
        return None
    try:
        expected = reference(*[read_only(a) if isinstance(a, np.ndarray) else a
                               for a in args])
        expected = np.asarray(expected)
    except Exception as exc:  # noqa: BLE001 - e.g. a reference of the wrong arity
        raise SimError(f"{kernel.path}: the reference of kernel {kernel.name} failed on "
                       f"({_shapes(args, kernel.params)}): {type(exc).__name__}: {exc}"
                       ) from None
    if expected.shape != tuple(out_shape):
        raise SimError(f"{kernel.path}: the reference of {kernel.name} returns shape "
                       f"{list(expected.shape)}, the output's shape is {list(out_shape)} "
                       "(from the shape function, or the first input)")
    return expected


def _beside_the_kernel(kernel, args: list, out_shape) -> bool:
    """Whether the reference may run on another thread while the kernel runs: a built-in
    one (our own NumPy, element-wise on the one input, on a read-only view) that cannot fail
    on these arguments. A user's function runs alone, first, as it always has."""
    return (reference_for(kernel) in BUILT_IN and len(args) == 1
            and isinstance(args[0], np.ndarray) and tuple(args[0].shape) == tuple(out_shape))


def run_functional(kernel, args: list, plan: ExecPlan, rtol: float | None = None,
                   atol: float | None = None) -> FunctionalResult:
    """Run ``kernel`` on ``plan.cores`` cores and compare its output with its reference."""
    if len(args) != len(kernel.params):
        raise SimError(f"{kernel.path}: kernel {kernel.name} takes {len(kernel.params)} "
                       f"arguments, {len(args)} given")
    out_shape, out_dtype = output_spec(kernel, args)
    check_output(args, out_shape, out_dtype, kernel.path)
    if _beside_the_kernel(kernel, args, out_shape):
        reference = Background(run_reference, kernel, args, out_shape)
    else:   # alone and first: its failure is reported before the kernel runs
        expected = run_reference(kernel, args, out_shape)
        reference = None
    try:
        run = kernel.execute(args, plan, out_shape, out_dtype)
    finally:
        if reference is not None:
            expected = reference.result()  # its failure comes first, as if it had run first
    if tuple(run.output.shape) != tuple(out_shape) and expected is None:
        raise KernelFault(f"{kernel.path}: kernel {kernel.name} returned shape "
                          f"{list(run.output.shape)}, its shape function says "
                          f"{list(out_shape)}")
    spec = getattr(kernel, "spec", None)
    rtol = rtol if rtol is not None else getattr(spec, "rtol", None)
    atol = atol if atol is not None else getattr(spec, "atol", None)
    check = UNCHECKED if expected is None else compare(run.output, expected, rtol, atol)
    run.output.flags.writeable = False  # results are cached and shared: nobody may edit them
    return FunctionalResult(run.output, expected, check, run.traces, run.printed)
