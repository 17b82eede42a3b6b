"""Microbenchmark: the TCM kernel with empty() instead of zeros(). Against kernels/relu_tcm.py at
the same buffer sizes it isolates the zeros() fill: how many transfers it takes, whether it
is staged at all (kernels/microbench/manifest.toml)."""
from gpsimd_sim.api import empty, float32, kernel, loop, sizeof, tcm_free, tcm_malloc

BUFFER_SIZE = 1024


@loop
def relu_block(tcm_buffer, copy_size):
    for j in range(copy_size):
        tcm_buffer[j] = tcm_buffer[j] if tcm_buffer[j] > 0.0 else 0.0


@kernel(reference="relu")
def relu_forward(t_in):
    num_elem = t_in.numel()
    t_out = empty(t_in.sizes(), float32)
    buffer_size = BUFFER_SIZE
    tcm_buffer = tcm_malloc(sizeof(float32) * buffer_size, float32)
    if tcm_buffer is not None:
        t_in_tcm_acc = t_in.tcm_accessor()
        t_out_tcm_acc = t_out.tcm_accessor()
        for i in range(0, num_elem, buffer_size):
            remaining_elem = num_elem - i
            copy_size = buffer_size if remaining_elem > buffer_size else remaining_elem
            t_in_tcm_acc.tensor_to_tcm(tcm_buffer, i, copy_size)
            relu_block(tcm_buffer, copy_size)
            t_out_tcm_acc.tcm_to_tensor(tcm_buffer, i, copy_size)
    tcm_free(tcm_buffer)
    return t_out
