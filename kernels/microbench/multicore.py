"""Microbenchmark: the multicore kernel (kernels/relu_multicore.py) at 1, 2, 4 and 8 cores:
pins how the cores share the path to device memory (kernels/microbench/manifest.toml).

ReLU on all GPSIMD cores through the TCM accessor (neuron-multicore/relu.cpp), fixed.

Line for line with the published C++, except the offset: the published kernel writes
`partition * cpu_id + i`, where `partition` has already been enlarged on the last core, so
when numel is not a multiple of the core count the last core reads and writes past the end
(tests/kernels/relu_multicore_published.py keeps that bug; the simulator reports it).
Here every core starts at `base_partition * cpu_id`.
"""
from gpsimd_sim.api import (float32, get_cpu_count, get_cpu_id, get_dst_tensor, kernel, loop,
                            sizeof, tcm_free, tcm_malloc)

BUFFER_SIZE = 1024  # static constexpr size_t buffer_size = 1024;  (--buffer-size overrides)


@loop
def relu_block(tcm_buffer, copy_size):
    for j in range(copy_size):
        tcm_buffer[j] = tcm_buffer[j] if tcm_buffer[j] > 0.0 else 0.0


@kernel(reference="relu", multicore=True)
def relu_forward(t_in):
    num_elem = t_in.numel()
    t_out = get_dst_tensor()

    cpu_id = get_cpu_id()
    cpu_count = get_cpu_count()
    base_partition = num_elem // cpu_count
    partition = base_partition
    if cpu_id == cpu_count - 1:
        partition = num_elem - base_partition * (cpu_count - 1)

    buffer_size = BUFFER_SIZE
    tcm_buffer = tcm_malloc(sizeof(float32) * buffer_size, float32)

    if tcm_buffer is not None:
        t_in_tcm_acc = t_in.tcm_accessor()
        t_out_tcm_acc = t_out.tcm_accessor()

        for i in range(0, partition, buffer_size):
            remaining_elem = partition - i
            copy_size = buffer_size if remaining_elem > buffer_size else remaining_elem

            t_in_tcm_acc.tensor_to_tcm(tcm_buffer, base_partition * cpu_id + i, copy_size)
            relu_block(tcm_buffer, copy_size)
            t_out_tcm_acc.tcm_to_tensor(tcm_buffer, base_partition * cpu_id + i, copy_size)
    tcm_free(tcm_buffer)
    return t_out
