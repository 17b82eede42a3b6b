"""The multicore ReLU exactly as published (neuron-multicore/relu.cpp), offset bug included.

A test kernel, not for use: on the last core `partition` is enlarged before it is used in
the offset `partition * cpu_id + i`, so when numel is not a multiple of the core count the
last core starts too late, reads and writes past the end of the tensor, and leaves elements
unprocessed. The simulator must report the out-of-bounds access.
"""
from gpsimd_sim.api import (float32, get_cpu_count, get_cpu_id, get_dst_tensor, kernel, loop,
                            sizeof, tcm_free, tcm_malloc)

BUFFER_SIZE = 1024


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
    partition = num_elem // cpu_count
    if cpu_id == cpu_count - 1:
        partition = num_elem - partition * (cpu_count - 1)

    buffer_size = BUFFER_SIZE
    tcm_buffer = tcm_malloc(sizeof(float32) * buffer_size, float32)

    if tcm_buffer is not None:
        t_in_tcm_acc = t_in.tcm_accessor()
        t_out_tcm_acc = t_out.tcm_accessor()

        for i in range(0, partition, buffer_size):
            remaining_elem = partition - i
            copy_size = buffer_size if remaining_elem > buffer_size else remaining_elem

            t_in_tcm_acc.tensor_to_tcm(tcm_buffer, partition * cpu_id + i, copy_size)
            relu_block(tcm_buffer, copy_size)
            t_out_tcm_acc.tcm_to_tensor(tcm_buffer, partition * cpu_id + i, copy_size)
    tcm_free(tcm_buffer)
    return t_out
