// crypto/cryptd.c as kTLS's asynchronous AEAD (kernel 6.12): see cryptd.h.
#include "model/crypto/cryptd.h"

namespace kpsim::model {

namespace {
Co<> cryptd_queue_worker(Sched& s, cryptd_aead& c) {
  for (;;) {
    while (c.queue.empty()) co_await c.wq.sleep(s, "cryptd_queue_worker", false);
    auto [ctx, rec] = c.queue.front();
    c.queue.pop_front();
    // The cipher runs, then the request's completion: aead_request_complete → tls_encrypt_done.
    ++c.completed;
    tls_encrypt_done(s, *ctx, *rec, 0);
    co_await s.point("cryptd_queue_worker");
  }
}
}  // namespace

int cryptd_aead::encrypt(Sched& s, tls_context& ctx, tls_rec& rec) {
  queue.emplace_back(&ctx, &rec);
  s.note("crypto", "crypto_aead_encrypt(record #{}): queued to cryptd → -EINPROGRESS", rec.id);
  if (!spawned) {
    spawned = true;
    s.spawn("kworker/cryptd", TaskKind::crypto, cryptd_queue_worker(s, *this), true, "cryptd_queue_worker");
  } else {
    wq.wake_up_all(s);
  }
  return -kerr::einprogress;
}

}  // namespace kpsim::model
