// gpsimd_sim: the c10 value types of the custom-operator API (written for the simulator;
// the names and behaviour follow the Custom Operators API Reference Guide and PyTorch's c10).
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <initializer_list>
#include <type_traits>
#ifndef GS_NO_STL
#include <vector>
#endif

#include "gs_api.h"

#define GS_INLINE inline __attribute__((always_inline))

namespace c10 {

enum class ScalarType : int8_t {
  Byte = GS_BYTE, Char = GS_CHAR, Short = GS_SHORT, Int = GS_INT, Long = GS_LONG,
  Half = GS_HALF, Float = GS_FLOAT, Double = GS_DOUBLE, Bool = GS_BOOL,
  BFloat16 = GS_BFLOAT16, Undefined = 127
};

constexpr ScalarType kByte = ScalarType::Byte;
constexpr ScalarType kChar = ScalarType::Char;
constexpr ScalarType kShort = ScalarType::Short;
constexpr ScalarType kInt = ScalarType::Int;
constexpr ScalarType kLong = ScalarType::Long;
constexpr ScalarType kHalf = ScalarType::Half;
constexpr ScalarType kFloat = ScalarType::Float;
constexpr ScalarType kDouble = ScalarType::Double;
constexpr ScalarType kBool = ScalarType::Bool;
constexpr ScalarType kBFloat16 = ScalarType::BFloat16;

namespace gs_detail {
GS_INLINE uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
GS_INLINE float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

// IEEE binary16 <-> binary32, round to nearest even (as NumPy's float16 conversion)
GS_INLINE uint16_t f32_to_f16(float f) {
  uint32_t x = f32_bits(f);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0u));
  if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u);       // overflows to infinity
  if (ax < 0x38800000u) {                                           // subnormal or zero
    if (ax < 0x33000000u) return (uint16_t)sign;
    uint32_t mant = (ax & 0x7fffffu) | 0x800000u;
    int shift = 126 - (int)(ax >> 23);                              // 14..24
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1u);
    uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1u))) half++;
    return (uint16_t)(sign | half);
  }
  uint32_t r = ax + 0xc8000fffu + ((ax >> 13) & 1u);               // rebias and round
  return (uint16_t)(sign | (r >> 13));
}

GS_INLINE float f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0x1fu) return bits_f32(sign | 0x7f800000u | (mant << 13));
  if (exp == 0) {
    if (mant == 0) return bits_f32(sign);
    float v = (float)mant * (1.0f / 16777216.0f);                   // mant * 2^-24
    return sign ? -v : v;
  }
  return bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
}

GS_INLINE uint16_t f32_to_bf16(float f) {
  uint32_t x = f32_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u);  // quiet NaN
  x += 0x7fffu + ((x >> 16) & 1u);
  return (uint16_t)(x >> 16);
}

GS_INLINE float bf16_to_f32(uint16_t b) { return bits_f32((uint32_t)b << 16); }
}  // namespace gs_detail

// 16-bit floats: stored as bits, computed in float (as PyTorch's c10::Half / c10::BFloat16)
struct Half {
  uint16_t x;
  struct from_bits_t {};
  static constexpr from_bits_t from_bits() { return from_bits_t(); }
  Half() = default;
  constexpr Half(uint16_t bits, from_bits_t) : x(bits) {}
  GS_INLINE Half(float v) : x(gs_detail::f32_to_f16(v)) {}
  GS_INLINE operator float() const { return gs_detail::f16_to_f32(x); }
};

struct BFloat16 {
  uint16_t x;
  struct from_bits_t {};
  static constexpr from_bits_t from_bits() { return from_bits_t(); }
  BFloat16() = default;
  constexpr BFloat16(uint16_t bits, from_bits_t) : x(bits) {}
  GS_INLINE BFloat16(float v) : x(gs_detail::f32_to_bf16(v)) {}
  GS_INLINE operator float() const { return gs_detail::bf16_to_f32(x); }
};

// A number passed to a kernel or a tensor operation (torch::Scalar)
class Scalar {
 public:
  GS_INLINE Scalar() : is_int_(true), d_(0.0), i_(0) {}
  template <typename T, typename std::enable_if<std::is_integral<T>::value, int>::type = 0>
  GS_INLINE Scalar(T v) : is_int_(true), d_((double)v), i_((int64_t)v) {}
  template <typename T,
            typename std::enable_if<std::is_floating_point<T>::value, int>::type = 0>
  GS_INLINE Scalar(T v) : is_int_(false), d_((double)v), i_((int64_t)v) {}
  GS_INLINE Scalar(Half v) : Scalar((float)v) {}
  GS_INLINE Scalar(BFloat16 v) : Scalar((float)v) {}

  template <typename T> GS_INLINE T to() const {
    return is_int_ ? (T)i_ : (T)d_;
  }
  GS_INLINE double toDouble() const { return to<double>(); }
  GS_INLINE float toFloat() const { return to<float>(); }
  GS_INLINE int64_t toLong() const { return to<int64_t>(); }
  GS_INLINE int32_t toInt() const { return to<int32_t>(); }
  GS_INLINE int16_t toShort() const { return to<int16_t>(); }
  GS_INLINE int8_t toChar() const { return to<int8_t>(); }
  GS_INLINE uint8_t toByte() const { return to<uint8_t>(); }
  GS_INLINE bool toBool() const { return is_int_ ? i_ != 0 : d_ != 0.0; }
  GS_INLINE Half toHalf() const { return Half(toFloat()); }
  GS_INLINE BFloat16 toBFloat16() const { return BFloat16(toFloat()); }
  GS_INLINE bool isIntegral(bool include_bool = false) const { (void)include_bool; return is_int_; }
  GS_INLINE bool isFloatingPoint() const { return !is_int_; }
  GS_INLINE ScalarType type() const { return is_int_ ? kLong : kDouble; }

  GS_INLINE GsOperand operand() const {
    GsOperand o;
    o.kind = is_int_ ? 3 : 2;
    o.tensor = -1;
    o.d = d_;
    o.i = i_;
    return o;
  }
  static GS_INLINE Scalar from_arg(const GsArg& a) {
    Scalar s;
    s.is_int_ = a.scalar_is_int != 0;
    s.d_ = a.d;
    s.i_ = a.i;
    return s;
  }

 private:
  bool is_int_;
  double d_;
  int64_t i_;
};

// Tensor sizes: up to 8 dimensions (API reference), held by value
class IntArrayRef {
 public:
  static constexpr size_t kMaxDims = 8;
  GS_INLINE IntArrayRef() : n_(0) {}
  GS_INLINE IntArrayRef(const int64_t& single) : n_(1) { v_[0] = single; }
  GS_INLINE IntArrayRef(std::initializer_list<int64_t> l) : n_(0) { assign(l.begin(), l.size()); }
#ifndef GS_NO_STL
  GS_INLINE IntArrayRef(const std::vector<int64_t>& v) : n_(0) { assign(v.data(), v.size()); }
#endif
  GS_INLINE IntArrayRef(const int64_t* data, size_t n) : n_(0) { assign(data, n); }
  template <size_t N> GS_INLINE IntArrayRef(const int64_t (&a)[N]) : n_(0) { assign(a, N); }

  GS_INLINE size_t size() const { return n_; }
  GS_INLINE bool empty() const { return n_ == 0; }
  GS_INLINE const int64_t* data() const { return v_; }
  GS_INLINE const int64_t* begin() const { return v_; }
  GS_INLINE const int64_t* end() const { return v_ + n_; }
  GS_INLINE const int64_t& operator[](size_t i) const { return v_[i]; }
  GS_INLINE const int64_t& at(size_t i) const { return v_[i]; }
  GS_INLINE const int64_t& front() const { return v_[0]; }
  GS_INLINE const int64_t& back() const { return v_[n_ - 1]; }
#ifndef GS_NO_STL
  GS_INLINE std::vector<int64_t> vec() const { return std::vector<int64_t>(v_, v_ + n_); }
#endif
  GS_INLINE bool equals(const IntArrayRef& o) const {
    if (n_ != o.n_) return false;
    for (size_t i = 0; i < n_; i++)
      if (v_[i] != o.v_[i]) return false;
    return true;
  }
  GS_INLINE bool operator==(const IntArrayRef& o) const { return equals(o); }
  GS_INLINE bool operator!=(const IntArrayRef& o) const { return !equals(o); }

 private:
  GS_INLINE void assign(const int64_t* p, size_t n) {
    n_ = n;
    // more than 8 dimensions: the runtime refuses the tensor (n_ keeps the count)
    for (size_t i = 0; i < n && i < kMaxDims; i++) v_[i] = p[i];
  }
  int64_t v_[kMaxDims];
  size_t n_;
};

// Only the dtype has an effect (API reference, Tensor Factory Functions)
class TensorOptions {
 public:
  GS_INLINE TensorOptions() : dtype_(kFloat) {}
  GS_INLINE TensorOptions(ScalarType t) : dtype_(t) {}
  GS_INLINE TensorOptions dtype(ScalarType t) const { TensorOptions o(*this); o.dtype_ = t; return o; }
  GS_INLINE ScalarType dtype() const { return dtype_; }
  template <typename Any> GS_INLINE TensorOptions layout(Any) const { return *this; }
  template <typename Any> GS_INLINE TensorOptions device(Any) const { return *this; }
  GS_INLINE TensorOptions requires_grad(bool = true) const { return *this; }

 private:
  ScalarType dtype_;
};

using Layout = int;
constexpr Layout kStrided = 0;

}  // namespace c10
