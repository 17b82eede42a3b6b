// gpsimd_sim C++ runtime: runs a custom-operator kernel on the simulated GPSIMD cores and
// records what each core did, in the records of gpsimd_sim/records.py. This header is what
// the runtime's files share (internal to gpsimd_sim/cpp/runtime/; kernels never see it).
//
// Linked (not compiled into) every kernel executable and shape executable. Compiled WITHOUT
// instrumentation and without the standard containers; it provides
//   - the calls of gs_api.h that our <torch/torch.h> makes (tensors, accessors, streams, TCM,
//     factories, tensor operations), which check what the Python API checks and append
//     records;
//   - the hooks that the kernel's instrumented code calls: __sanitizer_cov_trace_pc at every
//     basic block (block execution counts: compute work) and __tsan_* at every load and store
//     (TCM loads and stores, out-of-bounds and use-after-free TCM accesses);
//   - main(): reads a request, runs the kernel on every core in turn, writes records and the
//     output, or a one-line fault into the shared status page.
//
// Block, site and line tables come from the build (gpsimd_sim/cpp/builder.py, with
// gpsimd_sim/cpp/analysis.py), which classified every basic block's machine instructions
// into the op classes of records.OP_CLASSES. Every .cpp here is compiled (toolchain.py:
// runtime_sources) and linked; the files:
//   state.cpp      the status page, the build's tables, the request, faults
//   records.cpp    the record stream: Compute, ElementRun and the records' text
//   tensors.cpp    dtypes, tensors, factories, the gs_api.h tensor queries
//   tcm.cpp        the TCM pool (TcmPool's allocator), the guarded window, tcm_malloc/free
//   accessors.cpp  element-wise accessors
//   streams.cpp    read / write stream accessors
//   transfers.cpp  TCM accessor transfers (tensor_to_tcm, tcm_to_tensor)
//   ops.cpp        tensor operations
//   hooks.cpp      the sanitizer and coverage hooks the instrumented kernel calls
//   main.cpp       registration, the request, running the cores, main()
#ifndef GPSIMD_SIM_RUNTIME_INTERNAL_H
#define GPSIMD_SIM_RUNTIME_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../include/gpsimd_sim/gs_api.h"

// The runtime is compiled quickly (-O0: it is compiled once per compiler, at the first C++
// run); the paths taken per element access, load, store or basic block are optimised here.
#define HOT __attribute__((optimize("O2")))

namespace gs_rt {

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

inline void copy_text(char* dst, size_t cap, const char* src) {
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
extern Status* g_status;

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
extern uintptr_t g_base, g_span;
extern uint32_t* g_site_at;         // offset from g_base -> site index + 1
extern Vec<Site> g_sites;
extern Vec<Block> g_blocks;
extern Vec<char*> g_funcs;
extern uint64_t* g_counts;          // executions of each block (cumulative)
extern uint64_t* g_counted;         // the part already charged to a Compute record
extern uint64_t g_blocks_run, g_block_budget;
extern volatile int g_counting;

// ---------------------------------------------------------------------------------------
// Request
extern char g_display[4096];
extern char g_records_path[4096], g_output_path[4096];
extern char g_kernel[512];
extern bool g_multicore;
extern int g_cores;
extern int64_t g_pool_bytes;
extern int64_t g_max_steps;
extern int64_t g_fast_streams;
extern int64_t g_stream_bytes;
extern bool g_shape_mode;

// ---------------------------------------------------------------------------------------
// dtypes (tensors.cpp)
const char* dtype_name(int32_t d);
size_t dtype_size(int32_t d);
bool dtype_supported(int32_t d);
bool dtype_float(int32_t d);
double load_d(const uint8_t* p, int32_t d);
int64_t load_i(const uint8_t* p, int32_t d);
void store_d(uint8_t* p, int32_t d, double x);
void store_i(uint8_t* p, int32_t d, int64_t x);

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
extern Vec<TensorRec*> g_tensors;
extern int32_t g_dst;

// "(32, 4096)" (as Python prints a tuple) or "[32, 4096]"
struct Text {
  char s[512];
  const char* c_str() const { return s; }
};
Text sizes_str(const TensorRec& t, bool tuple);
void garbage(TensorRec& t);  // as api.tensor.garbage_like: NaN, or 0x5A bytes

// ---------------------------------------------------------------------------------------
// Faults: one line, "<file>:<line>: core <c>: <what>", into the status page, then exit
// (state.cpp).
// The site of a return address in the kernel's code (nullptr if it is not one)
HOT inline __attribute__((always_inline)) const Site* site_at(uintptr_t pc) {
  uintptr_t off = pc - g_base;
  uint32_t s = off < g_span ? g_site_at[off] : 0;
  return s ? &g_sites[s - 1] : nullptr;
}
HOT inline int line_of_pc(uintptr_t pc) {
  const Site* s = site_at(pc);
  return s ? s->line : 0;
}
int current_line();
[[noreturn]] void finish_fault(int state, int line, const char* text, bool with_core);
[[noreturn]] __attribute__((format(printf, 2, 3))) void fault_at(int line, const char* fmt, ...);
#define FAULT(...) ::gs_rt::fault_at(::gs_rt::current_line(), __VA_ARGS__)

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


constexpr uintptr_t kWindowBytes = (uintptr_t)512 << 20;  // reserved address space
constexpr uintptr_t kArenaOffset = (uintptr_t)64 << 20;   // guard before the arena
constexpr uintptr_t kArenaBytes = (uintptr_t)256 << 20;   // where buffers are placed
extern uintptr_t g_win_lo, g_arena;
extern int32_t* g_owner;  // per 64-byte granule of the arena: buffer index + 1

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
extern Core g_core_storage;
extern Core* g_core;
inline int core_id() { return g_core ? g_core->id : 0; }

// One API call or element access: past --max-steps the kernel does not finish.
HOT inline void step(int64_t n = 1) {
  Core& c = *g_core;
  c.steps += n;
  if (c.steps > g_max_steps) {
    char text[400];  // as api/runtime.py: "core N exceeded"
    snprintf(text, sizeof text,
             "core %d exceeded %lld steps (API calls and element accesses): the kernel does "
             "not finish", c.id, (long long)g_max_steps);
    finish_fault(3, current_line(), text, false);
  }
}

// One element-wise access (an element accessor's, or an unbuffered stream's): counted into
// the core's pending ElementRun, at the line of its first access.
HOT inline void element_access(bool write, uintptr_t pc) {
  Core& c = *g_core;
  if (write) c.pending_writes++;
  else c.pending_reads++;
  if (!c.elem_pc) c.elem_pc = pc;
  step();
}

// ---------------------------------------------------------------------------------------
// Records (records.cpp): one tab-separated line each; gpsimd_sim/cpp/execute.py parses them
void flush_compute();   // the Compute record of the blocks run since the last record
void flush_elements();  // the ElementRun of the element accesses since the last record
// Append a record: first the compute work and element accesses since the last record.
__attribute__((format(printf, 1, 2))) void emit(const char* fmt, ...);

// ---------------------------------------------------------------------------------------
// TCM memory (tcm.cpp)
void setup_window();
void reset_arena();
uintptr_t place(int64_t nbytes, int32_t index, uintptr_t* region_lo, uintptr_t* region_hi);
// The buffer whose region (guards included) a pointer points into (nullptr if none)
HOT inline Buffer* buffer_at(uintptr_t a) {
  if (a - g_arena >= kArenaBytes) return nullptr;  // not in the arena (where buffers lie)
  int32_t o = g_owner[(a - g_arena) / 64];
  return o ? &g_core->buffers[o - 1] : nullptr;
}

// ---------------------------------------------------------------------------------------
// Tensors (tensors.cpp)
HOT inline TensorRec& tensor(int32_t t) {
  if (t < 0 || (size_t)t >= g_tensors.size() || !g_tensors[t])
    FAULT("use of an undefined tensor (a default-constructed torch::Tensor)");
  return *g_tensors[t];
}
void need_data(const TensorRec& t, const char* what);
int32_t new_tensor(const char* kind, int32_t dtype, int32_t ndim, const int64_t* sizes,
                   bool with_data);
void claim(TensorRec& t, int64_t offset, int64_t n);  // multicore: per-element writers

// Streams (streams.cpp)
void stream_close_all(int line);

}  // namespace gs_rt

// Every gs_api.h entry point notes its caller: the kernel line of faults and records.
#define ENTER() (::gs_rt::g_status->api_pc = (uint64_t)(uintptr_t)__builtin_return_address(0))

#endif  // GPSIMD_SIM_RUNTIME_INTERNAL_H
