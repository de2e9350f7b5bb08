// The splice world of scenario scripts: a stream Program (one loopback TCP connection) whose
// server thread splices a file through a pipe into the socket and closes it - with splice(2)
// and close(2) (`splice_loop`, `close`) or through an io_uring (`uring_splice_close`, the
// reporter's webserver) - while a client thread reads until EOF (`read_until_eof`, curl). Seed
// 002, "Problem with io_uring splice and KTLS" (scenarios/ktls-async-close.kps).
//
// Tasks, in creation order: the NET_RX softirq (delivery + ACKs), the xmit-timer softirq, the
// server (the ring's submitter, or a plain process), the client. Created on demand: io-wq
// workers (iou-wrk-N), cryptd, the tx_work kworker, delayed_fput.
//
// Checks (`property NAME`): tcp-seq-order (per step), byte-conservation (final: every byte the
// server's splices reported is either read by the client inside a whole TLS record or accounted
// for as freed at close, and TCP delivered every byte it queued, in order),
// all-records-delivered (final: the client read every spliced byte before EOF). Every label,
// note, message and metric is spelled as the compiled seed-002 scenario
// (scenarios/ktls_async_close.cpp, removed) spelled it, so that its recorded findings replay
// byte for byte; tests/script_stream_test.cpp compared the two trace for trace and keeps the
// digests.
#include <algorithm>

#include <fmt/format.h>

#include "model/crypto/cryptd.h"
#include "model/fs/splice.h"
#include "model/io_uring/io_uring.h"
#include "model/net/ipv4/tcp.h"
#include "model/net/ipv4/tcp_timer.h"
#include "model/net/tls/tls_main.h"
#include "scenarios/script/model_world.h"
#include "scenarios/tls_connection.h"
#include "model/state.h"

namespace kpsim::script {
namespace {

using namespace model;


constexpr uint64_t kUdF = 1, kUdS = 2, kUdClose = 3, kUdOther = 100;  // CQE user_data

struct SpliceWorld final : World {
  std::shared_ptr<const Program> prog;
  // what the steps ask
  bool more = true;
  uint64_t bytes = 0, read_bytes = 0, read_ms = 0, others = 0;
  bool others_at_close = true;

  TlsConnection c;
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

  SpliceWorld(std::string server, std::string client) : c(std::move(server), std::move(client)) {}
  nlohmann::ordered_json metrics() const override;
  bool metrics_key(std::string& key) const override;

  Sched* sched = nullptr;  // for the task names of task_work's lists (state only)
  // Both ends' TCP, kTLS TX and its crypto engine, the pipe, the socket file, the ring and
  // every task's task_work list, and the server's and client's progress.
  void visit_state(StateVisitor& v) const override {
    model::visit_state(v, c.tp.name, c.tp);
    model::visit_state(v, c.peer.name, c.peer);
    if (c.use_tls) model::visit_state(v, "tls", c.tls);
    if (c.tls.aead == &async_aead) model::visit_state(v, "cryptd", async_aead);
    model::visit_state(v, "pipe", pipe);
    model::visit_state(v, "file.sock", sock_file);
    if (ring) model::visit_state(v, "io_uring", *ring);
    if (sched)
      model::visit_task_works(v, tw, [this](TaskId id) { return std::string(sched->task(id).name); });
    v.u("app.spliced", spliced);
    v.flag("app.close_done", close_done);
    v.u("app.client_plaintext", client_plaintext);
    v.flag("app.client_eof", client_eof);
  }
};

nlohmann::ordered_json SpliceWorld::metrics() const {
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

// Everything metrics() reads, in its order (each number widened to 64 bits: one encoding for all).
bool SpliceWorld::metrics_key(std::string& key) const {
  // The numbers as one array, appended at once: 26 appends of 8 bytes cost about 700
  // instructions a schedule, one a tenth of that. Without a ring its figures are 0 (the flag
  // before them tells the two apart).
  const io_ring_ctx* r = ring.get();
  const uint64_t nums[] = {
      spliced,
      client_plaintext,
      c.tls.stats.records,
      client_records,
      c.tls.stats.async_records,
      c.tls.stats.async_waits,
      c.tls.stats.tx_work_scheduled,
      c.tls.stats.tx_work_runs,
      c.tls.stats.tx_work_busy,
      static_cast<uint64_t>(static_cast<int64_t>(close_st.tx_records_rc)),
      close_st.records_freed,
      close_st.plaintext_freed,
      close_st.open_rec_dropped,
      close_st.worker_flushes,
      tw.signal_notifications,
      c.tp.stats.wait_memory_interrupted,
      c.tp.stats.notify_signal_spins,
      r != nullptr,
      r ? r->stats.cqes : 0,
      r ? r->stats.tw_adds : 0,
      r ? r->stats.local_work_adds : 0,
      r ? r->wq.stats.created_inline : 0,
      r ? r->wq.stats.create_requests : 0,
      t_close_ns,
      t_eof_ns,
      static_cast<uint64_t>(splice_err),
  };
  key_put(key, nums);
  key_put(key, std::string_view(close_st.closed_by));
  return true;
}

// sock_close → __sock_release → inet_release → sk->sk_prot->close.
Co<> sock_close(Sched& s, SpliceWorld& w) {
  if (w.c.use_tls) co_await tls_sk_proto_close(s, w.c.tls, w.close_st);
  else co_await tcp_close(s, w.c.tp);
  w.close_done = true;
  w.t_close_ns = s.now_ns();
}

int splice_flags(const SpliceWorld& w) { return w.more ? kSPLICE_F_MORE : 0; }

// ---- io_uring requests (io_uring/splice.c io_splice, issued in io-wq) ----------------------------

Co<> io_splice_file_to_pipe(Sched& s, SpliceWorld& w, uint64_t len) {
  const int64_t res = co_await splice_file_to_pipe(s, w.pipe, w.file_pos, len);
  co_await io_req_complete_iowq(s, *w.ring, kUdF, res, nullptr);
}

Co<> io_splice_pipe_to_sock(Sched& s, SpliceWorld& w, uint64_t len) {
  get_file(s, w.sock_file, "io_assign_file");  // req->file: the request's own reference
  ++w.splice_calls;
  const int64_t res = co_await splice_to_socket(s, w.pipe, w.c.sock, len, splice_flags(w));
  co_await io_req_complete_iowq(s, *w.ring, kUdS, res, &w.sock_file);
}

// Another connection's send, abstracted: it sleeps twice waiting for its peer, then completes.
Co<> io_other_request(Sched& s, SpliceWorld& w, uint64_t i) {
  WaitQueue peer;
  for (int round = 0; round < 2; ++round)
    co_await peer.sleep(s, "other connection: sk_stream_wait_memory", false, s.jiffies_to_ns(1));
  co_await io_req_complete_iowq(s, *w.ring, kUdOther + i, 4096, nullptr);
}

void submit_f(Sched& s, SpliceWorld& w, uint64_t len) {
  io_queue_iowq(s, *w.ring, "SPLICE file→pipe", [&s, &w, len]() { return io_splice_file_to_pipe(s, w, len); });
}
void submit_s(Sched& s, SpliceWorld& w, uint64_t len) {
  io_queue_iowq(s, *w.ring, "SPLICE pipe→sock", [&s, &w, len]() { return io_splice_pipe_to_sock(s, w, len); });
}

// Other connections' requests, in the same io_uring_submit as our splices or as our close.
void submit_others(Sched& s, SpliceWorld& w) {
  for (uint64_t i = 0; i < w.others; ++i)
    io_queue_iowq(s, *w.ring, "SPLICE (other connection)", [&s, &w, i]() { return io_other_request(s, w, i); });
}

// uring_splice_close: the webserver's loop: io_uring_wait_cqe, handle, io_uring_submit.
Co<> server_uring(Sched& s, SpliceWorld& w) {
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

// splice_loop then close: splice(2) file → pipe, splice(2) pipe → socket, close(2), all in the
// process.
Co<> server_plain(Sched& s, SpliceWorld& w) {
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

// read_until_eof: curl reads until EOF, `read_bytes` per read, `read_ms` apart.
Co<> curl(Sched& s, SpliceWorld& w) {
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

// ---- what the splice world runs, and refuses ------------------------------------------------

// The checks a splice program may ask for (`property NAME`).
enum class SpliceCheck : uint8_t { seq_order, byte_conservation, all_records_delivered };

// What the world reads of its Program, checked: a function of the Program alone (the pointers
// point into it), worked out once per Program object (splice_shape).
struct Shape {
  const Thread* server = nullptr;
  const Thread* client = nullptr;
  const Step* splice = nullptr;  // splice_loop or uring_splice_close
  const Step* read = nullptr;    // read_until_eof
  kfix fix = kfix::none;
  kernel_version version = kernel_version::v6_12;
  std::vector<SpliceCheck> checks;  // p.checks, in order
};

Shape check_splice_program(const Program& p) {
  const Loc where{p.file, 0, 0};
  refuse_all_but_one_tcp_connection(p, "a splice program");
  if (p.threads.size() != 2)
    unsupported(p.threads.size() > 2 ? p.threads[2].loc : where,
                "a splice program has two threads: the server (splice_loop and close, or "
                "uring_splice_close) and the client (read_until_eof), in that order");
  Shape sh;
  sh.server = &p.threads[0];
  sh.client = &p.threads[1];
  const auto& ss = sh.server->steps;
  const bool plain = ss.size() == 2 && ss[0].op == Op::splice_loop && ss[1].op == Op::close && ss[1].sock == ss[0].sock;
  const bool uring = ss.size() == 1 && ss[0].op == Op::uring_splice_close;
  if (!plain && !uring)
    unsupported(sh.server->loc, "the server thread is `splice_loop(F, P, S, N, FLAGS)` then `close(S)`, or "
                                "`uring_splice_close(RING, F, P, S, N, FLAGS)`");
  sh.splice = &ss[0];
  if (sh.client->steps.size() != 1 || sh.client->steps[0].op != Op::read_until_eof)
    unsupported(sh.client->loc, "the client thread is one `read_until_eof(S, LEN, PAUSE)`");
  sh.read = &sh.client->steps[0];
  const uint32_t server = sh.splice->sock, client = p.socks[server].peer;
  if (sh.read->sock != client) unsupported(sh.read->loc, "the client reads the other end of the server's socket");
  for (const Step* st : {sh.splice, sh.read, plain ? &ss[1] : sh.splice})
    if (st->expect.ret || st->expect.data || st->expect.within_us)
      unsupported(st->loc, "expectations on the splice program's steps (its checks are `property NAME`)");
  if (sh.splice->total > p.files[sh.splice->file].size)
    unsupported(sh.splice->loc, "splicing more than the file holds (EOF is not modelled)");
  const Socket& srv = p.socks[server];
  const Socket& cli = p.socks[client];
  if (!srv.nodelay) unsupported(srv.loc, "a splice server without TCP_NODELAY (the webserver sets it; Nagle with "
                                        "splice is not exercised)");
  if (srv.rcvbuf || srv.drain || srv.window_clamp) unsupported(srv.loc, "SO_RCVBUF, TCP_WINDOW_CLAMP or drain on the server");
  if (cli.rcvbuf || cli.sndbuf || cli.nodelay || cli.maxseg || cli.drain)
    unsupported(cli.loc, "socket options other than TCP_WINDOW_CLAMP on the client (the model's connection takes "
                         "the server's MSS and buffer); the client reads with read_until_eof, not drain");
  if (!cli.window_clamp) unsupported(cli.loc, "a client without TCP_WINDOW_CLAMP: the window it advertises must be given");
  if (p.tls_rx) unsupported(p.tls_rx->loc, "kTLS RX (tls_rx) with splice and io_uring");
  if (p.tls_tx && p.tls_tx->sock != server) unsupported(p.tls_tx->loc, "kTLS TX on the client");
  if (p.sysctl_tcp_notsent_lowat) unsupported(where, "net.ipv4.tcp_notsent_lowat in a splice program");
  if (p.pipes.size() != 1) unsupported(where, "a splice program has one pipe");
  if (uring != (p.rings.size() == 1)) unsupported(where, "an io_uring exactly when the server uses uring_splice_close");
  for (const Check& ch : p.checks)
    if (ch.name == "no-stall") unsupported(ch.loc, "property no-stall in a splice program");
  if (sh.read->timeout_us % 1000)
    unsupported(sh.read->loc, "a read pause that is not whole milliseconds");
  const auto fix = parse_switch<kfix>(p.model.fix);
  const auto version = parse_switch<kernel_version>(p.model.kernel);
  if (!fix) unsupported(where, fmt::format("model fix = {}", p.model.fix));
  if (!version) unsupported(where, fmt::format("model kernel = {}", p.model.kernel));
  // 6.1's splice into a socket goes through ->sendpage (generic_splice_sendpage), modelled for
  // sendfile only; its io_uring and close paths differ too.
  if (*version == kernel_version::v6_1)
    unsupported(where, "model kernel = 6.1 with splice/io_uring (6.1 is modelled for sendfile/write)");
  sh.fix = *fix;
  sh.version = *version;
  // The paced reader's reads are modelled as window updates only (tcp_recvmsg's count), not
  // through the delayed-ACK engine: its ACKs stay immediate (issue 15 left this world as is).
  if (p.model.cpu != "none")
    unsupported(where, fmt::format("model cpu = {} in a splice program (the cost model is charged in "
                                   "the stream world only)", p.model.cpu));
  if (!p.model.acks.empty() && p.model.acks != "immediate")
    unsupported(where, fmt::format("model acks = {} in a splice program (its receiver ACKs every "
                                   "segment at once; delayed ACKs are modelled in the stream world)",
                                   p.model.acks));
  for (const Check& ch : p.checks) {
    if (ch.name == "tcp-seq-order") sh.checks.push_back(SpliceCheck::seq_order);
    else if (ch.name == "byte-conservation") sh.checks.push_back(SpliceCheck::byte_conservation);
    else if (ch.name == "all-records-delivered") sh.checks.push_back(SpliceCheck::all_records_delivered);
    else unsupported(ch.loc, fmt::format("check {} in a splice program", ch.name));
  }
  return sh;
}

// check_splice_program once per Program object: a search shares one Program across its
// schedules (ScriptScenario::setup), and checking, parsing the model switches and copying the
// file name for a Loc each schedule cost about 400 instructions of a seed-002 schedule
// (callgrind). As build_script_world does for sockmap programs: the weak_ptr alive and the same
// address is the same object; a refused Program throws before it is remembered, so every
// schedule of one refuses again, with the same message.
const Shape& splice_shape(const std::shared_ptr<const Program>& prog) {
  struct Known {
    std::weak_ptr<const Program> prog;
    const Program* raw = nullptr;
    Shape shape;
  };
  thread_local Known known;
  if (known.raw != prog.get() || known.prog.expired()) {
    Known k;
    k.shape = check_splice_program(*prog);
    k.prog = prog;
    k.raw = prog.get();
    known = std::move(k);
  }
  return known.shape;
}

}  // namespace

std::unique_ptr<World> build_splice_world(Sched& s, std::shared_ptr<const Program> prog) {
  const Program& p = *prog;
  const Shape& sh = splice_shape(prog);
  const uint32_t server = sh.splice->sock;
  const Socket& srv = p.socks[server];
  const Socket& cli = p.socks[srv.peer];
  auto w = std::make_unique<SpliceWorld>(srv.name, cli.name);
  w->sched = &s;
  w->prog = std::move(prog);
  SpliceWorld* wp = w.get();
  w->bytes = sh.splice->total;
  w->more = sh.splice->splice_more;
  w->read_bytes = sh.read->len;
  w->read_ms = sh.read->timeout_us / 1000;
  const Ring* ring = p.rings.empty() ? nullptr : &p.rings.front();
  if (ring) {
    w->others = ring->others;
    w->others_at_close = ring->others_at_close;
  }
  w->c.kc.fix = sh.fix;
  w->c.kc.version = sh.version;

  // One tcp_config for both ends: the server's MSS (TCP_MAXSEG less the timestamp option),
  // SO_SNDBUF and TCP_NODELAY, the client's window (TCP_WINDOW_CLAMP) as the server's send window.
  tcp_config cfg;
  if (srv.maxseg) cfg.mss = *srv.maxseg - kTCPOLEN_TSTAMP_ALIGNED;
  if (srv.sndbuf) cfg.so_sndbuf = *srv.sndbuf;
  cfg.rcv_wnd = *cli.window_clamp;
  cfg.nodelay = srv.nodelay;
  std::optional<tls_version> version;  // none: plain TCP
  if (p.tls_tx) version = p.tls_tx->version == TlsVersion::v1_2 ? tls_version::v1_2 : tls_version::v1_3;
  const bool async = p.tls_tx && p.tls_tx->crypto == Crypto::async;
  tls_aead& aead = async ? static_cast<tls_aead&>(w->async_aead) : w->sync_aead;
  w->c.sender_accepted = srv.server_side;
  w->c.receiver_window_clamp = *cli.window_clamp;
  w->c.setup(s, cfg, version, aead);
  w->c.peer.rcv_buf_bytes = cfg.rcv_wnd;  // curl reads at its own pace: the window closes
  w->sock_file.name = "sock";
  w->sock_file.f_release = [&s, wp]() { return sock_close(s, *wp); };

  w->c.spawn_softirqs(s);
  if (!ring) {
    s.spawn(sh.server->name, TaskKind::syscall, server_plain(s, *w), false, "splice");
  } else {
    const TaskId id = s.spawn(sh.server->name, TaskKind::syscall, server_uring(s, *w), false, "io_uring_enter");
    const io_setup setup = ring->setup == RingSetup::defer_taskrun  ? io_setup::defer_taskrun
                           : ring->setup == RingSetup::coop_taskrun ? io_setup::coop_taskrun
                                                                     : io_setup::normal;
    w->ring = std::make_unique<io_ring_ctx>(w->tw, w->ft, id, setup, ring->iowq_max);
  }
  s.spawn(sh.client->name, TaskKind::syscall, curl(s, *w), false, "tcp_recvmsg");

  for (const SpliceCheck ch : sh.checks) {
    if (ch == SpliceCheck::seq_order) {
      w->c.add_seq_invariant(s);
    } else if (ch == SpliceCheck::byte_conservation) {
      s.add_final_check("byte-conservation", [wp]() -> std::optional<std::string> {
        const tcp_sock& tp = wp->c.tp;
        if (wp->c.peer.rcv_nxt != tp.write_seq || wp->c.peer.copied_seq != tp.write_seq)
          return fmt::format("TCP queued {} B, the client received {} and read {}", tp.write_seq,
                             wp->c.peer.rcv_nxt, wp->c.peer.copied_seq);
        const tls_close_stats& c = wp->close_st;
        const uint64_t accounted = wp->client_plaintext + c.plaintext_freed + c.open_rec_dropped;
        if (accounted != wp->spliced)
          return fmt::format("spliced {} B but read {} + freed at close {} + dropped open record {} = {}",
                             wp->spliced, wp->client_plaintext, c.plaintext_freed, c.open_rec_dropped, accounted);
        return std::nullopt;
      });
    } else {  // SpliceCheck::all_records_delivered
      s.add_final_check("all-records-delivered", [wp]() -> std::optional<std::string> {
        if (wp->client_eof && wp->client_plaintext == wp->spliced && wp->spliced == wp->bytes) return std::nullopt;
        const tls_close_stats& c = wp->close_st;
        std::string why;
        if (c.records_freed)
          why = fmt::format(": tls_tx_records in {}'s close returned {}, {} record{} ({} B) freed unsent{}",
                            c.closed_by, c.tx_records_rc, c.records_freed, c.records_freed == 1 ? "" : "s",
                            c.plaintext_freed, c.partially_sent_freed ? ", the first partly sent" : "");
        else if (c.open_rec_dropped)
          why = fmt::format(": an open record of {} B was never pushed", c.open_rec_dropped);
        else if (wp->splice_err)
          why = fmt::format(": splice failed with {}", wp->splice_err);
        return fmt::format("the client read {} of {} spliced B ({} of {}) before EOF{}", wp->client_plaintext,
                           wp->spliced, wp->client_records, wp->c.tls.stats.records, why);
      });
    }
  }
  return w;
}

}  // namespace kpsim::script
