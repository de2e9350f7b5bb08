// net/tls/tls_sw.c TX and the tls_main.c hooks it needs (kernel 6.12): see tls_sw.h.
#include "model/net/tls/tls_sw.h"

#include <algorithm>
#include <numeric>

#include "model/net/core/sock.h"
#include "model/net/core/stream.h"
#include "model/net/ipv4/tcp.h"

namespace kpsim::model {

namespace {
constexpr int kEOPNOTSUPP = 95;
constexpr int kEBADMSG = 74;

// tls_err_abort: the socket is dead for the application from here on.
void tls_err_abort(Sched& s, tls_context& ctx, int err) {
  ctx.sk->sk_err = -err;
  s.note("tls", "tls_err_abort({})", err);
  ctx.sk->sk_wq.wake_up_all(s);  // sk_error_report
}

// tls_alloc_encrypted_msg → sk_msg_alloc: grow msg_encrypted to `len` from the socket's page
// fragment, coalescing with the last entry when it is contiguous in the same page.
void tls_alloc_encrypted_msg(tcp_sock& sk, tls_rec& rec, uint32_t len) {
  uint32_t size = rec.en_size();
  while (size < len) {
    if (sk.sk_frag_offset >= kSkFragPageSize) {  // sk_page_frag_refill: a new page
      ++sk.sk_frag_page;
      sk.sk_frag_offset = 0;
    }
    const uint32_t use = std::min(kSkFragPageSize - sk.sk_frag_offset, len - size);
    if (!rec.en_sg.empty() && rec.en_page == sk.sk_frag_page && rec.en_end == sk.sk_frag_offset)
      rec.en_sg.back() += use;
    else
      rec.en_sg.push_back(use);
    sk.sk_frag_offset += use;
    rec.en_page = sk.sk_frag_page;
    rec.en_end = sk.sk_frag_offset;
    size += use;
  }
}

// tls_trim_both_msgs: back to `target` plaintext bytes (and its ciphertext room).
void tls_trim_both_msgs(const tls_context& ctx, tls_rec& rec, uint32_t target) {
  rec.pl_size = target;
  uint32_t keep = target ? target + ctx.prot.overhead_size() : 0;
  std::vector<uint32_t> sg;
  for (uint32_t len : rec.en_sg) {
    if (!keep) break;
    sg.push_back(std::min(len, keep));
    keep -= sg.back();
  }
  rec.en_sg = std::move(sg);
  rec.en_page = UINT64_MAX;  // no coalescing with what the frag hands out next
}

// The flags handed to bpf_exec_tx_verdict at both call sites.
int verdict_flags(const tls_context& ctx, int msg_flags, bool full_record) {
  if (ctx.sk->kc->fix == kfix::clear_more_on_full_record && full_record) return msg_flags & ~kMSG_MORE;
  return msg_flags;
}

// The flags of one call site of bpf_exec_tx_verdict in tls_sw_sendmsg_locked, noted with the
// site's name (`site`) for the trace. Not a coroutine: the call site awaits bpf_exec_tx_verdict
// itself, and a frame of its own here cost three frames a kTLS schedule.
int tls_tx_verdict_site(Sched& s, const tls_context& ctx, int msg_flags, bool full_record, const char* site) {
  const int flags = verdict_flags(ctx, msg_flags, full_record);
  s.note("tls", "{} record → bpf_exec_tx_verdict ({}) [{}]", full_record ? "full" : "eor", site,
         msg_flags_names{flags});
  return flags;
}

// What both call sites do with its result: -EINPROGRESS counts an async record, -ENOMEM waits
// for memory, -EAGAIN (the record stays open) goes on, anything else ends the send.
enum class after_verdict : uint8_t { go_on, wait_for_memory, send_end };
after_verdict after_tx_verdict(int vret, uint32_t& num_async) {
  if (vret == -kerr::einprogress) ++num_async;
  if (!vret || vret == -kerr::einprogress || vret == -kerr::eagain) return after_verdict::go_on;
  return vret == -kerr::enomem ? after_verdict::wait_for_memory : after_verdict::send_end;
}

// fix=flush-before-wait: what tcp_sendmsg_locked does at wait_for_space, done by TLS before
// its own wait: push TCP's queue with MSG_MORE cleared, so no corked tail outlives the sleep.
void tls_flush_before_wait(Sched& s, tls_context& ctx) {
  tcp_sock& sk = *ctx.sk;
  if ((ctx.sk->kc->fix != kfix::flush_before_wait && ctx.sk->kc->fix != kfix::flush_before_wait_naive) ||
      !sk.tcp_send_head())
    return;
  uint32_t size_goal = 0;
  const uint32_t mss = tcp_send_mss(sk, size_goal, 0);
  s.note("tls", "flush-before-wait: tcp_push(TCP_NAGLE_PUSH) of {} B notsent", sk.notsent_bytes());
  tcp_push(s, sk, 0, mss, kTCP_NAGLE_PUSH, size_goal);
}

}  // namespace

Co<int> tls_encrypt_async_wait(Sched& s, tls_context& ctx) {
  if (--ctx.encrypt_pending) {
    ++ctx.stats.async_waits;
    s.note("tls", "tls_encrypt_async_wait: {} encryptions pending", ctx.encrypt_pending);
    co_await ctx.async_wait.wait(s, "tls_encrypt_async_wait: done", false);
  }
  ++ctx.encrypt_pending;
  co_return ctx.async_err;
}

uint32_t tls_rec::en_size() const { return std::accumulate(en_sg.begin(), en_sg.end(), 0u); }

tls_prot_info tls_prot_info_for(tls_version v) {
  tls_prot_info p;
  if (v == tls_version::v1_2) {
    p.prepend_size = 5 + 8;  // header + explicit nonce
  } else {
    p.prepend_size = 5;
    p.tail_size = 1;
  }
  return p;
}

int tls_sync_aead::encrypt(Sched&, tls_context&, tls_rec&) { return 0; }

// Decrypted in the call, on the reader's CPU (the one that called recvmsg).
int tls_sync_aead::decrypt(Sched& s, tcp_sock& sk, uint64_t, uint64_t data_len, std::function<void(Sched&, int)>) {
  account_cpu(s, *sk.kc, sk.stats.cpu, cpu_work::decrypt, data_len, on_cpu::other);
  return 0;
}

void tls_encrypt_done(Sched& s, tls_context& ctx, tls_rec& rec, int err) {
  if (err == -kerr::einprogress) return;
  if (err || ctx.sk->sk_err) {
    ctx.async_err = err ? err : -ctx.sk->sk_err;
    if (!ctx.sk->sk_err) tls_err_abort(s, ctx, err);
  } else {
    rec.tx_ready = true;
    // The head record is ready: tx_work transmits it 1 jiffy later unless a sender (which
    // checks BIT_TX_SCHEDULED after each record it pushes) does it first. The work is
    // scheduled before complete() below, so a sender woken by it sees the bit (6.8+ order).
    if (!ctx.tx_list.empty() && ctx.tx_list.front().get() == &rec && !ctx.tx_scheduled) {
      ctx.tx_scheduled = true;
      if (ctx.tx_work) {
        ++ctx.stats.tx_work_scheduled;
        queue_delayed_work(s, *ctx.tx_work, 1);
        s.note("tls", "tls_encrypt_done: record #{} ready at the head: schedule tx_work in 1 jiffy", rec.id);
      }
    } else {
      s.note("tls", "tls_encrypt_done: record #{} ready", rec.id);
    }
  }
  if (--ctx.encrypt_pending == 0) ctx.async_wait.complete(s);
}

void tls_set_sw_offload(Sched& s, tls_context& ctx, socket& sock, tls_version v, tls_aead& aead) {
  ctx.prot = tls_prot_info_for(v);
  ctx.sk = sock.sk;
  ctx.aead = &aead;
  sock.sendmsg = [&ctx](Sched& sch, msghdr& m) { return tls_sw_sendmsg(sch, ctx, m); };
  sock.splice_eof = [&ctx](Sched& sch) { return tls_sw_splice_eof(sch, ctx); };
  sock.sendpage = [&ctx](Sched& sch, uint64_t size, int flags) { return tls_sw_sendpage(sch, ctx, size, flags); };
  sock.sk->sk_write_space = [&ctx](Sched& sch) { tls_write_space(sch, ctx); };
  ctx.tx_work = std::make_unique<Work>("kworker/tls:tx_work", "tx_work_handler",
                                       [&s, &ctx]() { return tx_work_handler(s, ctx); });
}

void tls_sw_write_space(Sched& s, tls_context& ctx) {
  if (ctx.tx_list.empty() || !ctx.tx_list.front()->tx_ready || ctx.tx_scheduled || !ctx.tx_work) return;
  ctx.tx_scheduled = true;
  ++ctx.stats.tx_work_scheduled;
  s.note("tls", "tls_sw_write_space: ready record at the head: schedule tx_work now");
  queue_delayed_work(s, *ctx.tx_work, 0);
}

Co<> tx_work_handler(Sched& s, tls_context& ctx) {
  if (ctx.tx_closing || !ctx.tx_scheduled) {
    ctx.tx_work_done.wake_up_all(s);
    co_return;
  }
  ctx.tx_scheduled = false;
  if (ctx.tx_lock.try_lock(s)) {
    ++ctx.stats.tx_work_runs;
    co_await ctx.sk->sk_lock.lock_sock(s, "tx_work_handler: tls_tx_records");
    s.note("tls", "tx_work_handler: tls_tx_records(-1): {} records on tx_list", ctx.tx_list.size());
    co_await tls_tx_records(s, ctx, -1);
    ctx.sk->sk_lock.release_sock(s);
    ctx.tx_lock.unlock(s);
  } else if (!ctx.tx_scheduled) {
    // A sender holds tx_lock and will transmit on its way out; retry in 10 ms just in case.
    ++ctx.stats.tx_work_busy;
    ctx.tx_scheduled = true;
    const uint64_t ten_ms = msecs_to_jiffies(s, 10);
    s.note("tls", "tx_work_handler: tx_lock busy, again in {} jiffies", ten_ms);
    queue_delayed_work(s, *ctx.tx_work, ten_ms);
  }
  ctx.tx_work_done.wake_up_all(s);
}

void tls_write_space(Sched& s, tls_context& ctx) {
  // Inside tls_push_sg → tcp_sendmsg_locked: only TCP's own waiter matters.
  if (ctx.splicing_pages) {
    sk_stream_write_space(s, *ctx.sk);
    return;
  }
  // With a synchronous AEAD tx_list is empty here unless a send was interrupted.
  tls_sw_write_space(s, ctx);
  sk_stream_write_space(s, *ctx.sk);
}

Co<int> tls_push_sg(Sched& s, tls_context& ctx, tls_rec& rec, size_t first_sg, uint32_t first_offset,
                    int flags) {
  tcp_sock& sk = *ctx.sk;
  ctx.partially_sent = false;
  ctx.splicing_pages = true;
  uint32_t offset = first_offset;
  const bool sendpage = sk.kc->version == kernel_version::v6_1;
  for (size_t i = first_sg; i < rec.en_sg.size(); ++i) {
    uint64_t size = rec.en_sg[i] - offset;
    for (;;) {
      int64_t ret = 0;
      if (sendpage) {
        // 6.1: one do_tcp_sendpages per entry, MSG_SENDPAGE_NOTLAST on all but the last; the
        // last gets the record's flags, NOTLAST too if the sendpage that closed the record had it.
        const bool last = i + 1 == rec.en_sg.size();
        ret = co_await do_tcp_sendpages(s, sk, size, last ? flags : flags | kMSG_SENDPAGE_NOTLAST);
      } else {
        msghdr msg;
        msg.left = size;
        msg.flags = kMSG_SPLICE_PAGES | flags;
        msg.iter = iter_type::bvec;
        ret = co_await tcp_sendmsg_locked(s, sk, msg);
      }
      if (ret == static_cast<int64_t>(size)) break;
      if (ret > 0) {
        offset += static_cast<uint32_t>(ret);
        size -= static_cast<uint64_t>(ret);
        continue;
      }
      // Keep the cursor: the rest goes with the next tls_tx_records.
      ctx.partially_sent = true;
      ctx.partially_sent_sg = i;
      ctx.partially_sent_offset = offset;
      ctx.splicing_pages = false;
      ++ctx.stats.partial_sends;
      s.note("tls", "tls_push_sg: record #{} partially sent (entry {}, offset {}): {}", rec.id, i, offset, ret);
      co_return static_cast<int>(ret);
    }
    offset = 0;
  }
  ctx.splicing_pages = false;
  co_return 0;
}

Co<int> tls_tx_records(Sched& s, tls_context& ctx, int flags) {
  int rc = 0;
  if (ctx.partially_sent) {  // tls_push_partial_record
    tls_rec& rec = *ctx.tx_list.front();
    rc = co_await tls_push_sg(s, ctx, rec, ctx.partially_sent_sg, ctx.partially_sent_offset,
                              flags == -1 ? rec.tx_flags : flags);
    if (!rc) ctx.tx_list.pop_front();
  }
  while (!rc && !ctx.tx_list.empty() && ctx.tx_list.front()->tx_ready) {
    tls_rec& rec = *ctx.tx_list.front();
    rc = co_await tls_push_sg(s, ctx, rec, 0, 0, flags == -1 ? rec.tx_flags : flags);
    if (!rc) ctx.tx_list.pop_front();
  }
  // An interrupted or would-block send is not an error of the TLS stream.
  if (rc < 0 && rc != -kerr::eagain && rc != -kerr::eintr && rc != -kerr::erestartsys)
    tls_err_abort(s, ctx, rc);
  co_return rc;
}

Co<int> tls_push_record(Sched& s, tls_context& ctx, int flags) {
  if (!ctx.open_rec) co_return 0;
  tls_rec& rec = *ctx.open_rec;
  rec.tx_flags = flags;
  rec.id = ctx.rec_seq;
  ctx.pending_open_record_frags = false;
  // tls_do_encryption: onto tx_list, then the AEAD.
  ctx.tx_list.push_back(std::move(ctx.open_rec));
  ++ctx.encrypt_pending;
  const int rc = ctx.aead->encrypt(s, ctx, rec);
  if (rc != -kerr::einprogress) --ctx.encrypt_pending;
  if (rc && rc != -kerr::einprogress) {
    ctx.open_rec = std::move(ctx.tx_list.back());
    ctx.tx_list.pop_back();
    tls_err_abort(s, ctx, -kEBADMSG);
    co_return rc;
  }
  if (!rc) {
    rec.tx_ready = true;
    // A synchronous AEAD encrypts on the sender's CPU, inside this call.
    account_cpu(s, *ctx.sk->kc, ctx.sk->stats.cpu, cpu_work::encrypt, rec.pl_size);
  }
  ++ctx.rec_seq;
  const uint32_t wire = rec.pl_size + ctx.prot.overhead_size();
  ++ctx.stats.records;
  if (flags & kMSG_MORE) ++ctx.stats.records_with_more;
  s.note("tls", "tls_push_record #{}: {} B payload, {} B on the wire, flags [{}]", rec.id, rec.pl_size, wire,
         msg_flags_names{flags});
  if (ctx.on_record) ctx.on_record(rec, wire);
  if (rc == -kerr::einprogress) {
    ctx.async_capable = true;
    ++ctx.stats.async_records;
    co_return rc;
  }
  co_return co_await tls_tx_records(s, ctx, flags);
}

Co<int> bpf_exec_tx_verdict(Sched& s, tls_context& ctx, bool /*full_record*/, int64_t& copied, int flags) {
  // No psock (no SK_MSG program): straight to tls_push_record.
  const uint32_t pl = ctx.open_rec ? ctx.open_rec->pl_size : 0;
  const int err = co_await tls_push_record(s, ctx, flags);
  if (err && err != -kerr::einprogress && ctx.sk->sk_err == kEBADMSG) {
    copied -= pl;
    ctx.open_rec.reset();  // tls_free_open_rec
    co_return -ctx.sk->sk_err;
  }
  co_return err;
}

// The three places in tls_sw_sendmsg_locked that test_and_clear BIT_TX_SCHEDULED: an async
// completion asked tx_work to transmit; the sender, holding the locks, cancels it and
// transmits the ready records itself. `noted`: say so in the trace (call site #2 only, as
// recorded in the stored findings).
// Callers test the bit first so that the common case costs no coroutine frame.
static Co<> tls_tx_scheduled_records(Sched& s, tls_context& ctx, int flags, bool noted) {
  ctx.tx_scheduled = false;
  if (ctx.tx_work) cancel_delayed_work(s, *ctx.tx_work);
  if (noted) s.note("tls", "BIT_TX_SCHEDULED: the sender transmits ready records itself");
  co_await tls_tx_records(s, ctx, flags);
}

Co<int64_t> tls_sw_sendmsg_locked(Sched& s, tls_context& ctx, msghdr& msg) {
  tcp_sock& sk = *ctx.sk;
  const bool eor = !(msg.flags & kMSG_MORE);
  const bool is_kvec = msg.iter == iter_type::kvec;
  std::optional<uint64_t> timeo = sock_sndtimeo(sk, msg.flags & kMSG_DONTWAIT);
  int64_t copied = 0;
  int ret = 0;
  uint32_t num_async = 0, num_zc = 0;

  while (msg.left) {
    uint32_t orig_size = 0, required_size = 0;
    uint64_t try_to_copy = 0;
    bool full_record = false;
    int vret = 0;
    if (sk.sk_err) {
      ret = -sk.sk_err;
      goto send_end;
    }
    if (!ctx.open_rec) ctx.open_rec = std::make_unique<tls_rec>();
    orig_size = ctx.open_rec->pl_size;
    try_to_copy = msg.left;
    if (try_to_copy >= kTLS_MAX_PAYLOAD_SIZE - orig_size) {
      try_to_copy = kTLS_MAX_PAYLOAD_SIZE - orig_size;
      full_record = true;
    }
    required_size = orig_size + static_cast<uint32_t>(try_to_copy) + ctx.prot.overhead_size();
    if (!sk_stream_memory_free(sk)) goto wait_for_sndbuf;

  alloc_encrypted:
    tls_alloc_encrypted_msg(sk, *ctx.open_rec, required_size);
    if (try_to_copy && (msg.flags & kMSG_SPLICE_PAGES)) {
      // tls_sw_sendmsg_splice: page references into msg_plaintext.
      ctx.open_rec->pl_size += static_cast<uint32_t>(try_to_copy);
      copied += static_cast<int64_t>(try_to_copy);
      msg.left -= try_to_copy;
      ctx.pending_open_record_frags = true;
      if (full_record || eor) goto copied_label;
      continue;  // a partial record stays open, nothing is pushed
    }
    if (!is_kvec && (full_record || eor) && !ctx.async_capable) {
      // Zero-copy from the user's pages, and call site #1.
      ctx.open_rec->pl_size += static_cast<uint32_t>(try_to_copy);
      copied += static_cast<int64_t>(try_to_copy);
      msg.left -= try_to_copy;
      ++num_zc;
      vret = co_await bpf_exec_tx_verdict(s, ctx, full_record, copied,
                                         tls_tx_verdict_site(s, ctx, msg.flags, full_record, "site #1, zero-copy"));
      const after_verdict next = after_tx_verdict(vret, num_async);
      if (next == after_verdict::wait_for_memory) goto wait_for_memory;
      if (next == after_verdict::send_end) {
        ret = vret;
        goto send_end;
      }
      if (ctx.tx_scheduled) co_await tls_tx_scheduled_records(s, ctx, msg.flags, false);
      continue;
    }
    // Copy into the record (tls_clone_plaintext_msg + sk_msg_memcopy_from_iter).
    account_cpu(s, *ctx.sk->kc, ctx.sk->stats.cpu, cpu_work::copy, try_to_copy);
    ctx.open_rec->pl_size += static_cast<uint32_t>(try_to_copy);
    copied += static_cast<int64_t>(try_to_copy);
    msg.left -= try_to_copy;
    ctx.pending_open_record_frags = true;

  copied_label:
    if (full_record || eor) {
      // Call site #2 (the splice path's): the caller's msg_flags, MSG_MORE included.
      vret = co_await bpf_exec_tx_verdict(s, ctx, full_record, copied,
                                         tls_tx_verdict_site(s, ctx, msg.flags, full_record, "site #2, copied:"));
      const after_verdict next = after_tx_verdict(vret, num_async);
      if (next == after_verdict::wait_for_memory) goto wait_for_memory;
      if (next == after_verdict::send_end) {
        ret = vret == -kerr::enospc ? 0 : vret;
        goto send_end;
      }
      if (ctx.tx_scheduled) co_await tls_tx_scheduled_records(s, ctx, msg.flags, true);
    }
    continue;

  wait_for_sndbuf:
    sk.sock_nospace = true;
  wait_for_memory:
    tls_flush_before_wait(s, ctx);
    // The kernel as is: whatever TCP holds corked stays corked while we sleep.
    if (ctx.sk->kc->fix == kfix::flush_before_wait && sk_stream_memory_free(sk))
      ret = 0;  // the flush freed the space: carry on as after a wait
    else
      ret = co_await sk_stream_wait_memory(s, sk, timeo);
    if (ret) {
      if (ctx.open_rec) tls_trim_both_msgs(ctx, *ctx.open_rec, orig_size);  // trim_sgl
      goto send_end;
    }
    if (ctx.open_rec && ctx.open_rec->en_size() < required_size) goto alloc_encrypted;
  }

send_end:
  if (num_async) {
    // MSG_MORE without zero-copy: the records are left to the crypto callback and tx_work.
    if (num_zc || (eor && tls_async_wait_on_eor(*ctx.sk->kc))) {
      const int err = co_await tls_encrypt_async_wait(s, ctx);
      if (err) {
        ret = err;
        copied = 0;
      }
    } else {
      s.note("tls", "send_end: {} async records, no wait (num_zc 0, {})", num_async,
             eor ? "eor, but this kernel waits only for num_zc" : "MSG_MORE");
    }
    if (ctx.tx_scheduled) co_await tls_tx_scheduled_records(s, ctx, msg.flags, false);
  }
  ret = sk_stream_error(sk, msg.flags, ret);
  co_return copied > 0 ? copied : ret;
}

Co<int64_t> tls_sw_sendmsg(Sched& s, tls_context& ctx, msghdr& msg) {
  constexpr int allowed = kMSG_MORE | kMSG_DONTWAIT | kMSG_NOSIGNAL | kMSG_SPLICE_PAGES | kMSG_EOR |
                          kMSG_SENDPAGE_NOPOLICY;
  if (msg.flags & ~allowed) co_return -kEOPNOTSUPP;
  // mutex_lock_interruptible: a pending signal or TIF_NOTIFY_SIGNAL fails it with -EINTR.
  if (!co_await ctx.tx_lock.lock_interruptible(s, "lock_sock")) co_return -kerr::eintr;
  co_await ctx.sk->sk_lock.lock_sock(s, "tls_sw_sendmsg_locked");
  const int64_t ret = co_await tls_sw_sendmsg_locked(s, ctx, msg);
  ctx.sk->sk_lock.release_sock(s);
  ctx.tx_lock.unlock(s);
  co_return ret;
}

// Kernel 6.1, tls_sw_do_sendpage: one page of `size` bytes into the open record. The record
// ends when it is full or at a page without MSG_SENDPAGE_NOTLAST (`eor`): unlike
// tls_sw_sendmsg_locked, MSG_MORE does not keep it open; the record is pushed with this page's
// flags, so a record filled in mid-splice reaches TCP with NOTLAST (tls_push_sg) and is not
// pushed there.
Co<int64_t> tls_sw_do_sendpage(Sched& s, tls_context& ctx, uint64_t size, int flags) {
  tcp_sock& sk = *ctx.sk;
  std::optional<uint64_t> timeo = sock_sndtimeo(sk, flags & kMSG_DONTWAIT);
  const bool eor = !(flags & kMSG_SENDPAGE_NOTLAST);
  int64_t copied = 0;
  int ret = 0;
  uint32_t num_async = 0;
  while (size > 0) {
    uint32_t orig_size = 0, required_size = 0;
    uint64_t copy = 0;
    bool full_record = false;
    int vret = 0;
    if (sk.sk_err) {
      ret = -sk.sk_err;
      goto sendpage_end;
    }
    if (!ctx.open_rec) ctx.open_rec = std::make_unique<tls_rec>();
    orig_size = ctx.open_rec->pl_size;
    copy = size;
    if (copy >= kTLS_MAX_PAYLOAD_SIZE - orig_size) {
      copy = kTLS_MAX_PAYLOAD_SIZE - orig_size;
      full_record = true;
    }
    required_size = orig_size + static_cast<uint32_t>(copy) + ctx.prot.overhead_size();
    if (!sk_stream_memory_free(sk)) goto wait_for_sndbuf;
  alloc_payload:
    tls_alloc_encrypted_msg(sk, *ctx.open_rec, required_size);
    // sk_msg_page_add: a reference to the page in msg_plaintext.
    ctx.open_rec->pl_size += static_cast<uint32_t>(copy);
    size -= copy;
    copied += static_cast<int64_t>(copy);
    ctx.pending_open_record_frags = true;
    if (full_record || eor) {
      s.note("tls", "{} record → bpf_exec_tx_verdict (sendpage) [{}]", full_record ? "full" : "eor",
             msg_flags_names{flags});
      vret = co_await bpf_exec_tx_verdict(s, ctx, full_record, copied, flags);
      const after_verdict next = after_tx_verdict(vret, num_async);
      if (next == after_verdict::wait_for_memory) goto wait_for_memory;
      if (next == after_verdict::send_end) {
        ret = vret == -kerr::enospc ? 0 : vret;
        goto sendpage_end;
      }
    }
    continue;
  wait_for_sndbuf:
    sk.sock_nospace = true;
  wait_for_memory:
    ret = co_await sk_stream_wait_memory(s, sk, timeo);
    if (ret) {
      if (ctx.open_rec) tls_trim_both_msgs(ctx, *ctx.open_rec, ctx.open_rec->pl_size);
      goto sendpage_end;
    }
    if (ctx.open_rec) goto alloc_payload;
  }
sendpage_end:
  // Transmit what encryptions have completed meanwhile (BIT_TX_SCHEDULED).
  if (num_async && ctx.tx_scheduled) co_await tls_tx_scheduled_records(s, ctx, flags, false);
  ret = sk_stream_error(sk, flags, ret);
  co_return copied > 0 ? copied : ret;
}

Co<int64_t> tls_sw_sendpage(Sched& s, tls_context& ctx, uint64_t size, int flags) {
  constexpr int allowed = kMSG_MORE | kMSG_DONTWAIT | kMSG_NOSIGNAL | kMSG_SENDPAGE_NOTLAST | kMSG_SENDPAGE_NOPOLICY;
  if (flags & ~allowed) co_return -kEOPNOTSUPP;
  if (!co_await ctx.tx_lock.lock_interruptible(s, "lock_sock")) co_return -kerr::eintr;
  co_await ctx.sk->sk_lock.lock_sock(s, "tls_sw_do_sendpage");
  const int64_t ret = co_await tls_sw_do_sendpage(s, ctx, size, flags);
  ctx.sk->sk_lock.release_sock(s);
  ctx.tx_lock.unlock(s);
  co_return ret;
}

Co<> tls_sw_splice_eof(Sched& s, tls_context& ctx) {
  if (!ctx.open_rec) co_return;
  co_await ctx.tx_lock.lock(s, "lock_sock");
  co_await ctx.sk->sk_lock.lock_sock(s, "tls_sw_splice_eof");
  if (ctx.open_rec && ctx.open_rec->pl_size) {
    int64_t copied = 0;
    if (co_await bpf_exec_tx_verdict(s, ctx, false, copied, 0) == -kerr::einprogress)
      co_await tls_encrypt_async_wait(s, ctx);
  }
  if (ctx.partially_sent || !ctx.tx_list.empty()) co_await tls_tx_records(s, ctx, 0);
  ctx.sk->sk_lock.release_sock(s);
  ctx.tx_lock.unlock(s);
}

// ---- RX ---------------------------------------------------------------------------------------

void tls_set_sw_offload_rx(Sched& s, tls_sw_context_rx& ctx, tcp_sock& sk, tls_version v, const tls_wire& wire,
                           tls_aead& aead) {
  ctx.sk = &sk;
  ctx.prot = tls_prot_info_for(v);
  ctx.aead = &aead;
  // TLS 1.3 never decrypts asynchronously: the record type is inside the ciphertext, and the
  // reader must know it before deciding where the next record goes. With an async engine a 1.3
  // decryption is submitted and waited for (crypto_wait_req), one record at a time.
  ctx.async_capable = v != tls_version::v1_3 && aead.is_async();
  ctx.mutation = g_tls_rx_mutation;
  // tls_update_rx_zc_capable: TLS 1.3 pads, so the record type is known only after
  // decryption; without TLS_RX_EXPECT_NO_PAD (never set here) 1.3 decrypts into a clear-text skb.
  ctx.zc_capable = v == tls_version::v1_2;
  tls_strp_init(s, ctx.strp, sk, wire, ctx.prot.prepend_size);
  // tls_rx_msg_ready → ctx->saved_data_ready: sock_def_readable, the socket's own wake-up.
  ctx.strp.msg_ready_cb = [&sk](Sched& sch) { sk.sk_wq.wake_up_all(sch); };
  // tls_sw_strparser_arm: from here every delivery goes through the parser.
  sk.sk_data_ready_fn = [&ctx](Sched& sch) { tls_data_ready(sch, ctx); };
  // do_tls_setsockopt_conf (RX): tls_strp_check_rcv, for a record that came before TLS_RX.
  tls_strp_check_rcv(s, ctx.strp);
}

void tls_data_ready(Sched& s, tls_sw_context_rx& ctx) {
  // No psock here: only the parser. The reader is woken when a record is ready, not on every
  // segment (sock_def_readable runs from tls_rx_msg_ready).
  tls_strp_data_ready(s, ctx.strp);
}

bool tls_sw_sock_is_readable(const tls_sw_context_rx& ctx) {
  return tls_strp_msg_ready(ctx.strp) || !ctx.rx_list.empty();
}

bool tls_sk_poll_readable(const tls_sw_context_rx& ctx) {
  const tcp_sock& sk = *ctx.sk;
  // tcp_poll: EPOLLIN when bytes are queued (tcp_epollin_ready with target 1), when
  // sk_is_readable (the protocol's tls_sw_sock_is_readable), or at RCV_SHUTDOWN.
  const bool tcp_in = sk.rcv_queued() > 0 || tls_sw_sock_is_readable(ctx) || sk.rcv_shutdown.get();
  if (sk.rcv_shutdown.get()) return tcp_in;  // state != ESTABLISHED or RCV_SHUTDOWN: as is
  if (ctx.rx_list.empty() && !tls_strp_msg_ready(ctx.strp)) return false;
  return tcp_in;
}

void tls_decrypt_done(Sched& s, tls_sw_context_rx& ctx, uint64_t rec, int err) {
  if (err == -kerr::einprogress) return;  // the backlog's first notification (not modelled)
  if (err) {
    // The connection is broken for the reader: the next recvmsg returns this error.
    ctx.async_err = err;
    ctx.sk->sk_err = -err;  // tls_err_abort
    ctx.sk->sk_wq.wake_up_all(s);
  }
  // The plaintext is now in the clear-text skb, or in the user's pages (zero-copy).
  ctx.decrypting.erase(rec);
  --ctx.decrypt_pending;
  s.note("tls", "tls_decrypt_done: record #{} decrypted, decrypt_pending {}", rec, ctx.decrypt_pending);
  if (ctx.decrypt_pending == 0) ctx.async_wait.complete(s);
}

Co<int> tls_decrypt_async_wait(Sched& s, tls_sw_context_rx& ctx) {
  if (--ctx.decrypt_pending) {
    ++ctx.stats.async_waits;
    s.note("tls", "tls_decrypt_async_wait: {} decryptions pending", ctx.decrypt_pending);
    co_await ctx.async_wait.wait(s, "tls_decrypt_async_wait: done", false);  // crypto_wait_req
  }
  ++ctx.decrypt_pending;
  ctx.async_hold = 0;  // __skb_queue_purge(&ctx->async_hold)
  co_return ctx.async_err;
}

namespace {

// sk_wait_event(sk, &timeo, cond, &wait) with a wait_woken entry on sk_sleep(sk): release_sock
// (which runs the backlog), re-check, wait_woken, lock_sock. Returns the condition after.
template <class Cond>
Co<bool> tls_sk_wait_event(Sched& s, tcp_sock& sk, std::optional<uint64_t>& timeo, WaitQueue& q,
                           WaitQueue::WokenEntry& wait, Cond cond, std::string_view label) {
  sk.sk_lock.release_sock(s);
  co_await s.point("sk_wait_event");  // another CPU may run between the release and the check
  if (!cond()) {
    if (wait.woken) {
      wait.woken = false;  // a wake-up came while awake: wait_woken returns at once
    } else {
      const uint64_t t0 = s.now_ns();
      const WakeReason why = co_await q.sleep(s, label, true, timeo);
      wait.woken = false;
      if (timeo) *timeo = why == WakeReason::timeout ? 0 : *timeo - std::min(*timeo, s.now_ns() - t0);
    }
  }
  co_await sk.sk_lock.lock_sock(s, "sk_wait_event: locked");
  co_return cond();
}

// DEFINE_WAIT_FUNC + add_wait_queue ... remove_wait_queue around one sk_wait_event.
struct TlsWokenWait {
  WaitQueue& wq;
  WaitQueue::WokenEntry entry;
  TlsWokenWait(Sched& s, WaitQueue& q) : wq(q) { wq.add_woken(s, &entry); }
  ~TlsWokenWait() { wq.remove_woken(&entry); }
  TlsWokenWait(const TlsWokenWait&) = delete;
  TlsWokenWait& operator=(const TlsWokenWait&) = delete;
};

// sock_rcvtimeo: no SO_RCVTIMEO in the scripts, so blocking means forever.
std::optional<uint64_t> sock_rcvtimeo(bool nonblock) {
  if (nonblock) return uint64_t{0};
  return std::nullopt;
}

// tls_rx_reader_acquire: one reader at a time inside tls_sw_recvmsg (the socket lock is
// dropped while it waits for records, so a second reader would otherwise interleave).
Co<int> tls_rx_reader_acquire(Sched& s, tls_sw_context_rx& ctx, bool nonblock) {
  std::optional<uint64_t> timeo = sock_rcvtimeo(nonblock);
  while (ctx.reader_present) {
    ctx.reader_contended = true;
    ++ctx.stats.reader_waits;
    TlsWokenWait wait(s, ctx.wq);
    co_await tls_sk_wait_event(s, *ctx.sk, timeo, ctx.wq, wait.entry, [&ctx] { return !ctx.reader_present; },
                               "tls_rx_reader_acquire: woken");
    if (timeo && *timeo == 0) co_return -kerr::eagain;
    if (s.current().signal_pending()) co_return sock_intr_errno(timeo);
  }
  ctx.reader_present = true;
  co_return 0;
}

Co<int> tls_rx_reader_lock(Sched& s, tls_sw_context_rx& ctx, bool nonblock) {
  co_await ctx.sk->sk_lock.lock_sock(s, "tls_rx_reader_lock: locked");
  const int err = co_await tls_rx_reader_acquire(s, ctx, nonblock);
  if (err) ctx.sk->sk_lock.release_sock(s);
  co_return err;
}

void tls_rx_reader_release(Sched& s, tls_sw_context_rx& ctx) {
  if (ctx.reader_contended) {
    if (ctx.wq.has_waiters()) ctx.wq.wake_up_one(s);
    else ctx.reader_contended = false;
  }
  ctx.reader_present = false;
}

static void tls_rx_reader_unlock(Sched& s, tls_sw_context_rx& ctx) {
  tls_rx_reader_release(s, ctx);
  ctx.sk->sk_lock.release_sock(s);
}

// tls_record_content_type: every record one recvmsg returns has the same type. The first sets
// *control (put_cmsg of TLS_GET_RECORD_TYPE); a non-data record needs a control buffer, which a
// plain recv() has not (MSG_CTRUNC): -EIO. A record of another type ends the read (0).
int tls_record_content_type(uint8_t rec_control, uint8_t& control) {
  if (!control) {
    control = rec_control;
    if (!control) return -kEBADMSG;
    if (control != kTLS_RECORD_TYPE_DATA) return -kerr::eio;
  } else if (control != rec_control) {
    return 0;
  }
  return 1;
}

// skb_copy_datagram_msg of `n` plaintext bytes at `off` of a decrypted record (or, for zero-copy,
// the part of the user's buffer tls_setup_from_iter hands to the AEAD). A record whose
// decryption is still in flight holds no plaintext yet: what is copied is counted as such.
void copy_to_user(const tls_sw_context_rx& ctx, tls_recv_out& out, const tls_rx_skb& skb, uint32_t off, uint32_t n,
                  bool zero_copy = false) {
  if (!n) return;
  if (!zero_copy) out.user_copied += n;
  if (ctx.decrypting.count(skb.rec)) out.undecrypted += n;
  const uint64_t from = skb.pl_start + off;
  if (!out.chunks.empty() && out.chunks.back().first + out.chunks.back().second == from)
    out.chunks.back().second += n;
  else
    out.chunks.emplace_back(from, n);
}

// process_rx_list: copy from the records already decrypted. Not peeking, what is copied is
// consumed and a record left with bytes stops the walk (the caller's buffer is full).
int64_t process_rx_list(tls_sw_context_rx& ctx, tls_recv_out* out, uint8_t& control, uint64_t skip,
                        uint64_t len, bool is_peek, bool* more) {
  size_t i = 0;
  int64_t copied = 0;
  int err = 0;
  while (skip && i < ctx.rx_list.size()) {
    const tls_rx_skb& skb = ctx.rx_list[i];
    err = tls_record_content_type(skb.control, control);
    if (err <= 0) {
      if (more) *more = true;
      return copied ? copied : err;
    }
    if (skip < skb.full_len) break;
    skip -= skb.full_len;
    ++i;
  }
  while (len && i < ctx.rx_list.size()) {
    tls_rx_skb& skb = ctx.rx_list[i];
    const auto chunk = static_cast<uint32_t>(std::min<uint64_t>(skb.full_len - skip, len));
    err = tls_record_content_type(skb.control, control);
    if (err <= 0) {
      if (more) *more = true;
      return copied ? copied : err;
    }
    if (out) copy_to_user(ctx, *out, skb, skb.offset + static_cast<uint32_t>(skip), chunk);
    len -= chunk;
    copied += chunk;
    if (!is_peek) {
      skb.offset += chunk;
      skb.full_len -= chunk;
      if (skb.full_len - skip) break;  // unconsumed data in the record
    }
    skip = 0;
    if (out) out->eor = true;
    if (!is_peek) ctx.rx_list.erase(ctx.rx_list.begin() + static_cast<std::ptrdiff_t>(i));
    else ++i;
  }
  return copied;
}

// sock_error: the pending error, cleared.
int sock_error(tcp_sock& sk) {
  const int e = sk.sk_err;
  if (!e) return 0;
  sk.sk_err = 0;
  return -e;
}

// tls_rx_rec_wait: until the parser has a whole record. Returns 1 with a record loaded, 0 at
// EOF, or an error (-EAGAIN without blocking, a signal's, the socket's).
Co<int> tls_rx_rec_wait(Sched& s, tls_sw_context_rx& ctx, bool nonblock, bool released) {
  tcp_sock& sk = *ctx.sk;
  std::optional<uint64_t> timeo = sock_rcvtimeo(nonblock);
  for (;;) {
    while (!tls_strp_msg_ready(ctx.strp)) {
      if (sk.sk_err) co_return sock_error(sk);
      // Bytes are queued: parse here, in process context (the softirq may have found the
      // socket owned and left it to the work item).
      if (sk.rcv_queued()) {
        tls_strp_check_rcv(s, ctx.strp);
        if (tls_strp_msg_ready(ctx.strp)) break;
      }
      if (sk.rcv_shutdown || sk.sock_done) co_return 0;
      if (timeo && *timeo == 0) co_return -kerr::eagain;
      released = true;
      ++ctx.stats.rec_waits;
      s.note("tls", "tls_rx_rec_wait: no whole record ({} B queued): sleep", sk.rcv_queued());
      TlsWokenWait wait(s, sk.sk_wq);
      co_await tls_sk_wait_event(s, sk, timeo, sk.sk_wq, wait.entry, [&ctx] { return tls_strp_msg_ready(ctx.strp); },
                                 "tls_rx_rec_wait: woken");
      if (s.current().signal_pending()) co_return sock_intr_errno(timeo);
    }
    if (tls_strp_msg_load(s, ctx.strp, released)) co_return 1;
    released = false;  // the kernel's recursive call with released = false
  }
}

// tls_do_decryption: submit the record to the AEAD. darg.async: with tls_decrypt_done as the
// callback and decrypt_pending raised first; -EINPROGRESS leaves it in flight (returns 0, async
// kept); an AEAD that finished in the call lowers the count again and clears darg.async. Not
// async: crypto_req_done as the callback, and an engine that answers -EINPROGRESS is waited for
// here (crypto_wait_req: uninterruptible, the socket lock held). -EBUSY (cryptd's queue past
// cryptd_max_cpu_qlen, 1000 requests) is not modelled: one reader never has that many in flight.
Co<int> tls_do_decryption(Sched& s, tls_sw_context_rx& ctx, uint64_t rec, uint32_t data_len, tls_decrypt_arg& darg) {
  if (darg.async) {
    ++ctx.decrypt_pending;
    ctx.decrypting.insert(rec);
    const int ret = ctx.aead->decrypt(s, *ctx.sk, rec, data_len,
                                      [&ctx, rec](Sched& sch, int err) { tls_decrypt_done(sch, ctx, rec, err); });
    if (ret == -kerr::einprogress) {
      ++ctx.stats.async_records;
      ctx.stats.max_pending = std::max<uint64_t>(ctx.stats.max_pending, ctx.decrypt_pending - 1);
      co_return 0;
    }
    ctx.decrypting.erase(rec);
    --ctx.decrypt_pending;
    darg.async = false;
    co_return ret;
  }
  Completion wait;  // DECLARE_CRYPTO_WAIT
  int done_err = 0;
  int ret = ctx.aead->decrypt(s, *ctx.sk, rec, data_len, [&wait, &done_err](Sched& sch, int err) {
    done_err = err;  // crypto_req_done
    wait.complete(sch);
  });
  if (ret == -kerr::einprogress) {
    ++ctx.stats.crypto_waits;
    s.note("tls", "tls_do_decryption: record #{} queued to an async engine: crypto_wait_req", rec);
    co_await wait.wait(s, "crypto_wait_req: done", false);
    ret = done_err;
  }
  co_return ret;
}

// tls_decrypt_sg: where the plaintext goes - the user's buffer (darg.zc: tls_setup_from_iter
// takes its pages now, so the bytes land at this position of the buffer whenever the
// decryption completes) or a clear-text skb - then tls_do_decryption. A record in flight keeps
// its ciphertext skbs (tls_strp_msg_hold onto async_hold): the parser moves on meanwhile.
Co<int> tls_decrypt_sg(Sched& s, tls_sw_context_rx& ctx, tls_recv_out& out, tls_decrypt_arg& darg) {
  const tls_wire_record& w = ctx.strp.wire->at(ctx.sk->copied_seq);
  tls_rx_skb skb;
  skb.rec = ctx.rec_seq;
  skb.pl_start = w.pl_start;
  skb.offset = 0;  // rxm->offset += prepend_size (tls_rx_one_record): the plaintext starts here
  skb.full_len = ctx.strp.stm_full_len - ctx.prot.overhead_size();  // rxm->full_len -= overhead_size
  skb.control = ctx.strp.mark;  // 1.3: the inner type, which the model's sender always makes data
  if (darg.zc) {
    copy_to_user(ctx, out, skb, 0, skb.full_len, true);  // the buffer's pages are the AEAD's output
    if (darg.async) out.zc_async_recs.push_back(skb.rec);
  }
  // data_len: the ciphertext and its tag (the kernel's rxm->full_len - prepend_size).
  const int err = co_await tls_do_decryption(s, ctx, skb.rec, ctx.strp.stm_full_len - ctx.prot.prepend_size, darg);
  if (err) co_return err;
  darg.skb = skb;  // clear_skb, or the record itself after zero-copy
  if (darg.async) ++ctx.async_hold;  // tls_strp_msg_hold: -ENOMEM is not modelled
  co_return 0;
}

// tls_decrypt_sw: tls_decrypt_sg, then (TLS 1.3) the padding, which the model's sender never
// adds: tls_padding_length finds the content type in the last byte.
Co<int> tls_decrypt_sw(Sched& s, tls_sw_context_rx& ctx, tls_recv_out& out, tls_decrypt_arg& darg) {
  co_return co_await tls_decrypt_sg(s, ctx, out, darg);
}

// tls_rx_one_record → tls_decrypt_sw (no device offload). The record sequence number advances
// (tls_advance_record_sn) when the decryption is submitted, not when it completes.
Co<int> tls_rx_one_record(Sched& s, tls_sw_context_rx& ctx, tls_recv_out& out, tls_decrypt_arg& darg) {
  const int err = co_await tls_decrypt_sw(s, ctx, out, darg);
  if (err < 0) co_return err;
  ++ctx.rec_seq;
  ++ctx.stats.records_decrypted;
  if (darg.zc) ++ctx.stats.zc_records;
  const tls_rx_skb& skb = darg.skb;
  s.note("tls", "tls_rx_one_record: record #{} ({} B plaintext, stream [{}, {})){}{}", ctx.rec_seq - 1, skb.full_len,
         skb.pl_start, skb.pl_start + skb.full_len, darg.zc ? " decrypted into the user buffer" : "",
         darg.async ? ": decryption in flight (async)" : "");
  co_return 0;
}

// tls_read_flush_backlog: with more to read than this record, process the socket's backlog now
// and then (what the softirq queued while we owned the socket), so the parser sees new data.
bool tls_read_flush_backlog(Sched& s, tls_sw_context_rx& ctx, uint64_t len_left, uint64_t decrypted, uint64_t done,
                            uint64_t& flushed_at) {
  if (len_left <= decrypted) return false;
  const uint64_t max_rec = ctx.prot.overhead_size() - ctx.prot.tail_size + kTLS_MAX_PAYLOAD_SIZE;
  if (done - flushed_at < 128 * 1024 && ctx.sk->rcv_queued() > max_rec) return false;
  flushed_at = done;
  const bool flushed = __release_sock(s, *ctx.sk);  // sk_flush_backlog
  if (flushed) ++ctx.stats.backlog_flushes;
  return flushed;
}

}  // namespace

Co<int64_t> tls_sw_recvmsg(Sched& s, tls_sw_context_rx& ctx, uint32_t len_in, int flags, tls_recv_out& out) {
  const bool is_peek = flags & kMSG_PEEK;
  const bool nonblock = flags & kMSG_DONTWAIT;
  uint64_t len = len_in;
  int err = co_await tls_rx_reader_lock(s, ctx, nonblock);
  if (err < 0) co_return err;
  uint8_t control = 0;
  bool rx_more = false, released = true, async = false;
  int64_t copied = 0, decrypted = 0, peeked = 0, async_copy_bytes = 0;
  uint64_t flushed_at = 0;
  err = ctx.async_err;  // "If crypto failed the connection is broken"
  if (!err) {
    // Records decrypted by an earlier call (a partly read one, or peeked ones) come first.
    const int64_t r = process_rx_list(ctx, &out, control, 0, len, is_peek, &rx_more);
    if (r < 0) {
      err = static_cast<int>(r);
    } else {
      copied = r;
      if (!(len <= static_cast<uint64_t>(copied) || rx_more || (control && control != kTLS_RECORD_TYPE_DATA))) {
        // sock_rcvlowat: MSG_WAITALL waits for len, else for 1 byte (SO_RCVLOWAT is not set).
        const uint64_t target = (flags & kMSG_WAITALL) ? len : std::min<uint64_t>(1, len);
        len -= static_cast<uint64_t>(copied);
        const bool zc_capable = !is_peek && ctx.zc_capable;
        // One record at a time, while the caller's buffer has room and either the target is
        // not met or another whole record is already there: a recv never waits for a record
        // once it has bytes, and never returns part of a record while its buffer has room.
        while (len && (static_cast<uint64_t>(decrypted + copied) < target || tls_strp_msg_ready(ctx.strp))) {
          err = co_await tls_rx_rec_wait(s, ctx, nonblock, released);
          if (err <= 0) break;
          const uint32_t to_decrypt = ctx.strp.stm_full_len - ctx.prot.overhead_size();
          tls_decrypt_arg darg;
          darg.zc = zc_capable && to_decrypt <= len && ctx.strp.mark == kTLS_RECORD_TYPE_DATA;
          // Only data records may be decrypted asynchronously (no BPF strparser here): a control
          // record's type must be known before the next record is looked at.
          darg.async = ctx.strp.mark == kTLS_RECORD_TYPE_DATA && ctx.async_capable;
          // The decryption is the long part of a read, and runs with the socket owned: another
          // CPU's softirq may deliver meanwhile, to the backlog (tcp_v4_rcv), and the parser's
          // work waits for the lock.
          co_await s.point("tls_rx_one_record");
          err = co_await tls_rx_one_record(s, ctx, out, darg);
          if (err < 0) break;  // tls_err_abort(-EBADMSG): the model's AEADs never fail
          async |= darg.async;
          tls_rx_skb& skb = darg.skb;
          err = tls_record_content_type(skb.control, control);
          if (err <= 0) {
            tls_strp_msg_done(s, ctx.strp);  // tls_rx_rec_done
            ctx.rx_list.push_back(skb);      // put_on_rx_list_err
            break;
          }
          released = tls_read_flush_backlog(s, ctx, len, to_decrypt, static_cast<uint64_t>(decrypted + copied),
                                            flushed_at);
          uint32_t chunk = skb.full_len;
          tls_strp_msg_done(s, ctx.strp);  // tls_rx_rec_done: the wire bytes leave the TCP queue
          if (!darg.zc) {
            const bool partially_consumed = chunk > len;
            bool put_on_rx_list = false;
            if (async) {
              // Once one record of this call went async, every clear-text record waits on
              // rx_list for recv_end, which copies async_copy_bytes from it after the wait (TLS
              // 1.2 only: to_decrypt is the plaintext length).
              chunk = static_cast<uint32_t>(std::min<uint64_t>(to_decrypt, len));
              async_copy_bytes += chunk;
              put_on_rx_list = true;
            } else {
              if (partially_consumed) chunk = static_cast<uint32_t>(len);
              copy_to_user(ctx, out, skb, skb.offset, chunk);
              if (is_peek) {
                peeked += chunk;
                ++ctx.stats.peeked_records;
                put_on_rx_list = true;
              } else if (partially_consumed) {
                skb.offset += chunk;
                skb.full_len -= chunk;
                ++ctx.stats.partial_records;
                put_on_rx_list = true;
              }
            }
            if (put_on_rx_list) {
              decrypted += chunk;
              len -= chunk;
              ctx.rx_list.push_back(skb);
              if (control != kTLS_RECORD_TYPE_DATA) break;
              continue;
            }
          }
          decrypted += chunk;
          len -= chunk;
          out.eor = true;
          if (control != kTLS_RECORD_TYPE_DATA) break;
        }
        // recv_end
        if (async) {
          // Wait for every decryption this call submitted, then copy the clear-text records it
          // left on rx_list (a peek: behind the bytes already peeked from it).
          int ret = 0;
          if (ctx.mutation == tls_rx_mutation::no_async_wait)
            s.note("tls", "recv_end: MUTATION no_async_wait: {} decryptions still pending", ctx.decrypt_pending - 1);
          else
            ret = co_await tls_decrypt_async_wait(s, ctx);
          if (ret) {
            // goto end: only what came from rx_list before the loop is reported.
            if (err >= 0 || err == -kerr::einprogress) err = ret;
            decrypted = 0;
          } else {
            const int64_t n =
                is_peek ? process_rx_list(ctx, &out, control, static_cast<uint64_t>(copied + peeked),
                                          static_cast<uint64_t>(decrypted - peeked), true, nullptr)
                        : process_rx_list(ctx, &out, control, 0, static_cast<uint64_t>(async_copy_bytes), false, nullptr);
            decrypted += std::max<int64_t>(n, 0) - async_copy_bytes;
          }
        }
        copied += decrypted;
      }
    }
  }
  account_cpu(s, *ctx.sk->kc, ctx.sk->stats.cpu, cpu_work::copy, out.user_copied, on_cpu::other);
  tls_rx_reader_unlock(s, ctx);
  const int64_t ret = copied ? copied : err;
  s.note("tls", "tls_sw_recvmsg({} B{}) returns {}", len_in, is_peek ? ", MSG_PEEK" : "", ret);
  co_return ret;
}

}  // namespace kpsim::model
