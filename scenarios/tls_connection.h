// The wiring both kTLS worlds of the script interpreter share (scenarios/script/
// model_stream_world.cpp for seed 001, model_splice_world.cpp for seed 002), written once: a loopback TCP connection from a sender
// (`tp`, the application's socket) to a receiver (`peer`), the NET_RX and xmit-timer softirq
// tasks, kTLS TX on the sender (or plain TCP), the checkers' view of the TLS records on the
// wire, and the tcp-seq-order invariant.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <utility>

#include "model/include/linux/tcp.h"
#include "model/kconfig.h"
#include "model/net/socket.h"
#include "model/net/tls/tls_sw.h"
#include "model/drivers/net/loopback.h"
#include "scenarios/scenario.h"
#include "sched/ring_queue.h"

namespace kpsim {

struct TlsConnection {
  model::kernel_config kc;
  model::loopback lo;
  model::tcp_sock tp;    // the sender
  model::tcp_sock peer;  // the receiver
  model::socket sock;    // tp's struct socket: its sendmsg is tcp_sendmsg or tls_sw_sendmsg
  model::tls_context tls;
  bool use_tls = true;

  // The checkers' view of what a TLS receiver parses from the byte stream: each record's wire
  // end (TCP sequence) and plaintext size, in push order, until the receiver has all of it.
  RingQueue<std::pair<uint64_t, uint32_t>> rec_bounds;
  uint64_t wire_pushed = 0;
  // With kTLS RX on the receiver (record_wire): what each record's header says, by the TCP
  // sequence of its first byte - the bytes a receiver's parser reads - and the plaintext stream
  // offset where each record ends (the checkers' record boundaries).
  bool record_wire = false;
  model::tls_wire wire;
  std::set<uint64_t> pl_record_ends;
  uint64_t pl_pushed = 0;

  // The handshake (model::tcp_handshake): which end accepted the connection (the other
  // connected), and the receiver's TCP_WINDOW_CLAMP set before connect (0: none). They decide
  // each side's first window and so its first MSS.
  bool sender_accepted = true;
  uint32_t receiver_window_clamp = 0;

  TlsConnection(std::string sender, std::string receiver);

  // tcp_init_sock on both ends (the same MSS and window), connected (tcp_handshake); the sender's socket with
  // tcp_sendmsg, then kTLS TX of `version` with `aead` (nullopt: plain TCP).
  void setup(Sched& s, const model::tcp_config& cfg, std::optional<model::tls_version> version,
             model::tls_aead& aead);
  // The NET_RX task and the xmit-timer softirq (and with delayed ACKs the receiver's delack
  // timer softirq), in this order: spawned before the processes so that a schedule of all-zero
  // choices runs a softirq before the task it woke, as a CPU does.
  void spawn_softirqs(Sched& s);
  // Records whose last byte is at or before `seq`: removed; returns their plaintext bytes and
  // adds their number to `records`. Plain TCP: the bytes up to `seq` not yet counted.
  uint64_t take_records(uint64_t seq, uint64_t& records);
  // Per-step: the receiver not ahead of snd_nxt, a paced reader within its buffer (the sender's own
  // order is the model invariant tcp-accounting's).
  void add_seq_invariant(Sched& s);

 private:
  uint64_t plain_taken_ = 0;
};

}  // namespace kpsim
