// Registration (NEURON_LIBRARY's operators, the kernel functions of the glue) and the entry
// point: main() reads a request, runs the kernel on every core in turn, writes the records
// and the output, or a one-line fault into the shared status page. Also the crash handler
// (the faulting address and a backtrace into the status page) and the block table loader.
#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <ucontext.h>
#include <unistd.h>

#include <cxxabi.h>
#include <exception>
#include <initializer_list>
#include <typeinfo>

#include "internal.h"

using namespace gs_rt;

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
      } else if (a.kind == 'd' || a.kind == 'i' || a.kind == 's') {  // a number, both ways
        a.is_int = a.kind == 'i';
        if (a.kind == 's') {
          char sk[8] = "";
          sscanf(p, " %7s%n", sk, &used);
          p += used;
          a.is_int = sk[0] == 'i';
        }
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
      // made before a core runs: named a.name, not numbered
      int32_t h = new_tensor(a.name, a.dtype, a.ndim, a.sizes, !g_shape_mode);
      if (!g_shape_mode) {
        TensorRec& t = *g_tensors[h];
        FILE* f = fopen(a.file, "rb");
        if (!f || fread(t.data, t.esize, (size_t)t.numel, f) != (size_t)t.numel)
          die("cannot read an input");
        fclose(f);
      }
      g.tensor = h;
    } else {
      g.d = a.d;
      g.i = a.i;
      g.scalar_is_int = a.is_int;
    }
  }

  if (g_multicore && !g_shape_mode) {  // made before a core runs: named "dst", not numbered
    g_dst = new_tensor("dst", dst_dtype, dst_ndim, dst_sizes, true);
    garbage(*g_tensors[g_dst]);
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
