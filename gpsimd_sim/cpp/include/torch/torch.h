// gpsimd_sim's <torch/torch.h>: the tensor library of the Neuron custom C++ operator API,
// written for the simulator from the Custom Operators API Reference Guide.
//
// Kernels compile against this header unmodified. Everything that reaches a tensor, the
// TCM pool or a stream is an out-of-line call into the simulator's runtime (gs_api.h),
// so each element access, DMA transfer and allocation the source executes is counted and
// checked, and the runtime knows the kernel line of every call.
#pragma once
#include <assert.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmath>
#include <initializer_list>
#include <type_traits>
#include <utility>
#include <vector>

#include "../gpsimd_sim/gs_api.h"
#include "../gpsimd_sim/gs_c10.h"

namespace at {
using c10::BFloat16;
using c10::Half;
using c10::IntArrayRef;
using c10::Scalar;
using c10::ScalarType;
using c10::TensorOptions;
using c10::kBFloat16;
using c10::kBool;
using c10::kByte;
using c10::kChar;
using c10::kDouble;
using c10::kFloat;
using c10::kHalf;
using c10::kInt;
using c10::kLong;
using c10::kShort;

class Tensor;

namespace gs_detail {
// element type T <-> dtype code and the runtime's element and stream calls
template <typename T> struct Elem;
#define GS_ELEM(T, CODE, SUF, WIRE)                                                        \
  template <> struct Elem<T> {                                                               \
    static constexpr int32_t code = CODE;                                                    \
    static GS_INLINE T rd(int32_t t, int64_t i) { return (T)gs_rd_##SUF(t, i); }            \
    static GS_INLINE void wr(int32_t t, int64_t i, T v) { gs_wr_##SUF(t, i, (WIRE)v); }     \
    static GS_INLINE T srd(int32_t s) { return (T)gs_srd_##SUF(s); }                        \
    static GS_INLINE void swr(int32_t s, T v) { gs_swr_##SUF(s, (WIRE)v); }                 \
  };
GS_ELEM(float, GS_FLOAT, f32, float)
GS_ELEM(double, GS_DOUBLE, f64, double)
GS_ELEM(int64_t, GS_LONG, i64, int64_t)
GS_ELEM(int32_t, GS_INT, i32, int32_t)
GS_ELEM(int16_t, GS_SHORT, i16, int16_t)
GS_ELEM(int8_t, GS_CHAR, i8, int8_t)
GS_ELEM(uint8_t, GS_BYTE, u8, uint8_t)
GS_ELEM(bool, GS_BOOL, u8, uint8_t)
#undef GS_ELEM
#define GS_ELEM16(T, CODE)                                                                   \
  template <> struct Elem<T> {                                                               \
    static constexpr int32_t code = CODE;                                                    \
    static GS_INLINE T rd(int32_t t, int64_t i) { return T(gs_rd_u16(t, i), T::from_bits()); } \
    static GS_INLINE void wr(int32_t t, int64_t i, T v) { gs_wr_u16(t, i, v.x); }           \
    static GS_INLINE T srd(int32_t s) { return T(gs_srd_u16(s), T::from_bits()); }          \
    static GS_INLINE void swr(int32_t s, T v) { gs_swr_u16(s, v.x); }                       \
  };
GS_ELEM16(c10::Half, GS_HALF)
GS_ELEM16(c10::BFloat16, GS_BFLOAT16)
#undef GS_ELEM16
// `long` and `long long` are distinct types on some ABIs; int64_t is one of them
template <> struct Elem<std::conditional<std::is_same<int64_t, long>::value, long long, long>::type>
    : Elem<int64_t> {};

template <typename T> struct is_16bit_float : std::false_type {};
template <> struct is_16bit_float<c10::Half> : std::true_type {};
template <> struct is_16bit_float<c10::BFloat16> : std::true_type {};

// a tensor operation (gs_op) with its unused operands left out
GS_INLINE GsOperand no_operand() {
  GsOperand o = {0, -1, 0.0, 0};
  return o;
}
GS_INLINE int32_t op(int32_t code, int32_t out, int32_t nargs, GsOperand a,
                     GsOperand b = no_operand(), GsOperand c = no_operand(),
                     GsOperand d = no_operand()) {
  return gs_op(code, out, nargs, a, b, c, d);
}
}  // namespace gs_detail

// One element of a tensor in device memory: reading it or assigning it is one element-wise
// access (an opaque call: the optimiser cannot merge two reads of the same element).
template <typename T, bool ReadOnly>
class TensorElementRef {
 public:
  GS_INLINE TensorElementRef(int32_t t, int64_t i) : t_(t), i_(i) {}
  GS_INLINE operator T() const { return gs_detail::Elem<T>::rd(t_, i_); }
  template <typename U = T,
            typename std::enable_if<gs_detail::is_16bit_float<U>::value, int>::type = 0>
  GS_INLINE operator float() const { return (float)gs_detail::Elem<T>::rd(t_, i_); }

  template <bool R = ReadOnly, typename std::enable_if<!R, int>::type = 0>
  GS_INLINE const TensorElementRef& operator=(T v) const {
    gs_detail::Elem<T>::wr(t_, i_, v);
    return *this;
  }
  template <bool R = ReadOnly, typename std::enable_if<!R, int>::type = 0>
  GS_INLINE const TensorElementRef& operator=(const TensorElementRef& o) const {
    gs_detail::Elem<T>::wr(t_, i_, (T)o);
    return *this;
  }
  template <typename R2, bool RO2, bool R = ReadOnly, typename std::enable_if<!R, int>::type = 0>
  GS_INLINE const TensorElementRef& operator=(const TensorElementRef<R2, RO2>& o) const {
    gs_detail::Elem<T>::wr(t_, i_, (T)(R2)o);
    return *this;
  }
#define GS_COMPOUND(OP)                                                                      \
  template <typename V, bool R = ReadOnly, typename std::enable_if<!R, int>::type = 0>      \
  GS_INLINE const TensorElementRef& operator OP##=(const V& v) const {                      \
    T old = gs_detail::Elem<T>::rd(t_, i_);                                                  \
    gs_detail::Elem<T>::wr(t_, i_, (T)(old OP v));                                           \
    return *this;                                                                            \
  }
  GS_COMPOUND(+)
  GS_COMPOUND(-)
  GS_COMPOUND(*)
  GS_COMPOUND(/)
  GS_COMPOUND(%)
  GS_COMPOUND(&)
  GS_COMPOUND(|)
  GS_COMPOUND(^)
#undef GS_COMPOUND
  template <bool R = ReadOnly, typename std::enable_if<!R, int>::type = 0>
  GS_INLINE const TensorElementRef& operator++() const { return *this += 1; }
  template <bool R = ReadOnly, typename std::enable_if<!R, int>::type = 0>
  GS_INLINE const TensorElementRef& operator--() const { return *this -= 1; }
  template <bool R = ReadOnly, typename std::enable_if<!R, int>::type = 0>
  GS_INLINE T operator++(int) const { T old = *this; *this += 1; return old; }
  template <bool R = ReadOnly, typename std::enable_if<!R, int>::type = 0>
  GS_INLINE T operator--(int) const { T old = *this; *this -= 1; return old; }

 private:
  int32_t t_;
  int64_t i_;
};

// Element-wise random access to a tensor in device memory (API reference: Tensor
// Accessors). acc[i][j] indexes dimension by dimension; every index is bounds-checked.
template <typename T, size_t N, bool ReadOnly = false>
class TensorAccessor {
  static_assert(N >= 1 && N <= 8, "accessor<T, N>: N must be between 1 and 8");

 public:
  using Sub = typename std::conditional<N == 1, TensorElementRef<T, ReadOnly>,
                                        TensorAccessor<T, N - 1, ReadOnly>>::type;

  GS_INLINE TensorAccessor(int32_t t, int64_t offset, const int64_t* sizes,
                           const int64_t* strides, const int64_t* prefix, int32_t depth)
      : t_(t), offset_(offset), depth_(depth) {
    for (size_t d = 0; d < N; d++) {
      sizes_[d] = sizes[d];
      strides_[d] = strides[d];
    }
    for (int32_t d = 0; d < depth; d++) prefix_[d] = prefix[d];
  }

  GS_INLINE Sub operator[](int64_t i) const {
    if (__builtin_expect((uint64_t)i >= (uint64_t)sizes_[0], 0)) {
      // called from the kernel's own code, so the fault names the kernel's line
      int64_t idx[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (int32_t d = 0; d < depth_ && d < 7; d++) idx[d] = prefix_[d];
      idx[depth_ < 7 ? depth_ : 7] = i;
      gs_elem_oob(t_, depth_ + 1, idx[0], idx[1], idx[2], idx[3], idx[4], idx[5], idx[6], idx[7]);
    }
    return make(i, std::integral_constant<bool, N == 1>());
  }

  GS_INLINE int64_t size(int64_t d) const { return sizes_[d]; }
  GS_INLINE int64_t stride(int64_t d) const { return strides_[d]; }
  GS_INLINE IntArrayRef sizes() const { return IntArrayRef(sizes_, N); }
  GS_INLINE IntArrayRef strides() const { return IntArrayRef(strides_, N); }

 private:
  GS_INLINE Sub make(int64_t i, std::true_type) const {
    return TensorElementRef<T, ReadOnly>(t_, offset_ + i);
  }
  GS_INLINE Sub make(int64_t i, std::false_type) const {
    int64_t prefix[8];
    for (int32_t d = 0; d < depth_; d++) prefix[d] = prefix_[d];
    prefix[depth_] = i;
    return TensorAccessor<T, (N > 1 ? N - 1 : 1), ReadOnly>(
        t_, offset_ + i * strides_[0], sizes_ + 1, strides_ + 1, prefix, depth_ + 1);
  }
  int32_t t_;
  int64_t offset_;
  int32_t depth_;
  int64_t sizes_[N];
  int64_t strides_[N];
  int64_t prefix_[8];
};

template <typename T, size_t N, bool ReadOnly = false>
using PackedTensorAccessor = TensorAccessor<T, N, ReadOnly>;

// Sequential reads of a tensor, buffered in TCM (API reference: Streaming Accessors)
template <typename T>
class TensorReadStreamAccessor {
 public:
  GS_INLINE explicit TensorReadStreamAccessor(int32_t s) : s_(s) {}
  TensorReadStreamAccessor(const TensorReadStreamAccessor&) = delete;
  TensorReadStreamAccessor& operator=(const TensorReadStreamAccessor&) = delete;
  GS_INLINE TensorReadStreamAccessor(TensorReadStreamAccessor&& o) : s_(o.s_) { o.s_ = -1; }
  GS_INLINE ~TensorReadStreamAccessor() { if (s_ >= 0) gs_stream_drop(s_); }
  GS_INLINE T read() { return gs_detail::Elem<T>::srd(s_); }
  GS_INLINE int close() { return gs_stream_close(s_); }

 private:
  int32_t s_;
};

// Sequential writes of a tensor, buffered in TCM; flushed by close() or going out of scope
template <typename T>
class TensorWriteStreamAccessor {
 public:
  GS_INLINE explicit TensorWriteStreamAccessor(int32_t s) : s_(s) {}
  TensorWriteStreamAccessor(const TensorWriteStreamAccessor&) = delete;
  TensorWriteStreamAccessor& operator=(const TensorWriteStreamAccessor&) = delete;
  GS_INLINE TensorWriteStreamAccessor(TensorWriteStreamAccessor&& o) : s_(o.s_) { o.s_ = -1; }
  GS_INLINE ~TensorWriteStreamAccessor() { if (s_ >= 0) gs_stream_drop(s_); }
  GS_INLINE void write(T value) { gs_detail::Elem<T>::swr(s_, value); }
  GS_INLINE int close() { return gs_stream_close(s_); }

 private:
  int32_t s_;
};

// Block copies between a tensor and a TCM buffer (API reference: TCM Accessor)
template <bool ReadOnly>
class TensorTcmAccessor {
 public:
  GS_INLINE explicit TensorTcmAccessor(int32_t t) : t_(t) {}
  template <typename T>
  GS_INLINE void tensor_to_tcm(T* tcm_ptr, size_t tensor_offset, size_t num_elem) {
    gs_tensor_to_tcm(t_, (void*)tcm_ptr, tensor_offset, num_elem, gs_detail::Elem<T>::code);
  }
  template <typename T>
  GS_INLINE void tcm_to_tensor(T* tcm_ptr, size_t tensor_offset, size_t num_elem) {
    static_assert(!ReadOnly,
                  "tcm_to_tensor: this TCM accessor is read-only (made from a const tensor)");
    gs_tcm_to_tensor(t_, (void*)tcm_ptr, tensor_offset, num_elem, gs_detail::Elem<T>::code);
  }

 private:
  int32_t t_;
};

struct CoherencyEnforcer {
  enum Policy { COHERENT = 0, INCOHERENT_VERBOSE = 1, INCOHERENT_QUIET = 2 };
};

// A tensor in device memory: a handle into the simulator's tensor table
class Tensor {
 public:
  GS_INLINE Tensor() : t_(-1) {}
  GS_INLINE explicit Tensor(int32_t handle, int) : t_(handle) {}

  GS_INLINE bool defined() const { return t_ >= 0; }
  GS_INLINE int64_t numel() const { return gs_numel(t_); }
  GS_INLINE int64_t dim() const { return gs_dim(t_); }
  GS_INLINE int64_t ndimension() const { return gs_dim(t_); }
  GS_INLINE int64_t size(int64_t d) const { return gs_size(t_, d); }
  GS_INLINE IntArrayRef sizes() const {
    int64_t v[8];
    int32_t n = gs_dim(t_);
    for (int32_t d = 0; d < n && d < 8; d++) v[d] = gs_size(t_, d);
    return IntArrayRef(v, (size_t)n);
  }
  GS_INLINE ScalarType scalar_type() const { return (ScalarType)gs_dtype(t_); }
  GS_INLINE ScalarType dtype() const { return scalar_type(); }
  GS_INLINE TensorOptions options() const { return TensorOptions(scalar_type()); }
  GS_INLINE size_t element_size() const { return elem_size(gs_dtype(t_)); }
  GS_INLINE size_t itemsize() const { return element_size(); }
  GS_INLINE size_t nbytes() const { return (size_t)numel() * element_size(); }
  GS_INLINE bool is_contiguous() const { return true; }

  template <typename T, size_t N>
  GS_INLINE TensorAccessor<T, N, true> accessor() const& {
    return make_accessor<T, N, true>();
  }
  template <typename T, size_t N>
  GS_INLINE TensorAccessor<T, N, false> accessor() & {
    return make_accessor<T, N, false>();
  }

  template <typename T>
  GS_INLINE TensorReadStreamAccessor<T> read_stream_accessor() const& {
    return TensorReadStreamAccessor<T>(gs_stream_open(t_, gs_detail::Elem<T>::code, 0));
  }
  template <typename T>
  GS_INLINE TensorWriteStreamAccessor<T> write_stream_accessor() & {
    return TensorWriteStreamAccessor<T>(gs_stream_open(t_, gs_detail::Elem<T>::code, 1));
  }

  GS_INLINE TensorTcmAccessor<true> tcm_accessor() const& {
    gs_tcm_accessor_open(t_);
    return TensorTcmAccessor<true>(t_);
  }
  GS_INLINE TensorTcmAccessor<false> tcm_accessor() & {
    gs_tcm_accessor_open(t_);
    return TensorTcmAccessor<false>(t_);
  }

  GS_INLINE CoherencyEnforcer::Policy get_accessor_coherence_policy() const {
    return (CoherencyEnforcer::Policy)gs_get_policy(t_);
  }
  GS_INLINE void set_accessor_coherence_policy(CoherencyEnforcer::Policy p) const {
    gs_set_policy(t_, (int32_t)p);
  }

  GS_INLINE Tensor& fill_(const Scalar& value) const {
    gs_detail::op(GS_OP_FILL, t_, 1, value.operand());
    return const_cast<Tensor&>(*this);
  }

  GS_INLINE GsOperand operand() const {
    GsOperand o = {1, t_, 0.0, 0};
    return o;
  }
  GS_INLINE int32_t gs_handle() const { return t_; }

 private:
  static GS_INLINE size_t elem_size(int32_t code) {
    switch (code) {
      case GS_BYTE: case GS_CHAR: case GS_BOOL: return 1;
      case GS_SHORT: case GS_HALF: case GS_BFLOAT16: return 2;
      case GS_INT: case GS_FLOAT: return 4;
      default: return 8;
    }
  }
  template <typename T, size_t N, bool RO>
  GS_INLINE TensorAccessor<T, N, RO> make_accessor() const {
    gs_accessor_open(t_, gs_detail::Elem<T>::code, (int32_t)N, RO ? 0 : 1);
    int64_t sizes[N], strides[N];
    for (size_t d = 0; d < N; d++) sizes[d] = gs_size(t_, (int64_t)d);
    int64_t stride = 1;
    for (size_t d = N; d-- > 0;) {
      strides[d] = stride;
      stride *= sizes[d];
    }
    return TensorAccessor<T, N, RO>(t_, 0, sizes, strides, sizes, 0);
  }

  int32_t t_;
};

// ---- factories (API reference: Tensor Factory Functions) -----------------------------------
namespace gs_detail {
GS_INLINE Tensor factory(int32_t kind, IntArrayRef size, TensorOptions options,
                         GsOperand fill) {
  return Tensor(gs_factory(kind, size.data(), (int32_t)size.size(), (int32_t)options.dtype(),
                           fill),
                0);
}
}  // namespace gs_detail

GS_INLINE Tensor empty(IntArrayRef size, TensorOptions options = TensorOptions()) {
  return gs_detail::factory(GS_EMPTY, size, options, gs_detail::no_operand());
}
GS_INLINE Tensor zeros(IntArrayRef size, TensorOptions options = TensorOptions()) {
  return gs_detail::factory(GS_ZEROS, size, options, gs_detail::no_operand());
}
GS_INLINE Tensor ones(IntArrayRef size, TensorOptions options = TensorOptions()) {
  return gs_detail::factory(GS_ONES, size, options, gs_detail::no_operand());
}
GS_INLINE Tensor full(IntArrayRef size, const Scalar& fill_value,
                      TensorOptions options = TensorOptions()) {
  return gs_detail::factory(GS_FULL, size, options, fill_value.operand());
}
GS_INLINE Tensor eye(int64_t n, int64_t m, TensorOptions options = TensorOptions()) {
  int64_t s[2] = {n, m};
  return gs_detail::factory(GS_EYE, IntArrayRef(s, 2), options, gs_detail::no_operand());
}
GS_INLINE Tensor eye(int64_t n, TensorOptions options = TensorOptions()) {
  return eye(n, n, options);
}

// ---- tensor operations (API reference: Tensor Operation Functions) ------------------------
#define GS_UNARY(NAME, CODE)                                                                 \
  GS_INLINE Tensor& NAME##_out(Tensor& result, const Tensor& self) {                         \
    gs_detail::op(CODE, result.gs_handle(), 1, self.operand());                              \
    return result;                                                                           \
  }                                                                                          \
  GS_INLINE Tensor NAME(const Tensor& self) {                                                \
    return Tensor(gs_detail::op(CODE, -1, 1, self.operand()), 0);                            \
  }
GS_UNARY(abs, GS_OP_ABS)
GS_UNARY(ceil, GS_OP_CEIL)
GS_UNARY(floor, GS_OP_FLOOR)
GS_UNARY(sin, GS_OP_SIN)
GS_UNARY(cos, GS_OP_COS)
GS_UNARY(tan, GS_OP_TAN)
GS_UNARY(log, GS_OP_LOG)
GS_UNARY(log2, GS_OP_LOG2)
GS_UNARY(log10, GS_OP_LOG10)
GS_UNARY(exp, GS_OP_EXP)
GS_UNARY(bitwise_not, GS_OP_BITWISE_NOT)
#undef GS_UNARY
// as documented: bitwise_not(result, self)
GS_INLINE Tensor bitwise_not(Tensor& result, const Tensor& self) {
  gs_detail::op(GS_OP_BITWISE_NOT, result.gs_handle(), 1, self.operand());
  return result;
}

#define GS_BINARY(NAME, CODE)                                                                \
  GS_INLINE Tensor& NAME##_out(Tensor& result, const Tensor& self, const Tensor& other) {   \
    gs_detail::op(CODE, result.gs_handle(), 2, self.operand(), other.operand());            \
    return result;                                                                           \
  }                                                                                          \
  GS_INLINE Tensor& NAME##_out(Tensor& result, const Tensor& self, const Scalar& other) {   \
    gs_detail::op(CODE, result.gs_handle(), 2, self.operand(), other.operand());            \
    return result;                                                                           \
  }                                                                                          \
  GS_INLINE Tensor NAME(const Tensor& self, const Tensor& other) {                           \
    return Tensor(gs_detail::op(CODE, -1, 2, self.operand(), other.operand()), 0);          \
  }                                                                                          \
  GS_INLINE Tensor NAME(const Tensor& self, const Scalar& other) {                           \
    return Tensor(gs_detail::op(CODE, -1, 2, self.operand(), other.operand()), 0);          \
  }
GS_BINARY(mul, GS_OP_MUL)
GS_BINARY(div, GS_OP_DIV)
GS_BINARY(pow, GS_OP_POW)
GS_BINARY(bitwise_and, GS_OP_BITWISE_AND)
GS_BINARY(bitwise_or, GS_OP_BITWISE_OR)
#undef GS_BINARY

#define GS_SCALAR_FIRST(NAME, CODE)                                                          \
  GS_INLINE Tensor& NAME##_out(Tensor& result, const Scalar& self, const Tensor& other) {   \
    gs_detail::op(CODE, result.gs_handle(), 2, self.operand(), other.operand());            \
    return result;                                                                           \
  }                                                                                          \
  GS_INLINE Tensor NAME(const Scalar& self, const Tensor& other) {                           \
    return Tensor(gs_detail::op(CODE, -1, 2, self.operand(), other.operand()), 0);          \
  }
GS_SCALAR_FIRST(pow, GS_OP_POW)
GS_SCALAR_FIRST(bitwise_and, GS_OP_BITWISE_AND)
GS_SCALAR_FIRST(bitwise_or, GS_OP_BITWISE_OR)
#undef GS_SCALAR_FIRST

#define GS_ALPHA(NAME, CODE)                                                                 \
  GS_INLINE Tensor& NAME##_out(Tensor& result, const Tensor& self, const Tensor& other,     \
                               const Scalar& alpha = 1) {                                    \
    gs_detail::op(CODE, result.gs_handle(), 3, self.operand(), other.operand(),             \
                  alpha.operand());                                                          \
    return result;                                                                           \
  }                                                                                          \
  GS_INLINE Tensor& NAME##_out(Tensor& result, const Tensor& self, const Scalar& other,     \
                               const Scalar& alpha = 1) {                                    \
    gs_detail::op(CODE, result.gs_handle(), 3, self.operand(), other.operand(),             \
                  alpha.operand());                                                          \
    return result;                                                                           \
  }                                                                                          \
  GS_INLINE Tensor NAME(const Tensor& self, const Tensor& other, const Scalar& alpha = 1) { \
    return Tensor(gs_detail::op(CODE, -1, 3, self.operand(), other.operand(),               \
                                alpha.operand()), 0);                                        \
  }                                                                                          \
  GS_INLINE Tensor NAME(const Tensor& self, const Scalar& other, const Scalar& alpha = 1) { \
    return Tensor(gs_detail::op(CODE, -1, 3, self.operand(), other.operand(),               \
                                alpha.operand()), 0);                                        \
  }
GS_ALPHA(add, GS_OP_ADD)
GS_ALPHA(sub, GS_OP_SUB)
#undef GS_ALPHA

GS_INLINE Tensor& clamp_out(Tensor& result, const Tensor& self, const Scalar& minval,
                            const Scalar& maxval) {
  gs_detail::op(GS_OP_CLAMP, result.gs_handle(), 3, self.operand(), minval.operand(),
                maxval.operand());
  return result;
}
GS_INLINE Tensor clamp(const Tensor& self, const Scalar& minval, const Scalar& maxval) {
  return Tensor(gs_detail::op(GS_OP_CLAMP, -1, 3, self.operand(), minval.operand(),
                              maxval.operand()), 0);
}

}  // namespace at

namespace torch {
using namespace at;
using at::Tensor;
using c10::Scalar;
using c10::ScalarType;

namespace neuron {
// The core's 16 KiB tcm_malloc pool (API reference: TCM Management Functions)
GS_INLINE void* tcm_malloc(size_t nbytes) { return gs_tcm_malloc(nbytes); }
GS_INLINE void tcm_free(void* ptr) { gs_tcm_free(ptr); }
}  // namespace neuron
}  // namespace torch

// The operator's output tensor, which multicore kernels write in place (API reference:
// Writing Directly to Output Tensor)
GS_INLINE torch::Tensor get_dst_tensor() { return torch::Tensor(gs_dst_tensor(), 0); }
