// The stream world of scenario scripts: a Program that is one loopback TCP connection (seed
// 001, ktls-sendfile-stall, and what is like it) made into model objects and tasks. The sender
// socket carries kTLS TX (`tls_tx`) or plain TCP, its thread calls sendfile()/write() from a
// file, the other end drains (`drain`): its application reads every byte as it arrives, so the
// receive window never closes. Its ACKs: `model acks = immediate` (the default) ACKs at the end
// of every NET_RX run that delivered data; `model acks = delayed` follows the kernel's
// delayed-ACK engine (more than one full segment unacknowledged, quickack mode, or a read after
// a short segment ACKs at once, else the delack timer does, 40 ms later). The guest sweep
// (docs/crosscheck.md) shows 6.12's receiver delaying where a single full-MSS segment is in
// flight (MSS 8948, notsent_lowat 4096) but ACKing every record at once at MSS 32755 and 65483,
// which the delayed model does not reproduce yet: hence the default.
//
// Tasks, in creation order (so that a schedule of all-zero choices runs softirqs before the
// process they woke, as a real CPU does): the NET_RX softirq (delivery + ACKs), the timer
// softirq of the xmit timer (PROBE0), with delayed ACKs the receiver's delack timer softirq,
// the script's thread.
//
// The checks a script asks for (`property NAME`): tcp-seq-order (per step: the sender's sequence
// space), byte-conservation (final: every byte the application wrote arrives once, in order, as
// TCP sequence ranges and as TLS record payloads), no-stall (final: no transfer waited on the
// persist timer while the peer's window was open). Every label, note, message and metric is
// spelled as the compiled seed-001 scenario (scenarios/ktls_sendfile_stall.cpp, removed) spelled
// it, so that its recorded finding replays byte for byte; tests/script_stream_test.cpp compared
// the two trace for trace and keeps the digests.
//
// kTLS RX (`tls_rx(receiver, V, sync|async)`): instead of draining, the receiver is a second thread
// whose recv(), recv_timeout(), recv_loop() and poll() go through tls_sw_recvmsg and tls_sk_poll
// (model/net/tls/tls_sw.h, tls_strp.h): the parser marks a record ready only once all its bytes
// are queued, a recv decrypts one record at a time, keeps what does not fit for the next call,
// and MSG_PEEK leaves decrypted records on rx_list. The property rx-in-order checks every call:
// its bytes are the next ones of the sender's stream (a peek: the ones at the reader's
// position), and a call that returned less than it asked ends at a record boundary.
// `tls_rx(receiver, 1.2, async)` gives the reader an asynchronous AEAD (cryptd, a kworker of
// its own): data records are decrypted in cryptd's context while the reader goes on, and
// recv_end waits for them (tls_decrypt_async_wait) before copying from rx_list; rx-in-order
// then also fails a call that copied, or returned, bytes whose decryption had not completed.
// With 1.3 the kernel does not decrypt asynchronously: each decryption waits for cryptd
// (crypto_wait_req). `tls_tx(sender, V, async)` with write() gives the sender the same cryptd.
//
// What this world cannot do is refused when it is built (ScriptUnsupported), never approximated.
#include <algorithm>
#include <bit>
#include <map>

#include <fmt/format.h>

#include "model/crypto/cryptd.h"
#include "model/fs/read_write.h"
#include "model/net/ipv4/tcp.h"
#include "model/net/ipv4/tcp_timer.h"
#include "model/net/tls/tls_sw.h"
#include "scenarios/script/model_world.h"
#include "scenarios/script/pace.h"
#include "scenarios/tls_connection.h"
#include "model/state.h"

namespace kpsim::script {
namespace {

using namespace model;


struct StreamWorld final : World {
  std::shared_ptr<const Program> prog;
  TlsConnection c;
  tls_sync_aead aead;
  // crypto=async on either end: one cryptd (its per-CPU queue is shared by every instance).
  cryptd_aead cryptd;
  bool use_cryptd = false;
  splice_stats sst;

  // the sending thread
  uint64_t sent = 0, syscalls = 0, longest_call_ns = 0, t_done_ns = 0;
  int64_t last_err = 0;
  uint64_t expected = 0;  // the bytes the thread's steps ask to send
  // the checker's view of the receiver
  uint64_t plaintext_received = 0, records_received = 0;
  // kTLS RX: the receiving socket's context, the reader's stream position and its calls.
  tls_sw_context_rx rx;
  bool use_rx = false;
  bool check_rx_order = false;
  uint64_t rx_pos = 0, rx_calls = 0, rx_bytes = 0;

  StreamWorld(std::string sender, std::string receiver) : c(std::move(sender), std::move(receiver)) {}

  double elapsed_s() const { return static_cast<double>(t_done_ns) / 1e9; }
  nlohmann::ordered_json metrics() const override;

  // The sender's and the receiver's TCP state, kTLS TX when on, and the application's progress.
  void visit_state(StateVisitor& v) const override {
    model::visit_state(v, c.tp.name, c.tp);
    model::visit_state(v, c.peer.name, c.peer);
    if (c.use_tls) model::visit_state(v, "tls", c.tls);
    if (use_rx) model::visit_state(v, "tls_rx", rx);
    if (use_cryptd) model::visit_state(v, "cryptd", cryptd);
    v.u("app.sent", sent);
    v.u("app.syscalls", syscalls);
    v.u("app.received", plaintext_received);
    if (use_rx) v.u("app.rx_pos", rx_pos);
  }
};

nlohmann::ordered_json StreamWorld::metrics() const {
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
  m["sk_sndbuf"] = c.tp.sk_sndbuf.raw();
  m["snd_cwnd"] = c.tp.snd_cwnd;
  m["error"] = last_err;
  m["stalled"] = c.tp.stats.persist_open_window > 0;
  // What paced the transfer (scenarios/script/pace.h): the receiver's ACKs and each timer's waits.
  const tcp_stats& rs = c.peer.stats;
  m["acks_sent"] = rs.acks_sent;
  m["delayed_acks"] = rs.delayed_acks;
  m["quick_acks"] = rs.quick_acks;
  m["cleanup_rbuf_acks"] = rs.cleanup_rbuf_acks;
  m["delack_wait_s"] = static_cast<double>(rs.delack_wait_ns) / 1e9;
  m["persist_wait_s"] = static_cast<double>(c.tp.stats.persist_wait_ns) / 1e9;
  m["vm_wait_s"] = static_cast<double>(c.tp.stats.vm_wait_ns) / 1e9;
  const Pace pace = classify_pace({el, static_cast<double>(c.tp.stats.persist_wait_ns) / 1e9,
                                   static_cast<double>(rs.delack_wait_ns) / 1e9, 0.0,
                                   static_cast<double>(c.tp.stats.vm_wait_ns) / 1e9,
                                   c.tp.stats.persist_open_window > 0});
  m["pace"] = pace.verdict;
  m["pace_mechanism"] = pace.mechanism;
  if (c.kc.cpu == cpu_model::costed) {
    // Where the virtual time went (model/kernel/sched/cputime.h): the sender's CPU, whose
    // clock the run follows, and the reader's, counted only.
    nlohmann::ordered_json sender_cpu = nlohmann::ordered_json::object(), reader_cpu = nlohmann::ordered_json::object();
    uint64_t busy = 0, other = 0;
    for (size_t i = 0; i < kCpuWorks; ++i) {
      const uint64_t here = c.tp.stats.cpu.this_cpu[i] + c.peer.stats.cpu.this_cpu[i];
      const uint64_t there = c.tp.stats.cpu.other_cpu[i] + c.peer.stats.cpu.other_cpu[i];
      sender_cpu[kCpuWorkNames[i]] = static_cast<double>(here) / 1e9;
      if (there) reader_cpu[kCpuWorkNames[i]] = static_cast<double>(there) / 1e9;
      busy += here;
      other += there;
    }
    m["cpu_busy_s"] = static_cast<double>(busy) / 1e9;
    m["cpu_s"] = sender_cpu;
    m["reader_cpu_busy_s"] = static_cast<double>(other) / 1e9;
    m["reader_cpu_s"] = reader_cpu;
  }
  if (use_rx) {
    m["rx_calls"] = rx_calls;
    m["rx_bytes"] = rx_bytes;
    m["rx_records_decrypted"] = rx.stats.records_decrypted;
    m["rx_zc_records"] = rx.stats.zc_records;
    m["rx_partial_records"] = rx.stats.partial_records;
    m["rx_peeked_records"] = rx.stats.peeked_records;
    m["rx_rec_waits"] = rx.stats.rec_waits;
    m["rx_strp_short_waits"] = rx.strp.stats.short_waits;
    m["rx_strp_works"] = rx.strp.stats.works_queued;
    m["rx_backlog_flushes"] = rx.stats.backlog_flushes;
  }
  if (use_cryptd) {
    if (use_rx) {
      m["rx_async_records"] = rx.stats.async_records;
      m["rx_async_waits"] = rx.stats.async_waits;
      m["rx_crypto_waits"] = rx.stats.crypto_waits;
      m["rx_max_async_pending"] = rx.stats.max_pending;
    }
    m["tx_async_records"] = c.tls.stats.async_records;
    m["cryptd_completed"] = cryptd.completed;
  }
  return m;
}

// One sendfile() or write() of `want` bytes at file offset `pos` (advanced by what was sent).
// Returns what the call returned.
Co<int64_t> send_call(Sched& s, StreamWorld& w, bool is_sendfile, uint64_t& pos, uint64_t want) {
  const uint64_t t0 = s.now_ns();
  ++w.syscalls;
  account_cpu(s, w.c.kc, w.c.tp.stats.cpu, cpu_work::syscall, 1);  // entry, exit, fd lookup
  int64_t n;
  if (is_sendfile) {
    s.note("app", "sendfile({} B at offset {})", want, pos);
    n = co_await do_sendfile(s, w.c.sock, pos, want, w.sst);
  } else {
    co_await s.point("write");
    s.note("app", "write({} B)", want);
    n = co_await sock_write_iter(s, w.c.sock, want);
    if (n > 0) pos += static_cast<uint64_t>(n);
  }
  w.longest_call_ns = std::max(w.longest_call_ns, s.now_ns() - t0);
  co_return n;
}

// The sending thread: its steps in order, then the end of the transfer. A loop step is the
// reproducer's loop: calls of at most per_call bytes from the looped file (no call crosses its
// end) until `total` bytes are sent; a call interrupted before it sent anything
// (-EINTR/-ERESTARTSYS) is made again, any other error ends the thread.
Co<> sender(Sched& s, StreamWorld& w, const Thread& t) {
  std::vector<uint64_t> file_pos(w.prog->files.size(), 0);
  uint64_t no_file = 0;  // write(): a buffer, no file offset
  for (const Step& st : t.steps) {
    const bool loop = st.op == Op::sendfile_loop || st.op == Op::write_loop;
    const bool is_sendfile = st.op == Op::sendfile || st.op == Op::sendfile_loop;
    const bool has_file = st.op != Op::write;
    const uint64_t file_size = has_file ? w.prog->files[st.file].size : 0;
    uint64_t& pos = has_file ? file_pos[st.file] : no_file;
    uint64_t step_sent = 0;
    int64_t n = 0;
    if (loop) {
      while (step_sent < st.total) {
        if (pos >= file_size) pos = 0;
        const uint64_t want = std::min({st.per_call, file_size - pos, st.total - step_sent});
        n = co_await send_call(s, w, is_sendfile, pos, want);
        if (n == -kerr::eintr || n == -kerr::erestartsys) continue;  // restarted / retried
        if (n <= 0) break;
        step_sent += static_cast<uint64_t>(n);
        w.sent += static_cast<uint64_t>(n);
      }
    } else {
      n = co_await send_call(s, w, is_sendfile, pos, st.total);
      if (n > 0) {
        step_sent = static_cast<uint64_t>(n);
        w.sent += step_sent;
      }
    }
    if (n <= 0) {
      w.last_err = n;
      s.note("app", "send failed: {}", n);
    }
    const int64_t ret = loop ? static_cast<int64_t>(step_sent) : n;
    if (st.expect.ret && ret != *st.expect.ret)
      s.fail("selftest-assertion", fmt::format("{} returned {}, expected {}", st.text, ret, *st.expect.ret));
    if (w.last_err) break;
  }
  w.t_done_ns = s.now_ns();
  s.note("app", "{} B sent in {:.3f} s virtual", w.sent, w.elapsed_s());
  w.c.lo.sender_done = true;
  w.c.lo.napi.wake_up_all(s);
}

// ---- the kTLS RX reader ---------------------------------------------------------------------

// The script's MSG_ flags as the kernel's.
int rx_flags(uint32_t f) {
  return ((f & msg_peek) ? kMSG_PEEK : 0) | ((f & msg_dontwait) ? kMSG_DONTWAIT : 0) |
         ((f & msg_waitall) ? kMSG_WAITALL : 0);
}

// select()/poll() for readability on the kTLS socket: tls_sk_poll, and while not readable a
// sleep on sk_sleep until a wake-up (a ready record: tls_rx_msg_ready) or the timeout. Returns
// whether it became readable.
Co<bool> rx_wait_readable(Sched& s, StreamWorld& w, uint64_t timeout_us) {
  tcp_sock& sk = w.c.peer;
  uint64_t left_ns = timeout_us * 1000;
  for (;;) {
    if (tls_sk_poll_readable(w.rx)) co_return true;
    if (!left_ns) co_return false;
    const uint64_t t0 = s.now_ns();
    const WakeReason why = co_await sk.sk_wq.sleep(s, "poll: woken", true, left_ns);
    if (why == WakeReason::timeout) co_return tls_sk_poll_readable(w.rx);
    left_ns -= std::min(left_ns, s.now_ns() - t0);
  }
}

// One recv() through tls_sw_recvmsg, with the rx-in-order check of what it returned.
Co<int64_t> rx_call(Sched& s, StreamWorld& w, const Step& st, uint32_t len) {
  const int flags = rx_flags(st.flags);
  co_await s.point("recv");
  s.note("app", "recv({} B{})", len, (flags & kMSG_PEEK) ? ", MSG_PEEK" : "");
  tls_recv_out out;
  const int64_t n = co_await tls_sw_recvmsg(s, w.rx, len, flags, out);
  ++w.rx_calls;
  if (n <= 0 || !w.check_rx_order) {
    if (n > 0 && !(flags & kMSG_PEEK)) w.rx_pos += static_cast<uint64_t>(n);
    co_return n;
  }
  // The bytes: one run from the reader's position, as long as the call says.
  const uint64_t got = out.bytes();
  std::string why;
  if (got != static_cast<uint64_t>(n)) {
    why = fmt::format("{} returned {} but copied {} B", st.text, n, got);
  } else if (out.chunks.size() != 1 || out.chunks.front().first != w.rx_pos) {
    why = fmt::format("{} returned stream bytes starting at {} in {} piece(s), the reader is at {}", st.text,
                      out.chunks.empty() ? 0 : out.chunks.front().first, out.chunks.size(), w.rx_pos);
  } else if (out.undecrypted) {
    why = fmt::format("{} copied {} B from rx_list before their asynchronous decryption completed (ciphertext)",
                      st.text, out.undecrypted);
  } else if (const auto it = std::find_if(out.zc_async_recs.begin(), out.zc_async_recs.end(),
                                          [&w](uint64_t rec) { return w.rx.decrypting.count(rec) > 0; });
             it != out.zc_async_recs.end()) {
    why = fmt::format("{} returned {} B while cryptd was still decrypting record #{} into its buffer (ciphertext)",
                      st.text, n, *it);
  } else if (static_cast<uint64_t>(n) < len && !w.c.pl_record_ends.count(w.rx_pos + static_cast<uint64_t>(n))) {
    why = fmt::format("{} returned {} of {} B, ending at stream offset {}, inside a record", st.text, n, len,
                      w.rx_pos + static_cast<uint64_t>(n));
  }
  if (!why.empty()) s.fail("rx-in-order", why);
  if (!(flags & kMSG_PEEK)) {
    w.rx_pos += static_cast<uint64_t>(n);
    w.rx_bytes += static_cast<uint64_t>(n);
  }
  co_return n;
}

// The receiving thread: its recv/poll steps in order.
Co<> rx_reader(Sched& s, StreamWorld& w, const Thread& t) {
  for (const Step& st : t.steps) {
    int64_t ret = 0;
    if (st.op == Op::poll) {
      co_await s.point("poll");
      const bool r = co_await rx_wait_readable(s, w, st.timeout_us);
      ret = r ? 1 : 0;  // POLLIN, or select()'s count
    } else if (st.op == Op::recv) {
      if (st.timeout_us && !co_await rx_wait_readable(s, w, st.timeout_us)) ret = -kerr::eagain;
      else ret = co_await rx_call(s, w, st, st.len);
    } else {  // recv_loop: recv_timeout(len - got) until len bytes or a call <= 0
      uint64_t got = 0;
      int64_t n = 0;
      while (got < st.len) {
        if (st.timeout_us && !co_await rx_wait_readable(s, w, st.timeout_us)) {
          n = -kerr::eagain;
          break;
        }
        n = co_await rx_call(s, w, st, static_cast<uint32_t>(st.len - got));
        if (n <= 0) break;
        got += static_cast<uint64_t>(n);
      }
      ret = got ? static_cast<int64_t>(got) : n;
    }
    s.note("app", "{} = {}", st.text, ret);
    if (st.expect.ret && ret != *st.expect.ret)
      s.fail("selftest-assertion", fmt::format("{} returned {}, expected {}", st.text, ret, *st.expect.ret));
  }
}

// ---- what the stream world refuses ----------------------------------------------------------

struct Roles {
  uint32_t sender = 0, receiver = 1;
  std::optional<uint32_t> reader;  // kTLS RX: the index of the receiving thread
};

Roles check_stream_program(const Program& p) {
  const Loc where{p.file, 0, 0};
  refuse_all_but_one_tcp_connection(p, "a kTLS/sendfile program");
  // With kTLS RX the receiver is a thread of recv/poll steps; without, it drains.
  std::optional<uint32_t> reader;
  if (p.tls_rx) {
    for (uint32_t i = 0; i < p.threads.size(); ++i)
      for (const Step& st : p.threads[i].steps)
        if (st.op == Op::recv || st.op == Op::recv_loop || st.op == Op::poll) reader = i;
    if (!reader) unsupported(p.tls_rx->loc, "kTLS RX with no thread that calls recv, recv_loop or poll");
  }
  const size_t want_threads = reader ? 2 : 1;
  if (p.threads.size() != want_threads)
    unsupported(p.threads.size() > want_threads ? p.threads[want_threads].loc : where,
                reader ? "a kTLS RX program has two threads, the sender and the reader"
                       : "a kTLS/sendfile program has one thread, the sender (the receiver drains: `drain(S)`)");
  const Thread& t = p.threads[reader && *reader == 0 ? 1 : 0];
  std::optional<uint32_t> sender;
  // sendfile() stops at the end of the file (do_splice_direct's EOF), which the model does not
  // reach: one-call sendfile()s of a file must fit in it, and a file is either looped or not.
  std::vector<uint64_t> offset(p.files.size(), 0);
  std::vector<bool> looped(p.files.size(), false), single(p.files.size(), false);
  for (const Step& st : t.steps) {
    if (st.op < Op::sendfile || st.op > Op::write_loop)
      unsupported(st.loc, fmt::format("{} in a kTLS/sendfile program (its thread sends with sendfile, "
                                      "write, sendfile_loop and write_loop)", st.text));
    if (st.op == Op::sendfile) {
      offset[st.file] += st.total;
      single[st.file] = true;
      if (offset[st.file] > p.files[st.file].size)
        unsupported(st.loc, fmt::format("sendfile() past the end of {} (EOF is not modelled)", p.files[st.file].name));
    }
    if (st.op == Op::sendfile_loop || st.op == Op::write_loop) looped[st.file] = true;
    if (st.op >= Op::sendfile && st.op != Op::write && looped[st.file] && single[st.file])
      unsupported(st.loc, fmt::format("{} both looped and sent with one-call sendfile()", p.files[st.file].name));
    if (sender && *sender != st.sock) unsupported(st.loc, "sends on both ends of the connection");
    sender = st.sock;
    if (st.expect.data || st.expect.within_us)
      unsupported(st.loc, "data or within expectations on sendfile/write");
  }
  if (!sender) unsupported(t.loc, "a thread that sends nothing");
  Roles r{*sender, p.socks[*sender].peer, reader};
  const Socket& snd = p.socks[r.sender];
  const Socket& rcv = p.socks[r.receiver];
  if (p.tls_rx) {
    const TlsTx& rx = *p.tls_rx;
    if (rx.sock != r.receiver) unsupported(rx.loc, "kTLS RX on the sending socket (the model's connection is one-way)");
    if (!p.tls_tx)
      unsupported(rx.loc, "kTLS RX without kTLS TX on the peer: the plain bytes would not parse as TLS records "
                          "(tls_rx_msg_size fails), which the model does not follow");
    if (p.tls_tx->version != rx.version)
      unsupported(rx.loc, "tls_rx and tls_tx of different TLS versions: every record would fail to decrypt "
                          "(EBADMSG), which the model does not follow");
    if (rcv.drain) unsupported(rcv.loc, fmt::format("drain({}) with tls_rx on it: its reader is the script's thread", rcv.name));
    if (p.model.kernel != "6.12")
      unsupported(rx.loc, "kTLS RX with model kernel " + p.model.kernel + " (the RX model is read from 6.12 only)");
    for (const Step& st : p.threads[*reader].steps) {
      if (st.op != Op::recv && st.op != Op::recv_loop && st.op != Op::poll)
        unsupported(st.loc, fmt::format("{} in the kTLS RX reader (its steps: recv, recv_timeout, recv_loop, poll, "
                                        "select)", st.text));
      if (st.sock != r.receiver) unsupported(st.loc, fmt::format("{}: the reader reads the kTLS RX socket {}", st.text, rcv.name));
      if (st.expect.data || st.expect.within_us)
        unsupported(st.loc, "data or within expectations on a kTLS RX read (the model's payload is the file's "
                            "offsets, checked by property rx-in-order)");
    }
  } else if (!rcv.drain)
    unsupported(rcv.loc, fmt::format("{} receives but does not drain: the model's receiver is `drain({})` "
                                     "(reads every byte as it arrives)", rcv.name, rcv.name));
  if (snd.drain) unsupported(snd.loc, fmt::format("drain({}): the sender drains nothing", snd.name));
  if (snd.rcvbuf) unsupported(snd.loc, "SO_RCVBUF on the sender");
  if (rcv.rcvbuf || rcv.sndbuf || rcv.nodelay || rcv.maxseg || rcv.window_clamp)
    unsupported(rcv.loc, fmt::format("socket options on the receiver {} (the model's connection takes "
                                     "the sender's MSS, buffer and Nagle settings)", rcv.name));
  if (p.tls_tx) {
    if (p.tls_tx->sock != r.sender) unsupported(p.tls_tx->loc, "kTLS TX on the receiving socket");
    // write() through tls_sw_sendmsg with cryptd is checked (ktls-rx, crypto=async); sendfile's
    // MSG_SPLICE_PAGES path with cryptd only in the splice world's splice_loop.
    if (p.tls_tx->crypto != Crypto::sync)
      for (const Step& st : t.steps)
        if (st.op == Op::sendfile || st.op == Op::sendfile_loop)
          unsupported(p.tls_tx->loc, "async crypto (cryptd) with sendfile: the stream world's tls_sw_sendmsg "
                                     "path with cryptd is exercised with write() only");
  }
  // 6.1: sendfile through ->sendpage (kernel_version::v6_1); 6.6 is not distinguished here.
  if (p.model.kernel != "6.12" && p.model.kernel != "6.1")
    unsupported(where, "model kernel other than 6.12 or 6.1 for sendfile/write");
  if (!p.pipes.empty()) unsupported(p.pipes.front().loc, "a pipe with sendfile/write (pipes are for splice_loop)");
  if (!p.rings.empty()) unsupported(p.rings.front().loc, "an io_uring with sendfile/write");
  if (snd.window_clamp) unsupported(snd.loc, "TCP_WINDOW_CLAMP on the sender");
  return r;
}

}  // namespace

std::unique_ptr<World> build_stream_world(Sched& s, std::shared_ptr<const Program> prog) {
  const Program& p = *prog;
  for (const Thread& t : p.threads)
    for (const Step& st : t.steps)
      if (st.op == Op::splice_loop || st.op == Op::uring_splice_close || st.op == Op::read_until_eof)
        return build_splice_world(s, std::move(prog));
  const Roles r = check_stream_program(p);
  const Socket& snd = p.socks[r.sender];
  auto w = std::make_unique<StreamWorld>(snd.name, p.socks[r.receiver].name);
  w->prog = std::move(prog);
  const auto fix = parse_switch<kfix>(p.model.fix);
  if (!fix) unsupported(Loc{p.file, 0, 0}, fmt::format("model fix = {}", p.model.fix));
  w->c.kc.fix = *fix;
  w->c.kc.version = *parse_switch<kernel_version>(p.model.kernel);  // checked by check_stream_program
  const auto acks = parse_switch<tcp_acks>(p.model.acks.empty() ? "immediate" : p.model.acks);
  if (!acks) unsupported(Loc{p.file, 0, 0}, fmt::format("model acks = {}", p.model.acks));
  w->c.kc.acks = *acks;
  const auto cpu = parse_switch<cpu_model>(p.model.cpu);
  if (!cpu) unsupported(Loc{p.file, 0, 0}, fmt::format("model cpu = {}", p.model.cpu));
  w->c.kc.cpu = *cpu;

  // One tcp_config for both ends, from the sender's options (TCP_MAXSEG: the MSS with the
  // timestamp option, which mss_cache leaves out) and the sysctl; the receiver only ACKs.
  tcp_config cfg;
  if (snd.maxseg) cfg.mss = *snd.maxseg - kTCPOLEN_TSTAMP_ALIGNED;
  if (p.sysctl_tcp_notsent_lowat) cfg.sysctl_notsent_lowat = *p.sysctl_tcp_notsent_lowat;
  if (snd.sndbuf) cfg.so_sndbuf = *snd.sndbuf;
  cfg.nodelay = snd.nodelay;
  std::optional<tls_version> version;  // none: plain TCP
  if (p.tls_tx) version = p.tls_tx->version == TlsVersion::v1_2 ? tls_version::v1_2 : tls_version::v1_3;
  w->c.record_wire = p.tls_rx.has_value();
  const bool tx_async = p.tls_tx && p.tls_tx->crypto == Crypto::async;
  const bool rx_async = p.tls_rx && p.tls_rx->crypto == Crypto::async;
  w->use_cryptd = tx_async || rx_async;
  w->c.sender_accepted = snd.server_side;
  w->c.setup(s, cfg, version, tx_async ? static_cast<tls_aead&>(w->cryptd) : w->aead);
  if (p.tls_rx) {
    // setsockopt(receiver, SOL_TLS, TLS_RX) before any data: the parser sees every record. The
    // reader holds the socket lock inside tls_sw_recvmsg while segments arrive: they go to the
    // backlog, as the kernel's do.
    w->use_rx = true;
    w->c.peer.data_backlog = true;
    tls_set_sw_offload_rx(s, w->rx, w->c.peer,
                          p.tls_rx->version == TlsVersion::v1_2 ? tls_version::v1_2 : tls_version::v1_3, w->c.wire,
                          rx_async ? static_cast<tls_aead&>(w->cryptd) : w->aead);
  } else {
    w->c.peer.app_reads_at_once = true;  // drain(receiver)
  }

  StreamWorld* wp = w.get();
  // The receiver decrypts a record once its last byte has arrived.
  w->c.lo.tap = [wp](Sched&, const sk_buff& skb) {
    wp->plaintext_received += wp->c.take_records(skb.end_seq, wp->records_received);
  };
  const Thread& t = p.threads[r.reader && *r.reader == 0 ? 1 : 0];
  for (const Step& st : t.steps) wp->expected += st.total;
  w->c.spawn_softirqs(s);
  const Op first = t.steps.front().op;
  // The threads in script order, as a kernel runner starts them.
  for (uint32_t i = 0; i < p.threads.size(); ++i) {
    if (r.reader && *r.reader == i) {
      s.spawn(p.threads[i].name, TaskKind::syscall, rx_reader(s, *w, p.threads[i]), false, "recv");
    } else {
      s.spawn(t.name, TaskKind::syscall, sender(s, *w, t), false,
              first == Op::sendfile || first == Op::sendfile_loop ? "sendfile" : "write");
    }
  }

  for (const Check& ch : p.checks) {
    if (ch.name == "tcp-seq-order") {
      w->c.add_seq_invariant(s);
    } else if (ch.name == "byte-conservation") {
      s.add_final_check("byte-conservation", [wp]() -> std::optional<std::string> {
        const tcp_sock& tp = wp->c.tp;
        if (wp->last_err == 0 && wp->sent != wp->expected)
          return fmt::format("application sent {} of {} B", wp->sent, wp->expected);
        if (wp->c.peer.rcv_nxt != tp.write_seq)
          return fmt::format("receiver has {} of {} queued TCP bytes", wp->c.peer.rcv_nxt, tp.write_seq);
        if (wp->c.use_tls && (wp->c.wire_pushed != tp.write_seq || !wp->c.rec_bounds.empty()))
          return fmt::format("TLS records cover {} of {} TCP bytes, {} undelivered", wp->c.wire_pushed,
                             tp.write_seq, wp->c.rec_bounds.size());
        if (wp->plaintext_received != wp->sent)
          return fmt::format("receiver got {} plaintext bytes, application sent {}", wp->plaintext_received,
                             wp->sent);
        return std::nullopt;
      });
    } else if (ch.name == "rx-in-order") {
      if (!p.tls_rx) unsupported(ch.loc, "property rx-in-order without tls_rx (it checks kTLS RX reads)");
      w->check_rx_order = true;
    } else if (ch.name == "no-stall") {
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
    } else if (ch.name == "min-throughput") {
      // Steps cost no virtual time (issue 15): only timers (persist, VM-pressure waits, RTO)
      // and the reader's pace make a transfer take time, so this holds unless one of them paces
      // it below the bound - the model's "at least as fast as its waits allow".
      s.add_final_check("min-throughput", [wp, min = ch.min_kibps]() -> std::optional<std::string> {
        const double el = wp->elapsed_s();
        if (el <= 0) return std::nullopt;
        const double kibps = static_cast<double>(wp->sent) / el / 1024.0;
        if (kibps >= static_cast<double>(min)) return std::nullopt;
        return fmt::format("{} B in {:.3f} s virtual: {:.1f} KiB/s, below {} KiB/s ({} PROBE0 expiries, {:.3f} s asleep "
                           "in sk_stream_wait_memory, {} VM-pressure waits)",
                           wp->sent, el, kibps, min, wp->c.tp.stats.persist_expiries,
                           static_cast<double>(wp->c.tp.stats.wait_memory_ns) / 1e9, wp->c.tp.stats.vm_waits);
      });
    } else {
      unsupported(ch.loc, fmt::format("check {} in a kTLS/sendfile program", ch.name));
    }
  }
  return w;
}

}  // namespace kpsim::script
