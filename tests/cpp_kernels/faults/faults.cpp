// Bad kernels for tests/test_cpp_faults.py: each function does one thing wrong. No shape
// file: the output has the input's shape; tests pick a function with op=... . The comment
// on each faulting line names it, so tests find the line instead of typing it in.
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <stdexcept>
#include <torch/torch.h>
#include <neuron/neuron-utils.hpp>

torch::Tensor segfault(const torch::Tensor& t_in) {
  torch::Tensor t_out = torch::zeros(t_in.sizes(), torch::kFloat);
  volatile float* wild = (volatile float*)(uintptr_t)t_in.numel();
  *wild = 1.0f;  // FAULT: segfault
  return t_out;
}

torch::Tensor endless(const torch::Tensor& t_in) {
  float *tcm_buffer = (float*)torch::neuron::tcm_malloc(sizeof(float) * 16);
  for (size_t j = 0; ; j++) {
    tcm_buffer[j % 16] += 1.0f;  // FAULT: endless
  }
  return t_in;
}

torch::Tensor tcm_overrun(const torch::Tensor& t_in) {
  torch::Tensor t_out = torch::zeros(t_in.sizes(), torch::kFloat);
  static constexpr size_t buffer_size = 256;
  float *tcm_buffer = (float*)torch::neuron::tcm_malloc(sizeof(float) * buffer_size);
  auto t_in_tcm_acc = t_in.tcm_accessor();
  t_in_tcm_acc.tensor_to_tcm<float>(tcm_buffer, 0, buffer_size);
  for (size_t j = 0; j <= buffer_size; j++) {
    tcm_buffer[j] = tcm_buffer[j] > 0.0f ? tcm_buffer[j] : 0.0f;  // FAULT: tcm_overrun
  }
  torch::neuron::tcm_free(tcm_buffer);
  return t_out;
}

torch::Tensor use_after_free(const torch::Tensor& t_in) {
  float *tcm_buffer = (float*)torch::neuron::tcm_malloc(sizeof(float) * 64);
  torch::neuron::tcm_free(tcm_buffer);
  tcm_buffer[3] = 1.0f;  // FAULT: use_after_free
  return t_in;
}

torch::Tensor double_free(const torch::Tensor& t_in) {
  float *tcm_buffer = (float*)torch::neuron::tcm_malloc(sizeof(float) * 64);
  torch::neuron::tcm_free(tcm_buffer);
  torch::neuron::tcm_free(tcm_buffer);  // FAULT: double_free
  return t_in;
}

// every core writes the first 64 elements of the output: a race between cores
torch::Tensor race(const torch::Tensor& t_in) {
  torch::Tensor t_out = get_dst_tensor();
  float *tcm_buffer = (float*)torch::neuron::tcm_malloc(sizeof(float) * 64);
  auto t_in_tcm_acc = t_in.tcm_accessor();
  auto t_out_tcm_acc = t_out.tcm_accessor();
  t_in_tcm_acc.tensor_to_tcm<float>(tcm_buffer, 0, 64);
  t_out_tcm_acc.tcm_to_tensor<float>(tcm_buffer, 0, 64);  // FAULT: race
  torch::neuron::tcm_free(tcm_buffer);
  return t_out;
}

int64_t depth(int64_t n) {
  volatile char frame[512];
  frame[n % 512] = (char)n;
  return depth(n + 1) + frame[0];  // FAULT: stack_overflow
}

torch::Tensor stack_overflow(const torch::Tensor& t_in) {
  if (depth(t_in.numel()) == 0) printf("unreachable\n");
  return t_in;
}

torch::Tensor aborts(const torch::Tensor& t_in) {
  assert(t_in.numel() == 0);  // FAULT: aborts
  return t_in;
}

torch::Tensor prints(const torch::Tensor& t_in) {
  printf("core %u of %u: %lld elements\n", get_cpu_id(), get_cpu_count(),
         (long long)t_in.numel());
  return t_in;
}

torch::Tensor element_out_of_bounds(const torch::Tensor& t_in) {
  torch::Tensor t_out = torch::zeros(t_in.sizes(), torch::kFloat);
  auto t_in_acc = t_in.accessor<float, 2>();
  auto t_out_acc = t_out.accessor<float, 2>();
  t_out_acc[0][0] = t_in_acc[0][t_in.size(1)];  // FAULT: element_out_of_bounds
  return t_out;
}

torch::Tensor throws(const torch::Tensor& t_in) {
  if (t_in.numel() > 0) throw std::runtime_error("no thanks");  // FAULT: throws
  return t_in;
}
