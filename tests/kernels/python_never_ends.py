"""Plain Python that never ends but keeps calling the API: the per-core step limit stops it."""
from gpsimd_sim.api import kernel


@kernel(reference="relu")
def relu_forward(t_in):
    while True:
        t_in.tcm_accessor()
