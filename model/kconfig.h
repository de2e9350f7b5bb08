// The kernel a model run stands for: its version and the candidate fixes applied to it, as typed
// switches. This is the one place where they are named; model code compares enums, scenarios
// parse their parameters with parse_switch<> and list their choices with switch_choices<>, so a
// value's spelling exists once (a later patch file for a real kernel pairs with a kfix here).
//
// Every struct sock points at one kernel_config (sock::kc); a model function reads the switch
// through the socket it works on, as kernel code is compiled for one tree.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kpsim::model {

// The kernel versions whose behaviour differs somewhere in the model.
enum class kernel_version : uint8_t {
  // sendfile reaches kTLS and TCP a page at a time (->sendpage: pipe_to_sendpage,
  // tls_sw_do_sendpage, do_tcp_sendpages): every page of a splice but its last carries
  // MSG_SENDPAGE_NOTLAST, a TLS record ends there regardless of MSG_MORE, and TCP pushes only a
  // page without the flag. tls_sw waits for async encryptions only for zero-copy, as 6.6.
  v6_1,
  v6_6,   // tls_sw: the sender waits for async encryptions only for zero-copy (num_zc)
  v6_12,  // tls_sw: ... also at end of record (since 6.8); the default
};

// Candidate fixes: each changes one kernel function, named after what it does.
enum class kfix : uint8_t {
  none,
  // seed 001, tls_sw_sendmsg_locked: a full record is pushed without MSG_MORE (both sites).
  clear_more_on_full_record,
  // seed 001, before sk_stream_wait_memory: push TCP's corked tail, re-check, then wait.
  flush_before_wait,
  // seed 001, the same without the re-check: it then takes the VM-pressure sleep.
  flush_before_wait_naive,
  // seed 002, the unmerged "net: Do not break out of sk_stream_wait_memory() with
  // TIF_NOTIFY_SIGNAL": the wait tests task_sigpending() instead of signal_pending().
  task_sigpending,
  // seed 002, the reviewers' alternative: close leaves the final flush to the tx_work kworker.
  flush_in_worker,
};

// FIONREAD on a socket with a psock: the 2026 fix 929e30f93125 (msg_tot_len / the head
// message) or the native ioctl before it.
enum class fionread_semantics : uint8_t { current, pre_929e30f93125 };

// A psock's own skb redirected to itself with BPF_F_INGRESS. via_backlog: as any redirect,
// through ingress_skb and the backlog worker (mainline skmsg.c, and what the real 6.18 kernel
// here was measured doing). direct: normalised to SK_PASS and queued synchronously by
// sk_psock_skb_ingress_self (as kernel-paths.md describes 6.12.117).
enum class self_redirect : uint8_t { via_backlog, direct };

// When a TCP receiver ACKs data. delayed: the kernel's delayed-ACK engine (__tcp_ack_snd_check,
// the delack timer, ato, quickack, pingpong, tcp_cleanup_rbuf's ACK on read; issue 15).
// immediate: every NET_RX run that delivered data ends with an ACK (the model before issue 15,
// kept to compare the two and for the worlds whose readers are not modelled through
// tcp_recvmsg: the sockmap and splice worlds).
enum class tcp_acks : uint8_t { delayed, immediate };

// Where the model lets another task of a CPU take over from a task running there (both on a
// kernel that never preempts inside the kernel, as this project's host: preempt=none).
// wakeup: only at a return to user space after a wake-up onto that CPU set TIF_NEED_RESCHED
// (wakeup_preempt, model/kernel/sched/core.h), or when the task sleeps or ends. tick: wakeup,
// and at most once per run the scheduler tick's resched (the running task's slice used up)
// at a return to user space where another task of the CPU waits: rare on the real kernel (a
// 4 ms tick landing in a window of microseconds) but real, so the outcomes it alone reaches are
// marked (crosscheck does not require the kernel to show them). any: at every return to user
// space (the looser model before issue 15).
enum class preempt_model : uint8_t { tick, wakeup, any };

// How long kernel work takes (issue 15's "Time"). none: every step is instantaneous, virtual time
// moves only to timers (the model before the cost model: an unstalled transfer takes 0 s).
// costed: the work of model/kernel/sched/cputime.h takes the time of kernel_config::costs, so a
// healthy transfer has a throughput to compare with a stalled one.
enum class cpu_model : uint8_t { none, costed };

// The cost table (model/kernel/sched/cputime.h says where each is charged). Defaults: this
// project's machine (2 vCPUs, 6.18 host kernel, quiet: load < 1), measured by `kpsim calibrate`
// (docs/ktls-stall.md, "CPU time"): syscall = a getppid() round trip; copy and skb = a least-
// squares fit of the host's plain TCP loopback write() time against the write size (4 KiB to
// 1 MiB, TCP_NODELAY: one skb per write up to 64 KiB) after the syscall; encrypt = user-space
// AES-128-GCM (OpenSSL, 16 KiB blocks). Integers, so a run's clock is exact.
struct cpu_costs {
  uint64_t syscall_ns = 980;          // entry, exit and the file/socket lookup of one system call
  uint64_t copy_ps_per_byte = 160;    // copy_from_user into the send queue's pages (sender's CPU)
  uint64_t encrypt_ps_per_byte = 212; // AES-GCM of a record's bytes (sync crypto, sender's CPU)
  uint64_t skb_out_ns = 1020;         // build and transmit one skb (tcp_transmit_skb, loopback xmit)
  uint64_t skb_in_ns = 1020;          // receive one skb in the NET_RX softirq (tcp_v4_rcv)
};

struct kernel_config {
  kernel_version version = kernel_version::v6_12;
  tcp_acks acks = tcp_acks::immediate;  // a world that models the reader sets delayed
  kfix fix = kfix::none;
  fionread_semantics fionread = fionread_semantics::current;
  self_redirect self = self_redirect::via_backlog;
  cpu_model cpu = cpu_model::none;
  cpu_costs costs;
};
inline const kernel_config kDefaultKernel{};

// ---- names ------------------------------------------------------------------------------------
template <class E>
struct switch_names;  // specialisations: static constexpr std::array<std::pair<E, std::string_view>, N> v

template <>
struct switch_names<kernel_version> {
  static constexpr std::array<std::pair<kernel_version, std::string_view>, 3> v{
      {{kernel_version::v6_1, "6.1"}, {kernel_version::v6_6, "6.6"}, {kernel_version::v6_12, "6.12"}}};
};
template <>
struct switch_names<kfix> {
  static constexpr std::array<std::pair<kfix, std::string_view>, 6> v{{
      {kfix::none, "none"},
      {kfix::clear_more_on_full_record, "clear-more-on-full-record"},
      {kfix::flush_before_wait, "flush-before-wait"},
      {kfix::flush_before_wait_naive, "flush-before-wait-naive"},
      {kfix::task_sigpending, "task-sigpending"},
      {kfix::flush_in_worker, "flush-in-worker"},
  }};
};
template <>
struct switch_names<fionread_semantics> {
  static constexpr std::array<std::pair<fionread_semantics, std::string_view>, 2> v{
      {{fionread_semantics::current, "current"},
       {fionread_semantics::pre_929e30f93125, "pre-929e30f93125"}}};
};
template <>
struct switch_names<self_redirect> {
  static constexpr std::array<std::pair<self_redirect, std::string_view>, 2> v{
      {{self_redirect::via_backlog, "backlog"}, {self_redirect::direct, "direct"}}};
};

template <>
struct switch_names<tcp_acks> {
  static constexpr std::array<std::pair<tcp_acks, std::string_view>, 2> v{
      {{tcp_acks::delayed, "delayed"}, {tcp_acks::immediate, "immediate"}}};
};

template <>
struct switch_names<preempt_model> {
  static constexpr std::array<std::pair<preempt_model, std::string_view>, 3> v{
      {{preempt_model::tick, "tick"}, {preempt_model::wakeup, "wakeup"}, {preempt_model::any, "any"}}};
};

template <>
struct switch_names<cpu_model> {
  static constexpr std::array<std::pair<cpu_model, std::string_view>, 2> v{
      {{cpu_model::none, "none"}, {cpu_model::costed, "costed"}}};
};

template <class E>
std::string_view switch_name(E e) {
  for (auto& [k, n] : switch_names<E>::v)
    if (k == e) return n;
  return "?";
}
template <class E>
std::optional<E> parse_switch(std::string_view name) {
  for (auto& [k, n] : switch_names<E>::v)
    if (n == name) return k;
  return std::nullopt;
}
// The spellings of `allowed`, in that order (all values when empty): a scenario's ParamSpec choices.
template <class E>
std::vector<std::string> switch_choices(std::initializer_list<E> allowed = {}) {
  std::vector<std::string> out;
  if (allowed.size() == 0)
    for (auto& [k, n] : switch_names<E>::v) out.emplace_back(n);
  for (E e : allowed) out.emplace_back(switch_name(e));
  return out;
}

}  // namespace kpsim::model
