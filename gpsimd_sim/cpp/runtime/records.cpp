// The record stream: each core's records, one tab-separated line each, in the order the
// kernel made them (gpsimd_sim/cpp/execute.py parses them). Before every record, the
// compute work (basic blocks run, TCM loads and stores) and the element accesses since the
// previous one become a Compute and an ElementRun record.
#include "internal.h"

namespace gs_rt {

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

}  // namespace gs_rt
