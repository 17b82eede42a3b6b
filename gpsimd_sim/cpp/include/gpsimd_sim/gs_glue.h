// gpsimd_sim: calling a kernel or shape function of any registered signature.
//
// The parameter kinds are worked out at compile time from the function pointer's type, and
// a type-erased invoker passes the runtime's arguments (tensors, double, int64_t, Scalar)
// in order. The glue is neither instrumented nor allowed to inline the kernel, so the
// kernel's own code is the only code that is counted.
#pragma once
#include <stddef.h>

#include <new>
#include <type_traits>
#include <utility>

#include <torch/torch.h>

#if defined(__clang__)
#define GS_GLUE __attribute__((no_sanitize("thread", "coverage"), noinline, optnone))
#elif defined(__has_attribute) && __has_attribute(no_sanitize_coverage)
#define GS_GLUE __attribute__((no_sanitize("thread"), no_sanitize_coverage, noipa, noinline))
#else
#define GS_GLUE __attribute__((no_sanitize("thread"), noipa, noinline))
#endif

namespace gs_glue {

template <typename A> struct Kind {
  static_assert(sizeof(A) == 0,
                "a custom operator's parameters must be torch::Tensor, torch::Scalar (c10::Scalar), "
                "double or int64_t (Neuron custom C++ operators developer guide)");
};
template <> struct Kind<at::Tensor> {
  static constexpr char code = 't';
  static GS_INLINE at::Tensor get(const GsArg& a) { return at::Tensor(a.tensor, 0); }
};
template <> struct Kind<double> {
  static constexpr char code = 'd';
  static GS_INLINE double get(const GsArg& a) { return a.d; }
};
template <> struct Kind<int64_t> {
  static constexpr char code = 'i';
  static GS_INLINE int64_t get(const GsArg& a) { return a.i; }
};
static_assert(sizeof(c10::Scalar) <= 32 && sizeof(at::Tensor) <= 32, "argument slots");
template <> struct Kind<c10::Scalar> {
  static constexpr char code = 's';
  static GS_INLINE c10::Scalar get(const GsArg& a) { return c10::Scalar::from_arg(a); }
};

template <typename A> using Plain = typename std::decay<A>::type;

template <typename... A> struct Kinds {
  static const char* str() {
    static const char s[] = {Kind<Plain<A>>::code..., '\0'};
    return s;
  }
};

template <typename R, typename... A> constexpr bool check_signature() {
  static_assert(std::is_same<R, at::Tensor>::value,
                "a custom operator must return torch::Tensor");
  return true;
}

// The arguments are built in place (all four kinds are trivially copyable) rather than in a
// std::tuple: library code called from here would be compiled with the kernel's
// instrumentation, and its loads and stores counted as the kernel's.
template <typename R, typename... A, size_t... I>
GS_INLINE int32_t call(R (*f)(A...), const GsArg* args, std::index_sequence<I...>) {
  alignas(16) unsigned char storage[(sizeof...(A) ? sizeof...(A) : 1) * 32];
  int placed[] = {0, (new (storage + 32 * I) Plain<A>(Kind<Plain<A>>::get(args[I])), 0)...};
  (void)placed;
  (void)storage;
  R result = f(*reinterpret_cast<Plain<A>*>(storage + 32 * I)...);
  return result.gs_handle();
}

template <typename R, typename... A>
GS_GLUE int32_t invoke(void* fn, const GsArg* args) {
  return call((R(*)(A...))fn, args, std::index_sequence_for<A...>());
}

struct KernelReg {
  template <typename R, typename... A>
  GS_GLUE KernelReg(const char* name, R (*fn)(A...)) {
    check_signature<R, A...>();
    gs_register_kernel(name, Kinds<A...>::str(), (void*)fn, &invoke<R, A...>);
  }
};

}  // namespace gs_glue

#define GS_KERNEL(fn) static ::gs_glue::KernelReg gs_kernel_reg_##fn(#fn, &fn);
