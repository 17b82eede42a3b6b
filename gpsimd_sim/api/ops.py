"""The device tensor ops of the custom-operator API (``torch::abs``, ``torch::add_out``, ...).

As in the C++ API reference: no broadcasting (operands have one shape); ``op(...)`` returns
a new tensor, ``op_out(result, ...)`` writes into ``result``; ``t.fill_(v)`` fills in place.
Each call computes the values with NumPy and leaves a ``TensorOp`` record: the op runs on
the GPSIMD cores, its operands staged through TCM by DMA and its elements computed across
the SIMD lanes at the preset's cost for the op's class (``timing/costs.py``).

Float16 and bfloat16 are computed in float32 and rounded once to the tensor's dtype.
``div`` of integer tensors divides exactly and rounds toward zero, as C++ does.
"""
from __future__ import annotations

import numpy as np

from ..records import TensorOp
from .dtypes import is_float
from .runtime import current
from .tensor import Tensor, _new_tensor, claim, storage


def _operand(x, what: str):
    """An operand's values: a tensor's array, or a scalar (``torch::Scalar``)."""
    if isinstance(x, Tensor):
        return storage(x)
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.integer,
                                                            np.floating)):
        raise current().fault(f"{what}: expected a tensor or a number, got "
                              f"{type(x).__name__}")
    return x


def _shape_of(args, what: str) -> tuple[tuple[int, ...], np.dtype]:
    tensors = [a for a in args if isinstance(a, Tensor)]
    if not tensors:
        raise current().fault(f"{what}: needs at least one tensor operand")
    shape = tensors[0].sizes()
    for t in tensors[1:]:
        if t.sizes() != shape:
            raise current().fault(f"{what}: operands of shapes {list(shape)} and "
                                  f"{list(t.sizes())} (the tensor ops do not broadcast)")
    return shape, tensors[0].dtype


def _compute(fn, dtype, *values):
    work = [v.astype(np.float32) if isinstance(v, np.ndarray) and is_float(dtype)
            and v.dtype.itemsize < 4 else v for v in values]
    with np.errstate(all="ignore"):  # inf and nan follow IEEE, as on the hardware
        return fn(*work)


def _apply(name: str, fn, result: Tensor | None, *args, integral: bool = False) -> Tensor:
    ctx = current()
    ctx.step()
    what = f"{name}_out" if result is not None else name
    shape, dtype = _shape_of(args, what)
    if integral and is_float(dtype):
        raise ctx.fault(f"{what}: bitwise ops need integer tensors, got {dtype}")
    values = [_operand(a, what) for a in args]
    out = _compute(fn, dtype, *values)
    if result is None:
        result = _new_tensor(name, np.empty(shape, dtype=dtype))
    elif not isinstance(result, Tensor):
        raise ctx.fault(f"{what}: the result must be a tensor, got {type(result).__name__}")
    elif result.sizes() != shape:
        raise ctx.fault(f"{what}: result of shape {list(result.sizes())} for operands of "
                        f"shape {list(shape)}")
    elif result.const:
        raise ctx.fault(f"{what}: result {result.name} is a const input tensor")
    target = storage(result)
    if ctx.multicore:  # every core runs the op: writing a shared tensor twice is a race
        claim(ctx, result, 0, result.numel(), ctx.line())
    target[...] = np.asarray(out).astype(target.dtype, copy=False)
    n = int(np.prod(shape))
    nbytes_in = 0 if name == "fill_" else sum(storage(a).nbytes for a in args
                                              if isinstance(a, Tensor))
    ctx.emit(TensorOp(name, n, target.dtype.itemsize, nbytes_in, target.nbytes, ctx.line()))
    return result


def _unary(name, fn):
    def op(self: Tensor) -> Tensor:
        return _apply(name, fn, None, self)

    def op_out(result: Tensor, self: Tensor) -> Tensor:
        return _apply(name, fn, result, self)

    op.__name__, op_out.__name__ = name, f"{name}_out"
    op.__doc__ = f"``torch::{name}(self)``: a new tensor of {name} of each element."
    op_out.__doc__ = f"``torch::{name}_out(result, self)``: {name} of each element into result."
    return op, op_out


abs, abs_out = _unary("abs", np.abs)  # noqa: A001 - the API's name
ceil, ceil_out = _unary("ceil", np.ceil)
floor, floor_out = _unary("floor", np.floor)
sin, sin_out = _unary("sin", np.sin)
cos, cos_out = _unary("cos", np.cos)
tan, tan_out = _unary("tan", np.tan)
log, log_out = _unary("log", np.log)
log2, log2_out = _unary("log2", np.log2)
log10, log10_out = _unary("log10", np.log10)
exp, exp_out = _unary("exp", np.exp)


def _int_div(a, b):
    if isinstance(a, np.ndarray) and a.dtype.kind in "iu" and (
            not isinstance(b, np.ndarray) or b.dtype.kind in "iu"):
        if np.any(np.asarray(b) == 0):
            raise current().fault("div: integer division by zero")
        return np.trunc(np.true_divide(a, b))
    return np.true_divide(a, b)


def _scaled(sign, alpha):
    """``a + sign * alpha * b``: ``torch::add`` (sign 1) and ``torch::sub`` (sign -1)."""
    return lambda a, b: a + sign * alpha * b


def add(self, other, alpha=1) -> Tensor:
    """``self + alpha * other`` (``torch::add``)."""
    return _apply("add", _scaled(1, alpha), None, self, other)


def add_out(result, self, other, alpha=1) -> Tensor:
    return _apply("add", _scaled(1, alpha), result, self, other)


def sub(self, other, alpha=1) -> Tensor:
    """``self - alpha * other`` (``torch::sub``)."""
    return _apply("sub", _scaled(-1, alpha), None, self, other)


def sub_out(result, self, other, alpha=1) -> Tensor:
    return _apply("sub", _scaled(-1, alpha), result, self, other)


def mul(self, other) -> Tensor:
    return _apply("mul", np.multiply, None, self, other)


def mul_out(result, self, other) -> Tensor:
    return _apply("mul", np.multiply, result, self, other)


def div(self, other) -> Tensor:
    return _apply("div", _int_div, None, self, other)


def div_out(result, self, other) -> Tensor:
    return _apply("div", _int_div, result, self, other)


def pow(self, exponent) -> Tensor:  # noqa: A001 - the API's name
    """``self ** exponent``; either may be a scalar (``torch::pow``)."""
    return _apply("pow", np.power, None, self, exponent)


def pow_out(result, self, exponent) -> Tensor:
    return _apply("pow", np.power, result, self, exponent)


def clamp(self, minval, maxval) -> Tensor:
    """Each element clamped into ``[minval, maxval]`` (``torch::clamp``)."""
    return _apply("clamp", lambda a: np.minimum(np.maximum(a, minval), maxval), None, self)


def clamp_out(result, self, minval, maxval) -> Tensor:
    return _apply("clamp", lambda a: np.minimum(np.maximum(a, minval), maxval), result, self)


def bitwise_and(self, other) -> Tensor:
    return _apply("bitwise_and", np.bitwise_and, None, self, other, integral=True)


def bitwise_and_out(result, self, other) -> Tensor:
    return _apply("bitwise_and", np.bitwise_and, result, self, other, integral=True)


def bitwise_or(self, other) -> Tensor:
    return _apply("bitwise_or", np.bitwise_or, None, self, other, integral=True)


def bitwise_or_out(result, self, other) -> Tensor:
    return _apply("bitwise_or", np.bitwise_or, result, self, other, integral=True)


def bitwise_not(self) -> Tensor:
    return _apply("bitwise_not", np.invert, None, self, integral=True)


def bitwise_not_out(result, self) -> Tensor:
    return _apply("bitwise_not", np.invert, result, self, integral=True)


def fill_(self: Tensor, value) -> Tensor:
    """Fill ``self`` with ``value`` in place (``t.fill_(value)``)."""
    _operand(value, "fill_")
    return _apply("fill_", lambda a: np.full(a.shape, value), self, self)


# the C++ member function t.fill_(v): a method of Tensor, defined with the other ops (so
# tensor.py needs nothing from here)
Tensor.fill_ = fill_

OPS = ["abs", "ceil", "floor", "sin", "cos", "tan", "log", "log2", "log10", "exp", "pow",
       "clamp", "add", "sub", "mul", "div", "bitwise_and", "bitwise_or", "bitwise_not"]
__all__ = OPS + [f"{n}_out" for n in OPS] + ["fill_"]
