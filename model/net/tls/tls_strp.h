// kTLS's receive-side record parser (net/tls/tls_strp.c, kernel 6.12; tls_rx_msg_size and
// tls_rx_msg_ready of net/tls/tls_sw.c, which it calls back): struct tls_strparser reduced to
// what decides when a record is handed to the reader - tls_strp_data_ready,
// tls_strp_check_rcv, tls_strp_read_sock, tls_strp_msg_load, tls_strp_msg_done, tls_strp_work.
//
// How a record travels: the TCP receive queue fills (tcp_data_queue), sk_data_ready is the
// parser's (tls_data_ready), which parses the header at copied_seq once its prepend_size bytes
// have arrived (tls_rx_msg_size: the length field), and marks the record ready
// (strp->msg_ready) only once all of its bytes are in the queue. Nothing is taken off the TCP
// queue before the reader has decrypted the record (tls_strp_msg_done → tcp_read_done).
//
// Not modelled, refused where it could happen: copy mode (tls_strp_read_copy copies a short
// record out of the queue only under receive-memory pressure, tcp_epollin_ready(sk, INT_MAX);
// the model's receiver has a fixed window and no memory pressure, so the parser always waits),
// and duplicate or differently-decrypted data in the queue (tls_strp_check_queue_ok: loopback
// has neither).
//
// Read from 6.12 only: 6.1 has a tls_strp.c too (it is new in 6.0) but was not compared with
// this model, so the script worlds refuse tls_rx with `model kernel = 6.1`.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>

#include "model/include/linux/tcp.h"
#include "sched/work.h"

namespace kpsim::model {

inline constexpr uint8_t kTLS_RECORD_TYPE_DATA = 23;
inline constexpr uint32_t kTLS_HEADER_SIZE = 5;

// What a record's header (and, being a count-only model, its ciphertext) says, keyed by the TCP
// sequence number of the header's first byte. The sender's tls_push_record writes it when it
// closes the record; a receiver may read it only once the bytes are in its receive queue.
// pl_start/pl_size name the plaintext the record carries: bytes [pl_start, pl_start + pl_size)
// of what the sending application wrote - what decryption yields.
struct tls_wire_record {
  uint32_t wire_len = 0;   // TLS_HEADER_SIZE + the header's length field
  uint8_t content_type = kTLS_RECORD_TYPE_DATA;
  uint64_t pl_start = 0;
  uint32_t pl_size = 0;
};
using tls_wire = std::map<uint64_t, tls_wire_record>;

struct tls_strp_stats {
  uint64_t headers_parsed = 0;  // tls_rx_msg_size found a full header
  uint64_t short_waits = 0;     // ... but the record was not all there yet: wait for more data
  uint64_t records_ready = 0;   // msg_ready set
  uint64_t works_queued = 0;    // tls_strp_data_ready found the socket owned: tls_strp_wq
};

struct tls_strparser {
  tcp_sock* sk = nullptr;
  const tls_wire* wire = nullptr;
  uint32_t prepend_size = kTLS_HEADER_SIZE;  // prot->prepend_size: header (+ 1.2's explicit nonce)
  bool stopped = false;
  bool msg_ready = false;
  // strp->stm: the current record's wire length (0 until its header was parsed) and offset
  // (always 0 here: a record starts at copied_seq, the anchor never holds a consumed prefix).
  uint32_t stm_full_len = 0;
  uint8_t mark = 0;  // strp->mark: the header's content type
  // tls_rx_msg_ready → ctx->saved_data_ready (sock_def_readable): wakes the reader.
  std::function<void(Sched&)> msg_ready_cb;
  std::unique_ptr<Work> work;  // strp->work on tls_strp_wq
  tls_strp_stats stats;
};

// tls_strp_init: the parser and its work item (kworker "kworker/tls-strp").
void tls_strp_init(Sched& s, tls_strparser& strp, tcp_sock& sk, const tls_wire& wire, uint32_t prepend_size);
// tls_rx_msg_size (tls_sw.c): 0 while fewer than prepend_size bytes are queued at copied_seq,
// else the record's wire length from the header; sets strp->mark.
int tls_rx_msg_size(Sched& s, tls_strparser& strp);
// tls_strp_read_sock, with the socket's lock (or bh lock) held: ready iff the whole record is in.
int tls_strp_read_sock(Sched& s, tls_strparser& strp);
void tls_strp_check_rcv(Sched& s, tls_strparser& strp);
// From sk_data_ready (softirq, bh_lock_sock): owned by a process → tls_strp_work later.
void tls_strp_data_ready(Sched& s, tls_strparser& strp);
Co<> tls_strp_work(Sched& s, tls_strparser& strp);
// tls_strp_msg_load: the reader takes the ready record (false: the queue no longer holds it).
bool tls_strp_msg_load(Sched& s, tls_strparser& strp, bool force_refresh);
// tls_strp_msg_done: tcp_read_done of the record's wire bytes, then look for the next record.
void tls_strp_msg_done(Sched& s, tls_strparser& strp);
inline bool tls_strp_msg_ready(const tls_strparser& strp) { return strp.msg_ready; }

}  // namespace kpsim::model
