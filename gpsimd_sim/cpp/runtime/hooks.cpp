// The hooks the kernel's instrumented code calls (the runtime itself is not instrumented):
// __sanitizer_cov_trace_pc at every basic block (block execution counts: the compute work
// of the Compute records, and the --max-iterations budget), __tsan_* before every load and
// store the optimiser kept (TCM loads and stores; out-of-bounds and use-after-free TCM
// accesses caught before they happen), and the wrapped memcpy / memmove / memset.
#include "internal.h"

namespace gs_rt {
namespace {

const char* access_word(bool store) { return store ? "store" : "load"; }

HOT void tcm_check(uintptr_t a, uint32_t size, bool store, int line) {
  Buffer* b = buffer_at(a);
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
  const Site* site = site_at(pc);
  if (!site) return;  // not the kernel's code (the runtime's own memcpy, for one)
  if (site->ignore) return;  // our headers' code
  if (a - g_win_lo < kWindowBytes) tcm_check(a, size, store, site->line);
  Core& c = *g_core;
  if (store) c.seg_stores++;
  else c.seg_loads++;
  if (size <= 8 && size > c.seg_bytes) c.seg_bytes = size;
}

void range_access(uintptr_t a, size_t n, bool store, uintptr_t pc) {
  if (!g_counting || !n) return;
  const Site* site = site_at(pc);
  if (!site || site->ignore) return;
  int line = site->line;
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

// memcpy / memmove: the source is read and the destination written
void copy_access(void* d, const void* s, size_t n, uintptr_t pc) {
  range_access((uintptr_t)s, n, false, pc);
  range_access((uintptr_t)d, n, true, pc);
}

}  // namespace
}  // namespace gs_rt

using namespace gs_rt;

// =======================================================================================
// Instrumentation hooks (called by the kernel's instrumented code)
extern "C" {

HOT void __sanitizer_cov_trace_pc(void) {
  const Site* site = site_at((uintptr_t)__builtin_return_address(0));
  if (!site || site->block < 0) return;
  int32_t b = site->block;
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
  copy_access(d, s, n, (uintptr_t)__builtin_return_address(0));
  return __real_memcpy(d, s, n);
}
void* __wrap_memmove(void* d, const void* s, size_t n) {
  copy_access(d, s, n, (uintptr_t)__builtin_return_address(0));
  return __real_memmove(d, s, n);
}
// clang's ThreadSanitizer pass calls these for memory intrinsics
void* __tsan_memcpy(void* d, const void* s, size_t n) {
  copy_access(d, s, n, (uintptr_t)__builtin_return_address(0));
  return __real_memcpy(d, s, n);
}
void* __tsan_memmove(void* d, const void* s, size_t n) {
  copy_access(d, s, n, (uintptr_t)__builtin_return_address(0));
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
