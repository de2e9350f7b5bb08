// ktls-sendfile-stall: seed 001, "[RFC net] tls: TLS_SW sendfile() stalls at large MSS"
// (Mike Fara, netdev, 2026-06-03). The reproducer's sender over loopback: a loop of sendfile()
// (or write()) calls of up to `call_bytes` from a looped 4 MiB file into a kTLS (or plain TCP)
// socket until `bytes` are sent; the peer drains and ACKs at once.
//
// Tasks, in creation order (so that a schedule of all-zero choices runs softirqs before the
// process they woke, as a real CPU does): the NET_RX softirq (delivery + ACKs), the timer
// softirq of the xmit timer (PROBE0), the sending process.
//
// Properties: byte-conservation (final: every byte the application wrote arrives once, in
// order, as TCP sequence ranges and as TLS record payloads) and no-stall (final: no transfer
// waited on the persist timer while the peer's window was open). tcp-seq-order is a per-step
// invariant of the sender's sequence space.
#include <algorithm>
#include <bit>

#include <fmt/format.h>

#include "model/fs/splice.h"
#include "model/net/ipv4/tcp.h"
#include "model/net/ipv4/tcp_ipv4.h"
#include "model/net/ipv4/tcp_timer.h"
#include "model/net/tls/tls_sw.h"
#include "scenarios/kernel_sides.h"
#include "scenarios/ktls_sendfile_stall.h"
#include "scenarios/scenario.h"

namespace kpsim {
namespace {

using namespace model;

struct KtlsWorld final : World {
  // parameters
  uint64_t bytes = 0, call_bytes = 0;
  bool use_tls = true, api_sendfile = true;
  std::string tls_name, fix_name;

  loopback lo;
  tcp_sock tp;
  tls_context tls;
  tls_sync_aead aead;
  socket sock;
  splice_stats sst;

  // the sending process
  uint64_t sent = 0, syscalls = 0, longest_call_ns = 0, t_done_ns = 0;
  int64_t last_err = 0;
  // the checker's view of the receiver: TLS record boundaries on the wire, in push order
  std::deque<std::pair<uint64_t, uint32_t>> rec_bounds;  // (wire end seq, payload bytes)
  uint64_t wire_pushed = 0, plaintext_received = 0, records_received = 0;

  double elapsed_s() const { return static_cast<double>(t_done_ns) / 1e9; }
  nlohmann::ordered_json metrics() const override;
};

nlohmann::ordered_json KtlsWorld::metrics() const {
  nlohmann::ordered_json m;
  const double el = elapsed_s();
  m["bytes_sent"] = sent;
  m["bytes_received"] = plaintext_received;
  m["elapsed_s"] = el;
  m["throughput_MiB_s"] = el > 0 ? static_cast<double>(sent) / el / 1048576.0 : 0.0;
  m["throughput_GiB_s"] = el > 0 ? static_cast<double>(sent) / el / 1073741824.0 : 0.0;
  m["syscalls"] = syscalls;
  m["longest_call_s"] = static_cast<double>(longest_call_ns) / 1e9;
  m["records"] = tls.stats.records;
  m["records_with_more"] = tls.stats.records_with_more;
  m["segments"] = tp.stats.segments;
  m["wire_packets"] = tp.stats.wire_packets;
  // Power-of-two buckets, then the most frequent exact sizes.
  nlohmann::ordered_json hist = nlohmann::ordered_json::object();
  std::map<uint32_t, uint64_t> buckets;
  for (auto& [len, n] : tp.stats.segment_sizes) buckets[std::bit_floor(len)] += n;
  for (auto& [lo_b, n] : buckets) hist[fmt::format("[{},{})", lo_b, uint64_t{lo_b} * 2)] = n;
  m["segment_size_hist"] = hist;
  std::vector<std::pair<uint64_t, uint32_t>> top;
  for (auto& [len, n] : tp.stats.segment_sizes) top.emplace_back(n, len);
  std::sort(top.begin(), top.end(), [](auto& a, auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  nlohmann::ordered_json tops = nlohmann::ordered_json::object();
  for (size_t i = 0; i < top.size() && i < 6; ++i) tops[std::to_string(top[i].second)] = top[i].first;
  m["segment_sizes_top"] = tops;
  m["persist_expiries"] = tp.stats.persist_expiries;
  m["persist_expiries_open_window"] = tp.stats.persist_open_window;
  m["wait_memory_calls"] = tp.stats.wait_memory_calls;
  m["wait_memory_s"] = static_cast<double>(tp.stats.wait_memory_ns) / 1e9;
  m["vm_waits"] = tp.stats.vm_waits;
  m["backlogged_acks"] = tp.stats.backlogged_acks;
  m["deferred_write_timers"] = tp.stats.deferred_write_timers;
  m["sk_sndbuf"] = tp.sk_sndbuf;
  m["snd_cwnd"] = tp.snd_cwnd;
  m["error"] = last_err;
  m["stalled"] = tp.stats.persist_open_window > 0;
  return m;
}

Co<> sender(Sched& s, KtlsWorld& w) {
  constexpr uint64_t kFileSize = kStallFileBytes;  // the reproducer's backing file, looped
  uint64_t pos = 0;
  while (w.sent < w.bytes) {
    if (pos >= kFileSize) pos = 0;
    const uint64_t want = std::min({w.call_bytes, kFileSize - pos, w.bytes - w.sent});
    const uint64_t t0 = s.now_ns();
    ++w.syscalls;
    int64_t n;
    if (w.api_sendfile) {
      s.note("app", "sendfile({} B at offset {})", want, pos);
      n = co_await do_sendfile(s, w.sock, pos, want, w.sst);
    } else {
      co_await s.point("write");
      s.note("app", "write({} B)", want);
      n = co_await sock_write_iter(s, w.sock, want);
      if (n > 0) pos += static_cast<uint64_t>(n);
    }
    w.longest_call_ns = std::max(w.longest_call_ns, s.now_ns() - t0);
    if (n == -kerr::eintr || n == -kerr::erestartsys) continue;  // restarted / retried
    if (n <= 0) {
      w.last_err = n;
      s.note("app", "send failed: {}", n);
      break;
    }
    w.sent += static_cast<uint64_t>(n);
  }
  w.t_done_ns = s.now_ns();
  s.note("app", "{} B sent in {:.3f} s virtual", w.sent, w.elapsed_s());
  w.lo.sender_done = true;
  w.lo.napi.wake_up_all(s);
}

class KtlsSendfileStall final : public Scenario {
 public:
  std::string_view name() const override { return "ktls-sendfile-stall"; }
  std::string_view summary() const override {
    return "seed 001: kTLS sendfile at large MSS corks full records (MSG_MORE) and crawls at the persist timer";
  }
  const std::vector<ParamSpec>& params() const override {
    static const std::vector<ParamSpec> p = {
        {"bytes", "4194304", "bytes to send in total", {}, true, 1, 1ll << 34},
        {"call_bytes", "4194304", "bytes per sendfile()/write() call (the reproducer: its 4 MiB file)", {}, true, 1, 1ll << 31},
        {"mss", "65483", "sender MSS (mss_cache; loopback 65483, TCP_MAXSEG 1448 gives 1436)", {}, true, 88, 65483},
        {"notsent_lowat", "4294967295", "net.ipv4.tcp_notsent_lowat (4294967295: disabled; the report's hosts: 16384)", {}, true, 1, 4294967295ll},
        {"sndbuf", "0", "SO_SNDBUF (0: not set, autotuned)", {}, true, 0, 1ll << 30},
        {"tls", "1.3", "kTLS TX version, or none for plain TCP", {"1.3", "1.2", "none"}},
        {"api", "sendfile", "sendfile() (splice, MSG_MORE|MSG_SPLICE_PAGES) or write()", {"sendfile", "write"}},
        {"fix", "none", "tls_sw variant", {"none", "clear-more-on-full-record", "flush-before-wait", "flush-before-wait-naive"}},
        {"nodelay", "0", "TCP_NODELAY on the sender", {"0", "1"}},
    };
    return p;
  }
  const KernelSide* kernel_side() const override { return ktls_sendfile_stall_kernel_side(); }
  RunLimits default_limits() const override {
    RunLimits l;
    l.max_steps = 100'000'000;
    l.max_time_ns = 48ull * 3600 * 1000000000;  // a stalled 2 GiB run is ~7 virtual hours
    return l;
  }

  std::unique_ptr<World> setup(Sched& s, const Params& p) const override {
    auto w = std::make_unique<KtlsWorld>();
    w->bytes = static_cast<uint64_t>(p.get_int("bytes"));
    w->call_bytes = static_cast<uint64_t>(p.get_int("call_bytes"));
    w->use_tls = p.get("tls") != "none";
    w->api_sendfile = p.get("api") == "sendfile";
    const std::string& fix = p.get("fix");
    w->tls.fix = fix == "clear-more-on-full-record" ? tls_fix::clear_more_on_full_record
                 : fix == "flush-before-wait"       ? tls_fix::flush_before_wait
                 : fix == "flush-before-wait-naive" ? tls_fix::flush_before_wait_naive
                                                    : tls_fix::none;
    tcp_config cfg;
    cfg.mss = static_cast<uint32_t>(p.get_int("mss"));
    cfg.sysctl_notsent_lowat = static_cast<uint32_t>(p.get_int("notsent_lowat"));
    cfg.so_sndbuf = static_cast<uint32_t>(p.get_int("sndbuf"));
    cfg.nodelay = p.get("nodelay") == "1";
    tcp_init_sock(s, w->tp, w->lo, cfg);

    KtlsWorld* wp = w.get();
    w->sock.sk = &w->tp;
    w->sock.sendmsg = [wp](Sched& sch, msghdr& m) { return tcp_sendmsg(sch, wp->tp, m); };
    w->sock.splice_eof = [wp](Sched& sch) { return tcp_splice_eof(sch, wp->tp); };
    if (w->use_tls) {
      tls_set_sw_offload(s, w->tls, w->sock, p.get("tls") == "1.2" ? tls_version::v1_2 : tls_version::v1_3, w->aead);
      w->tls.on_record = [wp](const tls_rec& rec, uint32_t wire) {
        wp->wire_pushed += wire;
        wp->rec_bounds.emplace_back(wp->wire_pushed, rec.pl_size);
      };
    }
    w->lo.on_receive = [wp](Sched&, const tcp_segment& seg) {
      if (!wp->use_tls) {
        wp->plaintext_received += seg.end_seq - seg.seq;
        return;
      }
      // The receiver decrypts a record once its last byte has arrived.
      while (!wp->rec_bounds.empty() && wp->rec_bounds.front().first <= seg.end_seq) {
        wp->plaintext_received += wp->rec_bounds.front().second;
        ++wp->records_received;
        wp->rec_bounds.pop_front();
      }
    };

    s.spawn("softirq:net_rx", TaskKind::softirq, net_rx_action(s, w->lo, w->tp), false, "net_rx_action");
    s.spawn("timer:tcp_write_timer", TaskKind::timer, tcp_write_timer_softirq(s, w->tp), true, "tcp_write_timer");
    s.spawn("app:sender", TaskKind::syscall, sender(s, *w), false, w->api_sendfile ? "sendfile" : "write");

    s.add_invariant("tcp-seq-order", [wp]() -> std::optional<std::string> {
      const tcp_sock& tp = wp->tp;
      if (tp.snd_una <= tp.snd_nxt && tp.snd_nxt <= tp.write_seq && tp.sk_wmem_queued >= 0 &&
          wp->lo.rcv_nxt <= tp.snd_nxt)
        return std::nullopt;
      return fmt::format("snd_una {} snd_nxt {} write_seq {} rcv_nxt {} wmem_queued {}", tp.snd_una, tp.snd_nxt,
                         tp.write_seq, wp->lo.rcv_nxt, tp.sk_wmem_queued);
    });
    s.add_final_check("byte-conservation", [wp]() -> std::optional<std::string> {
      const tcp_sock& tp = wp->tp;
      if (wp->last_err == 0 && wp->sent != wp->bytes)
        return fmt::format("application sent {} of {} B", wp->sent, wp->bytes);
      if (wp->lo.rcv_nxt != tp.write_seq)
        return fmt::format("receiver has {} of {} queued TCP bytes", wp->lo.rcv_nxt, tp.write_seq);
      if (wp->use_tls && (wp->wire_pushed != tp.write_seq || !wp->rec_bounds.empty()))
        return fmt::format("TLS records cover {} of {} TCP bytes, {} undelivered", wp->wire_pushed, tp.write_seq,
                           wp->rec_bounds.size());
      if (wp->plaintext_received != wp->sent)
        return fmt::format("receiver got {} plaintext bytes, application sent {}", wp->plaintext_received, wp->sent);
      return std::nullopt;
    });
    s.add_final_check("no-stall", [wp]() -> std::optional<std::string> {
      const tcp_stats& st = wp->tp.stats;
      if (!st.persist_open_window) return std::nullopt;
      const double el = wp->elapsed_s();
      return fmt::format(
          "{} persist-timer (PROBE0) expiries found data held with the peer's window open, the first at "
          "{:.3f} s; {} B took {:.2f} s virtual ({:.1f} KiB/s), longest call {:.2f} s, {:.2f} s asleep in "
          "sk_stream_wait_memory",
          st.persist_open_window, static_cast<double>(st.first_persist_open_ns) / 1e9, wp->sent, el,
          el > 0 ? static_cast<double>(wp->sent) / el / 1024.0 : 0.0,
          static_cast<double>(wp->longest_call_ns) / 1e9, static_cast<double>(st.wait_memory_ns) / 1e9);
    });
    return w;
  }
};

}  // namespace

const Scenario& ktls_sendfile_stall_scenario() {
  static const KtlsSendfileStall s;
  return s;
}

}  // namespace kpsim
