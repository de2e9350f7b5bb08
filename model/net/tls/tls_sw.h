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
#pragma once

#include <deque>
#include <memory>
#include <vector>

#include "model/net/socket.h"
#include "model/include/linux/tcp.h"
#include "sched/completion.h"
#include "sched/mutex.h"
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

// The AEAD behind tls_do_encryption. The synchronous one (AES-NI/VAES: the report's
// generic-gcm-vaes-avx512) finishes in the call and returns 0. An asynchronous engine (cryptd,
// CAAM) returns -EINPROGRESS and later calls tls_encrypt_done from its own context.
struct tls_aead {
  virtual ~tls_aead() = default;
  virtual int encrypt(Sched& s, tls_context& ctx, tls_rec& rec) = 0;
};
struct tls_sync_aead final : tls_aead {
  int encrypt(Sched& s, tls_context& ctx, tls_rec& rec) override;
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
  std::deque<std::unique_ptr<tls_rec>> tx_list;
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

}  // namespace kpsim::model
