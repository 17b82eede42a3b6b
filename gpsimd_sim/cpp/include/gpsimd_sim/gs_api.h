// gpsimd_sim: the calls our custom-operator headers make into the simulator's runtime.
//
// Every operation of the documented API that touches a tensor, the TCM pool, a stream or
// the core is one out-of-line call into the runtime (the files of gpsimd_sim/cpp/runtime/),
// which is compiled without instrumentation. The calls are opaque to the optimiser, so
// every element access the source executes is one call, and the runtime finds the kernel
// line of each call from its return address.
#pragma once
#include <stddef.h>
#include <stdint.h>

// nothrow: a call that cannot throw does not end a basic block in the caller
#define GS_API extern "C" __attribute__((nothrow))

// dtype codes: the numbering of c10::ScalarType
enum {
  GS_BYTE = 0, GS_CHAR = 1, GS_SHORT = 2, GS_INT = 3, GS_LONG = 4, GS_HALF = 5,
  GS_FLOAT = 6, GS_DOUBLE = 7, GS_BOOL = 11, GS_BFLOAT16 = 15
};

// tensor factories
enum { GS_EMPTY = 0, GS_ZEROS = 1, GS_ONES = 2, GS_FULL = 3, GS_EYE = 4 };

// operands of tensor operations
struct GsOperand {
  int32_t kind;    // 0 none, 1 tensor, 2 floating scalar, 3 integral scalar
  int32_t tensor;
  double d;
  int64_t i;
};

enum {
  GS_OP_ABS, GS_OP_CEIL, GS_OP_FLOOR, GS_OP_SIN, GS_OP_COS, GS_OP_TAN, GS_OP_LOG, GS_OP_LOG2,
  GS_OP_LOG10, GS_OP_EXP, GS_OP_POW, GS_OP_CLAMP, GS_OP_ADD, GS_OP_SUB, GS_OP_MUL, GS_OP_DIV,
  GS_OP_BITWISE_AND, GS_OP_BITWISE_OR, GS_OP_BITWISE_NOT, GS_OP_FILL, GS_OP_COUNT
};

// the core
GS_API uint32_t gs_cpu_id(void);
GS_API uint32_t gs_cpu_count(void);
GS_API int32_t gs_dst_tensor(void);

// tensor shape and type (no device-memory access, no record)
GS_API int64_t gs_numel(int32_t t);
GS_API int32_t gs_dim(int32_t t);
GS_API int64_t gs_size(int32_t t, int64_t dim);
GS_API int32_t gs_dtype(int32_t t);
GS_API int32_t gs_get_policy(int32_t t);
GS_API void gs_set_policy(int32_t t, int32_t policy);

// factories and tensor operations
GS_API int32_t gs_factory(int32_t kind, const int64_t* sizes, int32_t ndim, int32_t dtype,
                          GsOperand fill);
GS_API int32_t gs_op(int32_t op, int32_t out, int32_t nargs, GsOperand a, GsOperand b,
                     GsOperand c, GsOperand d);

// element-wise accessors (device memory, one element per call)
GS_API void gs_accessor_open(int32_t t, int32_t dtype, int32_t ndim, int32_t writable);
GS_API void gs_elem_oob(int32_t t, int32_t n, int64_t i0, int64_t i1, int64_t i2, int64_t i3,
                        int64_t i4, int64_t i5, int64_t i6, int64_t i7);
GS_API float gs_rd_f32(int32_t t, int64_t i);
GS_API double gs_rd_f64(int32_t t, int64_t i);
GS_API int64_t gs_rd_i64(int32_t t, int64_t i);
GS_API int32_t gs_rd_i32(int32_t t, int64_t i);
GS_API int16_t gs_rd_i16(int32_t t, int64_t i);
GS_API int8_t gs_rd_i8(int32_t t, int64_t i);
GS_API uint8_t gs_rd_u8(int32_t t, int64_t i);
GS_API uint16_t gs_rd_u16(int32_t t, int64_t i);
GS_API void gs_wr_f32(int32_t t, int64_t i, float v);
GS_API void gs_wr_f64(int32_t t, int64_t i, double v);
GS_API void gs_wr_i64(int32_t t, int64_t i, int64_t v);
GS_API void gs_wr_i32(int32_t t, int64_t i, int32_t v);
GS_API void gs_wr_i16(int32_t t, int64_t i, int16_t v);
GS_API void gs_wr_i8(int32_t t, int64_t i, int8_t v);
GS_API void gs_wr_u8(int32_t t, int64_t i, uint8_t v);
GS_API void gs_wr_u16(int32_t t, int64_t i, uint16_t v);

// stream accessors
GS_API int32_t gs_stream_open(int32_t t, int32_t dtype, int32_t write);
GS_API int32_t gs_stream_close(int32_t s);
GS_API void gs_stream_drop(int32_t s);  // destructor: close if still open
GS_API float gs_srd_f32(int32_t s);
GS_API double gs_srd_f64(int32_t s);
GS_API int64_t gs_srd_i64(int32_t s);
GS_API int32_t gs_srd_i32(int32_t s);
GS_API int16_t gs_srd_i16(int32_t s);
GS_API int8_t gs_srd_i8(int32_t s);
GS_API uint8_t gs_srd_u8(int32_t s);
GS_API uint16_t gs_srd_u16(int32_t s);
GS_API void gs_swr_f32(int32_t s, float v);
GS_API void gs_swr_f64(int32_t s, double v);
GS_API void gs_swr_i64(int32_t s, int64_t v);
GS_API void gs_swr_i32(int32_t s, int32_t v);
GS_API void gs_swr_i16(int32_t s, int16_t v);
GS_API void gs_swr_i8(int32_t s, int8_t v);
GS_API void gs_swr_u8(int32_t s, uint8_t v);
GS_API void gs_swr_u16(int32_t s, uint16_t v);

// TCM
GS_API void* gs_tcm_malloc(size_t nbytes);
GS_API void gs_tcm_free(void* p);
GS_API void gs_tcm_accessor_open(int32_t t);
GS_API void gs_tensor_to_tcm(int32_t t, void* p, size_t offset, size_t n, int32_t dtype);
GS_API void gs_tcm_to_tensor(int32_t t, void* p, size_t offset, size_t n, int32_t dtype);

// registration (shape.cpp's NEURON_LIBRARY and the generated kernel table)
struct GsArg {
  int32_t kind;  // 1 tensor, 2 double, 3 int64, 4 scalar
  int32_t tensor;
  double d;
  int64_t i;
  int32_t scalar_is_int;
};
typedef int32_t (*GsInvoker)(void* fn, const GsArg* args);
GS_API void gs_register_op(const char* library, const char* name, const char* kernel,
                           const char* kinds, void* fn, GsInvoker invoker);
GS_API void gs_register_kernel(const char* name, const char* kinds, void* fn,
                               GsInvoker invoker);
