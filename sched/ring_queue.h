// RingQueue<T>: a FIFO on a power-of-two ring buffer that allocates nothing until its first
// push - the queues of a model world (a socket's receive queue and backlog, loopback's input
// queue, a pipe's buffers, kTLS's tx_list, cryptd's and io_uring's lists) in place of
// std::deque.
//
// Why: a search builds its world anew for every schedule, and libstdc++'s std::deque allocates
// a map and a 512-byte node in its default constructor, used or not. The seed-002 world has
// about twenty queues, most of them empty for the whole schedule: their construction and
// destruction cost about 2 % of a schedule (callgrind, BM_close_schedules).
//
// What it does not keep from std::deque: references and iterators to the elements stay valid
// only until the next push (a growth moves them) or erase. The queues that use it hold
// references across neither; an element that must stay put is held through a unique_ptr (skbs,
// TLS records), whose pointee never moves.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <iterator>
#include <memory>
#include <type_traits>
#include <utility>

namespace kpsim {

template <class T>
class RingQueue {
  template <bool Const>
  class Iter {
    using Q = std::conditional_t<Const, const RingQueue, RingQueue>;

   public:
    using iterator_category = std::bidirectional_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = std::conditional_t<Const, const T*, T*>;
    using reference = std::conditional_t<Const, const T&, T&>;

    Iter() = default;
    Iter(Q* q, size_t i) : q_(q), i_(i) {}
    // iterator -> const_iterator, as a container's.
    template <bool C2>
      requires(Const && !C2)
    Iter(const Iter<C2>& o) : q_(o.q_), i_(o.i_) {}  // NOLINT(google-explicit-constructor)
    reference operator*() const { return (*q_)[i_]; }
    pointer operator->() const { return &(*q_)[i_]; }
    Iter& operator++() {
      ++i_;
      return *this;
    }
    Iter operator++(int) {
      Iter t = *this;
      ++i_;
      return t;
    }
    Iter& operator--() {
      --i_;
      return *this;
    }
    Iter operator--(int) {
      Iter t = *this;
      --i_;
      return t;
    }
    friend bool operator==(const Iter& a, const Iter& b) { return a.i_ == b.i_; }
    size_t index() const { return i_; }

   private:
    template <bool>
    friend class Iter;
    Q* q_ = nullptr;
    size_t i_ = 0;
  };

 public:
  using value_type = T;
  using size_type = size_t;
  using reference = T&;
  using const_reference = const T&;
  using iterator = Iter<false>;
  using const_iterator = Iter<true>;

  RingQueue() noexcept = default;
  RingQueue(const RingQueue& o) {
    reserve_exact(o.size_);
    for (const T& v : o) push_back(v);
  }
  RingQueue(RingQueue&& o) noexcept
      : buf_(std::exchange(o.buf_, nullptr)),
        cap_(std::exchange(o.cap_, 0)),
        head_(std::exchange(o.head_, 0)),
        size_(std::exchange(o.size_, 0)) {}
  RingQueue& operator=(const RingQueue& o) {
    if (this != &o) *this = RingQueue(o);
    return *this;
  }
  RingQueue& operator=(RingQueue&& o) noexcept {
    if (this != &o) {
      release();
      buf_ = std::exchange(o.buf_, nullptr);
      cap_ = std::exchange(o.cap_, 0);
      head_ = std::exchange(o.head_, 0);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  ~RingQueue() { release(); }

  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }

  T& operator[](size_t i) { return buf_[(head_ + i) & (cap_ - 1)]; }
  const T& operator[](size_t i) const { return buf_[(head_ + i) & (cap_ - 1)]; }
  T& front() { return buf_[head_]; }
  const T& front() const { return buf_[head_]; }
  T& back() { return (*this)[size_ - 1]; }
  const T& back() const { return (*this)[size_ - 1]; }

  iterator begin() { return iterator(this, 0); }
  iterator end() { return iterator(this, size_); }
  const_iterator begin() const { return const_iterator(this, 0); }
  const_iterator end() const { return const_iterator(this, size_); }

  template <class... Args>
  T& emplace_back(Args&&... args) {
    if (size_ == cap_) grow();
    T* p = std::construct_at(buf_ + ((head_ + size_) & (cap_ - 1)), std::forward<Args>(args)...);
    ++size_;
    return *p;
  }
  void push_back(const T& v) { emplace_back(v); }
  void push_back(T&& v) { emplace_back(std::move(v)); }

  void pop_front() {
    std::destroy_at(buf_ + head_);
    head_ = (head_ + 1) & (cap_ - 1);
    --size_;
  }
  void pop_back() {
    std::destroy_at(&back());
    --size_;
  }
  // Keeps the buffer: a queue emptied is usually filled again.
  void clear() {
    while (size_) pop_back();
    head_ = 0;
  }
  // The later elements move up one place, in order (as std::deque's erase keeps the order).
  iterator erase(const_iterator pos) {
    const size_t i = pos.index();
    for (size_t j = i; j + 1 < size_; ++j) (*this)[j] = std::move((*this)[j + 1]);
    pop_back();
    return iterator(this, i);
  }

 private:
  // A first buffer of about 256 bytes (at least 4 elements), doubled when full.
  static constexpr size_t kFirstCap = std::max<size_t>(4, std::bit_floor(std::max<size_t>(1, 256 / sizeof(T))));

  void reserve_exact(size_t n) {
    if (n > cap_) regrow(std::max(kFirstCap, std::bit_ceil(n)));
  }
  void grow() { regrow(cap_ ? cap_ * 2 : kFirstCap); }
  void regrow(size_t cap) {
    T* nb = std::allocator<T>().allocate(cap);
    for (size_t i = 0; i < size_; ++i) {
      T& old = (*this)[i];
      std::construct_at(nb + i, std::move(old));
      std::destroy_at(&old);
    }
    if (buf_) std::allocator<T>().deallocate(buf_, cap_);
    buf_ = nb;
    cap_ = cap;
    head_ = 0;
  }
  void release() {
    if (!buf_) return;
    clear();
    std::allocator<T>().deallocate(buf_, cap_);
    buf_ = nullptr;
    cap_ = 0;
  }

  T* buf_ = nullptr;
  size_t cap_ = 0;  // 0 or a power of two
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace kpsim
