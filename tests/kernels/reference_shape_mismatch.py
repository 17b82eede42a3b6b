"""A shape function that disagrees with the built-in reference: the run must stop on the
reference's error before the kernel runs (the kernel would leave a file behind)."""
import os

from gpsimd_sim.api import float32, kernel, zeros


def one_column(t_in):
    return [t_in.shape[0], 1]


@kernel(reference="relu", shape=one_column)
def relu_forward(t_in):
    open(os.environ["GPSIMD_SIM_TEST_MARKER"], "w").close()   # the kernel ran
    return zeros([t_in.sizes()[0], 1], float32)
