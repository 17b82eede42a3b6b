// The TCM pool: the simulated allocator (TcmSim, internal.h) gives the offsets of
// api/runtime.py's TcmPool; the real memory of each buffer lies in a large reserved window
// with guard space around it, and is never reused while the core runs, so the memory hooks
// (hooks.cpp) catch overruns, underruns and use after free before memory is touched.
// tcm_malloc and tcm_free.
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

namespace gs_rt {

int64_t TcmSim::align = 64;

uintptr_t g_win_lo = 0, g_arena = 0;
int32_t* g_owner = nullptr;  // per 64-byte granule of the arena: buffer index + 1
uintptr_t g_bump = 0, g_bump_hi = 0;

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

}  // namespace gs_rt

using namespace gs_rt;

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
  Buffer* b = buffer_at((uintptr_t)p);
  if (!b) FAULT("tcm_free expects a TCM buffer, got a pointer outside the TCM pool");
  if (b->freed) FAULT("tcm_free: TCM buffer %d freed twice", b->id);
  if ((uintptr_t)p != b->real)
    FAULT("tcm_free: the pointer is %lld bytes into TCM buffer %d, not its start",
          (long long)((intptr_t)p - (intptr_t)b->real), b->id);
  b->freed = true;
  g_core->pool.release(b->sim_off, b->nbytes);
  emit("R\t%d\t%lld\t%d\n", b->id, (long long)b->nbytes, current_line());
}
