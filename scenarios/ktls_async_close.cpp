// ktls-async-close: seed 002, "Problem with io_uring splice and KTLS" (Sascha Hauer, io-uring /
// netdev, 2023-10). The reporter's webserver (webserver-uring-test): it splices a file into a
// pipe and the pipe into a kTLS socket with two IORING_OP_SPLICE requests, closes the socket
// with IORING_OP_CLOSE when the second completes; a client (curl) reads until EOF. With an
// asynchronous AEAD (cryptd) curl sometimes gets a short body.
//
// Tasks, in creation order: the NET_RX softirq (delivery + ACKs), the xmit-timer softirq, the
// server (the ring's submitter, or a plain process for io=plain), the client. Created on
// demand: io-wq workers (iou-wrk-N), cryptd, the tx_work kworker, delayed_fput.
//
// Properties (final): byte-conservation — every byte the server's splices reported is either
// read by the client inside a whole TLS record or accounted for as freed at close, and TCP
// delivered every byte it queued, in order; all-records-delivered — the client read every
// spliced byte before EOF. tcp-seq-order is a per-step invariant.
#include <algorithm>

#include <fmt/format.h>

#include "model/crypto/cryptd.h"
#include "model/io_uring/io_uring.h"
#include "model/fs/splice.h"
#include "model/net/ipv4/tcp.h"
#include "model/net/ipv4/tcp_timer.h"
#include "model/net/tls/tls_main.h"
#include "scenarios/kernel_sides.h"
#include "scenarios/tls_connection.h"

namespace kpsim {
namespace {

using namespace model;

constexpr uint64_t kUdF = 1, kUdS = 2, kUdClose = 3, kUdOther = 100;  // CQE user_data

struct CloseWorld final : World {
  // parameters
  std::string io;
  bool async = true, more = true;
  uint64_t bytes = 0, read_bytes = 0, read_ms = 0, others = 0;
  bool others_at_close = true;

  TlsConnection c{"server", "client"};
  tls_sync_aead sync_aead;
  cryptd_aead async_aead;
  task_works tw;
  file_table ft{tw};
  file sock_file;
  pipe_inode_info pipe;
  std::unique_ptr<io_ring_ctx> ring;
  tls_close_stats close_st;

  // the server
  uint64_t file_pos = 0, spliced = 0, splice_calls = 0;
  int64_t splice_err = 0;
  bool close_done = false;
  uint64_t t_close_ns = 0;
  // the client: what it decrypted
  uint64_t client_plaintext = 0, client_records = 0;
  bool client_eof = false;
  uint64_t t_eof_ns = 0;
  WaitQueue client_nap;  // the client's sleep between reads

  nlohmann::ordered_json metrics() const override;
};

nlohmann::ordered_json CloseWorld::metrics() const {
  nlohmann::ordered_json m;
  m["bytes_spliced"] = spliced;
  m["bytes_read"] = client_plaintext;
  m["records"] = c.tls.stats.records;
  m["records_read"] = client_records;
  m["async_records"] = c.tls.stats.async_records;
  m["async_waits"] = c.tls.stats.async_waits;
  m["tx_work_scheduled"] = c.tls.stats.tx_work_scheduled;
  m["tx_work_runs"] = c.tls.stats.tx_work_runs;
  m["tx_work_busy"] = c.tls.stats.tx_work_busy;
  m["close_by"] = close_st.closed_by;
  m["close_tx_records_rc"] = close_st.tx_records_rc;
  m["records_freed_at_close"] = close_st.records_freed;
  m["plaintext_freed_at_close"] = close_st.plaintext_freed;
  m["open_rec_dropped"] = close_st.open_rec_dropped;
  m["close_worker_flushes"] = close_st.worker_flushes;
  m["tif_notify_signal_adds"] = tw.signal_notifications;
  m["wait_memory_interrupted"] = c.tp.stats.wait_memory_interrupted;
  m["notify_signal_spins"] = c.tp.stats.notify_signal_spins;
  if (ring) {
    m["cqes"] = ring->stats.cqes;
    m["io_uring_task_work_adds"] = ring->stats.tw_adds;
    m["io_uring_local_work_adds"] = ring->stats.local_work_adds;
    m["iowq_workers_inline"] = ring->wq.stats.created_inline;
    m["iowq_create_requests"] = ring->wq.stats.create_requests;
  }
  m["t_close_ms"] = static_cast<double>(t_close_ns) / 1e6;
  m["t_eof_ms"] = static_cast<double>(t_eof_ns) / 1e6;
  m["error"] = splice_err;
  return m;
}

// sock_close → __sock_release → inet_release → sk->sk_prot->close.
Co<> sock_close(Sched& s, CloseWorld& w) {
  if (w.c.use_tls) co_await tls_sk_proto_close(s, w.c.tls, w.close_st);
  else co_await tcp_close(s, w.c.tp);
  w.close_done = true;
  w.t_close_ns = s.now_ns();
}

int splice_flags(const CloseWorld& w) { return w.more ? kSPLICE_F_MORE : 0; }

// ---- io_uring requests (io_uring/splice.c io_splice, issued in io-wq) ----------------------------

Co<> io_splice_file_to_pipe(Sched& s, CloseWorld& w, uint64_t len) {
  const int64_t res = co_await splice_file_to_pipe(s, w.pipe, w.file_pos, len);
  co_await io_req_complete_iowq(s, *w.ring, kUdF, res, nullptr);
}

Co<> io_splice_pipe_to_sock(Sched& s, CloseWorld& w, uint64_t len) {
  get_file(s, w.sock_file, "io_assign_file");  // req->file: the request's own reference
  ++w.splice_calls;
  const int64_t res = co_await splice_to_socket(s, w.pipe, w.c.sock, len, splice_flags(w));
  co_await io_req_complete_iowq(s, *w.ring, kUdS, res, &w.sock_file);
}

// Another connection's send, abstracted: it sleeps twice waiting for its peer, then completes.
Co<> io_other_request(Sched& s, CloseWorld& w, uint64_t i) {
  WaitQueue peer;
  for (int round = 0; round < 2; ++round)
    co_await peer.sleep(s, "other connection: sk_stream_wait_memory", false, s.jiffies_to_ns(1));
  co_await io_req_complete_iowq(s, *w.ring, kUdOther + i, 4096, nullptr);
}

void submit_f(Sched& s, CloseWorld& w, uint64_t len) {
  io_queue_iowq(s, *w.ring, "SPLICE file→pipe", [&s, &w, len]() { return io_splice_file_to_pipe(s, w, len); });
}
void submit_s(Sched& s, CloseWorld& w, uint64_t len) {
  io_queue_iowq(s, *w.ring, "SPLICE pipe→sock", [&s, &w, len]() { return io_splice_pipe_to_sock(s, w, len); });
}

// Other connections' requests, in the same io_uring_submit as our splices or as our close.
void submit_others(Sched& s, CloseWorld& w) {
  for (uint64_t i = 0; i < w.others; ++i)
    io_queue_iowq(s, *w.ring, "SPLICE (other connection)", [&s, &w, i]() { return io_other_request(s, w, i); });
}

// The webserver's loop: io_uring_wait_cqe, handle, io_uring_submit.
Co<> server_uring(Sched& s, CloseWorld& w) {
  io_ring_ctx& ctx = *w.ring;
  uint64_t f_left = w.bytes, s_left = w.bytes, outstanding = 2 + w.others;
  co_await s.user_point("io_uring_enter");
  s.note("app", "io_uring_submit: SPLICE file→pipe {} B, SPLICE pipe→sock {} B{}", w.bytes, w.bytes,
         w.more ? " (SPLICE_F_MORE)" : "");
  submit_f(s, w, f_left);
  submit_s(s, w, s_left);
  if (!w.others_at_close) submit_others(s, w);
  co_await exit_to_user_mode(s, w.tw);
  const std::function<bool()> idle = [&] { return !outstanding && w.close_done; };
  while (!idle()) {
    if (ctx.cq.empty()) {
      co_await s.user_point("io_uring_enter");  // io_uring_wait_cqe
      co_await io_cqring_wait(s, ctx, 1, idle);
      co_await exit_to_user_mode(s, w.tw);
      continue;
    }
    const io_uring_cqe cqe = ctx.cq.front();
    ctx.cq.pop_front();
    bool close = false, resubmit_f = false, resubmit_s = false;
    if (cqe.user_data == kUdF) {
      if (cqe.res > 0) f_left -= static_cast<uint64_t>(cqe.res);
      if (cqe.res > 0 && f_left) resubmit_f = true;
      else --outstanding;
    } else if (cqe.user_data == kUdS) {
      if (cqe.res > 0) {
        w.spliced += static_cast<uint64_t>(cqe.res);
        s_left -= static_cast<uint64_t>(cqe.res);
      } else {
        w.splice_err = cqe.res;
      }
      if (cqe.res > 0 && s_left) {
        resubmit_s = true;
      } else {  // complete_splice_request: done (or failed): close the socket
        close = true;
        --outstanding;
      }
    } else {
      --outstanding;  // the close, another connection's request
    }
    if (!close && !resubmit_f && !resubmit_s) continue;
    co_await s.user_point("io_uring_enter");  // io_uring_submit
    if (resubmit_f) submit_f(s, w, f_left);
    if (resubmit_s) submit_s(s, w, s_left);
    if (close) {
      s.note("app", "spliced {} B: io_uring_submit(IORING_OP_CLOSE sock)", w.spliced);
      ++outstanding;
      io_close(s, ctx, kUdClose, w.sock_file);
      if (w.others_at_close) submit_others(s, w);
    }
    co_await exit_to_user_mode(s, w.tw);
  }
  s.note("app", "server done: socket closed by {}", w.sock_file.released_by);
}

// io=plain: splice(2) file → pipe, splice(2) pipe → socket, close(2), all in the process.
Co<> server_plain(Sched& s, CloseWorld& w) {
  uint64_t left = w.bytes;
  while (left) {
    co_await s.user_point("splice(file, pipe)");
    const uint64_t room = uint64_t{w.pipe.max_usage} * kPageSize;
    const int64_t n = co_await splice_file_to_pipe(s, w.pipe, w.file_pos, std::min(left, room));
    co_await exit_to_user_mode(s, w.tw);
    co_await s.user_point("splice(pipe, sock)");
    ++w.splice_calls;
    const int64_t m = co_await splice_to_socket(s, w.pipe, w.c.sock, static_cast<uint64_t>(n), splice_flags(w));
    co_await exit_to_user_mode(s, w.tw);
    if (m <= 0) {
      w.splice_err = m;
      break;
    }
    w.spliced += static_cast<uint64_t>(m);
    left -= static_cast<uint64_t>(m);
  }
  co_await s.user_point("close(sock)");
  fput(s, w.ft, w.sock_file, "close");
  co_await exit_to_user_mode(s, w.tw);
  s.note("app", "server done: socket closed by {}", w.sock_file.released_by);
}

// curl: read until EOF, `read_bytes` per read, `read_ms` apart.
Co<> client(Sched& s, CloseWorld& w) {
  tcp_sock& sk = w.c.peer;
  for (;;) {
    while (!sk.rcv_queued() && !sk.rcv_eof()) co_await sk.sk_wq.sleep(s, "tcp_recvmsg: woken", false);
    if (sk.rcv_eof()) break;
    tcp_recvmsg(s, sk, w.read_bytes);
    // It decrypts a record once it has read all of it.
    w.client_plaintext += w.c.take_records(sk.copied_seq, w.client_records);
    if (w.read_ms) co_await w.client_nap.sleep(s, "client: read", false, w.read_ms * 1000000);
    else co_await s.user_point("client: read");
  }
  w.client_eof = true;
  w.t_eof_ns = s.now_ns();
  s.note("client", "EOF: {} B of plaintext in {} records (TCP {} B)", w.client_plaintext, w.client_records,
         sk.copied_seq);
}

class KtlsAsyncClose final : public Scenario {
 public:
  std::string_view name() const override { return "ktls-async-close"; }
  std::string_view summary() const override {
    return "seed 002: io_uring splice into kTLS with async crypto; close runs from task work and "
           "TIF_NOTIFY_SIGNAL aborts its flush: lost records";
  }
  const std::vector<ParamSpec>& params() const override {
    static const std::vector<ParamSpec> p = {
        {"io", "uring", "who splices and closes: io_uring (setup: default TWA_SIGNAL, COOP_TASKRUN, "
                        "SINGLE_ISSUER|DEFER_TASKRUN) or plain syscalls",
         {"uring", "uring-coop", "uring-defer", "plain"}},
        {"crypto", "async", "the AEAD: sync (AES-NI) or async (cryptd, CAAM)", {"async", "sync"}},
        {"bytes", "49152", "file size (3 TLS records by default)", {}, true, 1, 1 << 22},
        {"sndbuf", "4096", "SO_SNDBUF of the server socket (sk_sndbuf = 2x, at least 4608)", {}, true, 1, 1 << 24},
        {"rcvbuf", "16384", "the client's receive buffer: the window it advertises", {}, true, 1448, 1 << 24},
        {"read_bytes", "8192", "bytes per client read", {}, true, 1, 1 << 24},
        {"read_ms", "1", "ms between client reads (0: back to back)", {}, true, 0, 10000},
        {"mss", "1448", "sender MSS (Ethernet)", {}, true, 88, 65483},
        {"more", "1", "SPLICE_F_MORE on the pipe→socket splice (1: no record waits for its encryption)", {"1", "0"}},
        {"kernel", "6.12", "6.12: the sender waits for async encryptions at eor; 6.6: only for zero-copy "
                           "(the report's kernel; splice never waits)",
         switch_choices({kernel_version::v6_12, kernel_version::v6_6})},
        {"fix", "none", "none | task-sigpending (the unmerged sk_stream_wait_memory patch) | "
                        "flush-in-worker (the reviewers' alternative)",
         switch_choices({kfix::none, kfix::task_sigpending, kfix::flush_in_worker})},
        {"others", "0", "other connections' io-wq requests on the same ring", {}, true, 0, 4},
        {"others_at", "close", "submit them with our splices (start) or with our IORING_OP_CLOSE (close)", {"close", "start"}},
        {"iowq_max", "0", "IORING_REGISTER_IOWQ_MAX_WORKERS (0: unlimited)", {}, true, 0, 64},
        {"tls", "1.3", "kTLS TX version, or none for plain TCP", {"1.3", "1.2", "none"}},
    };
    return p;
  }
  const KernelSide* kernel_side() const override { return ktls_async_close_kernel_side(); }
  RunLimits default_limits() const override {
    RunLimits l;
    l.max_steps = 200000;
    l.max_time_ns = 600ull * 1000000000;
    return l;
  }

  std::unique_ptr<World> setup(Sched& s, const Params& p) const override {
    auto w = std::make_unique<CloseWorld>();
    CloseWorld* wp = w.get();
    w->io = p.get("io");
    w->async = p.get("crypto") == "async";
    w->bytes = static_cast<uint64_t>(p.get_int("bytes"));
    w->read_bytes = static_cast<uint64_t>(p.get_int("read_bytes"));
    w->read_ms = static_cast<uint64_t>(p.get_int("read_ms"));
    w->more = p.get("more") == "1";
    w->others = static_cast<uint64_t>(p.get_int("others"));
    w->others_at_close = p.get("others_at") == "close";
    w->c.kc.fix = *parse_switch<kfix>(p.get("fix"));
    w->c.kc.version = *parse_switch<kernel_version>(p.get("kernel"));

    tcp_config cfg;
    cfg.mss = static_cast<uint32_t>(p.get_int("mss"));
    cfg.so_sndbuf = static_cast<uint32_t>(p.get_int("sndbuf"));
    cfg.rcv_wnd = static_cast<uint64_t>(p.get_int("rcvbuf"));
    cfg.nodelay = true;  // the webserver sets TCP_NODELAY on every accepted socket
    tls_aead& aead = w->async ? static_cast<tls_aead&>(w->async_aead) : w->sync_aead;
    w->c.setup(s, cfg, p.get("tls"), aead);
    w->c.peer.rcv_buf_bytes = cfg.rcv_wnd;  // curl reads at its own pace: the window closes
    w->sock_file.name = "sock";
    w->sock_file.f_release = [&s, wp]() { return sock_close(s, *wp); };

    w->c.spawn_softirqs(s);
    if (w->io == "plain") {
      s.spawn("app:server", TaskKind::syscall, server_plain(s, *w), false, "splice");
    } else {
      const TaskId server = s.spawn("app:server", TaskKind::syscall, server_uring(s, *w), false, "io_uring_enter");
      const io_setup setup = w->io == "uring-defer" ? io_setup::defer_taskrun
                             : w->io == "uring-coop" ? io_setup::coop_taskrun
                                                     : io_setup::normal;
      w->ring = std::make_unique<io_ring_ctx>(w->tw, w->ft, server, setup, static_cast<uint32_t>(p.get_int("iowq_max")));
    }
    s.spawn("client:curl", TaskKind::syscall, client(s, *w), false, "tcp_recvmsg");

    w->c.add_seq_invariant(s);
    s.add_final_check("byte-conservation", [wp]() -> std::optional<std::string> {
      const tcp_sock& tp = wp->c.tp;
      if (wp->c.peer.rcv_nxt != tp.write_seq || wp->c.peer.copied_seq != tp.write_seq)
        return fmt::format("TCP queued {} B, the client received {} and read {}", tp.write_seq, wp->c.peer.rcv_nxt,
                           wp->c.peer.copied_seq);
      const tls_close_stats& c = wp->close_st;
      const uint64_t accounted = wp->client_plaintext + c.plaintext_freed + c.open_rec_dropped;
      if (accounted != wp->spliced)
        return fmt::format("spliced {} B but read {} + freed at close {} + dropped open record {} = {}", wp->spliced,
                           wp->client_plaintext, c.plaintext_freed, c.open_rec_dropped, accounted);
      return std::nullopt;
    });
    s.add_final_check("all-records-delivered", [wp]() -> std::optional<std::string> {
      if (wp->client_eof && wp->client_plaintext == wp->spliced && wp->spliced == wp->bytes) return std::nullopt;
      const tls_close_stats& c = wp->close_st;
      std::string why;
      if (c.records_freed)
        why = fmt::format(": tls_tx_records in {}'s close returned {}, {} record{} ({} B) freed unsent{}", c.closed_by,
                          c.tx_records_rc, c.records_freed, c.records_freed == 1 ? "" : "s", c.plaintext_freed,
                          c.partially_sent_freed ? ", the first partly sent" : "");
      else if (c.open_rec_dropped)
        why = fmt::format(": an open record of {} B was never pushed", c.open_rec_dropped);
      else if (wp->splice_err)
        why = fmt::format(": splice failed with {}", wp->splice_err);
      return fmt::format("the client read {} of {} spliced B ({} of {}) before EOF{}", wp->client_plaintext,
                         wp->spliced, wp->client_records, wp->c.tls.stats.records, why);
    });
    return w;
  }
};

}  // namespace

const Scenario& ktls_async_close_scenario() {
  static const KtlsAsyncClose s;
  return s;
}

}  // namespace kpsim
