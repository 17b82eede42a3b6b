"""The C++ front end as ``gpsimd_sim.frontend`` sees a kernel (``load_cpp``).

A thin layer over ``load_cpp_kernel``: the attributes the functional stage reads (``path``,
``name``, ``language``, ``multicore``, ``params`` as ``functional.signature.Param``,
``default_buffer_size``, ``reference``, ``source_hash``), ``entry`` (refuses a buffer size
the kernel cannot take), ``output_spec`` and ``execute(args, plan, out_shape, out_dtype)``.
"""
from __future__ import annotations

import hashlib

from ..functional.plan import ExecPlan, Execution
from ..functional.signature import Param
from . import CppKernel, load_cpp_kernel

import numpy as np


def _relu_backward(t_grad, t_in):
    return np.where(t_in > 0, t_grad, np.zeros((), dtype=t_grad.dtype)).astype(t_grad.dtype)


# NumPy references of the operators of the shipped C++ kernels (kernels/cpp/), by the name
# their NEURON_LIBRARY registers ("relu" is functional/check.py's built-in); others: none
KNOWN_REFERENCES = {
    "relu_forward": "relu",
    "relu_backward": _relu_backward,
    "tensor_add": lambda t1, t2: np.add(t1, t2),
    "tensor_negate": lambda t_in: np.negative(t_in),
}


class CppFrontend:
    language = "cpp"

    def __init__(self, kernel: CppKernel):
        self.cpp = kernel
        self.path = kernel.path
        self.name = kernel.name
        self.op = kernel.op
        self.ops = kernel.ops
        self.multicore = kernel.multicore
        self.params = [Param(n, k) for n, k in kernel.params]
        self.default_buffer_size = kernel.buffer_size
        self.reference = KNOWN_REFERENCES.get(kernel.op)
        self.compiler = kernel.compiler
        shape = kernel._shape.dir if kernel._shape is not None else ""  # its shape.cpp build
        self.source_hash = hashlib.sha256(
            f"{kernel.op}|{kernel.multicore}|{kernel.build_dir}|{shape}".encode()).hexdigest()

    def entry(self, buffer_size: int | None):
        """Build (or find) the kernel for ``buffer_size``; refuses one it cannot take."""
        return self.cpp._build(buffer_size)

    def output_spec(self, args):
        return self.cpp.output_spec(args)

    def execute(self, args: list, plan: ExecPlan, out_shape, out_dtype) -> Execution:
        limits = plan.limits
        run = self.cpp.execute(
            list(args), cores=plan.cores, tcm_pool_bytes=plan.tcm_pool_bytes,
            buffer_size=plan.buffer_size, max_steps=limits.max_steps,
            max_iterations=limits.max_iterations, timeout_s=plan.timeout_s,
            fast_streams=plan.fast_streams, stream_buffer_bytes=plan.stream_buffer_bytes,
            tcm_align=plan.tcm_align,
            core_order=list(plan.core_order) if plan.core_order else None,
            out_spec=(tuple(out_shape), out_dtype))
        return Execution(run.output, run.traces, run.printed)


def load_cpp(path: str, op: str | None = None, multicore: bool | None = None) -> CppFrontend:
    return CppFrontend(load_cpp_kernel(path, op=op, multicore=multicore))
