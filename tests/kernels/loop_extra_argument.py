"""A @loop called with one argument more than it takes (Python would refuse the call)."""
from gpsimd_sim.api import float32, kernel, loop, sizeof, tcm_free, tcm_malloc, zeros

@loop
def relu_block(tcm_buffer, copy_size):
    for j in range(copy_size):
        tcm_buffer[j] = tcm_buffer[j] if tcm_buffer[j] > 0.0 else 0.0

@kernel(reference="relu")
def relu_forward(t_in):
    n = t_in.numel()
    t_out = zeros(t_in.sizes(), float32)
    buf = tcm_malloc(sizeof(float32) * n, float32)
    a = t_in.tcm_accessor(); b = t_out.tcm_accessor()
    a.tensor_to_tcm(buf, 0, n)
    relu_block(buf, n, 7)  # EXTRA ARGUMENT
    b.tcm_to_tensor(buf, 0, n)
    tcm_free(buf)
    return t_out
