// Tensors: dtypes and element conversions, the tensor table (parameters, the tensors the
// kernel makes, dst), factories, and the gs_api.h queries of a tensor.
#include "internal.h"

#define GS_NO_STL  // gs_c10.h without its std::vector conveniences
#include "../include/gpsimd_sim/gs_c10.h"  // the float16 / bfloat16 conversions

namespace gs_rt {

// ---------------------------------------------------------------------------------------
// dtypes
const char* dtype_name(int32_t d) {
  switch (d) {
    case GS_BYTE: return "uint8";
    case GS_CHAR: return "int8";
    case GS_SHORT: return "int16";
    case GS_INT: return "int32";
    case GS_LONG: return "int64";
    case GS_HALF: return "float16";
    case GS_FLOAT: return "float32";
    case GS_DOUBLE: return "float64";
    case GS_BOOL: return "bool";
    case GS_BFLOAT16: return "bfloat16";
    default: return "unknown";
  }
}
size_t dtype_size(int32_t d) {
  switch (d) {
    case GS_BYTE: case GS_CHAR: case GS_BOOL: return 1;
    case GS_SHORT: case GS_HALF: case GS_BFLOAT16: return 2;
    case GS_INT: case GS_FLOAT: return 4;
    case GS_LONG: case GS_DOUBLE: return 8;
    default: return 0;
  }
}
bool dtype_supported(int32_t d) {  // API reference: Tensor Factory Functions
  switch (d) {
    case GS_BYTE: case GS_CHAR: case GS_SHORT: case GS_INT: case GS_LONG: case GS_HALF:
    case GS_FLOAT: case GS_BFLOAT16: return true;
    default: return false;
  }
}
bool dtype_float(int32_t d) { return d == GS_HALF || d == GS_FLOAT || d == GS_DOUBLE || d == GS_BFLOAT16; }

double load_d(const uint8_t* p, int32_t d) {
  switch (d) {
    case GS_BYTE: case GS_BOOL: case GS_CHAR: case GS_SHORT: case GS_INT: case GS_LONG:
      return (double)load_i(p, d);
    case GS_HALF: { uint16_t v; memcpy(&v, p, 2); return c10::gs_detail::f16_to_f32(v); }
    case GS_BFLOAT16: { uint16_t v; memcpy(&v, p, 2); return c10::gs_detail::bf16_to_f32(v); }
    case GS_FLOAT: { float v; memcpy(&v, p, 4); return v; }
    case GS_DOUBLE: { double v; memcpy(&v, p, 8); return v; }
  }
  return 0;
}
int64_t load_i(const uint8_t* p, int32_t d) {
  switch (d) {
    case GS_BYTE: return *p;
    case GS_BOOL: return *p != 0;
    case GS_CHAR: return (int8_t)*p;
    case GS_SHORT: { int16_t v; memcpy(&v, p, 2); return v; }
    case GS_INT: { int32_t v; memcpy(&v, p, 4); return v; }
    case GS_LONG: { int64_t v; memcpy(&v, p, 8); return v; }
    default: return (int64_t)load_d(p, d);
  }
}
void store_d(uint8_t* p, int32_t d, double x) {
  switch (d) {
    case GS_BOOL: *p = x != 0; break;
    case GS_BYTE: case GS_CHAR: case GS_SHORT: case GS_INT: case GS_LONG:
      store_i(p, d, (int64_t)x);
      break;
    case GS_HALF: { uint16_t v = c10::gs_detail::f32_to_f16((float)x); memcpy(p, &v, 2); break; }
    case GS_BFLOAT16: { uint16_t v = c10::gs_detail::f32_to_bf16((float)x); memcpy(p, &v, 2); break; }
    case GS_FLOAT: { float v = (float)x; memcpy(p, &v, 4); break; }
    case GS_DOUBLE: memcpy(p, &x, 8); break;
  }
}
void store_i(uint8_t* p, int32_t d, int64_t x) {
  switch (d) {
    case GS_BYTE: *p = (uint8_t)x; break;
    case GS_BOOL: *p = x != 0; break;
    case GS_CHAR: *p = (uint8_t)(int8_t)x; break;
    case GS_SHORT: { int16_t v = (int16_t)x; memcpy(p, &v, 2); break; }
    case GS_INT: { int32_t v = (int32_t)x; memcpy(p, &v, 4); break; }
    case GS_LONG: memcpy(p, &x, 8); break;
    default: store_d(p, d, (double)x);
  }
}

Text sizes_str(const TensorRec& t, bool tuple) {
  Text out;
  size_t k = (size_t)snprintf(out.s, sizeof out.s, "%s", tuple ? "(" : "[");
  for (int i = 0; i < t.ndim && k < sizeof out.s; i++)
    k += (size_t)snprintf(out.s + k, sizeof out.s - k, "%s%lld", i ? ", " : "", (long long)t.sizes[i]);
  if (k < sizeof out.s)
    snprintf(out.s + k, sizeof out.s - k, "%s%s", tuple && t.ndim == 1 ? "," : "", tuple ? ")" : "]");
  return out;
}

void garbage(TensorRec& t) {  // as api.tensor.garbage_like: NaN, or 0x5A bytes
  size_t n = (size_t)t.numel;
  switch (t.dtype) {
    case GS_FLOAT: { float v = __builtin_nanf(""); for (size_t i = 0; i < n; i++) memcpy(t.data + 4 * i, &v, 4); break; }
    case GS_DOUBLE: { double v = __builtin_nan(""); for (size_t i = 0; i < n; i++) memcpy(t.data + 8 * i, &v, 8); break; }
    case GS_HALF: { uint16_t v = 0x7e00; for (size_t i = 0; i < n; i++) memcpy(t.data + 2 * i, &v, 2); break; }
    case GS_BFLOAT16: { uint16_t v = 0x7fc0; for (size_t i = 0; i < n; i++) memcpy(t.data + 2 * i, &v, 2); break; }
    default: memset(t.data, 0x5a, n * t.esize);
  }
}

void need_data(const TensorRec& t, const char* what) {
  if (!t.data)
    FAULT("%s on tensor %s: the shape function may not access tensor data (developer guide)",
          what, t.name);
}

int32_t new_tensor(const char* kind, int32_t dtype, int32_t ndim, const int64_t* sizes,
                   bool with_data) {
  if (ndim > 8) FAULT("%s: tensors have at most 8 dimensions (API reference), %d requested", kind, ndim);
  if (!dtype_supported(dtype))
    FAULT("%s: dtype %s is not supported (float32, bfloat16, float16, int32, int64, int16, "
          "int8, uint8)", kind, dtype_name(dtype));
  TensorRec* t = new TensorRec();
  t->dtype = dtype;
  t->ndim = ndim;
  t->esize = dtype_size(dtype);
  int64_t numel = 1;
  for (int i = 0; i < ndim; i++) {
    if (sizes[i] < 0) FAULT("%s: negative size %lld in dimension %d", kind, (long long)sizes[i], i);
    t->sizes[i] = sizes[i];
    numel *= sizes[i];
  }
  if (numel > ((int64_t)1 << 31)) FAULT("%s: %lld elements is more than the simulator holds", kind, (long long)numel);
  t->numel = numel;
  if (g_core)
    snprintf(t->name, sizeof t->name, "%s#%d", kind, g_core->next_tensor_id++);
  else
    copy_text(t->name, sizeof t->name, kind);
  if (with_data && !g_shape_mode) {
    t->data = (uint8_t*)calloc((size_t)mx<int64_t>(numel, 1), t->esize);
    if (!t->data) FAULT("%s: out of host memory for %lld elements", kind, (long long)numel);
  }
  g_tensors.push_back(t);
  return (int32_t)(g_tensors.size() - 1);
}

void claim(TensorRec& t, int64_t offset, int64_t n) {
  if (!g_multicore) return;
  if (!t.writer) {
    t.writer = (int16_t*)malloc((size_t)mx<int64_t>(t.numel, 1) * sizeof(int16_t));
    if (!t.writer) abort();
    for (int64_t i = 0; i < t.numel; i++) t.writer[i] = -1;
  }
  int16_t me = (int16_t)g_core->id;
  for (int64_t i = offset; i < offset + n; i++) {
    int16_t w = t.writer[i];
    if (w != -1 && w != me)
      FAULT("race: tensor %s element %lld written by core %d and core %d (no synchronisation "
            "between cores: the result depends on timing)",
            t.name, (long long)i, (int)w, (int)me);
  }
  for (int64_t i = offset; i < offset + n; i++) t.writer[i] = me;
}

}  // namespace gs_rt

using namespace gs_rt;

// =======================================================================================
// gs_api.h
extern "C" {

uint32_t gs_cpu_id(void) { return g_core ? (uint32_t)g_core->id : 0; }
uint32_t gs_cpu_count(void) { return (uint32_t)g_cores; }

int32_t gs_dst_tensor(void) {
  ENTER();
  if (g_shape_mode) FAULT("get_dst_tensor() in a shape function");
  step();
  if (!g_multicore)
    FAULT("get_dst_tensor() is for multicore kernels (multicore=True in build.py); a "
          "single-core kernel returns its output");
  return g_dst;
}

int64_t gs_numel(int32_t t) { ENTER(); return tensor(t).numel; }
int32_t gs_dim(int32_t t) { ENTER(); return tensor(t).ndim; }
int64_t gs_size(int32_t t, int64_t d) {
  ENTER();
  TensorRec& r = tensor(t);
  int64_t dd = d < 0 ? d + r.ndim : d;
  if (dd < 0 || dd >= r.ndim)
    FAULT("size(%lld) of tensor %s of %d dimensions", (long long)d, r.name, r.ndim);
  return r.sizes[dd];
}
int32_t gs_dtype(int32_t t) { ENTER(); return tensor(t).dtype; }
int32_t gs_get_policy(int32_t t) { ENTER(); return tensor(t).policy; }
void gs_set_policy(int32_t t, int32_t p) { ENTER(); tensor(t).policy = p; }

int32_t gs_factory(int32_t kind, const int64_t* sizes, int32_t ndim, int32_t dtype,
                   GsOperand fill) {
  ENTER();
  static const char* names[] = {"empty", "zeros", "ones", "full", "eye"};
  const char* name = kind >= 0 && kind <= 4 ? names[kind] : "factory";
  int32_t h = new_tensor(name, dtype, ndim, sizes, true);
  TensorRec& t = *g_tensors[h];
  if (g_shape_mode) return h;
  if (kind == GS_EMPTY) {
    garbage(t);
    step();
    return h;
  }
  size_t n = (size_t)t.numel;
  if (kind == GS_ONES || kind == GS_FULL) {
    for (size_t i = 0; i < n; i++) {
      uint8_t* p = t.data + i * t.esize;
      if (kind == GS_ONES) store_i(p, t.dtype, 1);
      else if (fill.kind == 3) store_i(p, t.dtype, fill.i);
      else store_d(p, t.dtype, fill.d);
    }
  } else if (kind == GS_EYE) {
    int64_t rows = t.sizes[0], cols = t.sizes[1];
    for (int64_t i = 0; i < rows && i < cols; i++) store_i(t.data + (i * cols + i) * t.esize, t.dtype, 1);
  }
  emit("F\t%s\t%lld\t%d\n", t.name, (long long)(n * t.esize), current_line());
  return h;
}


}  // extern "C"
