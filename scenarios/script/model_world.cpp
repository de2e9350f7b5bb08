// A scenario script on the model: the Program's sockets as connected loopback pairs, its map and
// verdict program, its setup map updates, and one syscall task per Program thread executing its
// steps against model/. The checkers are those of the compiled seed-000 scenario
// (scenarios/sockmap_multi_channels.cpp), generalised from c0/c1/p0/p1 to any Program; for the
// step kinds that scenario had, every label, note and message is spelled as it spelled them, so
// that its stored traces replay byte for byte on a script world.
//
// What the model cannot do is refused when the world is built (ScriptUnsupported), or, for what
// only a schedule can reveal, ends that run as a "model-assumption" failure.
#include "scenarios/script/model_world.h"

#include <algorithm>
#include <array>
#include <optional>

#include <fmt/format.h>

#include "model/drivers/net/loopback.h"
#include "model/fs/select.h"
#include "model/include/linux/errno.h"
#include "model/include/linux/tcp.h"
#include "model/io_uring/io_uring.h"
#include "model/net/socket.h"
#include "model/kernel/sched/core.h"
#include "model/net/core/skmsg.h"
#include "model/net/core/sock_map.h"
#include "model/net/ipv4/tcp.h"
#include "model/net/ipv4/tcp_bpf.h"
#include "model/net/ipv4/tcp_ipv4.h"
#include "model/net/ipv4/udp.h"
#include "model/net/ipv4/udp_bpf.h"
#include "model/state.h"

namespace kpsim::script {

[[noreturn]] void unsupported(const Loc& loc, std::string_view why) {
  throw ScriptUnsupported(fmt::format("{}: unsupported in the model: {}", loc.str(), why));
}

void refuse_all_but_one_tcp_connection(const Program& p, std::string_view what) {
  const Loc where{p.file, 0, 0};
  if (p.socks.size() != 2 || p.socks[0].proto != Proto::tcp || p.socks[0].peer != 1 || p.socks[1].peer != 0)
    unsupported(p.socks.empty() ? where : p.socks.front().loc,
                fmt::format("{} is one TCP connection: exactly one create_pair(tcp)", what));
  if (p.map) unsupported(p.map->loc, fmt::format("a map in {}", what));
  if (!p.verdict.rules.empty()) unsupported(p.verdict.loc, fmt::format("a verdict program in {}", what));
  if (!p.setup.empty()) unsupported(p.setup.front().loc, fmt::format("map operations in {}", what));
}

namespace {

using namespace model;

// include/net/sock.h: SOCK_MIN_RCVBUF (TCP_SKB_MIN_TRUESIZE) and SOCK_MIN_SNDBUF, and the
// sysctls net.core.rmem_max / wmem_max that cap SO_RCVBUF / SO_SNDBUF before doubling.
constexpr uint32_t kSockMinRcvbuf = 2048 + 256;
constexpr uint32_t kSockMinSndbuf = 2 * kSockMinRcvbuf;
constexpr uint32_t kSysctlRmemMax = 212992;
constexpr uint32_t kSysctlWmemMax = 212992;
// Above this a UDP datagram may be built with page fragments (ip_append_data allocates linear
// skbs below SKB_MAX_ALLOC); the model's skbs are linear.
constexpr uint32_t kLinearUdpMax = 4096;
// A loopback TCP receiver's first advertised window (tcp_select_initial_window: 65535 before
// scaling): up to this many bytes in flight, no send queue fills, whatever the receiver does.
constexpr uint64_t kTcpFirstWindow = 65535;


// One sender's bytes in the order its sends returned them, and how far delivery (or a drop) has
// consumed them. `done` stays empty until a drop takes bytes out of order.
struct Channel {
  const Thread* thread = nullptr;  // the one thread that sends on it
  // Written by the sender's steps and by whoever receives or drops its bytes.
  Shared<std::string> stream;
  Shared<uint32_t> next = 0;
  Shared<std::vector<bool>> done;
};

struct ScriptWorld final : World {
  std::shared_ptr<const Program> prog;  // the steps the tasks run
  kernel_config kc;
  loopback lo;  // NET_RX runs inline in the sender (softirq_inline)
  std::vector<std::unique_ptr<sock>> socks;  // by Program index
  // By socket: the verdict program's branch it takes, its channel (-1: it never sends), the
  // recvs on it in progress.
  struct PerSock {
    VerdictAction verdict;
    int channel = -1;
    Shared<uint32_t> recv_active = 0;
    Shared<bool> closed = false;  // close() ran: its descriptor is gone, later steps on it get -EBADF
  };
  std::vector<PerSock> per;
  bool has_verdict = false;
  bool hash = false;
  bpf_sockmap sockmap;
  bpf_sockhash sockhash;
  Shared<std::vector<std::unique_ptr<sk_psock>>> rcu;  // dropped psocks (after socks: destroyed first)
  int kworker_cpu = 0;
  // io_uring (uring_read / uring_send): the tasks' task work and one ctx per ring, whose
  // submitter is the one thread that uses it (the parser refuses a second). Plain members:
  // a program with a ring declares no footprints.
  task_works tw;
  // Built with the first ring: a program without io_uring never touches it, and its
  // delayed_fput Work (a named kworker and its callback) cost every schedule 0.5 %.
  std::optional<file_table> ft;
  std::vector<std::unique_ptr<io_ring_ctx>> rings;  // by Program ring index; null: unused
  uint64_t next_user_data = 1;
  sched_preempt preempt;  // where a return to user space lets the kworker (or another thread) in

  // Checkers' bookkeeping (not model state), written by the tasks' steps (the drop tap's by
  // whichever task drops) and read by the per-step invariants: Shared like the model's fields.
  Shared<uint64_t> bytes_sent = 0;  // returned by completed sends
  Shared<uint64_t> sending = 0;     // payload of sends in progress
  Shared<uint64_t> dropped = 0;
  Shared<std::string> received;
  // Bytes recvs have copied but not yet returned. The strings are the recv's own (its frame):
  // only the receiving task writes them, in the same steps that take the bytes off an observed
  // queue, so the invariant's unrecorded read of them sees no other order.
  Shared<std::vector<const std::string*>> user_buffers;
  Shared<std::vector<int>> recv_results;
  Shared<std::vector<int>> fionread_samples;
  Shared<std::vector<int>> fionread_results;
  Shared<std::string> kworker_class;
  std::array<int16_t, 256> owner{};  // byte value -> channel, -1: nobody sends it
  std::vector<Channel> channels;

  nlohmann::ordered_json metrics() const override {
    nlohmann::ordered_json m;
    m["first_recv"] = recv_results.raw().empty() ? nlohmann::ordered_json(nullptr)
                                           : nlohmann::ordered_json(recv_results.raw().front());
    m["recv_results"] = recv_results.raw();
    m["fionread_samples"] = fionread_samples.raw();
    m["kworker_class"] = kworker_class.raw();
    const bool printable = std::all_of(received.raw().begin(), received.raw().end(),
                                       [](char c) { return c >= 0x20 && c <= 0x7e; });
    m["received"] = printable ? received.raw() : fmt::format("<{} bytes>", received.raw().size());
    m["fionread_results"] = fionread_results.raw();
    m["dropped"] = dropped.raw();
    // Runs whose ordering needed the scheduler tick (model preempt = tick): outcomes only they
    // reach are ones the kernel shows rarely.
    m["sched_ticks"] = preempt.ticks.raw();
    return m;
  }
  // Everything metrics() reads, in its order.
  bool metrics_key(std::string& key) const override {
    key_put(key, recv_results.raw());
    key_put(key, fionread_samples.raw());
    key_put(key, std::string_view(kworker_class.raw()));
    key_put(key, std::string_view(received.raw()));
    key_put(key, fionread_results.raw());
    key_put(key, dropped.raw());
    key_put(key, uint64_t{preempt.ticks.raw()});
    return true;
  }

  // Every socket in program order, each with its psock while it has one.
  void visit_state(StateVisitor& v) const override {
    for (const auto& sk : socks)
      if (sk) model::visit_state(v, sk->name, *sk);  // unrecorded: model/state.cpp reads raw()
  }
};

// ---- the checkers' byte attribution ---------------------------------------------------------

// Received bytes: each is the next undelivered byte its channel sent.
void account_received(Sched& s, ScriptWorld& w, const std::string& got) {
  for (char c : got) {
    const int ch = w.owner[static_cast<uint8_t>(c)];
    Channel* k = ch < 0 ? nullptr : &w.channels[static_cast<size_t>(ch)];
    const std::string* stream = k ? &k->stream.get() : nullptr;
    const size_t idx = k ? stream->find(c) : std::string::npos;
    if (!k || idx == std::string::npos) {
      s.fail("delivered-once-in-order", fmt::format("received byte '{}' that nobody sent", c));
      return;
    }
    uint32_t& next = k->next.mut();
    if (next >= stream->size() || (*stream)[next] != c) {
      s.fail("delivered-once-in-order",
             fmt::format("byte '{}' of channel {} arrived at position {}, expected position {}", c,
                         ch, idx, next));
      return;
    }
    if (!k->done->empty()) {
      std::vector<bool>& done = k->done.mut();
      if (done.size() < stream->size()) done.resize(stream->size(), false);
      done[next] = true;
      while (next < done.size() && done[next]) ++next;
    } else {
      ++next;
    }
  }
  w.received.mut() += got;
}

// Dropped bytes: each is the first unconsumed byte of that value in its channel (the order of
// a channel's bytes across the queues a drop empties is their stream order, see sk_psock_stop).
void account_dropped(Sched& s, ScriptWorld& w, std::string_view bytes) {
  w.dropped += bytes.size();
  for (char c : bytes) {
    const int ch = w.owner[static_cast<uint8_t>(c)];
    if (ch < 0) {
      s.fail("delivered-once-in-order", fmt::format("dropped byte '{}' that nobody sent", c));
      return;
    }
    Channel& k = w.channels[static_cast<size_t>(ch)];
    const std::string& stream = k.stream;
    std::vector<bool>& done = k.done.mut();
    uint32_t& next = k.next.mut();
    if (done.size() < stream.size()) done.resize(stream.size(), false);
    size_t p = next;
    while (p < stream.size() && (done[p] || stream[p] != c)) ++p;
    if (p >= stream.size()) {
      s.fail("delivered-once-in-order",
             fmt::format("dropped byte '{}' of channel {} that is not pending", c, ch));
      return;
    }
    done[p] = true;
    while (next < done.size() && done[next]) ++next;
  }
}

// Every byte sent and not yet received or dropped, wherever it waits. Called only by the
// nothing-lost invariant, which the scheduler evaluates after msg_tot_len-accounting has passed
// on the same state (Sched::check_invariants stops at the first violation, in the order they
// were added): each psock's msg_tot_len then equals the sum over its ingress_msg, and is read
// instead of walking the queue a second time (1.5 % of a seed-000 schedule).
uint64_t bytes_queued(const ScriptWorld& w) {
  uint64_t n = 0;
  for (const std::string* b : w.user_buffers.get()) n += b->size();
  for (const skb_ptr& skb : w.lo.input_pkt_queue.get()) n += skb->data.size();
  for (const auto& skp : w.socks) {
    const sock& sk = *skp;
    for (const skb_ptr& skb : sk.sk_receive_queue.get()) n += skb->len();
    if (sk.is_tcp()) {
      const tcp_sock& tp = tcp_sk(sk);
      // A byte reader (no psock) consumes the head skb in place up to copied_seq.
      if (!sk.psock && !sk.sk_receive_queue->empty() && sk.sk_receive_queue->front()->seq < tp.copied_seq)
        n -= tp.copied_seq - sk.sk_receive_queue->front()->seq;
      n += tp.write_seq - tp.snd_nxt;  // written, not yet transmitted
    }
    if (sk.psock) {
      const sk_psock& ps = *sk.psock;
      for (const skb_ptr& skb : ps.ingress_skb.get()) n += skb->len();
      if (ps.work_state->len && !ps.ingress_skb->empty()) n -= ps.work_state->off;  // already handed on
      n += ps.msg_tot_len;  // == ingress_msg_bytes(ps): msg_tot_len-accounting holds here
    }
  }
  return n;
}

uint64_t bytes_in_transit(const ScriptWorld& w) {
  uint64_t n = w.sending;
  for (const auto& skp : w.socks)
    if (skp->psock) n += skp->psock->send_inflight;
  return n;
}

// ---- syscalls ---------------------------------------------------------------------------------

// "POLLIN|POLLOUT": the bits a script can ask for or see.
std::string poll_names(uint32_t ev) {
  std::string r;
  for (auto [bit, name] : {std::pair{EPOLLIN, "POLLIN"}, std::pair{EPOLLOUT, "POLLOUT"},
                           std::pair{EPOLLERR, "POLLERR"}, std::pair{EPOLLHUP, "POLLHUP"}})
    if (ev & bit) r += (r.empty() ? "" : "|") + std::string(name);
  return r;
}

int fionread(sock& sk) { return sk.is_tcp() ? tcp_bpf_ioctl(sk) : udp_bpf_ioctl(sk); }

// send(): one datagram, or the payload through tcp_sendmsg; either way NET_RX runs inline.
Co<int> send_call(Sched& s, sock& sk, const std::string& payload, uint32_t flags) {
  if (!sk.is_tcp()) co_return co_await udp_sendmsg(s, sk, payload);  // never blocks on loopback
  msghdr msg;
  msg.left = payload.size();
  msg.payload = payload;
  msg.flags = ((flags & msg_dontwait) ? kMSG_DONTWAIT : 0) | ((flags & msg_more) ? kMSG_MORE : 0);
  co_return static_cast<int>(co_await tcp_sendmsg(s, tcp_sk(sk), msg));
}

// The socket's recvmsg: the sockmap variants while it has a psock with a verdict program
// (tcp_bpf_recvmsg_parser / udp_bpf_recvmsg), the protocol's own once it has none.
Co<int> recv_call(Sched& s, sock& sk, std::string& out, uint32_t len, uint32_t flags) {
  const bool dontwait = flags & msg_dontwait, peek = flags & msg_peek;
  if (sk.is_tcp()) {
    if (sk.psock) co_return co_await tcp_bpf_recvmsg_parser(s, sk, out, len, dontwait, peek);
    co_return co_await tcp_recvmsg_data(s, tcp_sk(sk), out, len, dontwait, peek, flags & msg_waitall);
  }
  if (sk.psock) co_return co_await udp_bpf_recvmsg(s, sk, out, len, dontwait, peek);
  co_return co_await udp_recvmsg(s, sk, out, len, dontwait, peek);
}

// One recvmsg on socket si, with the checkers' bookkeeping of the bytes it copies (appended to
// `got`); not recorded as a receive result (the caller records what the script's call returned).
// `classify`: whether this call may be the first recv that kworker_class is about. The host
// runner classifies on the recvfrom(2) syscall, which io_uring's reads never make: they don't.
Co<int> recv_copy(Sched& s, ScriptWorld& w, uint32_t si, uint32_t len, uint32_t flags, std::string& got,
                  bool classify) {
  sock& sk = *w.socks[si];
  if (classify && w.kworker_class->empty())
    // Work still to do for the backlog: skbs queued on a psock that still takes them. A psock
    // whose backlog stopped on an error (a FIN skb's 0) keeps that skb queued, but its worker
    // has run.
    w.kworker_class = sk.psock && sk.psock->tx_enabled && !sk.psock->ingress_skb->empty()
                          ? "kworker-after-recv"
                          : "kworker-before-recv";
  const bool peek = flags & msg_peek;
  std::string out;
  if (!peek) w.user_buffers.mut().push_back(&out);  // peeked bytes stay queued: not in transit
  ++w.per[si].recv_active;
  const int n = co_await recv_call(s, sk, out, len, flags);
  --w.per[si].recv_active;
  if (!peek) {
    std::vector<const std::string*>& bufs = w.user_buffers.mut();
    bufs.erase(std::find(bufs.begin(), bufs.end(), &out));
  }
  if (!peek) account_received(s, w, out);
  got += out;
  co_return n;
}

// recv_timeout() when timeout_us > 0 (select for readability, then one recv), else one recv.
// `got` receives the bytes the call returned.
Co<int> recv_once(Sched& s, ScriptWorld& w, uint32_t si, uint32_t len, uint32_t flags,
                  uint64_t timeout_us, std::string& got) {
  sock& sk = *w.socks[si];
  if (timeout_us > 0) {
    if (!co_await do_select(s, sk, timeout_us * 1000)) {
      s.note(sk.name, "select: not readable within {} us", timeout_us);
      // Recorded as a receive result, as the host runner records every recv_timeout() call.
      w.recv_results.mut().push_back(-kerr::eagain);
      co_return -kerr::eagain;  // the selftest reports ETIME
    }
    co_await exit_to_user_mode(s, w.preempt, s.label("recv", "recv {} {}B", sk.name, len));
  }
  const int n = co_await recv_copy(s, w, si, len, flags, got, true);
  w.recv_results.mut().push_back(n);
  co_return n;
}

// `what` names the call in a message ("recv_timeout(p1)"): a callable, formatted only on failure.
template <class What>
void check_expect(Sched& s, const What& what, int64_t n, const std::string& got, const Expect& e) {
  if (e.ret && n != *e.ret)
    s.fail("selftest-assertion", fmt::format("{} returned {}, expected {}", what(), n, *e.ret));
  else if (e.data && got != *e.data)
    s.fail("selftest-assertion", fmt::format("{}: data mismatch \"{}\" vs \"{}\"", what(), got, *e.data));
}

void check_ret(Sched& s, const Step& st, int64_t n) {
  if (st.expect.ret && n != *st.expect.ret)
    s.fail("selftest-assertion", fmt::format("{} returned {}, expected {}", st.text, n, *st.expect.ret));
}

bpf_prog verdict_prog(ScriptWorld& w, uint32_t si) {
  const VerdictAction a = w.per[si].verdict;
  switch (a.action) {
    case Action::pass: return [](sk_buff&) { return int{SK_PASS}; };
    case Action::drop: return [](sk_buff&) { return int{SK_DROP}; };
    case Action::redirect: break;
  }
  const uint64_t flags = a.ingress ? BPF_F_INGRESS : 0;
  if (w.hash) {
    const bpf_sockhash* map = &w.sockhash;
    return [map, key = a.key, flags](sk_buff& skb) { return bpf_sk_redirect_hash(skb, *map, key, flags); };
  }
  const bpf_sockmap* map = &w.sockmap;
  return [map, key = a.key, flags](sk_buff& skb) { return bpf_sk_redirect_map(skb, *map, key, flags); };
}

bool in_map(const ScriptWorld& w, const sock* sk) {
  if (w.hash)
    return std::any_of(w.sockhash.elems->begin(), w.sockhash.elems->end(),
                       [sk](const auto& e) { return e.second == sk; });
  return std::find(w.sockmap.slots->begin(), w.sockmap.slots->end(), sk) != w.sockmap.slots->end();
}

// What the per-step invariants read of a psock (msg_tot_len-accounting, nothing-lost), named for
// dpor's visibility rule (Sched::observe): a psock built by a step is observed from that step on.
void observe_psock(Sched& s, const sk_psock& ps) {
  if (!s.recording_footprints()) return;  // only a reducing strategy reads them: no cost otherwise
  for (uint64_t o : {ps.msg_tot_len.object(), ps.ingress_msg.object(), ps.ingress_skb.object(),
                     ps.work_state.object(), ps.send_inflight.object()})
    s.observe(o);
}

// bpf_map_update_elem(map, key, sock, BPF_ANY) with the socket lock held (or in setup, before
// any task runs). A new psock's backlog work runs on the kworker CPU.
int map_update(Sched& s, ScriptWorld& w, uint32_t key, uint32_t si) {
  sock& sk = *w.socks[si];
  bpf_prog prog = w.has_verdict ? verdict_prog(w, si) : bpf_prog{};
  const bool had = sk.psock != nullptr;
  const int ret = w.hash ? sock_hash_update_elem(s, w.sockhash, key, sk, std::move(prog), w.rcu.mut())
                         : sock_map_update_elem(s, w.sockmap, key, sk, std::move(prog), w.rcu.mut());
  if (!had && sk.psock) {
    sk.psock->work.set_cpu(w.kworker_cpu);
    observe_psock(s, *sk.psock);
  }
  return ret;
}

int map_delete(Sched& s, ScriptWorld& w, uint32_t key) {
  return w.hash ? sock_hash_delete_elem(s, w.sockhash, key, w.rcu.mut())
                : sock_map_delete_elem(s, w.sockmap, key, w.rcu.mut());
}

sock* map_lookup(const ScriptWorld& w, uint32_t key) {
  if (w.hash) return sock_hash_lookup_elem(w.sockhash, key);
  return key < w.sockmap.slots->size() ? w.sockmap.slots->at(key) : nullptr;
}

std::string_view step_label(Sched& s, const ScriptWorld& w, const Step& st) {
  const auto name = [&]() -> std::string_view {
    return st.sock < w.socks.size() ? std::string_view(w.socks[st.sock]->name) : std::string_view("?");
  };
  switch (st.op) {
    case Op::send: return s.label("send", "send {} {}B", name(), st.payload.size());
    case Op::wait_fionread:
      return s.label("wait_for_fionread", "wait_for_fionread({}, {})", name(), st.len);
    case Op::recv:
      if (st.timeout_us) return s.label("recv_timeout", "recv_timeout({}, {})", name(), st.len);
      return s.label("recv", "recv({}, {})", name(), st.len);
    case Op::recv_loop: return s.label("recv loop", "recv loop({}, {})", name(), st.len);
    case Op::fionread: return s.label("ioctl(FIONREAD)", "ioctl({}, FIONREAD)", name());
    case Op::poll:
      if (st.select_call) return s.label("select", "select({})", name());
      return s.label("poll", "poll({}, {})", name(), poll_names(st.events));
    case Op::usleep: return s.label("usleep", "usleep({})", st.timeout_us);
    case Op::map_update: return s.label("map_update", "map_update({}, {})", st.key, name());
    case Op::map_delete: return s.label("map_delete", "map_delete({})", st.key);
    case Op::shutdown: return s.label("shutdown", "shutdown({}, SHUT_WR)", name());
    case Op::close: return s.label("close", "close({})", name());
    case Op::uring_read: return s.label("uring_read", "io_uring READ({}, {})", name(), st.len);
    case Op::uring_send: return s.label("uring_send", "io_uring SEND({}, {}B)", name(), st.payload.size());
    case Op::sendfile:
    case Op::write:
    case Op::sendfile_loop:
    case Op::write_loop:
    case Op::splice_loop:
    case Op::uring_splice_close:
    case Op::read_until_eof: break;  // the stream world's (model_stream_world.cpp)
  }
  return "step";
}

// The protocol's own close: tcp_close (the FIN), or udp_lib_close.
Co<> udp_close(Sched& s, sock& sk) {
  udp_lib_close(s, sk);
  co_return;
}

Co<> proto_close(Sched& s, sock& sk) {
  if (sk.is_tcp()) co_await tcp_close(s, tcp_sk(sk));
  else co_await udp_close(s, sk);
}

bool takes_sock(Op op) { return op != Op::usleep && op != Op::map_delete; }

// A step on a socket the script has closed: the descriptor is gone, the call fails with -EBADF
// before reaching the socket (the host runner does the same without a syscall). Recorded as
// the runner records it: every receive call, every FIONREAD result.
void closed_step(Sched& s, ScriptWorld& w, const Step& st) {
  const int n = -kerr::ebadf;
  s.note(w.socks[st.sock]->name, "{}: -EBADF (closed)", st.text);
  switch (st.op) {
    case Op::recv:
    case Op::recv_loop:
    case Op::uring_read:
      w.recv_results.mut().push_back(n);
      check_expect(s, [&] { return st.text; }, st.op == Op::recv_loop ? 0 : n, std::string(), st.expect);
      return;
    case Op::fionread:
    case Op::wait_fionread:
      w.fionread_results.mut().push_back(n);
      check_ret(s, st, n);
      return;
    default: check_ret(s, st, n);
  }
}

Co<int> uring_sendmsg(Sched& s, sock& sk, const std::string& payload, int msg_flags) {
  return send_call(s, sk, payload, (msg_flags & kMSG_DONTWAIT) ? uint32_t{msg_dontwait} : 0u);
}

// uring_read / uring_send: io_uring_enter(1, 1, IORING_ENTER_GETEVENTS) on the thread's ring.
// io_submit_sqes issues the request inline, non-blocking (io_queue_sqe → io_issue_sqe); a
// -EAGAIN arms poll on the socket and a wake-up retries it as task work on this task, which
// io_cqring_wait runs; the syscall's exit runs what task work is left. Returns the CQE's res;
// a read's bytes are appended to `got` (the checkers' bookkeeping runs in the read itself).
Co<int64_t> uring_call(Sched& s, ScriptWorld& w, const Step& st, std::string& got) {
  io_ring_ctx& ctx = *w.rings[st.ring];
  sock& sk = *w.socks[st.sock];
  io_kiocb req;
  req.ctx = &ctx;
  req.opcode = st.op == Op::uring_read ? io_op::read : io_op::send;
  req.user_data = w.next_user_data++;
  req.file.name = sk.name;
  req.file.wq = &sk.sk_wq;
  req.file.poll = [&sk]() { return sock_poll(sk); };
  ScriptWorld* wp = &w;
  const uint32_t si = st.sock, len = st.len;
  std::string* gp = &got;
  req.file.read_iter = [wp, si, len, gp](Sched& sch, int msg_flags) {
    return recv_copy(sch, *wp, si, len, (msg_flags & kMSG_DONTWAIT) ? uint32_t{msg_dontwait} : 0u, *gp, false);
  };
  const std::string* payload = &st.payload;
  req.file.sendmsg = [&sk, payload](Sched& sch, int msg_flags) { return uring_sendmsg(sch, sk, *payload, msg_flags); };
  s.note(sk.name, "io_uring_enter: submit {} (user_data {})", st.text, req.user_data);
  co_await io_issue_sqe(s, req, IO_URING_F_NONBLOCK);
  co_await io_cqring_wait(s, ctx, 1, [&req] { return req.completed; });
  // io_uring_wait_cqe + io_uring_cqe_seen: the one CQE in flight is this request's.
  for (auto it = ctx.cq.begin(); it != ctx.cq.end(); ++it)
    if (it->user_data == req.user_data) {
      ctx.cq.erase(it);
      break;
    }
  co_await exit_to_user_mode(s, w.tw);
  co_return req.res;
}

Co<> run_step(Sched& s, ScriptWorld& w, const Step& st) {
  if (takes_sock(st.op) && w.per[st.sock].closed) {
    closed_step(s, w, st);
    co_return;
  }
  switch (st.op) {
    case Op::send: {
      sock& sk = *w.socks[st.sock];
      // The bytes join the sender's stream when the call starts (a drop may meet them before
      // it returns); what the call did not take is cut off again. One thread per sending socket
      // (check_program), so nothing else appends meanwhile.
      // (The Shared, not its string: the cut after the call is a write of a later step.)
      Shared<std::string>& stream = w.channels[static_cast<size_t>(w.per[st.sock].channel)].stream;
      stream.mut() += st.payload;
      w.sending += st.payload.size();
      const int n = co_await send_call(s, sk, st.payload, st.flags);
      w.sending -= st.payload.size();
      const size_t taken = n > 0 ? static_cast<size_t>(n) : 0;
      stream.mut().resize(stream->size() - (st.payload.size() - taken));
      w.bytes_sent += taken;
      check_ret(s, st, n);
      break;
    }
    case Op::wait_fionread: {
      sock& sk = *w.socks[st.sock];
      int avail = 0;
      for (uint64_t waited = 0;; waited += st.poll_us) {
        avail = fionread(sk);
        w.fionread_samples.mut().push_back(avail);
        s.note(sk.name, "ioctl(FIONREAD) = {}", avail);
        if (avail >= static_cast<int64_t>(st.len) || waited >= st.timeout_us) break;
        WaitQueue usleep;  // nobody wakes it: only the timeout ends this sleep
        co_await usleep.sleep(s, s.label("usleep done", "usleep({}) done", st.poll_us), false,
                              st.poll_us * 1000);
        co_await exit_to_user_mode(s, w.preempt, "ioctl(FIONREAD)");
      }
      w.fionread_results.mut().push_back(avail);
      if (st.expect.ret && avail != *st.expect.ret)
        s.fail("selftest-assertion",
               fmt::format("ioctl(FIONREAD) on {} = {}, expected {}", sk.name, avail, *st.expect.ret));
      break;
    }
    case Op::fionread: {
      sock& sk = *w.socks[st.sock];
      const int avail = fionread(sk);
      w.fionread_samples.mut().push_back(avail);
      w.fionread_results.mut().push_back(avail);
      s.note(sk.name, "ioctl(FIONREAD) = {}", avail);
      if (st.expect.ret && avail != *st.expect.ret)
        s.fail("selftest-assertion",
               fmt::format("ioctl(FIONREAD) on {} = {}, expected {}", sk.name, avail, *st.expect.ret));
      break;
    }
    case Op::recv: {
      std::string got;
      const int n = co_await recv_once(s, w, st.sock, st.len, st.flags, st.timeout_us, got);
      const std::string& name = w.socks[st.sock]->name;
      check_expect(s, [&] { return st.timeout_us ? fmt::format("recv_timeout({})", name) : fmt::format("recv({})", name); },
                   n, got, st.expect);
      break;
    }
    case Op::recv_loop: {
      std::string got;
      uint32_t total = 0;
      while (total < st.len) {
        const int n = co_await recv_once(s, w, st.sock, st.len - total, st.flags, st.timeout_us, got);
        if (n <= 0) break;
        total += static_cast<uint32_t>(n);
        if (total < st.len) co_await exit_to_user_mode(s, w.preempt, "recv loop: again");
      }
      check_expect(s, [&] { return fmt::format("recv loop({})", w.socks[st.sock]->name); }, total, got,
                   st.expect);
      break;
    }
    case Op::poll: {
      // Both sleep on the socket's wait queue until its ->poll (tcp_poll / udp_poll) reports
      // what they wait for, or the timeout.
      sock& sk = *w.socks[st.sock];
      if (st.select_call) {
        const bool ready = co_await do_select(s, sk, st.timeout_us * 1000);
        s.note(sk.name, "{} = {}", st.text, ready ? "1" : "0 (timeout)");
        check_ret(s, st, ready ? 1 : 0);  // one descriptor ready
        break;
      }
      const __poll_t revents = co_await do_poll(s, sk, st.events, st.timeout_us * 1000);
      s.note(sk.name, "{} = {}", st.text, revents ? poll_names(revents) : "0 (timeout)");
      check_ret(s, st, revents);
      break;
    }
    case Op::usleep: {
      WaitQueue usleep;  // nobody wakes it: only the timeout ends this sleep
      co_await usleep.sleep(s, s.label("usleep done", "usleep({}) done", st.timeout_us), false,
                            st.timeout_us * 1000);
      break;
    }
    case Op::map_update: {
      sock& sk = *w.socks[st.sock];
      if (in_map(w, &sk) && map_lookup(w, st.key) != &sk) {
        s.fail("model-assumption", fmt::format("{}: {}: {} would be in the map twice; the model has one "
                                               "link per psock", st.loc.str(), st.text, sk.name));
        co_return;
      }
      if (map_lookup(w, st.key) == &sk) {
        s.fail("model-assumption", fmt::format("{}: {}: {} is already at key {} (the kernel then stops "
                                               "its verdict; not modelled)", st.loc.str(), st.text, sk.name, st.key));
        co_return;
      }
      // sock_map_update_elem_sys: lock_sock around the update.
      co_await sk.sk_lock.lock_sock(s, "sock_map_update_elem_sys: lock_sock");
      const int ret = map_update(s, w, st.key, st.sock);
      sk.sk_lock.release_sock(s);
      check_ret(s, st, ret);
      break;
    }
    case Op::map_delete: {
      // __sock_map_delete under the map's spinlock: no socket lock, no sleep.
      sock* sk = map_lookup(w, st.key);
      const auto held = std::find_if(w.socks.begin(), w.socks.end(), [sk](const auto& q) { return q.get() == sk; });
      if (sk && w.per[static_cast<size_t>(held - w.socks.begin())].recv_active) {
        s.fail("model-assumption", fmt::format("{}: {}: a recv on {} holds its psock; the kernel drops the "
                                               "psock when that recv returns, the model does not defer it",
                                               st.loc.str(), st.text, sk->name));
        co_return;
      }
      const int ret = map_delete(s, w, st.key);
      check_ret(s, st, ret);
      break;
    }
    case Op::shutdown: {
      // inet_shutdown(SHUT_WR): TCP sends its FIN (tcp_shutdown); UDP has no shutdown of its
      // own: SEND_SHUTDOWN is set under the socket lock and nothing reaches the peer.
      sock& sk = *w.socks[st.sock];
      int ret = 0;
      if (sk.is_tcp()) {
        ret = co_await tcp_shutdown(s, tcp_sk(sk));
      } else {
        co_await sk.sk_lock.lock_sock(s, "inet_shutdown");
        sk.send_shutdown = true;
        sk.sk_lock.release_sock(s);
      }
      check_ret(s, st, ret);
      break;
    }
    case Op::close: {
      sock& sk = *w.socks[st.sock];
      if (w.per[st.sock].recv_active) {
        // The recv holds a reference to the file: close() only removes the descriptor and the
        // socket is released when that recv returns. Not modelled.
        s.fail("model-assumption", fmt::format("{}: {}: a recv on {} is in progress; the kernel releases "
                                               "the socket when it returns, the model does not defer it",
                                               st.loc.str(), st.text, sk.name));
        co_return;
      }
      w.per[st.sock].closed = true;
      // sock_close → inet_release → sk_prot->close: sock_map_close while the socket is in the
      // map (its psock replaced the proto), else the protocol's own.
      if (sk.psock)
        co_await sock_map_close(s, sk, w.hash ? nullptr : &w.sockmap, w.hash ? &w.sockhash : nullptr,
                                w.rcu.mut(), [&s, &sk]() { return proto_close(s, sk); });
      else
        co_await proto_close(s, sk);
      check_ret(s, st, 0);
      break;
    }
    case Op::uring_read: {
      std::string got;
      ++w.per[st.sock].recv_active;  // the request holds the socket until its CQE (see close)
      const int64_t n = co_await uring_call(s, w, st, got);
      --w.per[st.sock].recv_active;
      w.recv_results.mut().push_back(static_cast<int>(n));
      s.note(w.socks[st.sock]->name, "{}: CQE res {}", st.text, n);
      check_expect(s, [&] { return st.text; }, n, got, st.expect);
      break;
    }
    case Op::uring_send: {
      // As a send: the bytes join the stream when the request is submitted, and what its CQE
      // says it did not take is cut off again.
      Shared<std::string>& stream = w.channels[static_cast<size_t>(w.per[st.sock].channel)].stream;
      stream.mut() += st.payload;
      w.sending += st.payload.size();
      std::string none;
      const int64_t n = co_await uring_call(s, w, st, none);
      w.sending -= st.payload.size();
      const size_t taken = n > 0 ? static_cast<size_t>(n) : 0;
      stream.mut().resize(stream->size() - (st.payload.size() - taken));
      w.bytes_sent += taken;
      s.note(w.socks[st.sock]->name, "{}: CQE res {}", st.text, n);
      check_ret(s, st, n);
      break;
    }
    case Op::sendfile:
    case Op::write:
    case Op::sendfile_loop:
    case Op::write_loop:
    case Op::splice_loop:
    case Op::uring_splice_close:
    case Op::read_until_eof: break;  // refused by check_program
  }
}

Co<> thread_body(Sched& s, ScriptWorld& w, const Thread& t) {
  for (size_t i = 0; i < t.steps.size(); ++i) {
    const Step& st = t.steps[i];
    if (i > 0) co_await exit_to_user_mode(s, w.preempt, step_label(s, w, st));
    // `within D`: the call, from its start to its return, in virtual time.
    const uint64_t start = s.now_ns();
    co_await run_step(s, w, st);
    const uint64_t took = s.now_ns() - start;
    if (st.expect.within_us && took > *st.expect.within_us * 1000)
      s.fail("selftest-assertion", fmt::format("{}: {} took {} us, expected within {} us", st.loc.str(),
                                               st.text, took / 1000, *st.expect.within_us));
  }
}

// ---- what the model refuses -------------------------------------------------------------------

void check_program(const Program& p) {
  const Loc where{p.file, 0, 0};
  if (p.socks.empty()) unsupported(where, "a script without sockets");
  bool tcp = false, udp = false;
  for (uint32_t i = 0; i < p.socks.size(); ++i) {
    const Socket& so = p.socks[i];
    if (so.peer >= p.socks.size() || so.peer == i || p.socks[so.peer].peer != i ||
        p.socks[so.peer].proto != so.proto)
      unsupported(so.loc, fmt::format("socket {} is not one end of a connected pair", so.name));
    (so.proto == Proto::tcp ? tcp : udp) = true;
    if (so.proto == Proto::tcp && so.rcvbuf)
      unsupported(so.loc, "SO_RCVBUF on a TCP socket: the model's receive window does not follow sk_rcvbuf");
    if (so.proto == Proto::udp && so.nodelay)
      unsupported(so.loc, "TCP_NODELAY on a UDP socket");
  }
  if (p.map && p.map->max_entries == 0) unsupported(p.map->loc, "a map with max_entries 0 (map creation fails)");
  if (!p.verdict.rules.empty() && !p.map) unsupported(p.verdict.loc, "a verdict program without a map");
  if (p.map && p.verdict.rules.empty() && tcp)
    unsupported(p.map->loc, "TCP sockets in a map without a verdict program: tcp_bpf_recvmsg "
                            "(TCP_BPF_BASE) is not modelled");
  bool egress = false;
  for (const VerdictRule& r : p.verdict.rules) {
    if (r.on && *r.on >= p.socks.size()) unsupported(p.verdict.loc, "a verdict rule on an unknown socket");
    if (r.act.action == Action::redirect && !r.act.ingress) egress = true;
  }
  uint64_t max_udp_send = 0;
  for (const Thread& t : p.threads)
    for (const Step& st : t.steps)
      if ((st.op == Op::send || st.op == Op::uring_send) && st.sock < p.socks.size() &&
          p.socks[st.sock].proto == Proto::udp)
        max_udp_send = std::max<uint64_t>(max_udp_send, st.payload.size());
  if (egress && udp && (tcp || max_udp_send > kLinearUdpMax))
    unsupported(p.verdict.loc, fmt::format("an egress redirect with UDP sockets and paged skbs (TCP "
                                           "segments, or datagrams over {} bytes): skb_send_sock sends "
                                           "one datagram per fragment, the model's skbs are linear",
                                           kLinearUdpMax));
  const auto check_sock = [&](const Step& st) {
    if (st.sock >= p.socks.size()) unsupported(st.loc, "a step on an unknown socket");
  };
  // POLLOUT on a TCP socket is tcp_poll's predicate on the send queue, which fills only once the
  // peer's receive window closes. This world's receiver does not follow sk_rcvbuf and takes
  // megabytes unread (a loopback kernel receiver closes its window far earlier), so a script
  // whose TCP socket sends more than a first window (64 KiB) could see it writable where the
  // kernel does not (docs/scripts.md): refused.
  std::vector<uint64_t> sent_by(p.socks.size(), 0);
  for (const Thread& t : p.threads)
    for (const Step& st : t.steps)
      if ((st.op == Op::send || st.op == Op::uring_send) && st.sock < p.socks.size())
        sent_by[st.sock] += st.payload.size();
  const auto check_map = [&](const Step& st) {
    if (!p.map) unsupported(st.loc, "a map operation without a map");
    check_sock(st);
  };
  for (const Step& st : p.setup) {
    if (st.op != Op::map_update) unsupported(st.loc, "setup statements other than map_update");
    check_map(st);
  }
  for (const Thread& t : p.threads) {
    for (const Step& st : t.steps) {
      switch (st.op) {
        case Op::send:
          check_sock(st);
          if (st.flags & ~uint32_t{msg_dontwait | msg_more})
            unsupported(st.loc, "send flags other than MSG_DONTWAIT and MSG_MORE");
          if ((st.flags & msg_more) && p.socks[st.sock].proto == Proto::udp)
            unsupported(st.loc, "MSG_MORE on UDP: the corked datagram (up->pending) is not modelled");
          break;
        case Op::recv:
        case Op::recv_loop:
          check_sock(st);
          if (st.flags & msg_more) unsupported(st.loc, "MSG_MORE on recv");
          break;
        case Op::fionread: check_sock(st); break;
        case Op::poll:
          check_sock(st);
          if (!st.select_call && (st.events & kPollOut) && p.socks[st.sock].proto == Proto::tcp &&
              sent_by[st.sock] > kTcpFirstWindow)
            unsupported(st.loc, fmt::format("{} after {} sends {} bytes: when a TCP send queue fills depends "
                                            "on the peer's receive window, which this world does not model "
                                            "(more than {} bytes)",
                                            st.text, p.socks[st.sock].name, sent_by[st.sock], kTcpFirstWindow));
          break;
        case Op::wait_fionread:
          check_sock(st);
          if (st.poll_us == 0) unsupported(st.loc, "wait_for_fionread polling every 0 us");
          break;
        case Op::usleep: break;
        case Op::map_update:
        case Op::map_delete: check_map(st); break;
        case Op::shutdown:
        case Op::close: check_sock(st); break;
        case Op::uring_read:
        case Op::uring_send:
          check_sock(st);
          if (st.ring >= p.rings.size()) unsupported(st.loc, "a request on an unknown io_uring");
          break;
        case Op::sendfile:
        case Op::write:
        case Op::sendfile_loop:
        case Op::write_loop:
        case Op::splice_loop:
        case Op::uring_splice_close:
        case Op::read_until_eof: unsupported(st.loc, "sendfile/write outside a stream program");
      }
    }
  }
}

// The model settings of a sockmap Program, parsed and checked (what the model refuses throws).
struct SockmapSettings {
  self_redirect self{};
  fionread_semantics fion{};
  preempt_model preempt{};
  int kworker_cpu = 0;
};

SockmapSettings sockmap_settings(const Program& p) {
  const Loc where{p.file, 0, 0};
  SockmapSettings set;
  const auto self = parse_switch<self_redirect>(p.model.self_redirect);
  const auto fion = parse_switch<fionread_semantics>(p.model.fionread);
  if (!self) unsupported(where, fmt::format("model self_redirect = {}", p.model.self_redirect));
  if (!fion) unsupported(where, fmt::format("model fionread = {}", p.model.fionread));
  // The sockmap world's receivers read through psocks and tcp_bpf, not tcp_recvmsg: its ACKs
  // stay immediate (kernel_config's default).
  if (p.model.cpu != "none")
    unsupported(where, fmt::format("model cpu = {} in a sockmap program (the cost model is charged in the stream "
                                   "world only)", p.model.cpu));
  if (!p.model.acks.empty() && p.model.acks != "immediate")
    unsupported(where, fmt::format("model acks = {} in a sockmap program (delayed ACKs are modelled in the "
                                   "stream world only)", p.model.acks));
  set.self = *self;
  set.fion = *fion;
  const auto preempt = parse_switch<preempt_model>(p.model.preempt);
  if (!preempt) unsupported(where, fmt::format("model preempt = {}", p.model.preempt));
  set.preempt = *preempt;
  if (p.model.kworker_cpu == "same") set.kworker_cpu = 0;  // the sender's CPU: the test threads'
  else if (p.model.kworker_cpu == "other") set.kworker_cpu = 1;
  else unsupported(where, fmt::format("model kworker_cpu = {}", p.model.kworker_cpu));
  return set;
}

// The per-step invariants, as tests on the world (Sched::add_invariant<Holds, Explain>): they
// run after every step of every schedule, the messages only when one fails.
//
// msg_tot_len-accounting: each psock's msg_tot_len is the bytes on its ingress_msg list.
bool msg_tot_len_holds(const ScriptWorld& w) {
  for (const auto& skp : w.socks)
    if (skp->psock && skp->psock->msg_tot_len != ingress_msg_bytes(*skp->psock)) return false;
  return true;
}

[[gnu::cold, gnu::noinline]] std::string msg_tot_len_message(const ScriptWorld& w) {
  for (const auto& skp : w.socks) {
    const sock& sk = *skp;
    if (!sk.psock) continue;
    const uint64_t queued = ingress_msg_bytes(*sk.psock);
    if (sk.psock->msg_tot_len != queued)
      return fmt::format("{}: msg_tot_len {} but {} bytes queued in ingress_msg", sk.name, sk.psock->msg_tot_len,
                         queued);
  }
  return "msg_tot_len-accounting";
}

// nothing-lost: bytes sent = received + dropped + queued. While a send (a test thread's, or a
// backlog's skb_send_sock) is under way its bytes may already show downstream: allowed up to
// its size.
bool nothing_lost_holds(const ScriptWorld& w) {
  const uint64_t accounted = w.received->size() + w.dropped + bytes_queued(w);
  return accounted == w.bytes_sent ||
         (accounted > w.bytes_sent && accounted <= w.bytes_sent + bytes_in_transit(w));
}

[[gnu::cold, gnu::noinline]] std::string nothing_lost_message(const ScriptWorld& w) {
  const uint64_t queued = bytes_queued(w);
  if (!w.dropped)
    return fmt::format("{} bytes sent but {} received + {} queued", w.bytes_sent, w.received->size(), queued);
  return fmt::format("{} bytes sent but {} received + {} queued + {} dropped", w.bytes_sent, w.received->size(),
                     queued, w.dropped);
}
}  // namespace

std::unique_ptr<World> build_script_world(Sched& s, const Program& prog) {
  return build_script_world(s, std::make_shared<const Program>(prog));
}

std::unique_ptr<World> build_script_world(Sched& s, std::shared_ptr<const Program> prog) {
  // Which world a Program runs in, check_program and the model settings are functions of the
  // Program alone, and a search shares one Program across its schedules
  // (ScriptScenario::setup): worked out once per Program object, not per schedule (about 3 %
  // of a seed-000 schedule). The weak_ptr makes "the same object" exact: a Program freed and
  // another allocated at its address is not mistaken for it. Refused programs throw before
  // they are remembered, so every schedule of one refuses again, with the same message.
  struct Known {
    std::weak_ptr<const Program> prog;
    bool stream = false;
    SockmapSettings set;
  };
  thread_local Known known;
  if (known.prog.expired() || known.prog.lock() != prog) {
    Known k;
    // One TCP connection with kTLS (the kTLS seeds): its own world, which checks its Program.
    k.stream = prog->stream();
    if (!k.stream) {
      check_program(*prog);
      k.set = sockmap_settings(*prog);
    }
    k.prog = prog;
    known = std::move(k);
  }
  if (known.stream) return build_stream_world(s, std::move(prog));
  const SockmapSettings& set = known.set;
  auto w = std::make_unique<ScriptWorld>();
  w->prog = std::move(prog);
  const Program& p = *w->prog;

  w->lo.softirq_inline = true;
  w->kc.self = set.self;
  w->kc.fionread = set.fion;
  const preempt_model preempt = set.preempt;
  w->kworker_cpu = set.kworker_cpu;

  // Sockets: the server side of every pair first, then the client sides, each in declaration
  // order — the compiled scenario's order (c0 c1 p0 p1), which fixes lo.socks and so the order
  // of the ACKs in a NET_RX run that stored traces record.
  const size_t n = p.socks.size();
  w->socks.resize(n);
  w->per.resize(n);
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < n; ++i) {
      const Socket& so = p.socks[i];
      if (so.server_side != (pass == 0)) continue;
      const bool tcp = so.proto == Proto::tcp;
      std::unique_ptr<sock> sk = tcp ? std::make_unique<tcp_sock>(so.name)
                                     : std::make_unique<sock>(so.name, sock_type::dgram);
      sk->kc = &w->kc;
      sk->lo = &w->lo;
      if (tcp) {
        tcp_config cfg;
        if (so.sndbuf) cfg.so_sndbuf = std::min(*so.sndbuf, kSysctlWmemMax);
        cfg.nodelay = so.nodelay;
        tcp_init_sock(s, tcp_sk(*sk), w->lo, cfg);
        tcp_sk(*sk).fin_segment = true;  // the peers read the FIN (tcp_fin, is_next_msg_fin)
      } else {
        // sock_setsockopt: min(val, sysctl max) doubled, at least the minimum.
        if (so.rcvbuf) sk->sk_rcvbuf = std::max(2 * std::min(*so.rcvbuf, kSysctlRmemMax), kSockMinRcvbuf);
        if (so.sndbuf)
          sk->sk_sndbuf = std::max<int64_t>(2 * int64_t{std::min(*so.sndbuf, kSysctlWmemMax)}, kSockMinSndbuf);
      }
      w->socks[i] = std::move(sk);
    }
  }
  for (size_t i = 0; i < n; ++i) w->socks[i]->peer = w->socks[p.socks[i].peer].get();
  // Each TCP pair's handshake: the server side is the accepted socket (create_pair's listener
  // end), its peer connected. It sets the first windows and MSS of both (32768 and 32741 on
  // loopback's defaults: half the window the other's handshake segment offered).
  for (size_t i = 0; i < n; ++i)
    if (p.socks[i].proto == Proto::tcp && p.socks[i].server_side)
      tcp_handshake(tcp_sk(*w->socks[p.socks[i].peer]), tcp_sk(*w->socks[i]));

  // The map and, per socket, the branch of the verdict program it takes.
  if (p.map) {
    w->hash = p.map->type == MapType::sockhash;
    if (w->hash) w->sockhash.max_entries = p.map->max_entries;
    else w->sockmap.slots.mut().assign(p.map->max_entries, nullptr);
  }
  w->has_verdict = !p.verdict.rules.empty();
  for (uint32_t i = 0; i < n && w->has_verdict; ++i) {
    for (const VerdictRule& r : p.verdict.rules) {
      if (!r.on || *r.on == i) {
        w->per[i].verdict = r.act;
        break;
      }
    }
  }

  // Senders: channels numbered by first send, and the byte values each one owns.
  w->owner.fill(-1);
  for (const Thread& t : p.threads) {
    for (const Step& st : t.steps) {
      if (st.op != Op::send && st.op != Op::uring_send) continue;
      if (w->per[st.sock].channel < 0) {
        w->per[st.sock].channel = static_cast<int>(w->channels.size());
        w->channels.emplace_back();
        w->channels.back().thread = &t;
      } else if (w->channels[static_cast<size_t>(w->per[st.sock].channel)].thread != &t) {
        unsupported(st.loc, fmt::format("{} sends from two threads: the order of its bytes is then the "
                                        "socket lock's, which the delivered-in-order checker cannot know",
                                        p.socks[st.sock].name));
      }
      const int ch = w->per[st.sock].channel;
      for (char c : st.payload) {
        int16_t& o = w->owner[static_cast<uint8_t>(c)];
        if (o >= 0 && o != ch)
          unsupported(st.loc, fmt::format("payload byte 0x{:02x} is sent by two sockets: the checkers "
                                          "attribute received bytes to their sender by value",
                                          static_cast<uint8_t>(c)));
        o = static_cast<int16_t>(ch);
      }
    }
  }

  // Footprints (docs/design.md, "Partial-order reduction"): every field the tasks share is a
  // Shared or a primitive (model/include/net/sock.h, skmsg.h, loopback.h, sock_map.h and the
  // checkers' bookkeeping above) — except struct tcp_sock's, which are still plain members: a
  // world with a TCP socket leaves its steps touching everything. The invariants read the
  // sockets' queues and psocks, the device's backlog and the bookkeeping: observed here, a
  // psock's fields when it is created (observe_psock).
  const bool all_udp = std::all_of(p.socks.begin(), p.socks.end(), [](const Socket& so) { return so.proto == Proto::udp; });
  // io_uring's state (task work, the ring's lists, its requests) is not Shared: no footprints.
  const bool declare = all_udp && p.rings.empty();
  if (declare) s.declare_footprints();
  if (declare && s.recording_footprints()) {  // (observe() allocates: skipped when nobody reduces)
    for (const auto& sk : w->socks) {
      s.observe(sk->sk_receive_queue.object());
      s.observe(sk->psock.object());
    }
    for (uint64_t o : {w->lo.input_pkt_queue.object(), w->user_buffers.object(), w->received.object(),
                       w->dropped.object(), w->bytes_sent.object(), w->sending.object()})
      s.observe(o);
  }

  // Setup: the map updates, after the verdict program is attached, before any thread.
  for (const Step& st : p.setup) {
    if (in_map(*w, w->socks[st.sock].get()))
      unsupported(st.loc, fmt::format("{} in the map twice: the model has one link per psock",
                                      w->socks[st.sock]->name));
    if (map_update(s, *w, st.key, st.sock) != 0)
      unsupported(st.loc, "a setup map_update that fails");
  }

  ScriptWorld* wp = w.get();
  w->lo.drop_tap = [wp](Sched& sch, const sock&, std::string_view bytes) { account_dropped(sch, *wp, bytes); };
  // One syscall task per thread, in order, all on CPU 0 like the compiled scenario's single
  // test task: the psock kworker (kworker_cpu same) then runs only while they are in user space
  // or asleep.
  std::vector<TaskId> threads;
  for (const Thread& t : p.threads) {
    const std::string_view first = t.steps.empty() ? std::string_view("start") : step_label(s, *wp, t.steps.front());
    const TaskId id = s.spawn(t.name, TaskKind::syscall, thread_body(s, *wp, t), false, first);
    s.set_cpu(id, 0);
    // The rings this thread submits to (one thread per ring: the parser's rule).
    for (const Step& st : t.steps) {
      if (st.op != Op::uring_read && st.op != Op::uring_send) continue;
      if (w->rings.size() < p.rings.size()) w->rings.resize(p.rings.size());
      if (w->rings[st.ring]) continue;
      const RingSetup rs = p.rings[st.ring].setup;
      const io_setup setup = rs == RingSetup::coop_taskrun    ? io_setup::coop_taskrun
                             : rs == RingSetup::defer_taskrun ? io_setup::defer_taskrun
                                                              : io_setup::normal;
      if (!w->ft) w->ft.emplace(w->tw);
      w->rings[st.ring] = std::make_unique<io_ring_ctx>(w->tw, *w->ft, id, setup, 0);
    }
    threads.push_back(id);
  }
  // Which of their returns to user space let another task of CPU 0 in (model preempt).
  sched_preempt_init(s, w->preempt, preempt, threads);
  s.add_invariant<msg_tot_len_holds, msg_tot_len_message>("msg_tot_len-accounting", *wp);
  // Bytes sent = received + dropped + queued. Added after msg_tot_len-accounting, which
  // bytes_queued relies on.
  s.add_invariant<nothing_lost_holds, nothing_lost_message>("nothing-lost", *wp);
  return w;
}

}  // namespace kpsim::script
