// Kernels for tests/test_cpp_api.py: the API surface of our headers, one function each.
// No shape file: the output has the first input's shape and dtype.
#include <stdint.h>
#include <stdlib.h>
#include <torch/torch.h>
#include <neuron/neuron-utils.hpp>

torch::Tensor unary(const torch::Tensor& t, int64_t which) {
  switch (which) {
    case 0: return torch::abs(t);
    case 1: return torch::ceil(t);
    case 2: return torch::floor(t);
    case 3: return torch::sin(t);
    case 4: return torch::cos(t);
    case 5: return torch::tan(t);
    case 6: return torch::log(t);
    case 7: return torch::log2(t);
    case 8: return torch::log10(t);
    default: return torch::exp(t);
  }
}

torch::Tensor binary(const torch::Tensor& a, const torch::Tensor& b, int64_t which) {
  torch::Tensor out = torch::empty(a.sizes(), a.scalar_type());
  switch (which) {
    case 0: return torch::add(a, b, 2);
    case 1: return torch::sub(a, b);
    case 2: torch::mul_out(out, a, b); return out;
    case 3: torch::div_out(out, a, b); return out;
    case 4: return torch::pow(a, 2.0);
    case 5: return torch::add(a, 1.5);
    case 6: return torch::bitwise_and(a, b);
    case 7: return torch::bitwise_or(a, b);
    default: return torch::bitwise_not(a);
  }
}

torch::Tensor clamped(const torch::Tensor& t, double lo, double hi) {
  return torch::clamp(t, lo, hi);
}

// out = t * a + b, rounded toward zero when c is integral: scalars of every kind, in order
torch::Tensor scaled(const torch::Tensor& t, double a, int64_t b, const torch::Scalar& c) {
  torch::Tensor t_out = torch::empty(t.sizes(), torch::kFloat);
  auto t_acc = t.accessor<float, 1>();
  auto t_out_acc = t_out.accessor<float, 1>();
  for (int64_t i = 0; i < t.numel(); i++) {
    float v = t_acc[i] * a + b;
    t_out_acc[i] = c.isIntegral() ? (float)(int64_t)v : v;
  }
  return t_out;
}

// full + ones - eye, element by element, and fill_
torch::Tensor factories(const torch::Tensor& t) {
  int64_t n = t.size(0), m = t.size(1);
  torch::Tensor f = torch::full({n, m}, 2.5, torch::kFloat);
  torch::Tensor o = torch::ones(t.sizes(), torch::kFloat);
  torch::Tensor e = torch::eye(n, m, torch::kFloat);
  torch::Tensor out = torch::empty(t.sizes(), torch::kFloat);
  out.fill_(0);
  torch::add_out(out, f, o);
  torch::sub_out(out, out, e);
  return out;
}

torch::Tensor half_relu(const torch::Tensor& t_in) {
  torch::Tensor t_out = torch::zeros(t_in.sizes(), torch::kHalf);
  auto t_in_acc = t_in.accessor<c10::Half, 2>();
  auto t_out_acc = t_out.accessor<c10::Half, 2>();
  for (int64_t i = 0; i < t_in.size(0); i++)
    for (int64_t j = 0; j < t_in.size(1); j++)
      t_out_acc[i][j] = t_in_acc[i][j] > 0.0f ? t_in_acc[i][j] : c10::Half(0.0f);
  return t_out;
}

torch::Tensor bf16_relu_tcm(const torch::Tensor& t_in) {
  size_t num_elem = t_in.numel();
  torch::Tensor t_out = torch::empty(t_in.sizes(), torch::kBFloat16);
  static constexpr size_t buffer_size = 512;
  c10::BFloat16* buf = (c10::BFloat16*)torch::neuron::tcm_malloc(sizeof(c10::BFloat16) * buffer_size);
  auto in_acc = t_in.tcm_accessor();
  auto out_acc = t_out.tcm_accessor();
  for (size_t i = 0; i < num_elem; i += buffer_size) {
    size_t n = num_elem - i < buffer_size ? num_elem - i : buffer_size;
    in_acc.tensor_to_tcm<c10::BFloat16>(buf, i, n);
    for (size_t j = 0; j < n; j++) buf[j] = (float)buf[j] > 0.0f ? buf[j] : c10::BFloat16(0.0f);
    out_acc.tcm_to_tensor<c10::BFloat16>(buf, i, n);
  }
  torch::neuron::tcm_free(buf);
  return t_out;
}

torch::Tensor int_double_stream(const torch::Tensor& t_in) {
  torch::Tensor t_out = torch::empty(t_in.sizes(), torch::kInt);
  auto rd = t_in.read_stream_accessor<int32_t>();
  auto wr = t_out.write_stream_accessor<int32_t>();
  for (int64_t i = 0; i < t_in.numel(); i++) wr.write(2 * rd.read());
  rd.close();
  wr.close();
  return t_out;
}

// five read streams of one tensor: the fifth has no fast buffer (element-wise path)
torch::Tensor five_streams(const torch::Tensor& t_in) {
  torch::Tensor t_out = torch::empty(t_in.sizes(), torch::kFloat);
  auto s0 = t_in.read_stream_accessor<float>();
  auto s1 = t_in.read_stream_accessor<float>();
  auto s2 = t_in.read_stream_accessor<float>();
  auto s3 = t_in.read_stream_accessor<float>();
  auto s4 = t_in.read_stream_accessor<float>();
  auto wr = t_out.write_stream_accessor<float>();
  for (int64_t i = 0; i < t_in.numel(); i++)
    wr.write(s0.read() + s1.read() + s2.read() + s3.read() - 3 * s4.read());
  return t_out;
}

torch::Tensor incoherent(const torch::Tensor& t_in) {
  torch::Tensor t_out = torch::zeros(t_in.sizes(), torch::kFloat);
  auto rd = t_out.read_stream_accessor<float>();
  auto wr = t_out.write_stream_accessor<float>();  // FAULT: incoherent
  return t_out;
}

torch::Tensor read_past_end(const torch::Tensor& t_in) {
  auto rd = t_in.read_stream_accessor<float>();
  float sum = 0;
  for (int64_t i = 0; i <= t_in.numel(); i++) sum += rd.read();  // FAULT: read_past_end
  return t_in;
}

torch::Tensor wrong_dtype(const torch::Tensor& t_in) {
  torch::Tensor t_out = torch::zeros(t_in.sizes(), torch::kFloat);
  int32_t* buf = (int32_t*)torch::neuron::tcm_malloc(64);
  t_in.tcm_accessor().tensor_to_tcm<int32_t>(buf, 0, 16);  // FAULT: wrong_dtype
  return t_out;
}

torch::Tensor pool_exhausted(const torch::Tensor& t_in) {
  void* a = torch::neuron::tcm_malloc(12000);
  void* b = torch::neuron::tcm_malloc(8000);  // more than the 16 KiB pool holds: nullptr
  torch::neuron::tcm_free(b);
  torch::neuron::tcm_free(a);
  void* c = torch::neuron::tcm_malloc(100);
  torch::neuron::tcm_free(c);
  return t_in;
}
