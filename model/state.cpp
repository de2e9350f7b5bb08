// The state each model object shows (model/state.h). Read-only walks over the objects; the
// names are the kernel's field names where there is one, so a trace reads like the source.
#include "model/state.h"

#include "model/crypto/cryptd.h"
#include "model/fs/file_table.h"
#include "model/include/linux/pipe_fs_i.h"
#include "model/include/linux/skmsg.h"
#include "model/include/linux/tcp.h"
#include "model/include/net/sock.h"
#include "model/io_uring/io_uring.h"
#include "model/net/tls/tls_sw.h"

namespace kpsim::model {

void visit_state(StateVisitor& v, const std::string& prefix, const sock& sk) {
  StatePrefix p(v, prefix);
  uint64_t rx_bytes = 0;
  for (const auto& skb : sk.sk_receive_queue.raw()) rx_bytes += skb->len();
  p.u("sk_receive_queue.skbs", sk.sk_receive_queue.raw().size());
  p.u("sk_receive_queue.bytes", rx_bytes);
  p.u("sk_rmem_alloc", sk.sk_rmem_alloc.raw());
  p.u("sk_drops", sk.sk_drops.raw());
  p.i("sk_err", sk.sk_err.raw());
  p.flag("SOCK_DEAD", sk.sock_dead.raw());
  p.flag("RCV_SHUTDOWN", sk.rcv_shutdown.raw());
  p.flag("SEND_SHUTDOWN", sk.send_shutdown.raw());
  if (sk.psock.raw()) visit_state(v, prefix + ".psock", *sk.psock.raw());
  if (sk.is_tcp()) visit_tcp_state(v, prefix, tcp_sk(sk));
}

void visit_state(StateVisitor& v, const std::string& prefix, const sk_psock& psock) {
  StatePrefix p(v, prefix);
  p.u("ingress_msg.msgs", psock.ingress_msg.raw().size());
  p.u("ingress_msg.bytes", ingress_msg_bytes(psock));
  p.u("msg_tot_len", psock.msg_tot_len.raw());
  // sk_msg_first_len without its side effects: the head message's bytes left (UDP FIONREAD).
  p.u("sk_msg_first_len", psock.ingress_msg.raw().empty() ? 0 : psock.ingress_msg.raw().front().sg_size());
  uint64_t skb_bytes = 0;
  for (const auto& skb : psock.ingress_skb.raw()) skb_bytes += skb->len();
  p.u("ingress_skb.skbs", psock.ingress_skb.raw().size());
  p.u("ingress_skb.bytes", skb_bytes);
  p.u("work_state.off", psock.work_state.raw().off);
  p.flag("TX_ENABLED", psock.tx_enabled.raw());
}

void visit_tcp_state(StateVisitor& v, const std::string& prefix, const tcp_sock& tp) {
  StatePrefix p(v, prefix);
  p.u("write_seq", tp.write_seq);
  p.u("snd_nxt", tp.snd_nxt);
  p.u("snd_una", tp.snd_una);
  p.u("notsent", tp.notsent_bytes());
  p.u("packets_out", tp.packets_out);
  p.u("snd_cwnd", tp.snd_cwnd);
  p.u("snd_wnd", tp.snd_wnd);
  p.i("sk_wmem_queued", tp.sk_wmem_queued.raw());
  p.i("sk_sndbuf", tp.sk_sndbuf.raw());
  p.u("write_queue.skbs", tp.write_queue.size());
  p.u("rtx_queue.skbs", tp.rtx_queue.size());
  p.u("rcv_nxt", tp.rcv_nxt);
  p.u("copied_seq", tp.copied_seq);
  p.u("rcv_wnd", tp.rcv_window());
  p.flag("SOCK_NOSPACE", tp.sock_nospace.raw());
  p.s("icsk_pending", tp.icsk_pending == icsk_timer::retrans  ? "retrans"
                      : tp.icsk_pending == icsk_timer::probe0 ? "probe0"
                                                              : "none");
  p.u("icsk_backoff", tp.icsk_backoff);
  p.u("icsk_probes_out", tp.icsk_probes_out);
  if (tp.kc->acks == tcp_acks::delayed) {  // the delayed-ACK engine (receivers)
    p.u("rcv_wup", tp.rcv_wup);
    p.u("icsk_ack.pending", tp.icsk_ack_pending);
    p.u("icsk_ack.quick", tp.icsk_ack_quick);
    p.u("icsk_ack.pingpong", tp.icsk_ack_pingpong);
    p.u("icsk_ack.ato", tp.icsk_ack_ato);
    p.u("icsk_ack.rcv_mss", tp.icsk_ack_rcv_mss);
    p.u("icsk_ack.last_seg_size", tp.icsk_ack_last_seg_size);
  }
}

void visit_state(StateVisitor& v, const std::string& prefix, const tls_context& ctx) {
  StatePrefix p(v, prefix);
  p.u("open_rec.bytes", ctx.open_rec ? ctx.open_rec->pl_size : 0);
  p.u("tx_list.records", ctx.tx_list.size());
  uint64_t ready = 0;
  for (const auto& r : ctx.tx_list) ready += r->tx_ready ? 1 : 0;
  p.u("tx_list.ready", ready);
  p.flag("partially_sent", ctx.partially_sent);
  // Biased by one since 6.8: 1 means no encryption in flight.
  p.u("encrypt_pending", ctx.encrypt_pending);
  p.flag("BIT_TX_SCHEDULED", ctx.tx_scheduled);
  p.flag("BIT_TX_CLOSING", ctx.tx_closing);
  p.u("rec_seq", ctx.rec_seq);
  p.i("async_err", ctx.async_err);
}

void visit_state(StateVisitor& v, const std::string& prefix, const tls_sw_context_rx& ctx) {
  StatePrefix p(v, prefix);
  p.flag("strp.msg_ready", ctx.strp.msg_ready);
  p.u("strp.full_len", ctx.strp.stm_full_len);
  p.u("rx_list.records", ctx.rx_list.size());
  uint64_t bytes = 0;
  for (const auto& r : ctx.rx_list) bytes += r.full_len;
  p.u("rx_list.bytes", bytes);
  p.u("rec_seq", ctx.rec_seq);
  p.flag("reader_present", ctx.reader_present);
  if (ctx.aead && ctx.aead->is_async()) {
    // Biased by one: 1 means no decryption in flight (0 while the reader waits for the last).
    p.u("decrypt_pending", ctx.decrypt_pending);
    p.u("decrypting", ctx.decrypting.size());
    p.u("async_hold", ctx.async_hold);
    p.i("async_err", ctx.async_err);
  }
}

void visit_state(StateVisitor& v, const std::string& prefix, const cryptd_aead& cryptd) {
  StatePrefix p(v, prefix);
  p.u("queue", cryptd.queue.size());
  p.u("completed", cryptd.completed);
}

void visit_state(StateVisitor& v, const std::string& prefix, const io_ring_ctx& ring) {
  StatePrefix p(v, prefix);
  p.u("cq", ring.cq.size());
  p.u("tctx_task_list", ring.tctx_task_list.size());
  p.u("work_llist", ring.work_llist.size());
  p.u("io_wq.work_list", ring.wq.work_list.size());
  p.u("io_wq.nr_workers", ring.wq.nr_workers);
  p.u("io_wq.nr_running", ring.wq.nr_running);
}

void visit_state(StateVisitor& v, const std::string& prefix, const pipe_inode_info& pipe) {
  StatePrefix p(v, prefix);
  uint64_t bytes = 0;
  for (uint32_t b : pipe.bufs) bytes += b;
  p.u("bufs", pipe.bufs.size());
  p.u("bytes", bytes);
}

void visit_state(StateVisitor& v, const std::string& prefix, const file& f) {
  StatePrefix p(v, prefix);
  p.i("f_count", f.f_count);
  p.flag("released", f.released);
}

}  // namespace kpsim::model
