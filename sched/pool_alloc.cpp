// A pooled operator new/delete for kpsim's executables (kpsim, kpsim_bench), linked into them
// only (sched/CMakeLists.txt kpsim_pool_alloc): libraries and tests keep the system allocator.
//
// Why: a search builds and destroys a world per schedule — sockets, queues, skbs, coroutine
// frames, the scheduler's tasks — a few hundred small allocations each, all of the same few
// sizes. glibc's per-thread cache keeps 7 blocks per size; past that every free and malloc goes
// through _int_free/_int_malloc and, when a large block is asked for, malloc_consolidate: 30 % of
// a sockmap search's self time (docs/design.md "Speed"). Here the thread that allocates first
// (the main thread, during static initialisation) keeps one free list per 16-byte size class up
// to 8 KiB (a psock and the larger coroutine frames are just over 1 KiB; the seed-002 world,
// one object with both ends' sockets, 6 KiB: over 2 KiB it cost a malloc and a free a
// schedule, 190 instructions), unbounded, carved from
// 256 KiB chunks that are never given back: after the first schedules every allocation of a search is a pop and every free a push. Other threads (the
// real-kernel runners' workers) and larger blocks use malloc, so no thread's exit strands a list.
//
// Each block has a 16-byte header naming its class (or "malloc"), so an unsized delete, or a
// delete on another thread, finds where the block goes. Addresses differ from malloc's; nothing
// in kpsim depends on addresses (the determinism rule). Off under AddressSanitizer, which must
// see every allocation itself.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#if !defined(__SANITIZE_ADDRESS__)

namespace {

constexpr std::size_t kHeader = 16;  // keeps the payload 16-byte aligned, as malloc's
constexpr std::size_t kGranule = 16;
constexpr std::size_t kMaxSmall = 8192;  // coroutine frames and psocks reach 1.2 KiB, a world 6 KiB
constexpr std::size_t kClasses = kMaxSmall / kGranule;
constexpr std::uint32_t kMalloced = 0xffffffffu;
constexpr std::size_t kChunk = 256 * 1024;

struct FreeBlock {
  FreeBlock* next;
};

struct Pool {
  int state;  // 0: not decided yet, 1: this thread pools, 2: it uses malloc
  FreeBlock* free[kClasses];
  char* bump;
  char* end;
};

constinit thread_local Pool t_pool{};
std::atomic<bool> g_claimed{false};

void set_class(char* block, std::uint32_t cls) noexcept { std::memcpy(block, &cls, sizeof cls); }

void* from_malloc(std::size_t n) noexcept {
  char* b = static_cast<char*>(std::malloc(n + kHeader));
  if (!b) return nullptr;
  set_class(b, kMalloced);
  return b + kHeader;
}

void* refill(Pool& p, std::size_t cls) noexcept {
  const std::size_t block = kHeader + (cls + 1) * kGranule;
  if (static_cast<std::size_t>(p.end - p.bump) < block) {
    // The old chunk's tail (under 8 KiB) is left unused.
    char* c = static_cast<char*>(std::malloc(kChunk));
    if (!c) return nullptr;
    p.bump = c;
    p.end = c + kChunk;
  }
  char* b = p.bump;
  p.bump += block;
  set_class(b, static_cast<std::uint32_t>(cls));
  return b + kHeader;
}

void* pool_alloc(std::size_t n) noexcept {
  if (n == 0) n = 1;
  Pool& p = t_pool;
  if (p.state != 1) {
    if (p.state == 0) p.state = g_claimed.exchange(true) ? 2 : 1;
    if (p.state == 2) return from_malloc(n);
  }
  if (n > kMaxSmall) return from_malloc(n);
  const std::size_t cls = (n - 1) / kGranule;
  if (FreeBlock* f = p.free[cls]) {
    p.free[cls] = f->next;
    return f;
  }
  return refill(p, cls);
}

void pool_free(void* ptr) noexcept {
  if (!ptr) return;
  char* b = static_cast<char*>(ptr) - kHeader;
  std::uint32_t cls;
  std::memcpy(&cls, b, sizeof cls);
  if (cls == kMalloced) {
    std::free(b);
    return;
  }
  // A pooled block freed on a thread that does not pool (rare: a worker freeing what the main
  // thread built) waits on that thread's list; it is never handed to free().
  Pool& p = t_pool;
  auto* f = static_cast<FreeBlock*>(ptr);
  f->next = p.free[cls];
  p.free[cls] = f;
}

void* alloc_or_throw(std::size_t n) {
  for (;;) {
    if (void* p = pool_alloc(n)) return p;
    std::new_handler h = std::get_new_handler();
    if (!h) throw std::bad_alloc();
    h();
  }
}

void* alloc_nothrow(std::size_t n) noexcept {
  try {
    return alloc_or_throw(n);
  } catch (...) {
    return nullptr;
  }
}

// The fast path, inline in operator new: a pop from this thread's list when it pools and the
// class has a free block. Everything else (first use, n == 0 or large, an empty list, malloc
// threads, out of memory) takes alloc_or_throw. Same blocks, same lists as pool_alloc: the
// out-of-line call, its new-handler loop and its checks were 32 instructions an allocation,
// 6 % of a seed-000 schedule (callgrind, docs/design.md "Speed").
[[gnu::always_inline]] inline void* new_fast(std::size_t n) {
  Pool& p = t_pool;
  if (p.state == 1 && n - 1 < kMaxSmall) {  // n == 0 wraps: the slow path
    const std::size_t cls = (n - 1) / kGranule;
    if (FreeBlock* f = p.free[cls]) {
      p.free[cls] = f->next;
      return f;
    }
  }
  return alloc_or_throw(n);
}

}  // namespace

void* operator new(std::size_t n) { return new_fast(n); }
void* operator new[](std::size_t n) { return new_fast(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return alloc_nothrow(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return alloc_nothrow(n); }
void operator delete(void* p) noexcept { pool_free(p); }
void operator delete[](void* p) noexcept { pool_free(p); }
void operator delete(void* p, std::size_t) noexcept { pool_free(p); }
void operator delete[](void* p, std::size_t) noexcept { pool_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { pool_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { pool_free(p); }
// The over-aligned forms stay libstdc++'s (aligned_alloc and free): they never meet these.

#endif  // !__SANITIZE_ADDRESS__
