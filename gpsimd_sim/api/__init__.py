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
"""
from .decorators import KernelSpec, kernel, loop
from .runtime import get_cpu_count, get_cpu_id, get_dst_tensor
from .stream import ReadStreamAccessor, WriteStreamAccessor
from .tcm import TcmBuffer, sizeof, tcm_free, tcm_malloc
from .tensor import (DTYPES, ElementAccessor, TcmAccessor, Tensor, empty, eye, float16, float32,
                     full, int8, int16, int32, ones, uint8, zeros)

__all__ = [
    "kernel", "loop", "KernelSpec", "get_cpu_id", "get_cpu_count", "get_dst_tensor",
    "tcm_malloc", "tcm_free", "sizeof", "TcmBuffer", "zeros", "empty", "ones", "full", "eye",
    "Tensor",
    "ElementAccessor", "TcmAccessor", "DTYPES", "float32", "float16", "int32", "int16", "int8",
    "uint8", "ReadStreamAccessor", "WriteStreamAccessor",
]
