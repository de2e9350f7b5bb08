// sockmap-multi-channels: the BPF selftest test_sockmap_multi_channels
// (tools/testing/selftests/bpf/prog_tests/sockmap_basic.c), run on the model.
//
// Two loopback pairs c0<->p0 and c1<->p1; p0 and p1 in a sockmap whose stream-verdict program
// redirects every skb to slot 1 (p1) with BPF_F_INGRESS. The single test thread executes the
// Script (scenarios/sockmap_script.h) — the same steps the real-kernel runner executes. The
// backlog worker of p1's psock is a kworker task; the scheduler decides when it runs.
#include <fmt/format.h>

#include "model/include/linux/errno.h"
#include "model/drivers/net/loopback.h"
#include "model/fs/select.h"
#include "model/net/ipv4/tcp.h"
#include "model/net/ipv4/udp.h"
#include "model/net/core/sock_map.h"
#include "model/net/ipv4/tcp_bpf.h"
#include "model/net/ipv4/udp_bpf.h"
#include "model/include/linux/tcp.h"
#include "scenarios/kernel_sides.h"
#include "scenarios/scenario.h"
#include "scenarios/sockmap_multi_channels.h"

namespace kpsim {
namespace {

using namespace model;
using sockmap::Script;
using sockmap::Sock;
using sockmap::Step;
using sockmap::StepKind;

struct MultiChannels : World {
  Script script;
  kernel_config kc;
  loopback lo;  // NET_RX runs inline in the sender (softirq_inline)
  // UDP: plain socks; TCP: tcp_socks (sk_alloc in setup).
  std::unique_ptr<sock> c0, c1, p0, p1;
  bpf_sockmap sock_map_rx;

  // Checkers' bookkeeping (not model state).
  uint64_t bytes_sent = 0;
  std::string received;
  const std::string* user_buffer = nullptr;  // bytes a recv has copied but not yet returned
  std::vector<int> recv_results;
  std::vector<int> fionread_samples;
  // Whether p1's backlog had moved every redirected skb to ingress_msg when the first recv
  // began: the schedule class the real-kernel runner steers and observes.
  std::string kworker_class;
  struct Origin {
    uint32_t channel, index;
  };
  std::map<char, Origin> origin;  // byte -> which channel sent it, at which position
  std::vector<uint32_t> next_index;

  sock& get(Sock s) {
    switch (s) {
      case Sock::c0: return *c0;
      case Sock::c1: return *c1;
      case Sock::p0: return *p0;
      case Sock::p1: return *p1;
    }
    return *p1;
  }

  nlohmann::ordered_json metrics() const override {
    nlohmann::ordered_json m;
    m["first_recv"] = recv_results.empty() ? nlohmann::ordered_json(nullptr)
                                           : nlohmann::ordered_json(recv_results.front());
    m["recv_results"] = recv_results;
    m["fionread_samples"] = fionread_samples;
    m["kworker_class"] = kworker_class;
    m["received"] = received;
    return m;
  }
};

int fionread(sock& sk) { return sk.is_tcp() ? tcp_bpf_ioctl(sk) : udp_bpf_ioctl(sk); }

// send(): one datagram, or the payload through tcp_sendmsg; either way NET_RX runs inline.
Co<int> send_call(Sched& s, sock& sk, const std::string& payload) {
  if (!sk.is_tcp()) co_return co_await udp_sendmsg(s, sk, payload);
  msghdr msg;
  msg.left = payload.size();
  msg.payload = payload;
  co_return static_cast<int>(co_await tcp_sendmsg(s, tcp_sk(sk), msg));
}

Co<int> recv_call(Sched& s, sock& sk, std::string& out, uint32_t len, bool dontwait) {
  if (sk.is_tcp()) co_return co_await tcp_bpf_recvmsg_parser(s, sk, out, len, dontwait);
  co_return co_await udp_bpf_recvmsg(s, sk, out, len, dontwait);
}

// Records received bytes and checks per-channel order: each byte is the next one its channel sent.
void account_received(Sched& s, MultiChannels& w, const std::string& got) {
  for (char c : got) {
    auto it = w.origin.find(c);
    if (it == w.origin.end()) {
      s.fail("delivered-once-in-order", fmt::format("received byte '{}' that nobody sent", c));
      return;
    }
    auto [ch, idx] = it->second;
    if (idx != w.next_index[ch]) {
      s.fail("delivered-once-in-order",
             fmt::format("byte '{}' of channel {} arrived at position {}, expected position {}", c,
                         ch, idx, w.next_index[ch]));
      return;
    }
    ++w.next_index[ch];
  }
  w.received += got;
}

// recv_timeout(): select for readability, then one recv.
Co<int> recv_timeout(Sched& s, MultiChannels& w, sock& sk, uint32_t len, bool dontwait,
                     uint32_t timeout_us) {
  if (!co_await do_select(s, sk, uint64_t{timeout_us} * 1000)) {
    s.note(sk.name, "select: not readable within {} us", timeout_us);
    co_return -kerr::eagain;  // the selftest reports ETIME
  }
  co_await s.user_point(s.label("recv", "recv {} {}B", sk.name, len));
  if (w.kworker_class.empty())
    w.kworker_class = sk.psock && !sk.psock->ingress_skb.empty() ? "kworker-after-recv"
                                                                  : "kworker-before-recv";
  std::string got;
  w.user_buffer = &got;
  const int n = co_await recv_call(s, sk, got, len, dontwait);
  w.user_buffer = nullptr;
  w.recv_results.push_back(n);
  account_received(s, w, got);
  co_return n;
}

void assert_received(Sched& s, const std::string& what, int n, const std::string& got,
                     const std::string& expect) {
  if (n != static_cast<int>(expect.size()))
    s.fail("selftest-assertion", fmt::format("{} returned {}, expected {}", what, n, expect.size()));
  else if (got != expect)
    s.fail("selftest-assertion", fmt::format("{}: data mismatch \"{}\" vs \"{}\"", what, got, expect));
}

Co<> run_step(Sched& s, MultiChannels& w, const Step& st) {
  sock& sk = w.get(st.sock);
  switch (st.kind) {
    case StepKind::send: {
      const int n = co_await send_call(s, sk, st.payload);
      w.bytes_sent += static_cast<uint64_t>(n);
      break;
    }
    case StepKind::wait_fionread: {
      int avail = 0;
      for (uint32_t waited = 0;; waited += st.poll_us) {
        avail = fionread(sk);
        w.fionread_samples.push_back(avail);
        s.note(sk.name, "ioctl(FIONREAD) = {}", avail);
        if (avail >= static_cast<int>(st.min_bytes) || waited >= st.timeout_us) break;
        WaitQueue usleep;  // nobody wakes it: only the timeout ends this sleep
        co_await usleep.sleep(s, "usleep(1000) done", false, uint64_t{st.poll_us} * 1000);
        co_await s.user_point("ioctl(FIONREAD)");
      }
      if (avail != static_cast<int>(st.min_bytes))
        s.fail("selftest-assertion",
               fmt::format("ioctl(FIONREAD) on {} = {}, expected {}", sk.name, avail, st.min_bytes));
      break;
    }
    case StepKind::recv: {
      const size_t before = w.received.size();
      const int n = co_await recv_timeout(s, w, sk, st.len, st.dontwait, st.select_timeout_us);
      assert_received(s, fmt::format("recv_timeout({})", sk.name), n, w.received.substr(before), st.expect);
      break;
    }
    case StepKind::recv_until: {
      const size_t before = w.received.size();
      uint32_t got = 0;
      while (got < st.len) {
        const int n = co_await recv_timeout(s, w, sk, st.len - got, st.dontwait, st.select_timeout_us);
        if (n <= 0) break;
        got += static_cast<uint32_t>(n);
        if (got < st.len) co_await s.user_point("recv loop: again");
      }
      assert_received(s, fmt::format("recv loop({})", sk.name), static_cast<int>(got),
                      w.received.substr(before), st.expect);
      break;
    }
  }
}

std::string_view step_label(Sched& s, const Step& st) {
  switch (st.kind) {
    case StepKind::send: return s.label("send", "send {} {}B", sock_name(st.sock), st.payload.size());
    case StepKind::wait_fionread:
      return s.label("wait_for_fionread", "wait_for_fionread({}, {})", sock_name(st.sock), st.min_bytes);
    case StepKind::recv: return s.label("recv_timeout", "recv_timeout({}, {})", sock_name(st.sock), st.len);
    case StepKind::recv_until: return s.label("recv loop", "recv loop({}, {})", sock_name(st.sock), st.len);
  }
  return "step";
}

Co<> selftest(Sched& s, MultiChannels& w) {
  for (size_t i = 0; i < w.script.steps.size(); ++i) {
    if (i > 0) co_await s.user_point(step_label(s, w.script.steps[i]));
    co_await run_step(s, w, w.script.steps[i]);
  }
}

uint64_t bytes_in_flight(const MultiChannels& w) {
  uint64_t n = w.user_buffer ? w.user_buffer->size() : 0;
  for (const sock* sk : {w.c0.get(), w.c1.get(), w.p0.get(), w.p1.get()}) {
    for (auto& skb : sk->sk_receive_queue) n += skb->len();
    if (sk->psock) {
      for (auto& skb : sk->psock->ingress_skb) n += skb->len();
      n += ingress_msg_bytes(*sk->psock);
    }
  }
  return n;
}

void connect_pair(sock& a, sock& b) {
  a.peer = &b;
  b.peer = &a;
}

class SockmapMultiChannels final : public Scenario {
 public:
  std::string_view name() const override { return "sockmap-multi-channels"; }
  std::string_view summary() const override {
    return "selftest test_sockmap_multi_channels: native + BPF-redirected data to one psock (seed 000)";
  }
  const std::vector<ParamSpec>& params() const override {
    static const std::vector<ParamSpec> p = {
        {"proto", "udp", "socket type of both pairs", {"udp", "tcp"}},
        {"test", "selftest", "selftest: one recv of all bytes; loop: the report's recv loop; "
                             "upstream: d9d7125e445d", {"selftest", "loop", "upstream"}},
        {"fionread", "current", "FIONREAD semantics: after 929e30f93125, or before it",
         switch_choices<fionread_semantics>()},
        {"self_redirect", "backlog", "p1's own skb redirected to p1: via ingress_skb + backlog "
                                     "worker, or normalised to a direct SK_PASS",
         switch_choices<self_redirect>()},
        {"kworker_cpu", "same", "where p1's backlog kworker runs: on the test thread's CPU (a "
                                "per-CPU workqueue on a non-preemptible kernel: it runs only when the "
                                "test is in user space or asleep), or on another CPU",
         {"same", "other"}},
        {"c1_bytes", "2", "bytes c1 sends natively to p1", {}, true, 1, 31},
        {"c0_bytes", "8", "bytes c0 sends to p0, redirected to p1", {}, true, 1, 31},
    };
    return p;
  }
  std::unique_ptr<World> setup(Sched& s, const Params& p) const override {
    auto w = std::make_unique<MultiChannels>();
    const bool tcp = p.get("proto") == "tcp";
    const auto c1b = static_cast<uint32_t>(p.get_int("c1_bytes"));
    const auto c0b = static_cast<uint32_t>(p.get_int("c0_bytes"));
    w->script = multi_channels_script(p);  // the same Script the kernel side runs
    w->lo.softirq_inline = true;
    w->kc.self = *parse_switch<self_redirect>(p.get("self_redirect"));
    w->kc.fionread = *parse_switch<fionread_semantics>(p.get("fionread"));
    const auto sk_alloc = [&](const char* name) -> std::unique_ptr<sock> {
      std::unique_ptr<sock> sk = tcp ? std::make_unique<tcp_sock>(name)
                                     : std::make_unique<sock>(name, sock_type::dgram);
      sk->kc = &w->kc;
      sk->lo = &w->lo;
      if (tcp) tcp_init_sock(s, tcp_sk(*sk), w->lo, tcp_config{});
      return sk;
    };
    w->c0 = sk_alloc("c0");
    w->c1 = sk_alloc("c1");
    w->p0 = sk_alloc("p0");
    w->p1 = sk_alloc("p1");
    connect_pair(*w->c0, *w->p0);
    connect_pair(*w->c1, *w->p1);

    // sock_map_rx = the Script's {key 0, key 1}; the verdict program redirects everything to
    // the Script's redirect_slot, ingress (the selftest: {p0, p1}, slot 1).
    w->sock_map_rx.slots = {&w->get(w->script.map_slot0), &w->get(w->script.map_slot1)};
    for (sock* sk : w->sock_map_rx.slots) {
      sk->psock = std::make_unique<sk_psock>(*sk, s);
      const bpf_sockmap* map = &w->sock_map_rx;
      sk->psock->stream_verdict = [map, slot = w->script.redirect_slot](sk_buff& skb) {
        return bpf_sk_redirect_map(skb, *map, slot, BPF_F_INGRESS);
      };
    }
    w->next_index = {0, 0};
    const std::string native = sockmap::channel_payload(0, c1b);
    const std::string redirected = sockmap::channel_payload(c1b, c0b);
    for (uint32_t i = 0; i < native.size(); ++i) w->origin[native[i]] = {0, i};
    for (uint32_t i = 0; i < redirected.size(); ++i) w->origin[redirected[i]] = {1, i};

    // The backlog work is queued on the CPU that ran the softirq: the sender's, the test's.
    const bool same_cpu = p.get("kworker_cpu") == "same";
    for (sock* sk : w->sock_map_rx.slots) sk->psock->work.set_cpu(same_cpu ? 0 : 1);
    MultiChannels* wp = w.get();
    const TaskId test = s.spawn("selftest", TaskKind::syscall, selftest(s, *wp), false,
                                step_label(s, wp->script.steps.front()));
    s.set_cpu(test, 0);
    s.add_invariant("msg_tot_len-accounting", [wp]() -> std::optional<std::string> {
      for (const sock* sk : wp->sock_map_rx.slots) {
        const uint64_t queued = ingress_msg_bytes(*sk->psock);
        if (sk->psock->msg_tot_len != queued)
          return fmt::format("{}: msg_tot_len {} but {} bytes queued in ingress_msg", sk->name,
                             sk->psock->msg_tot_len, queued);
      }
      return std::nullopt;
    });
    s.add_invariant("nothing-lost", [wp]() -> std::optional<std::string> {
      const uint64_t accounted = wp->received.size() + bytes_in_flight(*wp);
      if (accounted == wp->bytes_sent) return std::nullopt;
      return fmt::format("{} bytes sent but {} received + {} queued", wp->bytes_sent,
                         wp->received.size(), bytes_in_flight(*wp));
    });
    return w;
  }
  const KernelSide* kernel_side() const override { return sockmap_multi_channels_kernel_side(); }
  RunLimits default_limits() const override {
    RunLimits l;
    l.max_steps = 20000;
    l.max_time_ns = 120ull * 1000 * 1000 * 1000;
    return l;
  }
};

}  // namespace

const Scenario& sockmap_multi_channels_scenario() {
  static const SockmapMultiChannels s;
  return s;
}

}  // namespace kpsim
