"""Microbenchmark: a kernel that does nothing but return an empty() tensor of its input's
shape. Its time per call is the per-call overhead: the custom-operator launch and the
runtime's handling of the returned tensor (kernels/microbench/manifest.toml). Its output is
not checked (empty() leaves it unwritten)."""
from gpsimd_sim.api import empty, float32, kernel


@kernel()
def null_forward(t_in):
    return empty(t_in.sizes(), float32)
