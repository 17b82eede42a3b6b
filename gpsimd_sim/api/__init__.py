"""The kernel-facing API: what a kernel file imports, mirroring the C++ custom-operator API.

C++                                          Python
torch::zeros(t.sizes(), torch::kFloat)       zeros(t.sizes(), float32)
torch::empty(...)                            empty(...)
torch::ones / full / eye                     ones(...), full(sizes, v), eye(n)
t.numel(), t.sizes()                         t.numel(), t.sizes()
t.accessor<float, 2>()                       t.accessor(2)
t.tcm_accessor()                             t.tcm_accessor()
acc.tensor_to_tcm<float>(buf, off, n)        acc.tensor_to_tcm(buf, off, n)
acc.tcm_to_tensor<float>(buf, off, n)        acc.tcm_to_tensor(buf, off, n)
(float*)torch::neuron::tcm_malloc(n)         tcm_malloc(n, float32)   # None when it fails
torch::neuron::tcm_free(p)                   tcm_free(p)
get_cpu_id(), get_cpu_count()                get_cpu_id(), get_cpu_count()
get_dst_tensor()                             get_dst_tensor()
t.read_stream_accessor<float>()              t.read_stream_accessor(float32)   # .read(), .close()
t.write_stream_accessor<float>()             t.write_stream_accessor(float32)  # .write(v), .close()
for (j...) buf[j] = ...;                     a @loop function (numba-compiled, counted)
torch::exp(t), torch::add_out(r, a, b)       exp(t), add_out(r, a, b)   # device tensor ops
t.fill_(v)                                   t.fill_(v)
double lo, int64_t n (kernel arguments)      lo: float, n: int (annotations)
"""
from . import ops
from .decorators import KernelSpec, kernel, loop
from .dtypes import DTYPES, Scalar, bfloat16, float16, float32, int8, int16, int32, uint8
from .ops import (abs, abs_out, add, add_out, bitwise_and, bitwise_and_out, bitwise_not,  # noqa: A004
                  bitwise_not_out, bitwise_or, bitwise_or_out, ceil, ceil_out, clamp, clamp_out,
                  cos, cos_out, div, div_out, exp, exp_out, fill_, floor, floor_out, log,
                  log2, log2_out, log10, log10_out, log_out, mul, mul_out, pow, pow_out, sin,
                  sin_out, sub, sub_out, tan, tan_out)
from .runtime import get_cpu_count, get_cpu_id, get_dst_tensor
from .stream import ReadStreamAccessor, WriteStreamAccessor
from .tcm import TcmBuffer, sizeof, tcm_free, tcm_malloc
from .tensor import ElementAccessor, TcmAccessor, Tensor, empty, eye, full, ones, zeros

__all__ = [
    "kernel", "loop", "KernelSpec", "Scalar", "get_cpu_id", "get_cpu_count", "get_dst_tensor",
    "tcm_malloc", "tcm_free", "sizeof", "TcmBuffer", "zeros", "empty", "ones", "full", "eye",
    "Tensor",
    "ElementAccessor", "TcmAccessor", "DTYPES", "float32", "bfloat16", "float16", "int32",
    "int16", "int8", "uint8", "ReadStreamAccessor", "WriteStreamAccessor", *ops.__all__,
]
