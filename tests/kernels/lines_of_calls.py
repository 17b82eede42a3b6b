"""Each record names the kernel line of the call that made it (tests/test_kernels.py):
the same transfers and loop reached from two lines, directly and through a helper."""
from gpsimd_sim.api import float32, kernel, loop, sizeof, tcm_free, tcm_malloc, zeros


@loop
def double(buf, n):
    for j in range(n):
        buf[j] = buf[j] * 2.0


def through_helper(acc_in, acc_out, buf, i, n):
    acc_in.tensor_to_tcm(buf, i, n)    # HELPER IN
    double(buf, n)                     # HELPER LOOP
    acc_out.tcm_to_tensor(buf, i, n)   # HELPER OUT


@kernel(reference=lambda x: x * 2)
def double_forward(t_in):
    n = t_in.numel()
    t_out = zeros(t_in.sizes(), float32)
    buf = tcm_malloc(sizeof(float32) * 4, float32)
    acc_in = t_in.tcm_accessor()
    acc_out = t_out.tcm_accessor()
    for i in range(0, n, 4):
        if i % 8 == 0:
            acc_in.tensor_to_tcm(buf, i, 4)    # DIRECT IN
            double(buf, 4)                     # DIRECT LOOP
            acc_out.tcm_to_tensor(buf, i, 4)   # DIRECT OUT
        else:
            through_helper(acc_in, acc_out, buf, i, 4)
    tcm_free(buf)
    return t_out
