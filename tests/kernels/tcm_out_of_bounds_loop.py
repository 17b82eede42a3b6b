"""A @loop that runs one element past the end of its TCM buffer (an off-by-one `<=`)."""
from gpsimd_sim.api import float32, kernel, loop, sizeof, tcm_free, tcm_malloc, zeros

BUFFER_SIZE = 16


@loop
def relu_block(tcm_buffer, copy_size):
    for j in range(copy_size + 1):  # BUG: one past the end
        tcm_buffer[j] = tcm_buffer[j] if tcm_buffer[j] > 0.0 else 0.0


@kernel(reference="relu")
def relu_forward(t_in):
    t_out = zeros(t_in.sizes(), float32)
    buf = tcm_malloc(sizeof(float32) * BUFFER_SIZE, float32)
    acc_in = t_in.tcm_accessor()
    acc_out = t_out.tcm_accessor()
    for i in range(0, t_in.numel(), BUFFER_SIZE):
        n = min(BUFFER_SIZE, t_in.numel() - i)
        acc_in.tensor_to_tcm(buf, i, n)
        relu_block(buf, BUFFER_SIZE)
        acc_out.tcm_to_tensor(buf, i, n)
    tcm_free(buf)
    return t_out
