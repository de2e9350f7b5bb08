// A minimal io_uring by raw syscalls (io_uring_ring.h).
#include "io_uring_ring.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace kpsim::guest {

namespace {

void* map_region(int fd, size_t len, off_t what) {
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, what);
  return p == MAP_FAILED ? nullptr : p;
}

unsigned* at(void* base, unsigned off) {
  return reinterpret_cast<unsigned*>(static_cast<char*>(base) + off);
}

}  // namespace

bool Ring::init(bool defer_taskrun, std::string& err) {
  return init_flags(defer_taskrun ? (IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN) : 0, err);
}

bool Ring::init_flags(unsigned setup_flags, std::string& err) {
  io_uring_params p{};
  p.flags = setup_flags;
  fd_.reset(static_cast<int>(syscall(__NR_io_uring_setup, kRingEntries, &p)));
  if (fd_.fd < 0) {
    err = std::string("io_uring_setup: ") + strerror(errno);
    return false;
  }
  sq_len_ = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  cq_len_ = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
  single_mmap_ = p.features & IORING_FEAT_SINGLE_MMAP;
  if (single_mmap_) sq_len_ = cq_len_ = std::max(sq_len_, cq_len_);
  sq_ = map_region(fd_.fd, sq_len_, IORING_OFF_SQ_RING);
  if (!sq_) { err = "mmap sq"; return false; }
  cq_ = single_mmap_ ? sq_ : map_region(fd_.fd, cq_len_, IORING_OFF_CQ_RING);
  if (!cq_) { err = "mmap cq"; return false; }
  sqe_len_ = p.sq_entries * sizeof(io_uring_sqe);
  sqes_ = static_cast<io_uring_sqe*>(map_region(fd_.fd, sqe_len_, IORING_OFF_SQES));
  if (!sqes_) { err = "mmap sqes"; return false; }
  sq_tail_ = at(sq_, p.sq_off.tail);
  sq_mask_ = at(sq_, p.sq_off.ring_mask);
  sq_array_ = at(sq_, p.sq_off.array);
  cq_head_ = at(cq_, p.cq_off.head);
  cq_tail_ = at(cq_, p.cq_off.tail);
  cq_mask_ = at(cq_, p.cq_off.ring_mask);
  cqes_ = reinterpret_cast<io_uring_cqe*>(static_cast<char*>(cq_) + p.cq_off.cqes);
  return true;
}

Ring::~Ring() {
  if (sqes_) munmap(sqes_, sqe_len_);
  if (cq_ && !single_mmap_) munmap(cq_, cq_len_);
  if (sq_) munmap(sq_, sq_len_);
  // fd_ closes the ring after the unmaps.
}

io_uring_sqe* Ring::get() {
  unsigned tail = *sq_tail_, idx = tail & *sq_mask_;
  io_uring_sqe* e = &sqes_[idx];
  memset(e, 0, sizeof *e);
  sq_array_[idx] = idx;
  __atomic_store_n(sq_tail_, tail + 1, __ATOMIC_RELEASE);
  return e;
}

int Ring::enter(unsigned submit, unsigned wait_nr) {
  return static_cast<int>(syscall(__NR_io_uring_enter, fd_.fd, submit, wait_nr,
                                  wait_nr ? IORING_ENTER_GETEVENTS : 0, nullptr, 0));
}

bool Ring::pop(io_uring_cqe& out) {
  unsigned head = *cq_head_;
  if (head == __atomic_load_n(cq_tail_, __ATOMIC_ACQUIRE)) return false;
  out = cqes_[head & *cq_mask_];
  __atomic_store_n(cq_head_, head + 1, __ATOMIC_RELEASE);
  return true;
}

bool Ring::wait(io_uring_cqe& out) {
  while (!pop(out))
    if (enter(0, 1) < 0 && errno != EINTR) return false;
  return true;
}

void Ring::queue_splice(int fd_in, int fd_out, unsigned len, unsigned splice_flags,
                        __u64 user_data) {
  io_uring_sqe* e = get();
  e->opcode = IORING_OP_SPLICE;
  e->fd = fd_out;
  e->off = static_cast<__u64>(-1);  // -1: the socket has no offset
  e->splice_fd_in = fd_in;
  e->splice_off_in = static_cast<__u64>(-1);  // -1: read the pipe from its head
  e->len = len;
  e->splice_flags = splice_flags;
  e->user_data = user_data;
}

void Ring::queue_timeout(const __kernel_timespec* ts, __u64 user_data) {
  io_uring_sqe* e = get();
  e->opcode = IORING_OP_TIMEOUT;
  e->addr = reinterpret_cast<__u64>(ts);
  e->len = 1;  // one timespec
  e->user_data = user_data;
}

void Ring::queue_read(int fd, void* buf, unsigned len, __u64 user_data) {
  io_uring_sqe* e = get();
  e->opcode = IORING_OP_READ;
  e->fd = fd;
  e->addr = reinterpret_cast<__u64>(buf);
  e->len = len;
  e->off = static_cast<__u64>(-1);  // -1: the file position (a pipe has none)
  e->user_data = user_data;
}

void Ring::queue_send(int fd, const void* buf, unsigned len, int msg_flags, __u64 user_data) {
  io_uring_sqe* e = get();
  e->opcode = IORING_OP_SEND;
  e->fd = fd;
  e->addr = reinterpret_cast<__u64>(buf);
  e->len = len;
  e->msg_flags = static_cast<__u32>(msg_flags);
  e->user_data = user_data;
}

void Ring::queue_close(int fd, __u64 user_data) {
  io_uring_sqe* e = get();
  e->opcode = IORING_OP_CLOSE;
  e->fd = fd;
  e->user_data = user_data;
}

}  // namespace kpsim::guest
