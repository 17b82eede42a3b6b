// Tensor operations (abs ... bitwise_not, their _out forms, fill_): values as api/ops.py
// computes them, one TensorOp record each.
#include "internal.h"

// libm through the compiler's builtins (the same calls): C++'s <math.h> would cost a quarter
// of a second of the runtime's one-time compile.

using namespace gs_rt;

namespace {
const char* op_name(int32_t op) {
  static const char* names[] = {"abs", "ceil", "floor", "sin", "cos", "tan", "log", "log2",
                                "log10", "exp", "pow", "clamp", "add", "sub", "mul", "div",
                                "bitwise_and", "bitwise_or", "bitwise_not", "fill_"};
  return op >= 0 && op < GS_OP_COUNT ? names[op] : "op";
}

}  // namespace

extern "C" int32_t gs_op(int32_t op, int32_t out, int32_t nargs, GsOperand a, GsOperand b,
                         GsOperand c, GsOperand d) {
  // As api/ops.py: no broadcasting; the result has the first tensor operand's dtype; values
  // are computed as NumPy does for that dtype (16-bit floats in float32, integers exactly,
  // integer div rounding toward zero) and rounded once into the result.
  ENTER();
  (void)d;
  const char* base = op_name(op);
  Text what_text;
  snprintf(what_text.s, sizeof what_text.s, "%s%s", base,
           out >= 0 && op != GS_OP_FILL ? "_out" : "");
  const char* what = what_text.s;
  GsOperand args[3] = {a, b, c};
  TensorRec* shape = nullptr;
  int64_t bytes_in = 0;
  bool float_scalar = false;
  int nin = op == GS_OP_FILL ? 0 : nargs;
  step();
  for (int i = 0; i < nin; i++) {
    if (args[i].kind == 1) {
      TensorRec& t = tensor(args[i].tensor);
      need_data(t, what);
      if (!shape) shape = &t;
      else if (t.ndim != shape->ndim || memcmp(t.sizes, shape->sizes, sizeof t.sizes) != 0)
        FAULT("%s: operands of shapes %s and %s (the tensor ops do not broadcast)", what,
              sizes_str(*shape, false).c_str(), sizes_str(t, false).c_str());
      bytes_in += t.numel * (int64_t)t.esize;
    } else if (args[i].kind == 2) {
      float_scalar = true;
    }
  }
  if (op == GS_OP_FILL) {
    shape = &tensor(out);
    float_scalar = a.kind == 2;
  }
  if (!shape) FAULT("%s: needs at least one tensor operand", what);
  int32_t dtype = shape->dtype;
  bool bitwise = op == GS_OP_BITWISE_AND || op == GS_OP_BITWISE_OR || op == GS_OP_BITWISE_NOT;
  bool transcendental = op == GS_OP_SIN || op == GS_OP_COS || op == GS_OP_TAN ||
                        op == GS_OP_LOG || op == GS_OP_LOG2 || op == GS_OP_LOG10 ||
                        op == GS_OP_EXP || op == GS_OP_CEIL || op == GS_OP_FLOOR;
  if (bitwise && dtype_float(dtype))
    FAULT("%s: bitwise ops need integer tensors, got %s", what, dtype_name(dtype));
  int32_t r;
  if (out >= 0) {
    r = out;
    TensorRec& o = tensor(out);
    need_data(o, what);
    if (op != GS_OP_FILL &&
        (o.ndim != shape->ndim || memcmp(o.sizes, shape->sizes, sizeof o.sizes) != 0))
      FAULT("%s: result of shape %s for operands of shape %s", what,
            sizes_str(o, false).c_str(), sizes_str(*shape, false).c_str());
  } else {
    r = new_tensor(base, dtype, shape->ndim, shape->sizes, true);
  }
  TensorRec& o = *g_tensors[r];
  if (g_shape_mode) return r;
  if (g_multicore) claim(o, 0, o.numel);
  // exact integer arithmetic when every operand is integral (NumPy's integer ufuncs)
  bool integral = !dtype_float(dtype) && !float_scalar && !transcendental;
  int64_t n = o.numel;
  auto fetch_d = [&](const GsOperand& x, int64_t i) -> double {
    if (x.kind == 1) {
      TensorRec& t = *g_tensors[x.tensor];
      return load_d(t.data + i * t.esize, t.dtype);
    }
    return x.kind == 3 ? (double)x.i : x.d;
  };
  auto fetch_i = [&](const GsOperand& x, int64_t i) -> int64_t {
    if (x.kind == 1) {
      TensorRec& t = *g_tensors[x.tensor];
      return load_i(t.data + i * t.esize, t.dtype);
    }
    return x.kind == 3 ? x.i : (int64_t)x.d;
  };
  // float32, float16, bfloat16 compute in float32; float64, and an integer tensor with a
  // float scalar, in double
  bool f32 = dtype_float(dtype) && dtype != GS_DOUBLE;
  for (int64_t i = 0; i < n; i++) {
    uint8_t* dst = o.data + i * o.esize;
    if (op == GS_OP_FILL) {
      if (a.kind == 3) store_i(dst, o.dtype, a.i);
      else store_d(dst, o.dtype, a.d);
      continue;
    }
    if (integral) {
      int64_t x = fetch_i(args[0], i), y = nargs > 1 ? fetch_i(args[1], i) : 0;
      int64_t z = nargs > 2 ? fetch_i(args[2], i) : 1, v = 0;
      switch (op) {
        case GS_OP_ABS: v = x < 0 ? -x : x; break;
        case GS_OP_ADD: v = x + z * y; break;
        case GS_OP_SUB: v = x - z * y; break;
        case GS_OP_MUL: v = x * y; break;
        case GS_OP_DIV:
          if (y == 0) FAULT("div: integer division by zero");
          v = x / y;  // C++ (and api/ops.py) round toward zero
          break;
        case GS_OP_CLAMP: v = x < y ? y : (x > z ? z : x); break;
        case GS_OP_POW: {
          v = 1;
          if (y < 0) v = (x == 1) ? 1 : (x == -1 ? ((-y) % 2 ? -1 : 1) : 0);
          for (int64_t k = 0; k < y; k++) v *= x;
          break;
        }
        case GS_OP_BITWISE_AND: v = x & y; break;
        case GS_OP_BITWISE_OR: v = x | y; break;
        case GS_OP_BITWISE_NOT: v = (o.dtype == GS_BOOL) ? !x : ~x; break;
      }
      store_i(dst, o.dtype, v);
      continue;
    }
    double x = fetch_d(args[0], i), y = nargs > 1 ? fetch_d(args[1], i) : 0.0;
    double z = nargs > 2 ? fetch_d(args[2], i) : 1.0, v = 0.0;
    float fx = (float)x, fy = (float)y, fz = (float)z;
    switch (op) {
      case GS_OP_ABS: v = __builtin_fabs(x); break;
      case GS_OP_CEIL: v = __builtin_ceil(x); break;
      case GS_OP_FLOOR: v = __builtin_floor(x); break;
      case GS_OP_SIN: v = f32 ? __builtin_sinf(fx) : __builtin_sin(x); break;
      case GS_OP_COS: v = f32 ? __builtin_cosf(fx) : __builtin_cos(x); break;
      case GS_OP_TAN: v = f32 ? __builtin_tanf(fx) : __builtin_tan(x); break;
      case GS_OP_LOG: v = f32 ? __builtin_logf(fx) : __builtin_log(x); break;
      case GS_OP_LOG2: v = f32 ? __builtin_log2f(fx) : __builtin_log2(x); break;
      case GS_OP_LOG10: v = f32 ? __builtin_log10f(fx) : __builtin_log10(x); break;
      case GS_OP_EXP: v = f32 ? __builtin_expf(fx) : __builtin_exp(x); break;
      case GS_OP_POW: v = f32 ? __builtin_powf(fx, fy) : __builtin_pow(x, y); break;
      case GS_OP_CLAMP: v = x < y ? y : (x > z ? z : x); break;
      case GS_OP_ADD: v = f32 ? (double)(fx + fz * fy) : x + z * y; break;
      case GS_OP_SUB: v = f32 ? (double)(fx - fz * fy) : x - z * y; break;
      case GS_OP_MUL: v = f32 ? (double)(fx * fy) : x * y; break;
      case GS_OP_DIV:
        if (!dtype_float(dtype)) v = __builtin_trunc(x / y);
        else v = f32 ? (double)(fx / fy) : x / y;
        break;
      case GS_OP_BITWISE_AND: v = (double)((int64_t)x & (int64_t)y); break;
      case GS_OP_BITWISE_OR: v = (double)((int64_t)x | (int64_t)y); break;
      case GS_OP_BITWISE_NOT: v = (double)(~(int64_t)x); break;
    }
    store_d(dst, o.dtype, v);
  }
  emit("O\t%s\t%lld\t%zu\t%lld\t%lld\t%d\n", base, (long long)n, o.esize,
       (long long)(op == GS_OP_FILL ? 0 : bytes_in), (long long)(n * (int64_t)o.esize),
       current_line());
  return r;
}
