// net/tls/tls_strp.c (kernel 6.12) and tls_sw.c's parser callbacks: see tls_strp.h.
#include "model/net/tls/tls_strp.h"

#include <fmt/format.h>

#include "model/net/ipv4/tcp.h"

namespace kpsim::model {

void tls_strp_init(Sched& s, tls_strparser& strp, tcp_sock& sk, const tls_wire& wire, uint32_t prepend_size) {
  (void)s;
  strp.sk = &sk;
  strp.wire = &wire;
  strp.prepend_size = prepend_size;
  strp.work = std::make_unique<Work>("kworker/tls-strp", "tls_strp_work",
                                     [&s, &strp]() -> Co<> { co_await tls_strp_work(s, strp); });
}

int tls_rx_msg_size(Sched& s, tls_strparser& strp) {
  tcp_sock& sk = *strp.sk;
  // "Verify that we have a full TLS header, or wait for more data": the header and, in TLS 1.2,
  // the explicit nonce must be in the queue before the length field can be trusted.
  if (sk.rcv_queued() < strp.prepend_size) return 0;
  const auto it = strp.wire->find(sk.copied_seq);
  if (it == strp.wire->end()) {
    // The sender's records tile its stream: a header not at copied_seq means the model lost
    // track of the boundaries, which the kernel would see as garbage (-EINVAL / -EBADMSG).
    s.fail("model-assumption", fmt::format("{}: no TLS record header at seq {}", sk.name, sk.copied_seq));
    return -kerr::einval;
  }
  strp.mark = it->second.content_type;
  ++strp.stats.headers_parsed;
  return static_cast<int>(it->second.wire_len);
}

int tls_strp_read_sock(Sched& s, tls_strparser& strp) {
  tcp_sock& sk = *strp.sk;
  const uint64_t inq = sk.rcv_queued();  // tcp_inq
  if (inq < 1) return 0;
  // inq < stm.full_len (a parsed header, a short record) or a header not yet complete:
  // tls_strp_read_copy(strp, true), which returns at once unless tcp_epollin_ready(sk, INT_MAX)
  // - receive-memory pressure, which the model's fixed window never has. Wait for more data.
  if (strp.stm_full_len && inq < strp.stm_full_len) {
    ++strp.stats.short_waits;
    return 0;
  }
  if (!strp.stm_full_len) {
    const int sz = tls_rx_msg_size(s, strp);
    if (sz < 0) {
      strp.stopped = true;  // tls_strp_abort_strp
      return sz;
    }
    strp.stm_full_len = static_cast<uint32_t>(sz);
    if (!strp.stm_full_len || inq < strp.stm_full_len) {
      if (strp.stm_full_len) {
        ++strp.stats.short_waits;
        s.note("tls", "tls_strp_read_sock: record of {} B at seq {}, {} B queued: wait", strp.stm_full_len,
               sk.copied_seq, inq);
      }
      return 0;
    }
  }
  // tls_strp_check_queue_ok: no duplicates on loopback. The record is all there.
  strp.msg_ready = true;
  ++strp.stats.records_ready;
  s.note("tls", "tls_strp_read_sock: record [{}, {}) ready", sk.copied_seq, sk.copied_seq + strp.stm_full_len);
  if (strp.msg_ready_cb) strp.msg_ready_cb(s);  // tls_rx_msg_ready
  return 0;
}

void tls_strp_check_rcv(Sched& s, tls_strparser& strp) {
  if (strp.stopped || strp.msg_ready) return;
  tls_strp_read_sock(s, strp);  // -ENOMEM (copy mode's page allocation) cannot happen here
}

void tls_strp_data_ready(Sched& s, tls_strparser& strp) {
  // The softirq holds only bh_lock_sock: a process owning the socket (a reader inside
  // tls_sw_recvmsg, or the work) may be using the anchor, so parse later from the workqueue.
  if (strp.sk->sk_lock.owned_by_user()) {
    if (schedule_work(s, *strp.work)) ++strp.stats.works_queued;
    return;
  }
  tls_strp_check_rcv(s, strp);
}

Co<> tls_strp_work(Sched& s, tls_strparser& strp) {
  co_await strp.sk->sk_lock.lock_sock(s, "tls_strp_work: locked");
  tls_strp_check_rcv(s, strp);
  strp.sk->sk_lock.release_sock(s);
}

bool tls_strp_msg_load(Sched& s, tls_strparser& strp, bool force_refresh) {
  (void)s;
  // Not copy mode: with force_refresh the anchor is rebuilt from the queue at copied_seq; the
  // kernel WARNs and fails if the queue no longer holds the whole record.
  if (force_refresh && strp.sk->rcv_queued() < strp.stm_full_len) return false;
  return true;
}

void tls_strp_msg_done(Sched& s, tls_strparser& strp) {
  tcp_sock& sk = *strp.sk;
  // tcp_read_done: the record's wire bytes leave the TCP receive queue only now, after the
  // reader decrypted it; the window update this may send is tcp_cleanup_rbuf's.
  sk.copied_seq += strp.stm_full_len;
  tcp_cleanup_rbuf(s, sk, strp.stm_full_len);
  strp.msg_ready = false;
  strp.stm_full_len = 0;
  strp.mark = 0;
  tls_strp_check_rcv(s, strp);
}

}  // namespace kpsim::model
