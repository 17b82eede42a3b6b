// Read and write stream accessors: up to --fast-streams buffered streams per core, each
// with a stream buffer of the pool (StreamAccess per buffer of read() / write() calls,
// StreamTransfer per refill or flush); beyond that, element-wise (as api/stream.py).
#include "internal.h"

namespace gs_rt {
namespace {
HOT Stream& stream(int32_t s) {
  if (s < 0 || (size_t)s >= g_core->streams.size()) FAULT("use of an invalid stream accessor");
  return g_core->streams[s];
}

Text stream_desc(const Stream& s) {
  Text t;
  snprintf(t.s, sizeof t.s, "(%s stream of tensor %s, %lld elements, opened at line %d)",
           s.write ? "write" : "read", g_tensors[s.tensor]->name, (long long)s.n, s.open_line);
  return t;
}

// the read() / write() calls served from the buffer since its last refill or flush
void charge(Stream& s) {
  if (s.buffered && s.j) {
    emit("S\t%lld\t%lld\t%zu\t%d\n", (long long)(s.write ? 0 : s.j), (long long)(s.write ? s.j : 0),
         s.esize, line_of_pc(s.first_pc));
  }
  s.first_pc = 0;
}

void stream_flush(Stream& s, int line) {
  TensorRec& t = *g_tensors[s.tensor];
  int64_t count = s.j;
  if (count) {
    memcpy(t.data + (size_t)s.base * s.esize, s.buf, (size_t)count * s.esize);
    emit("T\tflush\t%s\t%lld\t%lld\t%lld\t%d\t%lld\t%d\n", t.name, (long long)s.base,
         (long long)count, (long long)(count * (int64_t)s.esize), s.buffer_id,
         (long long)s.tcm_offset, line);
  }
  s.base += count;
  s.j = 0;
  s.room = mn(s.cap, s.n - s.base);
}

void stream_close(Stream& s, int line) {
  if (s.closed) return;
  if (s.buffered) {
    charge(s);
    if (s.write) stream_flush(s, line);
    g_core->pool.release(s.tcm_offset, g_stream_bytes);
    emit("R\t%d\t%lld\t%d\n", s.buffer_id, (long long)g_stream_bytes, line);
  }
  s.closed = true;
  if (s.write) {
    s.room = 0;
  } else {
    s.base += s.j;
    s.filled = s.j = 0;
  }
}

// one element-wise access of an unbuffered stream
HOT uint8_t* unbuffered(Stream& s, int64_t index, uintptr_t pc) {
  element_access(s.write, pc);
  s.base = index + 1;
  s.first_pc = 0;
  return g_tensors[s.tensor]->data + (size_t)index * s.esize;
}

}  // namespace

void stream_close_all(int line) {
  for (Stream& s : g_core->streams) stream_close(s, line);
}
}  // namespace gs_rt

using namespace gs_rt;

extern "C" int32_t gs_stream_open(int32_t t, int32_t dtype, int32_t write) {
  ENTER();
  TensorRec& r = tensor(t);
  const char* what = write ? "write_stream_accessor" : "read_stream_accessor";
  need_data(r, what);
  step();
  if (g_multicore)
    FAULT("%s on tensor %s: multicore kernels may only use TCM accessors (Custom Operators "
          "API reference)", what, r.name);
  if (dtype != r.dtype)
    FAULT("%s<%s> on tensor %s of %s", what, dtype_name(dtype), r.name,
          dtype_name(r.dtype));
  int active_buffered = 0;
  for (Stream& s : g_core->streams) {
    if (s.closed) continue;
    if (s.buffered) active_buffered++;
    if (s.tensor == t && (write || s.write)) {
      if (r.policy == 0)
        FAULT("%s on tensor %s while a %s stream on it is open (opened at line %d): "
              "potentially incoherent access, an error under the default COHERENT policy; "
              "close() it first", what, r.name, s.write ? "write" : "read", s.open_line);
      if (r.policy == 1)
        fprintf(stderr, "%s:%d: warning: %s on tensor %s while a %s stream on it is open\n",
                g_display, current_line(), what, r.name, s.write ? "write" : "read");
    }
  }
  Stream s;
  s.tensor = t;
  s.write = write != 0;
  s.closed = false;
  s.buffered = false;
  s.buffer_id = -1;
  s.tcm_offset = -1;
  s.open_line = current_line();
  s.esize = r.esize;
  s.n = r.numel;
  if (active_buffered < g_fast_streams) {
    int64_t off = g_core->pool.allocate(g_stream_bytes);
    if (off >= 0) {  // otherwise unbuffered: the element-wise path
      s.buffered = true;
      s.buffer_id = g_core->next_buffer_id++;
      s.tcm_offset = off;
      s.cap = g_stream_bytes / (int64_t)s.esize;
      s.buf = (uint8_t*)calloc((size_t)g_stream_bytes, 1);
      if (!s.buf) abort();
      emit("A\t%d\t%lld\t1\t%d\n", s.buffer_id, (long long)g_stream_bytes, s.open_line);
      if (s.write) s.room = mn(s.cap, s.n);
    }
  }
  g_core->streams.push_back(s);
  return (int32_t)(g_core->streams.size() - 1);
}

extern "C" int32_t gs_stream_close(int32_t sh) {
  ENTER();
  stream_close(stream(sh), current_line());
  return 0;
}

extern "C" void gs_stream_drop(int32_t sh) {
  ENTER();
  if (!g_core || sh < 0 || (size_t)sh >= g_core->streams.size()) return;
  stream_close(g_core->streams[sh], current_line());
}

namespace {
HOT uint8_t* stream_read(int32_t sh, uintptr_t pc) {
  Stream& s = stream(sh);
  s.first_pc = s.first_pc ? s.first_pc : pc;
  g_core->seg_unvectorisable = true;
  if (s.j < s.filled) return s.buf + (size_t)(s.j++) * s.esize;
  g_status->api_pc = pc;
  TensorRec& t = *g_tensors[s.tensor];
  int64_t index = s.base + s.filled;
  if (s.write) FAULT("read() on a write stream %s", stream_desc(s).c_str());
  if (s.closed) FAULT("read() of element %lld after close() %s", (long long)index, stream_desc(s).c_str());
  if (index >= s.n) FAULT("read past the end: read() of element %lld %s", (long long)index, stream_desc(s).c_str());
  if (!s.buffered) return unbuffered(s, index, pc);
  int line = current_line();
  charge(s);
  int64_t count = mn(s.cap, s.n - index);
  memcpy(s.buf, t.data + (size_t)index * s.esize, (size_t)count * s.esize);
  emit("T\trefill\t%s\t%lld\t%lld\t%lld\t%d\t%lld\t%d\n", t.name, (long long)index,
       (long long)count, (long long)(count * (int64_t)s.esize), s.buffer_id,
       (long long)s.tcm_offset, line);
  s.base = index;
  s.filled = count;
  s.j = 1;
  s.first_pc = pc;
  return s.buf;
}

HOT uint8_t* stream_write(int32_t sh, uintptr_t pc) {
  Stream& s = stream(sh);
  s.first_pc = s.first_pc ? s.first_pc : pc;
  g_core->seg_unvectorisable = true;
  if (s.j < s.room) return s.buf + (size_t)(s.j++) * s.esize;
  g_status->api_pc = pc;
  int64_t index = s.base + s.j;
  if (!s.write) FAULT("write() on a read stream %s", stream_desc(s).c_str());
  if (s.closed) FAULT("write() of element %lld after close() %s", (long long)index, stream_desc(s).c_str());
  if (index >= s.n) FAULT("write past the end: write() of element %lld %s", (long long)index, stream_desc(s).c_str());
  if (!s.buffered) return unbuffered(s, index, pc);
  int line = current_line();
  charge(s);
  stream_flush(s, line);
  s.j = 1;
  s.first_pc = pc;
  return s.buf;
}
}  // namespace

#define GS_STREAM_IO(SUF, T)                                                               \
  extern "C" HOT T gs_srd_##SUF(int32_t s) {                                                   \
    T v;                                                                                   \
    memcpy(&v, stream_read(s, (uintptr_t)__builtin_return_address(0)), sizeof(T));        \
    return v;                                                                              \
  }                                                                                        \
  extern "C" HOT void gs_swr_##SUF(int32_t s, T v) {                                       \
    memcpy(stream_write(s, (uintptr_t)__builtin_return_address(0)), &v, sizeof(T));       \
  }
GS_STREAM_IO(f32, float)
GS_STREAM_IO(f64, double)
GS_STREAM_IO(i64, int64_t)
GS_STREAM_IO(i32, int32_t)
GS_STREAM_IO(i16, int16_t)
GS_STREAM_IO(i8, int8_t)
GS_STREAM_IO(u8, uint8_t)
GS_STREAM_IO(u16, uint16_t)
#undef GS_STREAM_IO
