#include "scenarios/tls_connection.h"

#include <fmt/format.h>

#include "model/net/core/dev.h"
#include "model/net/ipv4/tcp.h"
#include "model/net/ipv4/tcp_ipv4.h"
#include "model/net/ipv4/tcp_timer.h"

namespace kpsim {

using namespace model;

TlsConnection::TlsConnection(std::string sender, std::string receiver)
    : tp(std::move(sender)), peer(std::move(receiver)) {}

void TlsConnection::setup(Sched& s, const tcp_config& cfg, std::optional<model::tls_version> version,
                          tls_aead& aead) {
  lo.socks.reserve(2);  // both ends register with loopback: one allocation, not a growth
  for (tcp_sock* sk : {&tp, &peer}) {
    sk->kc = &kc;
    tcp_init_sock(s, *sk, lo, cfg);
  }
  tp.peer = &peer;
  peer.peer = &tp;
  peer.window_clamp = receiver_window_clamp;
  if (sender_accepted) tcp_handshake(peer, tp);
  else tcp_handshake(tp, peer);
  sock.sk = &tp;
  sock.sendmsg = [this](Sched& sch, msghdr& m) { return tcp_sendmsg(sch, tp, m); };
  sock.splice_eof = [this](Sched& sch) { return tcp_splice_eof(sch, tp); };
  sock.sendpage = [this](Sched& sch, uint64_t size, int flags) { return tcp_sendpage(sch, tp, size, flags); };
  use_tls = version.has_value();
  if (!use_tls) return;
  tls_set_sw_offload(s, tls, sock, *version, aead);
  tls.on_record = [this](const tls_rec& rec, uint32_t wire_len) {
    if (record_wire) {
      // tls_push_record writes the header (type application_data, the length after it) at the
      // record's first byte; records go out in tx_list order, so that byte is wire_pushed.
      this->wire[wire_pushed] = tls_wire_record{wire_len, kTLS_RECORD_TYPE_DATA, pl_pushed, rec.pl_size};
      pl_pushed += rec.pl_size;
      pl_record_ends.insert(pl_pushed);
    }
    wire_pushed += wire_len;
    rec_bounds.emplace_back(wire_pushed, rec.pl_size);
  };
}

void TlsConnection::spawn_softirqs(Sched& s) {
  s.spawn("softirq:net_rx", TaskKind::softirq, net_rx_softirq(s, lo), false, "net_rx_action");
  s.spawn("timer:tcp_write_timer", TaskKind::timer, tcp_write_timer_softirq(s, tp), true, "tcp_write_timer");
  // The receiver's delayed ACKs have a timer of their own (the sender receives no data).
  if (kc.acks == model::tcp_acks::delayed)
    s.spawn("timer:tcp_delack_timer", TaskKind::timer, tcp_delack_timer_softirq(s, peer), true, "tcp_delack_timer");
}

uint64_t TlsConnection::take_records(uint64_t seq, uint64_t& records) {
  if (!use_tls) {
    const uint64_t n = seq - plain_taken_;
    plain_taken_ = seq;
    return n;
  }
  uint64_t plaintext = 0;
  while (!rec_bounds.empty() && rec_bounds.front().first <= seq) {
    plaintext += rec_bounds.front().second;
    ++records;
    rec_bounds.pop_front();
  }
  return plaintext;
}

namespace {
// tcp-seq-order: the receiver behind the sender, and a paced reader's buffer within its bound.
// The sender's own order, snd_una <= snd_nxt <= write_seq, and sk_wmem_queued >= 0 (it equals
// the queues' truesize) are tcp-accounting's: tcp_init_sock registers that on both sockets as a
// model invariant, and model invariants are checked first, so a step that broke them fails
// there before it reaches this check.
bool seq_order_holds(const TlsConnection& c) {
  const model::tcp_sock& tp = c.tp;
  const model::tcp_sock& peer = c.peer;
  const bool rcvbuf_ok = !peer.rcv_buf_bytes || peer.rcv_queued() <= peer.rcv_buf_bytes;
  return peer.rcv_nxt <= tp.snd_nxt && rcvbuf_ok;
}

// The violation's message, out of line (the check runs after every step; see
// tcp_accounting_message).
[[gnu::cold, gnu::noinline]] std::string seq_order_message(const TlsConnection& c) {
  const model::tcp_sock& tp = c.tp;
  const model::tcp_sock& peer = c.peer;
  return fmt::format("snd_una {} snd_nxt {} write_seq {} rcv_nxt {} rcv_queued {} wmem_queued {}", tp.snd_una,
                     tp.snd_nxt, tp.write_seq, peer.rcv_nxt, peer.rcv_queued(), tp.sk_wmem_queued);
}
}  // namespace

void TlsConnection::add_seq_invariant(Sched& s) { s.add_invariant<seq_order_holds, seq_order_message>("tcp-seq-order", *this); }

}  // namespace kpsim
