// gpsimd_sim C++ runtime: runs a custom-operator kernel on the simulated GPSIMD cores and
// records what each core did, in the records of gpsimd_sim/records.py.
//
// Linked (not compiled into) every kernel executable and shape executable. Compiled WITHOUT
// instrumentation: it provides
//   - the calls of gs_api.h that our <torch/torch.h> makes (tensors, accessors, streams, TCM,
//     factories, tensor operations), which check what the Python API checks and append
//     records;
//   - the hooks that the kernel's instrumented code calls: __sanitizer_cov_trace_pc at every
//     basic block (block execution counts: compute work) and __tsan_* at every load and store
//     (TCM loads and stores, out-of-bounds and use-after-free TCM accesses);
//   - main(): reads a request, runs the kernel on every core in turn, writes records and the
//     output, or a one-line fault into the shared status page.
//
// Block, site and line tables come from the build (gpsimd_sim/cpp/build.py), which classified
// every basic block's machine instructions into the op classes of records.OP_CLASSES.
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <ucontext.h>
#include <unistd.h>

#include <cxxabi.h>
#include <exception>
#include <typeinfo>

#define GS_NO_STL  // gs_c10.h without its std::vector conveniences
#include "../include/gpsimd_sim/gs_api.h"
#include "../include/gpsimd_sim/gs_c10.h"

// The runtime is compiled quickly (-O0: it is compiled once per compiler, at the first C++
// run); the paths taken per element access, load, store or basic block are optimised here.
#define HOT __attribute__((optimize("O2")))

namespace {

// ---------------------------------------------------------------------------------------
// No STL here: the runtime is compiled at the first C++ run on a machine, and template
// instantiations of the standard containers were most of that compile's time.
template <typename T> inline T mn(T a, T b) { return a < b ? a : b; }
template <typename T> inline T mx(T a, T b) { return a > b ? a : b; }

// A growable array of trivially copyable values
template <typename T> struct Vec {
  T* p = nullptr;
  size_t n = 0, cap = 0;
  size_t size() const { return n; }
  bool empty() const { return n == 0; }
  T& operator[](size_t i) { return p[i]; }
  const T& operator[](size_t i) const { return p[i]; }
  T* begin() { return p; }
  T* end() { return p + n; }
  T* data() { return p; }
  T& back() { return p[n - 1]; }
  void reserve(size_t c) {
    if (c <= cap) return;
    size_t nc = cap ? cap : 8;
    while (nc < c) nc *= 2;
    p = (T*)realloc((void*)p, nc * sizeof(T));
    if (!p) abort();
    cap = nc;
  }
  void push_back(const T& v) {
    reserve(n + 1);
    memcpy((void*)(p + n), (const void*)&v, sizeof(T));
    n++;
  }
  void resize(size_t m) {
    reserve(m);
    if (m > n) memset((void*)(p + n), 0, (m - n) * sizeof(T));
    n = m;
  }
  void clear() { n = 0; }
  void erase(size_t i) {
    memmove((void*)(p + i), (void*)(p + i + 1), (n - i - 1) * sizeof(T));
    n--;
  }
  void insert(size_t i, const T& v) {
    reserve(n + 1);
    memmove((void*)(p + i + 1), (void*)(p + i), (n - i) * sizeof(T));
    memcpy((void*)(p + i), (const void*)&v, sizeof(T));
    n++;
  }
};

// Text grown by appending (each core's records)
struct Buf {
  char* p = nullptr;
  size_t n = 0, cap = 0;
  void append(const char* s, size_t k) {
    if (n + k + 1 > cap) {
      size_t nc = cap ? cap : 4096;
      while (nc < n + k + 1) nc *= 2;
      p = (char*)realloc(p, nc);
      if (!p) abort();
      cap = nc;
    }
    memcpy(p + n, s, k);
    n += k;
    p[n] = 0;
  }
  void add(const char* s) { append(s, strlen(s)); }
  const char* c_str() const { return p ? p : ""; }
};

void copy_text(char* dst, size_t cap, const char* src) {
  snprintf(dst, cap, "%s", src);
}

// ---------------------------------------------------------------------------------------
// Status page: shared with the Python side, which reads it after the child ends (also after
// a crash: it names the signal and the last kernel line).
struct Status {
  char magic[8];           // "GSSTAT1"
  int32_t state;           // 0 running, 1 done, 2 fault, 3 limit
  int32_t core;
  int32_t last_block;      // last basic block executed (-1 none)
  int32_t signal;
  uint64_t fault_addr;
  uint64_t fault_pc;
  uint64_t api_pc;         // return address of the last runtime call
  int32_t stack_overflow;
  int32_t nframes;
  uint64_t frames[16];     // return addresses at a crash (backtrace), innermost first
  char message[4000];
};
Status g_dummy_status;
Status* g_status = &g_dummy_status;

// ---------------------------------------------------------------------------------------
// Tables from the build
constexpr int kOps = 9;  // records.OP_CLASSES
struct Site {
  int32_t kind;   // 'B' block (trace_pc), 'M' memory access, 'A' API or other call
  int32_t block;
  int32_t line;
  int32_t ignore;  // memory access made by our headers: not the kernel's
};
struct Block {
  int32_t line;
  int32_t func;
  int64_t ops[kOps];
  int64_t weight;
};
uintptr_t g_base = 0, g_span = 0;
uint32_t* g_site_at = nullptr;      // offset from g_base -> site index + 1
Vec<Site> g_sites;
Vec<Block> g_blocks;
Vec<char*> g_funcs;
uint64_t* g_counts = nullptr;       // executions of each block (cumulative)
uint64_t* g_counted = nullptr;      // the part already charged to a Compute record
uint64_t g_blocks_run = 0, g_block_budget = ~0ull;
volatile int g_counting = 0;

// ---------------------------------------------------------------------------------------
// Request
char g_display[4096] = "kernel.cpp";
char g_records_path[4096], g_output_path[4096];
char g_kernel[512];
bool g_multicore = false;
int g_cores = 1;
int64_t g_pool_bytes = 16384;
int64_t g_max_steps = 10000000;
int64_t g_fast_streams = 4;
int64_t g_stream_bytes = 4096;
bool g_shape_mode = false;

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
    case GS_BYTE: return *p;
    case GS_BOOL: return *p != 0;
    case GS_CHAR: return (int8_t)*p;
    case GS_SHORT: { int16_t v; memcpy(&v, p, 2); return v; }
    case GS_INT: { int32_t v; memcpy(&v, p, 4); return v; }
    case GS_LONG: { int64_t v; memcpy(&v, p, 8); return (double)v; }
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
    case GS_BYTE: *p = (uint8_t)(int64_t)x; break;
    case GS_BOOL: *p = x != 0; break;
    case GS_CHAR: *p = (uint8_t)(int8_t)(int64_t)x; break;
    case GS_SHORT: { int16_t v = (int16_t)(int64_t)x; memcpy(p, &v, 2); break; }
    case GS_INT: { int32_t v = (int32_t)(int64_t)x; memcpy(p, &v, 4); break; }
    case GS_LONG: { int64_t v = (int64_t)x; memcpy(p, &v, 8); break; }
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

// ---------------------------------------------------------------------------------------
// Tensors
struct TensorRec {
  char name[128];
  int32_t dtype = GS_FLOAT;
  int32_t ndim = 0;
  int64_t sizes[8] = {0};
  int64_t numel = 0;
  size_t esize = 4;
  uint8_t* data = nullptr;        // null in the shape function (no data)
  int16_t* writer = nullptr;      // per element: the core that wrote it (multicore)
  int32_t policy = 0;             // CoherencyEnforcer::Policy
};
Vec<TensorRec*> g_tensors;
int32_t g_dst = -1;

// "(32, 4096)" (as Python prints a tuple) or "[32, 4096]"
struct Text {
  char s[512];
  const char* c_str() const { return s; }
};
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
    case GS_FLOAT: { float v = NAN; for (size_t i = 0; i < n; i++) memcpy(t.data + 4 * i, &v, 4); break; }
    case GS_DOUBLE: { double v = NAN; for (size_t i = 0; i < n; i++) memcpy(t.data + 8 * i, &v, 8); break; }
    case GS_HALF: { uint16_t v = 0x7e00; for (size_t i = 0; i < n; i++) memcpy(t.data + 2 * i, &v, 2); break; }
    case GS_BFLOAT16: { uint16_t v = 0x7fc0; for (size_t i = 0; i < n; i++) memcpy(t.data + 2 * i, &v, 2); break; }
    default: memset(t.data, 0x5a, n * t.esize);
  }
}

// ---------------------------------------------------------------------------------------
// Faults: one line, "<file>:<line>: core <c>: <what>", into the status page, then exit.
HOT int line_of_pc(uintptr_t pc) {
  uintptr_t off = pc - g_base;
  if (off < g_span && g_site_at[off]) return g_sites[g_site_at[off] - 1].line;
  return 0;
}
int current_line() {
  int line = line_of_pc(g_status->api_pc);
  if (!line && g_status->last_block >= 0 && (size_t)g_status->last_block < g_blocks.size())
    line = g_blocks[g_status->last_block].line;
  return line;
}

struct Core;
Core* g_core = nullptr;
int core_id();

[[noreturn]] void finish_fault(int state, int line, const char* text, bool with_core) {
  g_counting = 0;
  fflush(stdout);
  char buf[sizeof(g_status->message)];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-truncation"
  if (with_core)
    snprintf(buf, sizeof buf, "%s:%d: core %d: %s", g_display, line, core_id(), text);
  else
    snprintf(buf, sizeof buf, "%s:%d: %s", g_display, line, text);
#pragma GCC diagnostic pop
  memcpy(g_status->message, buf, sizeof buf);
  g_status->state = state;
  _exit(state == 3 ? 4 : 3);
}

[[noreturn]] __attribute__((format(printf, 2, 3))) void fault_at(int line, const char* fmt, ...) {
  char text[3000];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  finish_fault(2, line, text, true);
}
#define FAULT(...) fault_at(current_line(), __VA_ARGS__)

// ---------------------------------------------------------------------------------------
// The TCM pool: the simulated allocator is api/runtime.py's TcmPool (first fit, 64-byte
// aligned) so offsets match; the real memory of each buffer lies in a large reserved
// window with guard space around it and is never reused while the core runs, so overruns,
// underruns and use after free are caught by the memory hooks before memory is touched.
struct Span {
  int64_t off, size;
};
struct TcmSim {
  int64_t pool = 16384;
  Vec<Span> free_spans;  // sorted by offset
  int64_t in_use = 0, peak = 0;
  static int64_t align;  // api/runtime.py TcmPool.ALIGN: one TCM line
  static int64_t rounded(int64_t n) { return mx<int64_t>(align, (n + align - 1) / align * align); }
  void reset(int64_t bytes) {
    pool = bytes;
    free_spans.clear();
    free_spans.push_back({0, bytes});
    in_use = peak = 0;
  }
  int64_t allocate(int64_t n) {
    int64_t size = rounded(n);
    for (size_t i = 0; i < free_spans.size(); i++) {
      int64_t off = free_spans[i].off, span = free_spans[i].size;
      if (span >= size) {
        if (span == size) free_spans.erase(i);
        else free_spans[i] = {off + size, span - size};
        in_use += size;
        peak = mx(peak, in_use);
        return off;
      }
    }
    return -1;
  }
  void release(int64_t off, int64_t n) {
    int64_t size = rounded(n);
    in_use -= size;
    size_t i = 0;
    while (i < free_spans.size() && free_spans[i].off < off) i++;
    free_spans.insert(i, {off, size});
    // merge neighbours
    size_t w = 0;
    for (size_t r = 0; r < free_spans.size(); r++) {
      if (w && free_spans[w - 1].off + free_spans[w - 1].size == free_spans[r].off)
        free_spans[w - 1].size += free_spans[r].size;
      else
        free_spans[w++] = free_spans[r];
    }
    free_spans.n = w;
  }
};

int64_t TcmSim::align = 64;

constexpr uintptr_t kWindowBytes = (uintptr_t)512 << 20;  // reserved address space
constexpr uintptr_t kArenaOffset = (uintptr_t)64 << 20;   // guard before the arena
constexpr uintptr_t kArenaBytes = (uintptr_t)256 << 20;   // where buffers are placed
uintptr_t g_win_lo = 0, g_arena = 0;
int32_t* g_owner = nullptr;  // per 64-byte granule of the arena: buffer index + 1
uintptr_t g_bump = 0, g_bump_hi = 0;

struct Buffer {
  int32_t id;
  int64_t sim_off;
  int64_t nbytes;
  uintptr_t real;
  uintptr_t region_lo, region_hi;
  bool freed;
};

struct Stream {
  int32_t tensor;
  bool write, buffered, closed;
  int32_t buffer_id;
  int64_t tcm_offset;
  int open_line;
  uint8_t* buf = nullptr;
  int64_t cap = 0, n = 0, base = 0, j = 0, filled = 0, room = 0;
  size_t esize = 4;
  uintptr_t first_pc = 0;
};

struct Core {
  int id = 0;
  TcmSim pool;
  Vec<Buffer> buffers;
  Vec<Stream> streams;
  int64_t steps = 0;
  int64_t pending_reads = 0, pending_writes = 0;
  uintptr_t elem_pc = 0;
  int32_t next_tensor_id = 0, next_buffer_id = 0;
  int64_t malloc_failures = 0;
  int64_t seg_loads = 0, seg_stores = 0;
  uint32_t seg_bytes = 0;
  bool seg_unvectorisable = false;
  Buf out;
};
Core g_core_storage;
int core_id() { return g_core ? g_core->id : 0; }

HOT void step(int64_t n = 1) {
  Core& c = *g_core;
  c.steps += n;
  if (c.steps > g_max_steps) {
    char text[300];
    snprintf(text, sizeof text,
             "exceeded %lld steps (API calls and element accesses): the kernel does not finish",
             (long long)g_max_steps);
    char buf[400];
    snprintf(buf, sizeof buf, "core %d %s", c.id, text);  // as api/runtime.py: "core N exceeded"
    finish_fault(3, current_line(), buf, false);
  }
}

// ---------------------------------------------------------------------------------------
// Records (one tab-separated line each; gpsimd_sim/cpp/execute.py parses them)
HOT void flush_compute() {
  Core& c = *g_core;
  int64_t ops[kOps] = {0};
  int64_t best = -1;
  uint64_t best_weight = 0, best_count = 0;
  size_t nb = g_blocks.size();
  for (size_t b = 0; b < nb; b++) {
    uint64_t d = g_counts[b] - g_counted[b];
    if (!d) continue;
    g_counted[b] = g_counts[b];
    const Block& blk = g_blocks[b];
    if (!blk.weight) continue;
    for (int k = 0; k < kOps; k++) ops[k] += (int64_t)d * blk.ops[k];
    uint64_t w = d * (uint64_t)blk.weight;
    if (w > best_weight || (w == best_weight && d > best_count)) {
      best = (int64_t)b;
      best_weight = w;
      best_count = d;
    }
  }
  bool any = c.seg_loads || c.seg_stores;
  for (int k = 0; k < kOps && !any; k++) any = ops[k] != 0;
  if (any) {
    int line = best >= 0 ? g_blocks[best].line : current_line();
    const char* fn = best >= 0 && g_blocks[best].func >= 0 &&
                             (size_t)g_blocks[best].func < g_funcs.size()
                         ? g_funcs[g_blocks[best].func]
                         : "kernel";
    char buf[512];
    snprintf(buf, sizeof buf,
             "C\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%u\t%d\t%d\t%s:%d\n",
             (long long)ops[0], (long long)ops[1], (long long)ops[2], (long long)ops[3],
             (long long)ops[4], (long long)ops[5], (long long)ops[6], (long long)ops[7],
             (long long)ops[8], (long long)c.seg_loads, (long long)c.seg_stores,
             c.seg_bytes ? c.seg_bytes : 4u, c.seg_unvectorisable ? 0 : 1, line, fn, line);
    c.out.add(buf);
  }
  c.seg_loads = c.seg_stores = 0;
  c.seg_bytes = 0;
  c.seg_unvectorisable = false;
}

void flush_elements() {
  Core& c = *g_core;
  if (c.pending_reads || c.pending_writes) {
    char buf[128];
    snprintf(buf, sizeof buf, "E\t%lld\t%lld\t%d\n", (long long)c.pending_reads,
             (long long)c.pending_writes, line_of_pc(c.elem_pc));
    c.out.add(buf);
    c.pending_reads = c.pending_writes = 0;
    c.elem_pc = 0;
  }
}

// Append a record: first the compute work and element accesses since the last record.
__attribute__((format(printf, 1, 2))) void emit(const char* fmt, ...) {
  if (g_shape_mode) return;
  flush_compute();
  flush_elements();
  step();
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  g_core->out.add(buf);
}

// ---------------------------------------------------------------------------------------
// TCM memory
void setup_window() {
  void* w = mmap(nullptr, kWindowBytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (w == MAP_FAILED) { perror("gpsimd_sim: mmap"); _exit(5); }
  g_win_lo = (uintptr_t)w;
  g_arena = g_win_lo + kArenaOffset;
  if (mprotect((void*)g_arena, kArenaBytes, PROT_READ | PROT_WRITE) != 0) {
    perror("gpsimd_sim: mprotect");
    _exit(5);
  }
  void* o = mmap(nullptr, (kArenaBytes / 64) * sizeof(int32_t), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (o == MAP_FAILED) { perror("gpsimd_sim: mmap"); _exit(5); }
  g_owner = (int32_t*)o;
  g_bump = g_bump_hi = g_arena;
}

void reset_arena() {
  if (g_bump_hi > g_arena) {
    size_t used = g_bump_hi - g_arena;
    memset(g_owner, 0, (used / 64 + 1) * sizeof(int32_t));
    madvise((void*)g_arena, (used + 4095) & ~(size_t)4095, MADV_DONTNEED);  // zeroed again
  }
  g_bump = g_bump_hi = g_arena;
}

void mark(uintptr_t lo, uintptr_t hi, int32_t value) {
  for (uintptr_t g = (lo - g_arena) / 64; g < (hi - g_arena + 63) / 64; g++) g_owner[g] = value;
}

uintptr_t place(int64_t nbytes, int32_t index, uintptr_t* region_lo, uintptr_t* region_hi) {
  uintptr_t rounded = (uintptr_t)((mx<int64_t>(nbytes, 1) + 63) / 64 * 64);
  uintptr_t guard = mx<uintptr_t>(256, rounded);
  uintptr_t size = 2 * guard + rounded;
  if (g_bump + size > g_arena + kArenaBytes) {
    // the arena is used up by allocation churn: start again from its beginning, around the
    // buffers still live (use after free of long-freed buffers may then go unnoticed)
    memset(g_owner, 0, (kArenaBytes / 64) * sizeof(int32_t));
    g_bump = g_arena;
    for (size_t i = 0; i < g_core->buffers.size(); i++) {
      Buffer& b = g_core->buffers[i];
      if (!b.freed) mark(b.region_lo, b.region_hi, (int32_t)i + 1);
    }
    bool moved = true;
    while (moved) {
      moved = false;
      for (Buffer& b : g_core->buffers) {
        if (!b.freed && g_bump < b.region_hi && g_bump + size > b.region_lo) {
          g_bump = b.region_hi;
          moved = true;
        }
      }
    }
  }
  *region_lo = g_bump;
  *region_hi = g_bump + size;
  mark(*region_lo, *region_hi, index + 1);
  g_bump += size;
  g_bump_hi = mx(g_bump_hi, g_bump);
  return *region_lo + guard;
}

// The live buffer a pointer points into (nullptr if none); *index gets its slot
HOT Buffer* buffer_at(uintptr_t a, bool* in_window) {
  *in_window = a - g_win_lo < kWindowBytes;
  if (!*in_window || a < g_arena || a >= g_arena + kArenaBytes) return nullptr;
  int32_t o = g_owner[(a - g_arena) / 64];
  if (!o) return nullptr;
  return &g_core->buffers[o - 1];
}

const char* access_word(bool store) { return store ? "store" : "load"; }

HOT void tcm_check(uintptr_t a, uint32_t size, bool store, int line) {
  bool in_window;
  Buffer* b = buffer_at(a, &in_window);
  if (!b)
    fault_at(line, "out-of-bounds TCM %s of %u bytes at 0x%llx: no TCM buffer there",
             access_word(store), size, (unsigned long long)a);
  if (b->freed)
    fault_at(line, "TCM buffer %d used after tcm_free (a %u-byte %s)", b->id, size,
             access_word(store));
  if (a < b->real || a + size > b->real + (uintptr_t)b->nbytes) {
    int64_t byte = (int64_t)(a - b->real);
    int64_t idx = byte >= 0 ? byte / (int64_t)size : -((-byte + size - 1) / (int64_t)size);
    fault_at(line,
             "out-of-bounds access to TCM buffer %d of shape [%lld] at index [%lld] "
             "(a %u-byte %s at byte %lld of its %lld bytes)",
             b->id, (long long)(b->nbytes / size), (long long)idx, size, access_word(store),
             (long long)byte, (long long)b->nbytes);
  }
}

HOT inline __attribute__((always_inline)) void mem_access(uintptr_t a, uint32_t size, bool store, uintptr_t pc) {
  if (!g_counting) return;
  uintptr_t off = pc - g_base;
  uint32_t s = off < g_span ? g_site_at[off] : 0;
  if (!s) return;  // not the kernel's code (the runtime's own memcpy, for one)
  const Site& site = g_sites[s - 1];
  if (site.ignore) return;  // our headers' code
  int line = site.line;
  if (a - g_win_lo < kWindowBytes) tcm_check(a, size, store, line);
  Core& c = *g_core;
  if (store) c.seg_stores++;
  else c.seg_loads++;
  if (size <= 8 && size > c.seg_bytes) c.seg_bytes = size;
}

void range_access(uintptr_t a, size_t n, bool store, uintptr_t pc) {
  if (!g_counting || !n) return;
  uintptr_t off = pc - g_base;
  uint32_t s = off < g_span ? g_site_at[off] : 0;
  if (!s || g_sites[s - 1].ignore) return;
  int line = g_sites[s - 1].line;
  if (a - g_win_lo < kWindowBytes || (a + n - 1) - g_win_lo < kWindowBytes) {
    tcm_check(a, 1, store, line);
    tcm_check(a + n - 1, 1, store, line);
  }
  Core& c = *g_core;
  int64_t words = (int64_t)((n + 3) / 4);  // counted as 4-byte words
  if (store) c.seg_stores += words;
  else c.seg_loads += words;
  if (c.seg_bytes < 4) c.seg_bytes = 4;
}

// ---------------------------------------------------------------------------------------
HOT TensorRec& tensor(int32_t t) {
  if (t < 0 || (size_t)t >= g_tensors.size() || !g_tensors[t])
    FAULT("use of an undefined tensor (a default-constructed torch::Tensor)");
  return *g_tensors[t];
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

#define ENTER() (g_status->api_pc = (uint64_t)(uintptr_t)__builtin_return_address(0))

}  // namespace

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

// ---- element-wise accessors --------------------------------------------------------------
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
  Core& c = *g_core;
  if (write) c.pending_writes++;
  else c.pending_reads++;
  if (!c.elem_pc) c.elem_pc = pc;
  c.seg_unvectorisable = true;
  step();
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

// ---- streams -------------------------------------------------------------------------------
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
void charge(Stream& s, int line) {
  (void)line;
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
    charge(s, line);
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

void stream_close_all(int line) {
  for (Stream& s : g_core->streams) stream_close(s, line);
}
}  // namespace

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
  if (!s.buffered) {  // one element-wise access
    Core& c = *g_core;
    c.pending_reads++;
    if (!c.elem_pc) c.elem_pc = pc;
    step();
    s.base = index + 1;
    s.first_pc = 0;
    return t.data + (size_t)index * s.esize;
  }
  int line = current_line();
  charge(s, line);
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
  TensorRec& t = *g_tensors[s.tensor];
  int64_t index = s.base + s.j;
  if (!s.write) FAULT("write() on a read stream %s", stream_desc(s).c_str());
  if (s.closed) FAULT("write() of element %lld after close() %s", (long long)index, stream_desc(s).c_str());
  if (index >= s.n) FAULT("write past the end: write() of element %lld %s", (long long)index, stream_desc(s).c_str());
  if (!s.buffered) {
    Core& c = *g_core;
    c.pending_writes++;
    if (!c.elem_pc) c.elem_pc = pc;
    step();
    s.base = index + 1;
    s.first_pc = 0;
    return t.data + (size_t)index * s.esize;
  }
  int line = current_line();
  charge(s, line);
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

// ---- TCM -----------------------------------------------------------------------------------
extern "C" void* gs_tcm_malloc(size_t nbytes) {
  ENTER();
  if (g_shape_mode) FAULT("tcm_malloc in a shape function");
  Core& c = *g_core;
  int32_t id = c.next_buffer_id++;
  if ((int64_t)nbytes <= 0)
    FAULT("tcm_malloc(%lld): size must be positive", (long long)(int64_t)nbytes);
  int64_t off = c.pool.allocate((int64_t)nbytes);
  if (off < 0) {
    c.malloc_failures++;
    emit("A\t%d\t%lld\t0\t%d\n", id, (long long)nbytes, current_line());
    return nullptr;
  }
  Buffer b;
  b.id = id;
  b.sim_off = off;
  b.nbytes = (int64_t)nbytes;
  b.freed = false;
  b.real = place(b.nbytes, (int32_t)c.buffers.size(), &b.region_lo, &b.region_hi);
  c.buffers.push_back(b);
  emit("A\t%d\t%lld\t1\t%d\n", id, (long long)nbytes, current_line());
  return (void*)b.real;
}

extern "C" void gs_tcm_free(void* p) {
  ENTER();
  if (!p) {
    emit("R\t-1\t0\t%d\n", current_line());
    return;
  }
  bool in_window;
  Buffer* b = buffer_at((uintptr_t)p, &in_window);
  if (!b) FAULT("tcm_free expects a TCM buffer, got a pointer outside the TCM pool");
  if (b->freed) FAULT("tcm_free: TCM buffer %d freed twice", b->id);
  if ((uintptr_t)p != b->real)
    FAULT("tcm_free: the pointer is %lld bytes into TCM buffer %d, not its start",
          (long long)((intptr_t)p - (intptr_t)b->real), b->id);
  b->freed = true;
  g_core->pool.release(b->sim_off, b->nbytes);
  emit("R\t%d\t%lld\t%d\n", b->id, (long long)b->nbytes, current_line());
}

extern "C" void gs_tcm_accessor_open(int32_t t) {
  ENTER();
  need_data(tensor(t), "tcm_accessor");
  step();
}

namespace {
Buffer& tcm_span(const char* what, TensorRec& t, void* p, size_t offset_u, size_t n_u,
                 int32_t dtype, int64_t* cap_out) {
  if (!p) FAULT("%s: expected a TCM buffer, got a null pointer (tcm_malloc failed)", what);
  bool in_window;
  Buffer* b = buffer_at((uintptr_t)p, &in_window);
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
  *cap_out = cap;
  return *b;
}
}  // namespace

extern "C" void gs_tensor_to_tcm(int32_t th, void* p, size_t offset, size_t n, int32_t dtype) {
  ENTER();
  TensorRec& t = tensor(th);
  need_data(t, "tensor_to_tcm");
  int64_t cap;
  Buffer& b = tcm_span("tensor_to_tcm", t, p, offset, n, dtype, &cap);
  memcpy(p, t.data + offset * t.esize, n * t.esize);
  emit("D\tto_tcm\t%s\t%lld\t%lld\t%lld\t%d\t%lld\t%d\n", t.name, (long long)offset,
       (long long)n, (long long)(n * t.esize), b.id,
       (long long)(b.sim_off + ((uintptr_t)p - b.real)), current_line());
}

extern "C" void gs_tcm_to_tensor(int32_t th, void* p, size_t offset, size_t n, int32_t dtype) {
  ENTER();
  TensorRec& t = tensor(th);
  need_data(t, "tcm_to_tensor");
  int64_t cap;
  Buffer& b = tcm_span("tcm_to_tensor", t, p, offset, n, dtype, &cap);
  claim(t, (int64_t)offset, (int64_t)n);
  memcpy(t.data + offset * t.esize, p, n * t.esize);
  emit("D\tto_tensor\t%s\t%lld\t%lld\t%lld\t%d\t%lld\t%d\n", t.name, (long long)offset,
       (long long)n, (long long)(n * t.esize), b.id,
       (long long)(b.sim_off + ((uintptr_t)p - b.real)), current_line());
}

// ---- tensor operations ----------------------------------------------------------------------
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
  bool f32 = dtype != GS_DOUBLE;  // float32, float16, bfloat16 compute in float32
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
    if (!dtype_float(dtype)) f32 = false;  // an integer tensor with a float scalar: double
    float fx = (float)x, fy = (float)y, fz = (float)z;
    switch (op) {
      case GS_OP_ABS: v = fabs(x); break;
      case GS_OP_CEIL: v = ceil(x); break;
      case GS_OP_FLOOR: v = floor(x); break;
      case GS_OP_SIN: v = f32 ? sinf(fx) : sin(x); break;
      case GS_OP_COS: v = f32 ? cosf(fx) : cos(x); break;
      case GS_OP_TAN: v = f32 ? tanf(fx) : tan(x); break;
      case GS_OP_LOG: v = f32 ? logf(fx) : log(x); break;
      case GS_OP_LOG2: v = f32 ? log2f(fx) : log2(x); break;
      case GS_OP_LOG10: v = f32 ? log10f(fx) : log10(x); break;
      case GS_OP_EXP: v = f32 ? expf(fx) : exp(x); break;
      case GS_OP_POW: v = f32 ? powf(fx, fy) : pow(x, y); break;
      case GS_OP_CLAMP: v = x < y ? y : (x > z ? z : x); break;
      case GS_OP_ADD: v = f32 ? (double)(fx + fz * fy) : x + z * y; break;
      case GS_OP_SUB: v = f32 ? (double)(fx - fz * fy) : x - z * y; break;
      case GS_OP_MUL: v = f32 ? (double)(fx * fy) : x * y; break;
      case GS_OP_DIV:
        if (!dtype_float(dtype)) v = trunc(x / y);
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

// =======================================================================================
// Instrumentation hooks (called by the kernel's instrumented code)
extern "C" {

HOT void __sanitizer_cov_trace_pc(void) {
  uintptr_t off = (uintptr_t)__builtin_return_address(0) - g_base;
  if (off >= g_span) return;
  uint32_t s = g_site_at[off];
  if (!s) return;
  int32_t b = g_sites[s - 1].block;
  if (b < 0) return;
  g_counts[b]++;
  g_status->last_block = b;
  if (__builtin_expect(++g_blocks_run > g_block_budget, 0) && g_counting) {
    char text[400];
    snprintf(text, sizeof text,
             "core %d exceeded %llu iterations (basic blocks executed, --max-iterations): "
             "the kernel does not finish",
             core_id(), (unsigned long long)g_block_budget);
    finish_fault(3, g_blocks[b].line, text, false);
  }
}

void __tsan_init(void) {}
void __tsan_func_entry(void*) {}
void __tsan_func_exit(void) {}

#define GS_TSAN_RW(N)                                                                       \
  HOT void __tsan_read##N(void* a) {                                                            \
    mem_access((uintptr_t)a, N, false, (uintptr_t)__builtin_return_address(0));            \
  }                                                                                         \
  HOT void __tsan_write##N(void* a) {                                                           \
    mem_access((uintptr_t)a, N, true, (uintptr_t)__builtin_return_address(0));             \
  }                                                                                         \
  HOT void __tsan_unaligned_read##N(void* a) {                                                  \
    mem_access((uintptr_t)a, N, false, (uintptr_t)__builtin_return_address(0));            \
  }                                                                                         \
  HOT void __tsan_unaligned_write##N(void* a) {                                                 \
    mem_access((uintptr_t)a, N, true, (uintptr_t)__builtin_return_address(0));            \
  }                                                                                         \
  void __tsan_volatile_read##N(void* a) {                                                   \
    mem_access((uintptr_t)a, N, false, (uintptr_t)__builtin_return_address(0));            \
  }                                                                                         \
  void __tsan_volatile_write##N(void* a) {                                                  \
    mem_access((uintptr_t)a, N, true, (uintptr_t)__builtin_return_address(0));             \
  }
GS_TSAN_RW(1)
GS_TSAN_RW(2)
GS_TSAN_RW(4)
GS_TSAN_RW(8)
GS_TSAN_RW(16)
#undef GS_TSAN_RW

void __tsan_read_range(void* a, unsigned long n) {
  range_access((uintptr_t)a, n, false, (uintptr_t)__builtin_return_address(0));
}
void __tsan_write_range(void* a, unsigned long n) {
  range_access((uintptr_t)a, n, true, (uintptr_t)__builtin_return_address(0));
}
void __tsan_vptr_update(void** p, void*) {
  mem_access((uintptr_t)p, sizeof(void*), true, (uintptr_t)__builtin_return_address(0));
}
void __tsan_vptr_read(void** p) {
  mem_access((uintptr_t)p, sizeof(void*), false, (uintptr_t)__builtin_return_address(0));
}

// atomics: one core runs at a time, so each is a plain load and/or store
#define GS_ATOMIC(N, T)                                                                     \
  T __tsan_atomic##N##_load(const volatile T* a, int) {                                     \
    mem_access((uintptr_t)a, N / 8, false, (uintptr_t)__builtin_return_address(0));        \
    return *a;                                                                              \
  }                                                                                         \
  void __tsan_atomic##N##_store(volatile T* a, T v, int) {                                  \
    mem_access((uintptr_t)a, N / 8, true, (uintptr_t)__builtin_return_address(0));         \
    *a = v;                                                                                 \
  }                                                                                         \
  T __tsan_atomic##N##_exchange(volatile T* a, T v, int) {                                  \
    mem_access((uintptr_t)a, N / 8, true, (uintptr_t)__builtin_return_address(0));         \
    T old = *a; *a = v; return old;                                                         \
  }                                                                                         \
  T __tsan_atomic##N##_fetch_add(volatile T* a, T v, int) {                                 \
    mem_access((uintptr_t)a, N / 8, true, (uintptr_t)__builtin_return_address(0));         \
    T old = *a; *a = old + v; return old;                                                   \
  }                                                                                         \
  T __tsan_atomic##N##_fetch_sub(volatile T* a, T v, int) {                                 \
    mem_access((uintptr_t)a, N / 8, true, (uintptr_t)__builtin_return_address(0));         \
    T old = *a; *a = old - v; return old;                                                   \
  }                                                                                         \
  T __tsan_atomic##N##_fetch_and(volatile T* a, T v, int) {                                 \
    mem_access((uintptr_t)a, N / 8, true, (uintptr_t)__builtin_return_address(0));         \
    T old = *a; *a = old & v; return old;                                                   \
  }                                                                                         \
  T __tsan_atomic##N##_fetch_or(volatile T* a, T v, int) {                                  \
    mem_access((uintptr_t)a, N / 8, true, (uintptr_t)__builtin_return_address(0));         \
    T old = *a; *a = old | v; return old;                                                   \
  }                                                                                         \
  T __tsan_atomic##N##_fetch_xor(volatile T* a, T v, int) {                                 \
    mem_access((uintptr_t)a, N / 8, true, (uintptr_t)__builtin_return_address(0));         \
    T old = *a; *a = old ^ v; return old;                                                   \
  }                                                                                         \
  T __tsan_atomic##N##_fetch_nand(volatile T* a, T v, int) {                                \
    mem_access((uintptr_t)a, N / 8, true, (uintptr_t)__builtin_return_address(0));         \
    T old = *a; *a = ~(old & v); return old;                                                \
  }                                                                                         \
  int __tsan_atomic##N##_compare_exchange_strong(volatile T* a, T* c, T v, int, int) {      \
    mem_access((uintptr_t)a, N / 8, true, (uintptr_t)__builtin_return_address(0));         \
    if (*a == *c) { *a = v; return 1; }                                                     \
    *c = *a; return 0;                                                                      \
  }                                                                                         \
  int __tsan_atomic##N##_compare_exchange_weak(volatile T* a, T* c, T v, int, int) {        \
    mem_access((uintptr_t)a, N / 8, true, (uintptr_t)__builtin_return_address(0));         \
    if (*a == *c) { *a = v; return 1; }                                                     \
    *c = *a; return 0;                                                                      \
  }                                                                                         \
  T __tsan_atomic##N##_compare_exchange_val(volatile T* a, T c, T v, int, int) {            \
    mem_access((uintptr_t)a, N / 8, true, (uintptr_t)__builtin_return_address(0));         \
    T old = *a; if (old == c) *a = v; return old;                                           \
  }
GS_ATOMIC(8, uint8_t)
GS_ATOMIC(16, uint16_t)
GS_ATOMIC(32, uint32_t)
GS_ATOMIC(64, uint64_t)
#undef GS_ATOMIC
void __tsan_atomic_thread_fence(int) {}
void __tsan_atomic_signal_fence(int) {}

// memcpy / memmove / memset called by the kernel (linked with --wrap): checked and counted
void* __real_memcpy(void*, const void*, size_t);
void* __real_memmove(void*, const void*, size_t);
void* __real_memset(void*, int, size_t);
void* __wrap_memcpy(void* d, const void* s, size_t n) {
  uintptr_t pc = (uintptr_t)__builtin_return_address(0);
  range_access((uintptr_t)s, n, false, pc);
  range_access((uintptr_t)d, n, true, pc);
  return __real_memcpy(d, s, n);
}
void* __wrap_memmove(void* d, const void* s, size_t n) {
  uintptr_t pc = (uintptr_t)__builtin_return_address(0);
  range_access((uintptr_t)s, n, false, pc);
  range_access((uintptr_t)d, n, true, pc);
  return __real_memmove(d, s, n);
}
// clang's ThreadSanitizer pass calls these for memory intrinsics
void* __tsan_memcpy(void* d, const void* s, size_t n) {
  uintptr_t pc = (uintptr_t)__builtin_return_address(0);
  range_access((uintptr_t)s, n, false, pc);
  range_access((uintptr_t)d, n, true, pc);
  return __real_memcpy(d, s, n);
}
void* __tsan_memmove(void* d, const void* s, size_t n) {
  uintptr_t pc = (uintptr_t)__builtin_return_address(0);
  range_access((uintptr_t)s, n, false, pc);
  range_access((uintptr_t)d, n, true, pc);
  return __real_memmove(d, s, n);
}
void* __tsan_memset(void* d, int c, size_t n) {
  range_access((uintptr_t)d, n, true, (uintptr_t)__builtin_return_address(0));
  return __real_memset(d, c, n);
}
void* __wrap_memset(void* d, int c, size_t n) {
  range_access((uintptr_t)d, n, true, (uintptr_t)__builtin_return_address(0));
  return __real_memset(d, c, n);
}

}  // extern "C"

// =======================================================================================
// Registration and main
namespace {
struct Registered {
  const char *library, *name, *kernel, *kinds;
  void* fn;
  GsInvoker invoker;
};
Vec<Registered>& ops_registry() {
  static Vec<Registered> r;
  return r;
}
Vec<Registered>& kernel_registry() {
  static Vec<Registered> r;
  return r;
}
}  // namespace

extern "C" void gs_register_op(const char* library, const char* name, const char* kernel,
                               const char* kinds, void* fn, GsInvoker invoker) {
  ops_registry().push_back({library, name, kernel ? kernel : name, kinds, fn, invoker});
}
extern "C" void gs_register_kernel(const char* name, const char* kinds, void* fn,
                                   GsInvoker invoker) {
  kernel_registry().push_back({"", name, name, kinds, fn, invoker});
}

namespace {

void on_signal(int sig, siginfo_t* info, void* uc_) {
  g_counting = 0;
  g_status->signal = sig;
  g_status->fault_addr = (uint64_t)(uintptr_t)info->si_addr;
#if defined(__x86_64__)
  ucontext_t* uc = (ucontext_t*)uc_;
  g_status->fault_pc = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
  uint64_t sp = (uint64_t)uc->uc_mcontext.gregs[REG_RSP];
  uint64_t addr = g_status->fault_addr;
  if (sig == SIGSEGV && addr + 65536 > sp && addr < sp + 65536) g_status->stack_overflow = 1;
#else
  (void)uc_;
#endif
  g_status->core = core_id();
  void* frames[18];
  int n = backtrace(frames, 18);  // not async-signal-safe, but the process is ending anyway
  int k = 0;
  for (int i = 0; i < n && k < 16; i++) g_status->frames[k++] = (uint64_t)(uintptr_t)frames[i];
  g_status->nframes = k;
  signal(sig, SIG_DFL);
  raise(sig);
}

void install_handlers() {
  static char altstack[1 << 16];
  stack_t ss;
  ss.ss_sp = altstack;
  ss.ss_size = sizeof altstack;
  ss.ss_flags = 0;
  sigaltstack(&ss, nullptr);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP}) sigaction(sig, &sa, nullptr);
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
}

[[noreturn]] void die(const char* what) {
  fprintf(stderr, "gpsimd_sim runtime: %s\n", what);
  _exit(5);
}

void map_status(const char* path) {
  int fd = open(path, O_RDWR);
  if (fd < 0) die("cannot open the status file");
  void* p = mmap(nullptr, sizeof(Status), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) die("cannot map the status file");
  g_status = (Status*)p;
  memcpy(g_status->magic, "GSSTAT1", 8);
  g_status->state = 0;
  g_status->last_block = -1;
}

void load_table(const char* path) {
  FILE* f = fopen(path, "r");
  if (!f) die("cannot open the block table");
  char tag[32];
  unsigned long long base = 0, span = 0;
  long long nblocks = 0, nsites = 0, nfuncs = 0;
  if (fscanf(f, "%31s %llx %llu", tag, &base, &span) != 3) die("bad block table");
  g_base = (uintptr_t)base;
  g_span = (uintptr_t)span;
  if (fscanf(f, "%31s %lld", tag, &nfuncs) != 2) die("bad block table (funcs)");
  char name[4096];
  for (long long i = 0; i < nfuncs; i++) {
    if (fscanf(f, "%4095s", name) != 1) die("bad block table (func)");
    g_funcs.push_back(strdup(name));
  }
  if (fscanf(f, "%31s %lld", tag, &nblocks) != 2) die("bad block table (blocks)");
  g_blocks.resize((size_t)nblocks);
  for (auto& b : g_blocks) {
    if (fscanf(f, "%d %d", &b.line, &b.func) != 2) die("bad block table (block)");
    b.weight = 0;
    for (int k = 0; k < kOps; k++) {
      long long v;
      if (fscanf(f, "%lld", &v) != 1) die("bad block table (ops)");
      b.ops[k] = v;
      b.weight += v;
    }
  }
  if (fscanf(f, "%31s %lld", tag, &nsites) != 2) die("bad block table (sites)");
  g_site_at = (uint32_t*)calloc((size_t)mx<unsigned long long>(span, 1), sizeof(uint32_t));
  for (long long i = 0; i < nsites; i++) {
    unsigned long long off;
    char kind;
    Site s;
    if (fscanf(f, "%llx %c %d %d %d", &off, &kind, &s.block, &s.line, &s.ignore) != 5)
      die("bad block table (site)");
    s.kind = kind;
    g_sites.push_back(s);
    if (off < span) g_site_at[off] = (uint32_t)g_sites.size();
  }
  fclose(f);
  g_counts = (uint64_t*)calloc(g_blocks.size() + 1, sizeof(uint64_t));
  g_counted = (uint64_t*)calloc(g_blocks.size() + 1, sizeof(uint64_t));
}

struct Arg {
  char kind;  // t d i s
  char name[128];
  int32_t dtype;
  int32_t ndim;
  int64_t sizes[8];
  char file[4096];
  double d;
  int64_t i;
  bool is_int;
};

void write_tensor(const char* path, const TensorRec& t) {
  FILE* f = fopen(path, "wb");
  if (!f) die("cannot write the output");
  fprintf(f, "%d %d", t.dtype, t.ndim);
  for (int i = 0; i < t.ndim; i++) fprintf(f, " %lld", (long long)t.sizes[i]);
  fprintf(f, "\n");
  if (t.data) fwrite(t.data, t.esize, (size_t)t.numel, f);
  fclose(f);
}

const char* kind_name(char k) {
  return k == 't' ? "tensor" : k == 'd' ? "double" : k == 'i' ? "int64_t" : "Scalar";
}

// a core's state back to a fresh core (its containers' memory is kept)
void reset_core(Core& c, int id) {
  Vec<Buffer> buffers = c.buffers;
  Vec<Stream> streams = c.streams;
  Buf out = c.out;
  TcmSim pool = c.pool;
  buffers.clear();
  streams.clear();
  out.n = 0;
  c = Core();
  c.buffers = buffers;
  c.streams = streams;
  c.out = out;
  c.pool = pool;
  c.id = id;
  c.pool.reset(g_pool_bytes);
}

int run(int argc, char** argv) {
  if (argc < 2) die("usage: kernel REQUEST");
  FILE* rf = fopen(argv[1], "r");
  if (!rf) die("cannot open the request");
  Vec<Arg> args;
  char mode[64] = "kernel", table[4096] = "", status[4096] = "", op[512] = "";
  int32_t dst_dtype = GS_FLOAT, dst_ndim = 0;
  int64_t dst_sizes[8] = {0};
  uint64_t max_iterations = ~0ull;
  Vec<int> order;
  char line[8192];
  while (fgets(line, sizeof line, rf)) {
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
    if (!len) continue;
    char* sp = strchr(line, ' ');
    const char* val = sp ? sp + 1 : "";
    if (sp) *sp = 0;
    const char* key = line;
#define KEY(k) (strcmp(key, k) == 0)
    if (KEY("mode")) copy_text(mode, sizeof mode, val);
    else if (KEY("table")) copy_text(table, sizeof table, val);
    else if (KEY("status")) copy_text(status, sizeof status, val);
    else if (KEY("records")) copy_text(g_records_path, sizeof g_records_path, val);
    else if (KEY("output")) copy_text(g_output_path, sizeof g_output_path, val);
    else if (KEY("display")) copy_text(g_display, sizeof g_display, val);
    else if (KEY("kernel")) copy_text(g_kernel, sizeof g_kernel, val);
    else if (KEY("op")) copy_text(op, sizeof op, val);
    else if (KEY("multicore")) g_multicore = atoi(val) != 0;
    else if (KEY("cores")) g_cores = atoi(val);
    else if (KEY("pool")) g_pool_bytes = atoll(val);
    else if (KEY("align")) TcmSim::align = mx<int64_t>(1, atoll(val));
    else if (KEY("order")) {
      order.clear();
      const char* p = val;
      int used = 0, c = 0;
      while (sscanf(p, " %d%n", &c, &used) == 1) {
        order.push_back(c);
        p += used;
      }
    }
    else if (KEY("max_steps")) g_max_steps = atoll(val);
    else if (KEY("max_iterations")) max_iterations = strtoull(val, nullptr, 10);
    else if (KEY("fast_streams")) g_fast_streams = atoll(val);
    else if (KEY("stream_bytes")) g_stream_bytes = atoll(val);
    else if (KEY("dst")) {
      const char* p = val;
      int used = 0;
      sscanf(p, "%d %d%n", &dst_dtype, &dst_ndim, &used);
      p += used;
      for (int i = 0; i < dst_ndim && i < 8; i++) {
        long long v = 0;
        sscanf(p, " %lld%n", &v, &used);
        dst_sizes[i] = v;
        p += used;
      }
    } else if (KEY("arg")) {
      // arg t NAME DTYPE NDIM D0.. FILE | arg d NAME V | arg i NAME V | arg s NAME d|i V
      Arg a;
      memset(&a, 0, sizeof a);
      a.kind = val[0];
      a.dtype = GS_FLOAT;
      const char* p = val[0] ? val + 2 : val;
      int used = 0;
      sscanf(p, "%127s%n", a.name, &used);
      p += used;
      if (a.kind == 't') {
        sscanf(p, " %d %d%n", &a.dtype, &a.ndim, &used);
        p += used;
        for (int i = 0; i < a.ndim && i < 8; i++) {
          long long v = 0;
          sscanf(p, " %lld%n", &v, &used);
          a.sizes[i] = v;
          p += used;
        }
        while (*p == ' ') p++;
        copy_text(a.file, sizeof a.file, p);
      } else if (a.kind == 'd') {
        a.d = strtod(p, nullptr);
      } else if (a.kind == 'i') {
        a.i = strtoll(p, nullptr, 10);
      } else if (a.kind == 's') {
        char sk[8] = "";
        sscanf(p, " %7s%n", sk, &used);
        p += used;
        a.is_int = sk[0] == 'i';
        if (a.is_int) {
          a.i = strtoll(p, nullptr, 10);
          a.d = (double)a.i;
        } else {
          a.d = strtod(p, nullptr);
          a.i = (int64_t)a.d;
        }
      }
      args.push_back(a);
    }
#undef KEY
  }
  fclose(rf);
  if (status[0]) map_status(status);
  install_handlers();

  if (strcmp(mode, "list") == 0) {  // the shape library's operators
    for (auto& r : ops_registry())
      printf("op\t%s\t%s\t%s\t%s\n", r.library, r.name, r.kernel, r.kinds);
    for (auto& r : kernel_registry()) printf("kernel\t%s\t%s\n", r.name, r.kinds);
    g_status->state = 1;
    return 0;
  }

  g_shape_mode = strcmp(mode, "shape") == 0;
  const Registered* target = nullptr;
  if (g_shape_mode) {
    for (auto& r : ops_registry())
      if (strcmp(r.name, op) == 0) target = &r;
    if (!target) die("no such operator in the shape library");
  } else {
    for (auto& r : kernel_registry())
      if (strcmp(r.name, g_kernel) == 0) target = &r;
    if (!target) die("no such kernel function");
  }
  size_t nkinds = strlen(target->kinds);
  if (nkinds != args.size()) {
    char text[512];
    snprintf(text, sizeof text, "%s takes %zu argument(s), %zu given", target->name, nkinds,
             args.size());
    finish_fault(2, 0, text, false);
  }

  if (table[0]) load_table(table);
  g_block_budget = max_iterations;
  setup_window();

  // inputs: shared by every core, as the Python executor's
  Vec<GsArg> gargs;
  gargs.resize(args.size());
  for (size_t k = 0; k < args.size(); k++) {
    Arg& a = args[k];
    GsArg& g = gargs[k];
    char expected = target->kinds[k];
    char got = a.kind;
    if (expected != got && !(expected == 's' && (got == 'd' || got == 'i')) &&
        !(expected == 'd' && (got == 'i' || got == 's')) && !(expected == 'i' && got == 's')) {
      char text[512];
      snprintf(text, sizeof text, "argument %zu (%s) of %s: expected a %s, got a %s", k + 1,
               a.name, target->name, kind_name(expected), got == 't' ? "tensor" : "number");
      finish_fault(2, 0, text, false);
    }
    g.kind = expected == 't' ? 1 : expected == 'd' ? 2 : expected == 'i' ? 3 : 4;
    if (a.kind == 't') {
      int32_t h = new_tensor(a.name, a.dtype, a.ndim, a.sizes, !g_shape_mode);
      copy_text(g_tensors[h]->name, sizeof g_tensors[h]->name, a.name);
      if (!g_shape_mode) {
        TensorRec& t = *g_tensors[h];
        FILE* f = fopen(a.file, "rb");
        if (!f || fread(t.data, t.esize, (size_t)t.numel, f) != (size_t)t.numel)
          die("cannot read an input");
        fclose(f);
      }
      g.tensor = h;
    } else {
      g.d = a.kind == 'i' || (a.kind == 's' && a.is_int) ? (double)a.i : a.d;
      g.i = a.kind == 'd' || (a.kind == 's' && !a.is_int) ? (int64_t)a.d : a.i;
      g.scalar_is_int = a.kind == 'i' || (a.kind == 's' && a.is_int);
    }
  }

  g_core = &g_core_storage;
  if (g_shape_mode) {
    g_core->id = 0;
    int32_t r = target->invoker(target->fn, gargs.data());
    TensorRec& t = tensor(r);
    printf("shape\t%d\t%d", t.dtype, t.ndim);
    for (int i = 0; i < t.ndim; i++) printf("\t%lld", (long long)t.sizes[i]);
    printf("\n");
    g_status->state = 1;
    return 0;
  }

  if (g_multicore) {
    g_core = nullptr;
    g_dst = new_tensor("dst", dst_dtype, dst_ndim, dst_sizes, true);
    copy_text(g_tensors[g_dst]->name, sizeof g_tensors[g_dst]->name, "dst");
    garbage(*g_tensors[g_dst]);
    g_core = &g_core_storage;
  }
  FILE* rec = fopen(g_records_path, "w");
  if (!rec) die("cannot write the records");
  int devnull = open("/dev/null", O_WRONLY);
  int saved_stdout = dup(1);
  int32_t returned = -1;
  if (order.size() != (size_t)g_cores) {
    order.clear();
    for (int c = 0; c < g_cores; c++) order.push_back(c);
  }
  // each core's records, written in core order whatever order the cores ran in
  Vec<Buf> core_records;
  core_records.resize((size_t)g_cores);
  for (int core : order) {
    Core& c = *g_core;
    reset_core(c, core);
    reset_arena();
    g_status->core = core;
    g_status->api_pc = 0;
    g_blocks_run = 0;
    fflush(stdout);
    dup2(core == 0 ? saved_stdout : devnull, 1);  // printf: single core, or core 0 only
    for (size_t b = 0; b < g_blocks.size(); b++) g_counted[b] = g_counts[b];
    g_counting = 1;
    try {
      returned = target->invoker(target->fn, gargs.data());
    } catch (const std::exception& e) {
      char text[1200];
      int ok = -1;
      char* type = abi::__cxa_demangle(typeid(e).name(), nullptr, nullptr, &ok);
      snprintf(text, sizeof text, "the kernel threw %s: %s", ok == 0 ? type : typeid(e).name(),
               e.what());
      FAULT("%s", text);
    } catch (...) {
      FAULT("the kernel threw an exception");
    }
    g_counting = 0;
    g_status->api_pc = 0;
    stream_close_all(current_line());
    flush_compute();
    flush_elements();
    fflush(stdout);
    char head[200];
    snprintf(head, sizeof head, "CORE\t%d\t%lld\t%lld\t%lld\n", core, (long long)c.pool.peak,
             (long long)c.malloc_failures, (long long)c.steps);
    Buf& r = core_records[(size_t)core];
    r.add(head);
    r.append(c.out.c_str(), c.out.n);
    r.add("END\n");
  }
  for (auto& r : core_records) fwrite(r.c_str(), 1, r.n, rec);
  fflush(stdout);
  dup2(saved_stdout, 1);
  fclose(rec);
  const TensorRec* out = nullptr;
  if (g_multicore) {
    out = g_tensors[g_dst];
  } else {
    if (returned < 0 || (size_t)returned >= g_tensors.size() || !g_tensors[returned])
      finish_fault(2, 0, "the kernel returned an undefined tensor (single-core kernels return "
                   "their output)", false);
    out = g_tensors[returned];
  }
  write_tensor(g_output_path, *out);
  g_status->state = 1;
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return run(argc, argv); }
