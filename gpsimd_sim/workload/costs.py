"""Closed-form times of the NeuronCore operations around the custom operator."""
from __future__ import annotations

from ..config.hardware import HardwareConfig
from ..timing.costs import split


def _tensor_op(flops: float, nbytes: float, config: HardwareConfig) -> dict:
    """An op on the Tensor engine: the larger of FLOPs over the peak rate and bytes over
    device-memory bandwidth, plus the fixed cost of one op."""
    nc = config.neuroncore
    compute = flops / nc.tensor_flops_per_ns
    memory = nbytes / config.memory.hbm_bytes_per_ns
    return {"ns": max(compute, memory) + nc.device_op_fixed_ns, "flops": flops, "bytes": nbytes,
            "compute_ns": compute, "memory_ns": memory,
            "bound": "memory" if memory >= compute else "compute"}


def matmul_ns(batch: int, n_in: int, n_out: int, config: HardwareConfig) -> dict:
    """A linear layer on the Tensor engine: the larger of FLOPs over the peak rate and weight
    plus activation bytes over device-memory bandwidth, plus the fixed cost of one op."""
    nc = config.neuroncore
    flops = 2.0 * batch * n_in * n_out
    nbytes = n_in * n_out * nc.matmul_weight_bytes + batch * (n_in + n_out) * 4 + n_out * 4
    return _tensor_op(flops, nbytes, config)


def weight_grad_ns(batch: int, n_in: int, n_out: int, config: HardwareConfig) -> dict:
    """``grad_W = grad_out^T @ x`` (and the bias gradient, a row sum): the same FLOPs as the
    forward matmul; reads the output gradient and the layer's input, writes the gradient."""
    a = config.neuroncore.activation_bytes
    flops = 2.0 * batch * n_in * n_out + batch * n_out
    nbytes = batch * (n_in + n_out) * a + (n_in * n_out + n_out) * a
    return _tensor_op(flops, nbytes, config)


def input_grad_ns(batch: int, n_in: int, n_out: int, config: HardwareConfig) -> dict:
    """``grad_in = grad_out @ W``: reads the weights like the forward matmul."""
    nc = config.neuroncore
    flops = 2.0 * batch * n_in * n_out
    nbytes = n_in * n_out * nc.matmul_weight_bytes + batch * (n_in + n_out) * nc.activation_bytes
    return _tensor_op(flops, nbytes, config)


def sgd_update_ns(n_params: int, config: HardwareConfig) -> dict:
    """``p -= lr * grad`` over ``n_params`` float32 values: read both, write one, over
    device-memory bandwidth, plus the fixed cost of one op (timed like a matmul)."""
    nbytes = 3 * n_params * config.neuroncore.activation_bytes
    return _tensor_op(2.0 * n_params, nbytes, config)


def elementwise_op_ns(batch: int, width: int, config: HardwareConfig) -> dict:
    """A small element-wise op on the Vector/Scalar engines (log_softmax): bytes in and out
    over device-memory bandwidth plus the fixed cost of one op."""
    nbytes = 2 * batch * width * 4
    return {"ns": nbytes / config.memory.hbm_bytes_per_ns + config.neuroncore.device_op_fixed_ns,
            "bytes": nbytes}


def return_copy_ns(nbytes: int, config: HardwareConfig) -> dict:
    """The runtime copying a tensor a single-core kernel returned (``return_copy``): device
    memory to GPSIMD data RAM and back, one transfer each way (``single``) or in
    ``fill_chunk_bytes`` pieces each way (``chunked``), each paying the DMA fixed cost and
    moving at one queue's bandwidth, one after another; nothing for ``none``."""
    mode = config.neuroncore.return_copy
    if mode == "none" or nbytes <= 0:
        return {"ns": 0.0, "transfers": 0, "bytes": 0, "mode": mode}
    chunks = [nbytes] if mode == "single" else split(nbytes, config.dma.fill_chunk_bytes)
    rate = min(config.dma.dma_bytes_per_ns, config.memory.hbm_bytes_per_ns)
    one_way = sum(config.dma.dma_fixed_ns + c / rate for c in chunks)
    return {"ns": 2.0 * one_way, "transfers": 2 * len(chunks), "bytes": 2 * nbytes,
            "mode": mode}
