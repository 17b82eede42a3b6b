"""Clamp every element into [lo, hi] on all GPSIMD cores through TCM: two ``double`` scalars.

    torch::Tensor clamp_forward(const torch::Tensor& t_in, double lo, double hi) {
      size_t num_elem = t_in.numel();
      torch::Tensor t_out = get_dst_tensor();
      uint32_t cpu_id = get_cpu_id();
      uint32_t cpu_count = get_cpu_count();
      size_t base = num_elem / cpu_count;
      size_t partition = (cpu_id == cpu_count - 1) ? num_elem - base * (cpu_count - 1) : base;
      static constexpr size_t buffer_size = 1024;
      float *tcm_buffer = (float*)torch::neuron::tcm_malloc(sizeof(float) * buffer_size);
      if (tcm_buffer != nullptr) {
        auto t_in_tcm_acc = t_in.tcm_accessor();
        auto t_out_tcm_acc = t_out.tcm_accessor();
        for (size_t i = 0; i < partition; i += buffer_size) {
          size_t copy_size = (partition - i > buffer_size) ? buffer_size : partition - i;
          t_in_tcm_acc.tensor_to_tcm<float>(tcm_buffer, base * cpu_id + i, copy_size);
          for (size_t j = 0; j < copy_size; j++) {
            float v = tcm_buffer[j];
            tcm_buffer[j] = v < lo ? lo : (v > hi ? hi : v);
          }
          t_out_tcm_acc.tcm_to_tensor<float>(tcm_buffer, base * cpu_id + i, copy_size);
        }
      }
      torch::neuron::tcm_free(tcm_buffer);
      return t_out;
    }

    python -m gpsimd_sim run kernels/clamp_multicore.py --scalar lo=-0.5 --scalar hi=0.5
"""
import numpy as np

from gpsimd_sim.api import (float32, get_cpu_count, get_cpu_id, get_dst_tensor, kernel, loop,
                            sizeof, tcm_free, tcm_malloc)

BUFFER_SIZE = 1024  # static constexpr size_t buffer_size = 1024;  (--buffer-size overrides)


def clamp_reference(t_in, lo, hi):
    return np.clip(t_in, lo, hi).astype(t_in.dtype)


@loop
def clamp_block(tcm_buffer, copy_size, lo, hi):
    for j in range(copy_size):
        v = tcm_buffer[j]
        tcm_buffer[j] = lo if v < lo else (hi if v > hi else v)


@kernel(reference=clamp_reference, multicore=True)
def clamp_forward(t_in, lo: float = -1.0, hi: float = 1.0):
    num_elem = t_in.numel()
    t_out = get_dst_tensor()
    cpu_id = get_cpu_id()
    cpu_count = get_cpu_count()
    base = num_elem // cpu_count
    partition = num_elem - base * (cpu_count - 1) if cpu_id == cpu_count - 1 else base

    buffer_size = BUFFER_SIZE
    tcm_buffer = tcm_malloc(sizeof(float32) * buffer_size, float32)
    if tcm_buffer is not None:
        t_in_tcm_acc = t_in.tcm_accessor()
        t_out_tcm_acc = t_out.tcm_accessor()
        for i in range(0, partition, buffer_size):
            copy_size = buffer_size if partition - i > buffer_size else partition - i
            t_in_tcm_acc.tensor_to_tcm(tcm_buffer, base * cpu_id + i, copy_size)
            clamp_block(tcm_buffer, copy_size, lo, hi)
            t_out_tcm_acc.tcm_to_tensor(tcm_buffer, base * cpu_id + i, copy_size)
    tcm_free(tcm_buffer)
    return t_out
