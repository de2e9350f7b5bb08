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

#include "model/fs/read_write.h"
#include "model/net/ipv4/tcp.h"
#include "model/net/ipv4/tcp_timer.h"
#include "model/net/tls/tls_sw.h"
#include "scenarios/kernel_sides.h"
#include "scenarios/ktls_sendfile_stall.h"
#include "scenarios/tls_connection.h"

namespace kpsim {
namespace {

using namespace model;

struct KtlsWorld final : World {
  // parameters
  uint64_t bytes = 0, call_bytes = 0;
  bool api_sendfile = true;

  TlsConnection c{"sender", "receiver"};
  tls_sync_aead aead;
  splice_stats sst;

  // the sending process
  uint64_t sent = 0, syscalls = 0, longest_call_ns = 0, t_done_ns = 0;
  int64_t last_err = 0;
  // the checker's view of the receiver
  uint64_t plaintext_received = 0, records_received = 0;

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
  m["records"] = c.tls.stats.records;
  m["records_with_more"] = c.tls.stats.records_with_more;
  m["segments"] = c.tp.stats.segments;
  m["wire_packets"] = c.tp.stats.wire_packets;
  // Power-of-two buckets, then the most frequent exact sizes.
  nlohmann::ordered_json hist = nlohmann::ordered_json::object();
  std::map<uint32_t, uint64_t> buckets;
  for (auto& [len, n] : c.tp.stats.segment_sizes) buckets[std::bit_floor(len)] += n;
  for (auto& [lo_b, n] : buckets) hist[fmt::format("[{},{})", lo_b, uint64_t{lo_b} * 2)] = n;
  m["segment_size_hist"] = hist;
  std::vector<std::pair<uint64_t, uint32_t>> top;
  for (auto& [len, n] : c.tp.stats.segment_sizes) top.emplace_back(n, len);
  std::sort(top.begin(), top.end(), [](auto& a, auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  nlohmann::ordered_json tops = nlohmann::ordered_json::object();
  for (size_t i = 0; i < top.size() && i < 6; ++i) tops[std::to_string(top[i].second)] = top[i].first;
  m["segment_sizes_top"] = tops;
  m["persist_expiries"] = c.tp.stats.persist_expiries;
  m["persist_expiries_open_window"] = c.tp.stats.persist_open_window;
  m["wait_memory_calls"] = c.tp.stats.wait_memory_calls;
  m["wait_memory_s"] = static_cast<double>(c.tp.stats.wait_memory_ns) / 1e9;
  m["vm_waits"] = c.tp.stats.vm_waits;
  m["backlogged_acks"] = c.tp.stats.backlogged_acks;
  m["deferred_write_timers"] = c.tp.stats.deferred_write_timers;
  m["sk_sndbuf"] = c.tp.sk_sndbuf;
  m["snd_cwnd"] = c.tp.snd_cwnd;
  m["error"] = last_err;
  m["stalled"] = c.tp.stats.persist_open_window > 0;
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
      n = co_await do_sendfile(s, w.c.sock, pos, want, w.sst);
    } else {
      co_await s.point("write");
      s.note("app", "write({} B)", want);
      n = co_await sock_write_iter(s, w.c.sock, want);
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
  w.c.lo.sender_done = true;
  w.c.lo.napi.wake_up_all(s);
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
        {"fix", "none", "tls_sw variant",
         switch_choices({kfix::none, kfix::clear_more_on_full_record, kfix::flush_before_wait, kfix::flush_before_wait_naive})},
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
    w->api_sendfile = p.get("api") == "sendfile";
    w->c.kc.fix = *parse_switch<kfix>(p.get("fix"));
    tcp_config cfg;
    cfg.mss = static_cast<uint32_t>(p.get_int("mss"));
    cfg.sysctl_notsent_lowat = static_cast<uint32_t>(p.get_int("notsent_lowat"));
    cfg.so_sndbuf = static_cast<uint32_t>(p.get_int("sndbuf"));
    cfg.nodelay = p.get("nodelay") == "1";
    w->c.setup(s, cfg, p.get("tls"), w->aead);
    w->c.peer.app_reads_at_once = true;  // the reproducer's peer drains and ACKs at once

    KtlsWorld* wp = w.get();
    // The receiver decrypts a record once its last byte has arrived.
    w->c.lo.tap = [wp](Sched&, const sk_buff& skb) {
      wp->plaintext_received += wp->c.take_records(skb.end_seq, wp->records_received);
    };
    w->c.spawn_softirqs(s);
    s.spawn("app:sender", TaskKind::syscall, sender(s, *w), false, w->api_sendfile ? "sendfile" : "write");

    w->c.add_seq_invariant(s);
    s.add_final_check("byte-conservation", [wp]() -> std::optional<std::string> {
      const tcp_sock& tp = wp->c.tp;
      if (wp->last_err == 0 && wp->sent != wp->bytes)
        return fmt::format("application sent {} of {} B", wp->sent, wp->bytes);
      if (wp->c.peer.rcv_nxt != tp.write_seq)
        return fmt::format("receiver has {} of {} queued TCP bytes", wp->c.peer.rcv_nxt, tp.write_seq);
      if (wp->c.use_tls && (wp->c.wire_pushed != tp.write_seq || !wp->c.rec_bounds.empty()))
        return fmt::format("TLS records cover {} of {} TCP bytes, {} undelivered", wp->c.wire_pushed, tp.write_seq,
                           wp->c.rec_bounds.size());
      if (wp->plaintext_received != wp->sent)
        return fmt::format("receiver got {} plaintext bytes, application sent {}", wp->plaintext_received, wp->sent);
      return std::nullopt;
    });
    s.add_final_check("no-stall", [wp]() -> std::optional<std::string> {
      const tcp_stats& st = wp->c.tp.stats;
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
