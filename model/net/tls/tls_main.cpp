// net/tls/tls_main.c close and tls_sw.c TX release (kernel 6.12): see tls_main.h.
#include "model/net/tls/tls_main.h"

#include "model/net/ipv4/tcp.h"
#include "model/net/ipv4/tcp_output.h"

namespace kpsim::model {

namespace {

// fix=flush-in-worker: let tx_work (a kworker: no signals) push everything before closing.
Co<> tls_flush_tx_in_worker(Sched& s, tls_context& ctx, tls_close_stats& st) {
  co_await tls_encrypt_async_wait(s, ctx);
  while (ctx.partially_sent || (!ctx.tx_list.empty() && ctx.tx_list.front()->tx_ready)) {
    ctx.tx_scheduled = true;
    mod_delayed_work(s, *ctx.tx_work, 0);
    ++st.worker_flushes;
    s.note("tls", "flush-in-worker: {} records left for tx_work; wait for it", ctx.tx_list.size());
    while (ctx.tx_work->pending() || ctx.tx_work->running())
      co_await ctx.tx_work_done.sleep(s, "flush_delayed_work: done", false);
  }
}

// tls_sw_release_resources_tx
Co<> tls_sw_release_resources_tx(Sched& s, tls_context& ctx, tls_close_stats& st) {
  co_await tls_encrypt_async_wait(s, ctx);
  if (ctx.partially_sent || !ctx.tx_list.empty()) {
    s.note("tls", "tls_sw_release_resources_tx: tls_tx_records(-1) with {} records on tx_list", ctx.tx_list.size());
    st.tx_records_rc = co_await tls_tx_records(s, ctx, -1);  // the result is ignored
  }
  if (ctx.partially_sent) ++st.partially_sent_freed;
  for (auto& rec : ctx.tx_list) {
    ++st.records_freed;
    st.plaintext_freed += rec->pl_size;
  }
  if (!ctx.tx_list.empty())
    s.note("tls", "tls_sw_release_resources_tx: free {} unsent records ({} B of plaintext){}", st.records_freed,
           st.plaintext_freed, ctx.partially_sent ? ", the first partly sent" : "");
  ctx.tx_list.clear();
  ctx.partially_sent = false;
  if (ctx.open_rec) {  // tls_free_open_rec
    st.open_rec_dropped += ctx.open_rec->pl_size;
    if (ctx.open_rec->pl_size) s.note("tls", "tls_free_open_rec: drop {} B never pushed", ctx.open_rec->pl_size);
    ctx.open_rec.reset();
  }
}

}  // namespace

Co<> tls_sk_proto_close(Sched& s, tls_context& ctx, tls_close_stats& st) {
  tcp_sock& sk = *ctx.sk;
  st.closed_by = s.current().name;
  s.note("tls", "tls_sk_proto_close in {}", s.current().name);
  if (ctx.sk->kc->fix == kfix::flush_in_worker) co_await tls_flush_tx_in_worker(s, ctx, st);
  // tls_sw_cancel_work_tx: no more tx_work from the callback, then wait for a running one.
  ctx.tx_closing = true;
  ctx.tx_scheduled = true;
  co_await cancel_work_sync(s, *ctx.tx_work);  // disable_delayed_work_sync
  co_await sk.sk_lock.lock_sock(s, "tls_sk_proto_close: locked");
  // tls_sk_proto_cleanup: the open record is pushed only after waiting out a pending writer.
  std::optional<uint64_t> timeo = sock_sndtimeo(sk, false);
  if (sk.sk_write_pending) {
    bool ok = true;
    while (sk.sk_write_pending) {  // wait_on_pending_writer
      if (s.current().signal_pending()) {
        ok = false;
        break;
      }
      sk.sk_lock.release_sock(s);
      co_await sk.sk_wq.sleep(s, "wait_on_pending_writer: woken", true, timeo);
      co_await sk.sk_lock.lock_sock(s, "wait_on_pending_writer: locked");
    }
    if (ok && ctx.open_rec && ctx.open_rec->pl_size) {
      int64_t copied = 0;
      co_await bpf_exec_tx_verdict(s, ctx, true, copied, 0);  // tls_handle_open_record(sk, 0)
    }
  }
  co_await tls_sw_release_resources_tx(s, ctx, st);
  sk.sk_lock.release_sock(s);
  st.closed = true;
  co_await tcp_close(s, sk);  // ctx->sk_proto->close
}

}  // namespace kpsim::model
