// gpsimd_sim's "torchneuron/register.h": NEURON_LIBRARY, the registration of a library's
// operators (developer guide: m.def(<op_name>, <shape_fcn>, <kernel_fcn>)), written for the
// simulator. Registration records each operator's name, its shape function and the name of
// its kernel function; the parameter kinds come from the shape function's type.
#pragma once
#include <torch/torch.h>

#include "../gpsimd_sim/gs_glue.h"

namespace torchneuron {

class Library {
 public:
  explicit Library(const char* name) : name_(name) {}
  template <typename R, typename... A>
  Library& def(const char* op_name, R (*shape_fn)(A...), const char* kernel_name) {
    gs_glue::check_signature<R, A...>();
    gs_register_op(name_, op_name, kernel_name, gs_glue::Kinds<A...>::str(),
                   (void*)shape_fn, &gs_glue::invoke<R, A...>);
    return *this;
  }
  template <typename R, typename... A>
  Library& def(const char* op_name, R (*shape_fn)(A...)) {
    return def(op_name, shape_fn, op_name);
  }

 private:
  const char* name_;
};

struct LibraryInit {
  LibraryInit(const char* name, void (*init)(Library&)) {
    Library lib(name);
    init(lib);
  }
};

}  // namespace torchneuron

#define GS_NEURON_CAT2(a, b) a##b
#define GS_NEURON_CAT(a, b) GS_NEURON_CAT2(a, b)
#define NEURON_LIBRARY(ns, m)                                                                \
  static void GS_NEURON_CAT(gs_neuron_library_init_, ns)(::torchneuron::Library&);          \
  static ::torchneuron::LibraryInit GS_NEURON_CAT(gs_neuron_library_, ns)(                   \
      #ns, &GS_NEURON_CAT(gs_neuron_library_init_, ns));                                     \
  static void GS_NEURON_CAT(gs_neuron_library_init_, ns)(::torchneuron::Library & m)
