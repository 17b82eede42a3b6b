"""A @loop whose `while True:` never ends: the compiled loop's iteration limit stops it."""
from gpsimd_sim.api import float32, kernel, loop, sizeof, tcm_free, tcm_malloc, zeros


@loop
def spin(tcm_buffer):
    while True:
        tcm_buffer[0] = tcm_buffer[0] + 1.0


@kernel(reference="relu")
def relu_forward(t_in):
    t_out = zeros(t_in.sizes(), float32)
    buf = tcm_malloc(sizeof(float32) * 16, float32)
    spin(buf)
    tcm_free(buf)
    return t_out
