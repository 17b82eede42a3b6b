"""The TCM ReLU of kernels/relu_tcm.py for any dtype: buffer and output take the input's dtype.

The shipped kernels are float32 only, like the C++ (`torch::kFloat`, `float *`); this one
lets the tests run the same loop on float16 and int32 tensors.
"""
from gpsimd_sim.api import kernel, loop, sizeof, tcm_free, tcm_malloc, zeros

BUFFER_SIZE = 1024


@loop
def relu_block(tcm_buffer, copy_size):
    for j in range(copy_size):
        tcm_buffer[j] = tcm_buffer[j] if tcm_buffer[j] > 0 else 0


@kernel(reference="relu")
def relu_forward(t_in):
    num_elem = t_in.numel()
    t_out = zeros(t_in.sizes(), t_in.dtype)
    buffer_size = BUFFER_SIZE
    tcm_buffer = tcm_malloc(sizeof(t_in.dtype) * buffer_size, t_in.dtype)
    if tcm_buffer is not None:
        t_in_tcm_acc = t_in.tcm_accessor()
        t_out_tcm_acc = t_out.tcm_accessor()
        for i in range(0, num_elem, buffer_size):
            copy_size = min(buffer_size, num_elem - i)
            t_in_tcm_acc.tensor_to_tcm(tcm_buffer, i, copy_size)
            relu_block(tcm_buffer, copy_size)
            t_out_tcm_acc.tcm_to_tensor(tcm_buffer, i, copy_size)
    tcm_free(tcm_buffer)
    return t_out
