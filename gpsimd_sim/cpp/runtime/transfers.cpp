// TCM accessor transfers: tensor_to_tcm and tcm_to_tensor, checked at both ends (the
// tensor's elements, the TCM buffer's room), one Dma record each.
#include "internal.h"

using namespace gs_rt;

extern "C" void gs_tcm_accessor_open(int32_t t) {
  ENTER();
  need_data(tensor(t), "tcm_accessor");
  step();
}

namespace {
Buffer& tcm_span(const char* what, TensorRec& t, void* p, size_t offset_u, size_t n_u,
                 int32_t dtype) {
  if (!p) FAULT("%s: expected a TCM buffer, got a null pointer (tcm_malloc failed)", what);
  Buffer* b = buffer_at((uintptr_t)p);
  if (!b) FAULT("%s: expected a TCM buffer, got a pointer outside the TCM pool", what);
  if (b->freed) FAULT("%s: TCM buffer %d used after tcm_free", what, b->id);
  int64_t offset = (int64_t)offset_u, n = (int64_t)n_u;
  if (n < 0 || offset < 0 || offset + n > t.numel) {
    int64_t bad = (offset < 0 || offset >= t.numel) ? offset : t.numel;
    FAULT("out-of-bounds %s: tensor %s has %lld elements, elements [%lld, %lld) requested "
          "(first bad index %lld)", what, t.name, (long long)t.numel, (long long)offset,
          (long long)(offset + n), (long long)bad);
  }
  size_t esize = dtype_size(dtype);
  int64_t from = (int64_t)((uintptr_t)p - b->real);
  int64_t cap = from < 0 ? 0 : (b->nbytes - from) / (int64_t)esize;
  if (from < 0 || n > cap)
    FAULT("out-of-bounds %s: TCM buffer %d holds %lld elements, %lld requested (first bad "
          "index %lld)", what, b->id, (long long)cap, (long long)n, (long long)cap);
  if (dtype != t.dtype)
    FAULT("%s<%s> on tensor %s of %s", what, dtype_name(dtype), t.name,
          dtype_name(t.dtype));
  return *b;
}

// One checked transfer between elements [offset, offset + n) of a tensor and a TCM buffer
void transfer(bool to_tcm, int32_t th, void* p, size_t offset, size_t n, int32_t dtype) {
  const char* what = to_tcm ? "tensor_to_tcm" : "tcm_to_tensor";
  TensorRec& t = tensor(th);
  need_data(t, what);
  Buffer& b = tcm_span(what, t, p, offset, n, dtype);
  uint8_t* elems = t.data + offset * t.esize;
  if (to_tcm) {
    memcpy(p, elems, n * t.esize);
  } else {
    claim(t, (int64_t)offset, (int64_t)n);
    memcpy(elems, p, n * t.esize);
  }
  emit("D\t%s\t%s\t%lld\t%lld\t%lld\t%d\t%lld\t%d\n", to_tcm ? "to_tcm" : "to_tensor",
       t.name, (long long)offset, (long long)n, (long long)(n * t.esize), b.id,
       (long long)(b.sim_off + ((uintptr_t)p - b.real)), current_line());
}
}  // namespace

extern "C" void gs_tensor_to_tcm(int32_t th, void* p, size_t offset, size_t n, int32_t dtype) {
  ENTER();
  transfer(true, th, p, offset, n, dtype);
}

extern "C" void gs_tcm_to_tensor(int32_t th, void* p, size_t offset, size_t n, int32_t dtype) {
  ENTER();
  transfer(false, th, p, offset, n, dtype);
}
