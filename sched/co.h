// Co<T>: the coroutine type of every simulated kernel execution context and of every model
// function that can reach a scheduling point.
//
// Co is lazy (starts suspended) and single-owner. Awaiting a Co from another Co starts it by
// symmetric transfer and resumes the awaiter when it returns, so a chain such as
//   recv task -> udp_bpf_recvmsg -> lock_sock
// behaves like ordinary nested calls. When the innermost frame suspends at a scheduling
// primitive, control returns to the scheduler; the primitive records that innermost frame in the
// task (Task::resume_at) so the scheduler can resume exactly there. Destroying a Co destroys its
// frame, and with it every child frame it is suspended on.
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <utility>

namespace kpsim {

template <class T = void>
class [[nodiscard]] Co;

namespace detail {

struct PromiseBase {
  std::coroutine_handle<> continuation;  // the awaiting frame; null for a task's top frame
  std::exception_ptr exception;

  std::suspend_always initial_suspend() noexcept { return {}; }
  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      auto next = h.promise().continuation;
      return next ? next : std::noop_coroutine();
    }
    void await_resume() noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { exception = std::current_exception(); }
};

template <class T>
struct Promise : PromiseBase {
  std::optional<T> value;
  Co<T> get_return_object() noexcept;
  template <class U>
  void return_value(U&& v) {
    value.emplace(std::forward<U>(v));
  }
};

template <>
struct Promise<void> : PromiseBase {
  Co<void> get_return_object() noexcept;
  void return_void() noexcept {}
};

}  // namespace detail

template <class T>
class [[nodiscard]] Co {
 public:
  using promise_type = detail::Promise<T>;
  using Handle = std::coroutine_handle<promise_type>;

  Co() = default;
  explicit Co(Handle h) : h_(h) {}
  Co(Co&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  Co& operator=(Co&& o) noexcept {
    if (this != &o) {
      destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  Co(const Co&) = delete;
  Co& operator=(const Co&) = delete;
  ~Co() { destroy(); }

  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiter) noexcept {
    h_.promise().continuation = awaiter;
    return h_;
  }
  T await_resume() {
    if (h_.promise().exception) std::rethrow_exception(h_.promise().exception);
    if constexpr (!std::is_void_v<T>) return std::move(*h_.promise().value);
  }

  // For the scheduler: the top frame of a task.
  Handle handle() const noexcept { return h_; }
  bool done() const noexcept { return !h_ || h_.done(); }

 private:
  void destroy() noexcept {
    if (h_) h_.destroy();
    h_ = {};
  }
  Handle h_{};
};

namespace detail {
template <class T>
Co<T> Promise<T>::get_return_object() noexcept {
  return Co<T>(Co<T>::Handle::from_promise(*this));
}
inline Co<void> Promise<void>::get_return_object() noexcept {
  return Co<void>(Co<void>::Handle::from_promise(*this));
}
}  // namespace detail

}  // namespace kpsim
