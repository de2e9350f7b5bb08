// The psock backlog worker: net/core/skmsg.c sk_psock_backlog, sk_psock_handle_skb,
// sk_psock_skb_ingress, sk_psock_create_ingress_msg. Runs in a kworker (psock->work on the
// per-CPU system workqueue), a process context that may sleep.
#include "model/kerrno.h"
#include "model/skmsg.h"

namespace kpsim::model {

namespace {

// Delivery of an skb that came from another socket: charged to the target, refused while the
// target's receive buffer is over its limit (the worker then retries one jiffy later).
int sk_psock_skb_ingress(Sched& s, sk_psock& psock, const sk_buff& skb, uint32_t off, uint32_t len) {
  sock& sk = psock.sk;
  if (skb.sk == &sk) return sk_psock_skb_ingress_self(s, psock, skb, off, len);
  if (sk.sk_rmem_alloc > sk.sk_rcvbuf) {
    s.note(sk.name, "sk_psock_create_ingress_msg: rmem {} > rcvbuf {}: -EAGAIN", sk.sk_rmem_alloc,
           sk.sk_rcvbuf);
    return -kerr::eagain;
  }
  auto* msg = new sk_msg;
  msg->data = skb.data.substr(off, len);
  sk.sk_rmem_alloc += len;
  sk_psock_queue_msg(s, psock, msg);
  sk_psock_data_ready(s, sk);
  return static_cast<int>(len);
}

}  // namespace

Co<> sk_psock_backlog(Sched& s, sk_psock& psock) {
  if (!psock.tx_enabled) co_return;
  co_await psock.work_mutex.lock(s, "sk_psock_backlog: work_mutex");
  while (!psock.ingress_skb.empty()) {
    sk_buff& skb = *psock.ingress_skb.front();
    uint32_t len = skb.len(), off = 0;
    if (psock.work_state.len) {
      len = psock.work_state.len;
      off = psock.work_state.off;
    }
    const bool ingress = skb.redir_ingress || !skb.sk_redir;  // SK_PASS skbs are ingress too
    skb.sk_redir = nullptr;
    skb.redir_ingress = false;
    while (len) {
      int ret = -kerr::eio;
      if (!psock.sk.sock_dead && ingress) ret = sk_psock_skb_ingress(s, psock, skb, off, len);
      if (ret == -kerr::eagain) {
        psock.work_state = {len, off};
        if (psock.tx_enabled) queue_delayed_work(s, psock.work, 1);  // retry after a jiffy
        s.note(psock.sk.name + ".backlog", "-EAGAIN: retry in 1 jiffy at off {}", off);
        psock.work_mutex.unlock(s);
        co_return;
      }
      if (ret <= 0) {
        psock.tx_enabled = false;  // sk_psock_report_error + stop accepting data
        s.note(psock.sk.name + ".backlog", "error {}: TX_ENABLED cleared", ret);
        psock.work_mutex.unlock(s);
        co_return;
      }
      off += static_cast<uint32_t>(ret);
      len -= static_cast<uint32_t>(ret);
    }
    psock.work_state = {};
    psock.ingress_skb.pop_front();
    // Another CPU may queue more skbs while this one is being delivered.
    if (!psock.ingress_skb.empty()) co_await s.point("sk_psock_backlog: next skb");
  }
  psock.work_mutex.unlock(s);
}

}  // namespace kpsim::model
