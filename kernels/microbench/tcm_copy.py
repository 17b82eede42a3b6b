"""Microbenchmark: a copy through TCM with no compute loop, output from empty(): only DMA.
Against tcm_empty.py it isolates the compute loop (vectorised or scalar); at several shapes
it pins the DMA bandwidth (kernels/microbench/manifest.toml)."""
import numpy as np

from gpsimd_sim.api import empty, float32, kernel, sizeof, tcm_free, tcm_malloc

BUFFER_SIZE = 1024


def copy_reference(t_in):
    return np.array(t_in, dtype=np.float32, copy=True)


@kernel(reference=copy_reference)
def copy_forward(t_in):
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
            t_out_tcm_acc.tcm_to_tensor(tcm_buffer, i, copy_size)
    tcm_free(tcm_buffer)
    return t_out
