"""A multicore race: every core copies the WHOLE tensor, so cores overwrite each other.

The hardware would not report it (there is no synchronisation between cores); the
simulator must.
"""
from gpsimd_sim.api import float32, get_dst_tensor, kernel, sizeof, tcm_free, tcm_malloc


@kernel(reference="relu", multicore=True)
def relu_forward(t_in):
    t_out = get_dst_tensor()
    n = t_in.numel()
    buf = tcm_malloc(sizeof(float32) * n, float32)
    t_in.tcm_accessor().tensor_to_tcm(buf, 0, n)
    t_out.tcm_accessor().tcm_to_tensor(buf, 0, n)  # RACE: every core writes elements [0, n)
    tcm_free(buf)
    return t_out
