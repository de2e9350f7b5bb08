// kTLS software TX (net/tls/tls_sw.c, net/tls/tls_main.c, net/tls/tls.h, include/net/tls.h;
// kernel 6.12): struct tls_context / tls_sw_context_tx / tls_rec reduced to sizes and flags,
// tls_sw_sendmsg, tls_sw_sendmsg_locked (full_record, eor, both bpf_exec_tx_verdict call sites,
// the MSG_SPLICE_PAGES path, wait_for_sndbuf), bpf_exec_tx_verdict without a psock,
// tls_push_record with tls_do_encryption behind an AEAD hook, tls_encrypt_done,
// tls_tx_records, tls_push_sg, tls_write_space, tls_sw_splice_eof, and the record overhead
// of TLS 1.2 / 1.3 AES-GCM. For asynchronous AEADs (seed 002): tls_encrypt_done scheduling
// tx_work, tx_work_handler (trylock of tx_lock, 10 ms reschedule), tls_sw_write_space,
// BIT_TX_SCHEDULED / BIT_TX_CLOSING, tls_encrypt_async_wait and when the sender calls it.
// Kernel 6.1 (kernel_version::v6_1): tls_sw_sendpage / tls_sw_do_sendpage, and tls_push_sg
// through do_tcp_sendpages with MSG_SENDPAGE_NOTLAST.
//
// RX (the second half of this header): tls_sw_recvmsg and what it calls - tls_rx_reader_lock /
// acquire / release, process_rx_list, tls_rx_rec_wait, tls_rx_one_record (zero-copy into the
// user buffer or through a clear-text skb), tls_record_content_type, tls_read_flush_backlog; tls_data_ready (the socket's sk_data_ready
// once the strparser is armed), tls_sw_sock_is_readable and tls_main.c's tls_sk_poll. The
// record parser is tls_strp.h. Decryption goes through tls_rx_one_record → tls_decrypt_sw →
// tls_decrypt_sg → tls_do_decryption behind the AEAD hook; with an asynchronous AEAD (cryptd)
// and TLS 1.2, data records are decrypted asynchronously (darg.async): tls_decrypt_done runs in
// the engine's context, decrypt_pending counts them, the reader holds the record's skbs
// (tls_strp_msg_hold → async_hold) and waits for them all at recv_end (tls_decrypt_async_wait)
// before copying from rx_list. TLS 1.3 never decrypts asynchronously (tls_set_sw_offload clears
// async_capable for it): with an async engine each decryption waits in crypto_wait_req.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <vector>

#include "model/net/socket.h"
#include "model/include/linux/tcp.h"
#include "model/net/tls/tls_strp.h"
#include "sched/completion.h"
#include "sched/mutex.h"
#include "sched/ring_queue.h"
#include "sched/work.h"

namespace kpsim::model {

inline constexpr uint32_t kTLS_MAX_PAYLOAD_SIZE = 16384;
inline constexpr uint32_t kSkFragPageSize = 32768;  // sk_page_frag: SKB_FRAG_PAGE_ORDER

enum class tls_version : uint8_t { v1_2, v1_3 };

// struct tls_prot_info for AES-GCM-128.
struct tls_prot_info {
  uint32_t prepend_size = 0;  // TLS_HEADER_SIZE (+ 8-byte explicit nonce in 1.2)
  uint32_t tag_size = 16;
  uint32_t tail_size = 0;     // 1 in TLS 1.3: the inner content type
  uint32_t overhead_size() const { return prepend_size + tag_size + tail_size; }
};
tls_prot_info tls_prot_info_for(tls_version v);


// When the sender waits for its async encryptions at send_end: since 6.8 if num_zc || eor;
// before (6.6, the seed-002 report's kernel) only if num_zc, which the splice path never counts.
inline bool tls_async_wait_on_eor(const kernel_config& kc) { return kc.version >= kernel_version::v6_12; }

struct tls_rec {
  uint64_t id = 0;              // record sequence number (tx.rec_seq at push)
  uint32_t pl_size = 0;         // msg_plaintext.sg.size
  std::vector<uint32_t> en_sg;  // msg_encrypted scatterlist entry lengths (page-frag pieces)
  uint64_t en_page = 0;         // sk_frag page of the last entry, for coalescing
  uint32_t en_end = 0;          // ... and its end offset in that page
  bool tx_ready = false;        // encryption finished
  int tx_flags = 0;             // flags captured at push time, reused by tls_tx_records(-1)
  uint32_t en_size() const;
};

struct tls_context;

// The AEAD behind tls_do_encryption and tls_do_decryption. The synchronous one (AES-NI/VAES: the
// report's generic-gcm-vaes-avx512) finishes in the call and returns 0. An asynchronous engine
// (cryptd, CAAM) returns -EINPROGRESS and later completes the request from its own context:
// tls_encrypt_done for an encryption, the request's callback for a decryption.
struct tls_aead {
  virtual ~tls_aead() = default;
  virtual int encrypt(Sched& s, tls_context& ctx, tls_rec& rec) = 0;
  // CRYPTO_ALG_ASYNC of the algorithm crypto_alloc_aead found: what RX async_capable reads.
  virtual bool is_async() const { return false; }
  // crypto_aead_decrypt of record `rec` (`data_len` bytes of ciphertext, received on `sk`) with
  // its completion callback `done` (tls_decrypt_done, or crypto_req_done for a caller that
  // waits): 0 when decrypted in the call (`done` is not called), or -EINPROGRESS and `done` runs
  // later in the engine's context. Whoever runs the cipher charges its CPU time.
  virtual int decrypt(Sched& s, tcp_sock& sk, uint64_t rec, uint64_t data_len,
                      std::function<void(Sched&, int)> done) = 0;
};
struct tls_sync_aead final : tls_aead {
  int encrypt(Sched& s, tls_context& ctx, tls_rec& rec) override;
  int decrypt(Sched& s, tcp_sock& sk, uint64_t rec, uint64_t data_len, std::function<void(Sched&, int)> done) override;
};

struct tls_stats {
  uint64_t records = 0;            // tls_push_record calls that closed a record
  uint64_t records_with_more = 0;  // ... pushed with MSG_MORE in their flags
  uint64_t partial_sends = 0;      // tls_push_sg left a partially sent record
  uint64_t async_records = 0;      // tls_push_record calls the AEAD answered -EINPROGRESS
  uint64_t async_waits = 0;        // tls_encrypt_async_wait calls that had to sleep
  uint64_t tx_work_scheduled = 0;  // schedule_delayed_work(tx_work) by the crypto cb / write_space
  uint64_t tx_work_runs = 0;       // tx_work_handler found BIT_TX_SCHEDULED and ran
  uint64_t tx_work_busy = 0;       // ... but tx_lock was held: rescheduled in 10 ms
};

struct tls_context {
  tls_prot_info prot;
  tcp_sock* sk = nullptr;
  Mutex tx_lock;  // taken before lock_sock by every TX user
  std::unique_ptr<tls_rec> open_rec;
  // Invariant: records in sequence order; only the head may be partially sent.
  RingQueue<std::unique_ptr<tls_rec>> tx_list;
  bool partially_sent = false;  // partially_sent_record != NULL: the head of tx_list
  size_t partially_sent_sg = 0;
  uint32_t partially_sent_offset = 0;
  bool splicing_pages = false;
  bool pending_open_record_frags = false;
  bool async_capable = false;
  bool tx_scheduled = false;   // BIT_TX_SCHEDULED: tx_work is (to be) scheduled to transmit
  bool tx_closing = false;     // BIT_TX_CLOSING: tls_sw_cancel_work_tx ran; tx_work does nothing
  // tx_ctx->tx_work: delayed work on system_wq running tx_work_handler (created by
  // tls_set_sw_offload; its kworker appears only once something schedules it).
  std::unique_ptr<Work> tx_work;
  WaitQueue tx_work_done;      // woken after every tx_work_handler run (flush_delayed_work)
  uint32_t encrypt_pending = 1;  // biased, as since 6.8
  Completion async_wait;          // async_wait.completion: the last pending encryption
  int async_err = 0;              // async_wait.err
  uint64_t rec_seq = 0;
  tls_aead* aead = nullptr;
  // Every record closed by tls_push_record, in order: the checkers' hook (a receiver parses
  // the same boundaries from the record headers).
  std::function<void(const tls_rec&, uint32_t wire_len)> on_record;
  tls_stats stats;
};

// Installs the ULP: TLS_TX with `v`, sk_write_space = tls_write_space, proto sendmsg.
void tls_set_sw_offload(Sched& s, tls_context& ctx, socket& sock, tls_version v, tls_aead& aead);

Co<int64_t> tls_sw_sendmsg(Sched& s, tls_context& ctx, msghdr& msg);
Co<int64_t> tls_sw_sendmsg_locked(Sched& s, tls_context& ctx, msghdr& msg);
Co<int> bpf_exec_tx_verdict(Sched& s, tls_context& ctx, bool full_record, int64_t& copied, int flags);
Co<int> tls_push_record(Sched& s, tls_context& ctx, int flags);
// flags == -1: each record's saved tx_flags.
Co<int> tls_tx_records(Sched& s, tls_context& ctx, int flags);
Co<int> tls_push_sg(Sched& s, tls_context& ctx, tls_rec& rec, size_t first_sg, uint32_t first_offset,
                    int flags);
// The crypto completion (async engines): marks the record ready; if it is the head of tx_list
// and BIT_TX_SCHEDULED was clear, sets it and schedules tx_work 1 jiffy later.
void tls_encrypt_done(Sched& s, tls_context& ctx, tls_rec& rec, int err);
void tls_write_space(Sched& s, tls_context& ctx);
// tls_sw_write_space: a ready head record and BIT_TX_SCHEDULED clear → tx_work now.
void tls_sw_write_space(Sched& s, tls_context& ctx);
// tx_work_handler: BIT_TX_CLOSING → nothing; test_and_clear BIT_TX_SCHEDULED; trylock tx_lock:
// tls_tx_records(-1) under lock_sock, else re-set the bit and retry in 10 ms.
Co<> tx_work_handler(Sched& s, tls_context& ctx);
// Drop the bias, wait (uninterruptibly) for the last pending encryption, restore the bias.
Co<int> tls_encrypt_async_wait(Sched& s, tls_context& ctx);
Co<> tls_sw_splice_eof(Sched& s, tls_context& ctx);
// Kernel 6.1's ->sendpage (sendfile and splice into a kTLS socket): tx_lock, lock_sock,
// tls_sw_do_sendpage (one page; see tls_sw.cpp), release.
Co<int64_t> tls_sw_do_sendpage(Sched& s, tls_context& ctx, uint64_t size, int flags);
Co<int64_t> tls_sw_sendpage(Sched& s, tls_context& ctx, uint64_t size, int flags);

// ---- RX ---------------------------------------------------------------------------------------

// A decrypted record on rx_list (a clear-text skb, or the record itself after a peek): its
// strp_msg offset/full_len counted in plaintext bytes, and which bytes of the sender's stream
// the plaintext is (tls_wire_record).
struct tls_rx_skb {
  uint64_t rec = 0;        // the record's sequence number (tls_ctx->rx.rec_seq when decrypted)
  uint64_t pl_start = 0;   // the sender's stream offset of plaintext byte 0
  uint32_t offset = 0;     // rxm->offset: bytes of the plaintext already consumed
  uint32_t full_len = 0;   // rxm->full_len: bytes left
  uint8_t control = kTLS_RECORD_TYPE_DATA;  // tlm->control
};

// What one recvmsg copied to the user buffer, in order: (stream offset, length) pieces - the
// checkers' view of the bytes - and the msg_flags it set.
struct tls_recv_out {
  std::vector<std::pair<uint64_t, uint32_t>> chunks;
  bool eor = false;  // MSG_EOR: a record was returned whole
  // Bytes copied out of a clear-text skb whose asynchronous decryption had not completed yet
  // (the user got ciphertext), and the records decrypted asynchronously straight into this
  // buffer (zero-copy): the caller checks that none is still in flight when recvmsg returns.
  uint64_t undecrypted = 0;
  std::vector<uint64_t> zc_async_recs;
  // Bytes skb_copy_datagram_msg copied from clear-text skbs (not the records decrypted straight
  // into the buffer): the reader's CPU time for copying (model/kernel/sched/cputime.h).
  uint64_t user_copied = 0;
  uint64_t bytes() const {
    uint64_t n = 0;
    for (auto& c : chunks) n += c.second;
    return n;
  }
};

struct tls_rx_stats {
  uint64_t records_decrypted = 0;  // tls_rx_one_record calls that succeeded
  uint64_t zc_records = 0;         // ... decrypted straight into the user buffer
  uint64_t partial_records = 0;    // a record larger than what the caller asked: rest on rx_list
  uint64_t peeked_records = 0;     // decrypted for MSG_PEEK: kept on rx_list
  uint64_t rec_waits = 0;          // tls_rx_rec_wait slept for a record
  uint64_t backlog_flushes = 0;    // tls_read_flush_backlog processed the socket's backlog
  uint64_t reader_waits = 0;       // tls_rx_reader_acquire waited for another reader
  uint64_t async_records = 0;      // decryptions the AEAD took asynchronously (darg.async kept)
  uint64_t async_waits = 0;        // tls_decrypt_async_wait calls that had to sleep
  uint64_t crypto_waits = 0;       // synchronous decryptions that slept in crypto_wait_req (async engine)
  uint64_t max_pending = 0;        // the most asynchronous decryptions in flight at once
};

// A deliberately wrong kernel for the tests that show the rx-in-order property can fail:
// no_async_wait skips recv_end's tls_decrypt_async_wait, so recvmsg may return (and copy from
// rx_list) before cryptd decrypted the records. Never set by a script.
enum class tls_rx_mutation : uint8_t { none, no_async_wait };
// Read by tls_set_sw_offload_rx (tests set it around a run).
inline tls_rx_mutation g_tls_rx_mutation = tls_rx_mutation::none;

// struct tls_decrypt_arg: in, what the caller allows (zero-copy, async); out, what was done, and
// the decrypted record (darg->skb: a clear-text skb, or the record itself after zero-copy).
struct tls_decrypt_arg {
  bool zc = false;
  bool async = false;
  bool async_done = false;
  tls_rx_skb skb;
};

// struct tls_sw_context_rx with the tls_context RX fields it needs.
struct tls_sw_context_rx {
  tls_prot_info prot;
  tcp_sock* sk = nullptr;
  tls_strparser strp;
  std::deque<tls_rx_skb> rx_list;  // decrypted records not (fully) returned yet
  bool zc_capable = false;         // tls_update_rx_zc_capable: TLS 1.2, or 1.3 with rx_no_pad
  bool async_capable = false;      // TLS 1.2 with an async AEAD (tls_set_sw_offload)
  tls_aead* aead = nullptr;        // ctx->aead_recv
  bool reader_present = false;
  bool reader_contended = false;
  WaitQueue wq;                    // ctx->wq: readers waiting for reader_present to clear
  uint64_t rec_seq = 0;            // tls_ctx->rx.rec_seq (tls_advance_record_sn)
  int async_err = 0;               // ctx->async_wait.err
  uint32_t decrypt_pending = 1;    // biased by one: 1 means no asynchronous decryption in flight
  Completion async_wait;           // async_wait.completion: the last pending decryption
  uint32_t async_hold = 0;         // skbs of records in flight (tls_strp_msg_hold), purged by the wait
  // Records whose decryption was submitted and has not completed: their output (a clear-text
  // skb, or the user's pages) still holds what was there before - not plaintext.
  std::set<uint64_t> decrypting;
  tls_rx_mutation mutation = tls_rx_mutation::none;
  tls_rx_stats stats;
};

// setsockopt(SOL_TLS, TLS_RX): tls_set_sw_offload(sk, 0) for AES-GCM-128 of version `v`, then
// tls_sw_strparser_arm: sk_data_ready becomes tls_data_ready, and a record already queued is
// parsed at once (tls_strp_check_rcv). `wire` is what the peer's record headers say.
void tls_set_sw_offload_rx(Sched& s, tls_sw_context_rx& ctx, tcp_sock& sk, tls_version v, const tls_wire& wire,
                           tls_aead& aead);
// The asynchronous decryption's completion (in the engine's context, no socket lock): the
// record's plaintext is in place; the last pending one completes async_wait.
void tls_decrypt_done(Sched& s, tls_sw_context_rx& ctx, uint64_t rec, int err);
// Drop the bias, wait (uninterruptibly) for the last pending decryption, restore the bias,
// release the held skbs; returns async_wait.err.
Co<int> tls_decrypt_async_wait(Sched& s, tls_sw_context_rx& ctx);
// sk->sk_data_ready of a kTLS RX socket: the parser's (tls_strp_data_ready).
void tls_data_ready(Sched& s, tls_sw_context_rx& ctx);
// tls_sw_recvmsg: returns the bytes copied, else an error (-EAGAIN, -ERESTARTSYS, -EIO,
// -EBADMSG, a socket error) or 0 at EOF. flags: kMSG_PEEK | kMSG_WAITALL | kMSG_DONTWAIT.
Co<int64_t> tls_sw_recvmsg(Sched& s, tls_sw_context_rx& ctx, uint32_t len, int flags, tls_recv_out& out);
// tls_sw_sock_is_readable: a decrypted record on rx_list or a ready one in the parser.
bool tls_sw_sock_is_readable(const tls_sw_context_rx& ctx);
// tls_sk_poll's POLLIN (tls_main.c, 6.12): tcp_poll's, cleared while no record is ready
// - raw TCP bytes of a partial record do not make the socket readable. At EOF (RCV_SHUTDOWN)
// tcp_poll's answer stands.
bool tls_sk_poll_readable(const tls_sw_context_rx& ctx);

}  // namespace kpsim::model
