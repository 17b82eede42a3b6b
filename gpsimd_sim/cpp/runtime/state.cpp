// The runtime's state: the status page shared with the Python side, the build's block and
// site tables, the request, the tensors and the core; and faults, the one-line messages
// that end the run.
#include <unistd.h>

#include "internal.h"

namespace gs_rt {

Status g_dummy_status;
Status* g_status = &g_dummy_status;

// Tables from the build
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

// Tensors, and the core now running
Vec<TensorRec*> g_tensors;
int32_t g_dst = -1;
Core g_core_storage;
Core* g_core = nullptr;

// ---------------------------------------------------------------------------------------
// Faults
int current_line() {
  int line = line_of_pc(g_status->api_pc);
  if (!line && g_status->last_block >= 0 && (size_t)g_status->last_block < g_blocks.size())
    line = g_blocks[g_status->last_block].line;
  return line;
}

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

}  // namespace gs_rt
