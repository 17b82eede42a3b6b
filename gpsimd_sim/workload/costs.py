"""Closed-form times of the NeuronCore operations around the custom operator."""
from __future__ import annotations

from ..config.hardware import HardwareConfig


def matmul_ns(batch: int, n_in: int, n_out: int, config: HardwareConfig) -> dict:
    """A linear layer on the Tensor engine: the larger of FLOPs over the peak rate and weight
    plus activation bytes over device-memory bandwidth, plus the fixed cost of one op."""
    nc = config.neuroncore
    flops = 2.0 * batch * n_in * n_out
    nbytes = n_in * n_out * nc.matmul_weight_bytes + batch * (n_in + n_out) * 4 + n_out * 4
    compute = flops / nc.tensor_flops_per_ns
    memory = nbytes / config.memory.hbm_bytes_per_ns
    return {"ns": max(compute, memory) + nc.device_op_fixed_ns, "flops": flops, "bytes": nbytes,
            "compute_ns": compute, "memory_ns": memory,
            "bound": "memory" if memory >= compute else "compute"}


def elementwise_op_ns(batch: int, width: int, config: HardwareConfig) -> dict:
    """A small element-wise op on the Vector/Scalar engines (log_softmax): bytes in and out
    over device-memory bandwidth plus the fixed cost of one op."""
    nbytes = 2 * batch * width * 4
    return {"ns": nbytes / config.memory.hbm_bytes_per_ns + config.neuroncore.device_op_fixed_ns,
            "bytes": nbytes}
