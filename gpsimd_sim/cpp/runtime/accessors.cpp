// Element-wise accessors: opening one (the checks of the API), the out-of-range fault, and
// the per-element reads and writes (gs_rd_* / gs_wr_*), each counted into the pending
// ElementRun of the core.
#include "internal.h"

using namespace gs_rt;

extern "C" {

void gs_accessor_open(int32_t t, int32_t dtype, int32_t ndim, int32_t writable) {
  ENTER();
  (void)writable;
  TensorRec& r = tensor(t);
  need_data(r, "accessor");
  step();
  if (g_multicore)
    FAULT("element accessor on tensor %s: multicore kernels may only use TCM accessors "
          "(Custom Operators API reference)", r.name);
  if (ndim != r.ndim)
    FAULT("accessor(%d) on tensor %s of %d dimensions", ndim, r.name, r.ndim);
  if (dtype != r.dtype)
    FAULT("accessor<%s, %d> on tensor %s of %s", dtype_name(dtype), ndim, r.name,
          dtype_name(r.dtype));
}

void gs_elem_oob(int32_t t, int32_t n, int64_t i0, int64_t i1, int64_t i2, int64_t i3,
                 int64_t i4, int64_t i5, int64_t i6, int64_t i7) {
  ENTER();
  TensorRec& r = tensor(t);
  int64_t idx[8] = {i0, i1, i2, i3, i4, i5, i6, i7};
  char s[400];
  size_t k = (size_t)snprintf(s, sizeof s, "[");
  for (int i = 0; i < n && i < 8 && k < sizeof s; i++)
    k += (size_t)snprintf(s + k, sizeof s - k, "%s%lld", i ? ", " : "", (long long)idx[i]);
  if (k < sizeof s) snprintf(s + k, sizeof s - k, "]");
  FAULT("out-of-bounds element access: tensor %s of sizes %s, index %s", r.name,
        sizes_str(r, true).c_str(), s);
}

}  // extern "C"

namespace {
HOT inline uint8_t* elem_ptr(int32_t t, int64_t i, bool write, uintptr_t pc) {
  TensorRec& r = tensor(t);
  if ((uint64_t)i >= (uint64_t)r.numel)
    FAULT("out-of-bounds element access: tensor %s of %lld elements, flat index %lld",
          r.name, (long long)r.numel, (long long)i);
  g_core->seg_unvectorisable = true;
  element_access(write, pc);
  return r.data + (size_t)i * r.esize;
}
}  // namespace

#define GS_ELEM_IO(SUF, T)                                                                 \
  extern "C" HOT T gs_rd_##SUF(int32_t t, int64_t i) {                                         \
    ENTER();                                                                               \
    T v;                                                                                   \
    memcpy(&v, elem_ptr(t, i, false, g_status->api_pc), sizeof(T));                        \
    return v;                                                                              \
  }                                                                                        \
  extern "C" HOT void gs_wr_##SUF(int32_t t, int64_t i, T v) {                             \
    ENTER();                                                                               \
    memcpy(elem_ptr(t, i, true, g_status->api_pc), &v, sizeof(T));                        \
  }
GS_ELEM_IO(f32, float)
GS_ELEM_IO(f64, double)
GS_ELEM_IO(i64, int64_t)
GS_ELEM_IO(i32, int32_t)
GS_ELEM_IO(i16, int16_t)
GS_ELEM_IO(i8, int8_t)
GS_ELEM_IO(u8, uint8_t)
GS_ELEM_IO(u16, uint16_t)
#undef GS_ELEM_IO
