// crypto/cryptd.c as kTLS's asynchronous AEAD (kernel 6.12): see cryptd.h.
#include "model/crypto/cryptd.h"

namespace kpsim::model {

namespace {
Co<> cryptd_queue_worker(Sched& s, cryptd_aead& c) {
  for (;;) {
    while (c.queue.empty()) co_await c.wq.sleep(s, "cryptd_queue_worker", false);
    cryptd_aead::request r = std::move(c.queue.front());
    c.queue.pop_front();
    // The cipher runs, then the request's completion: aead_request_complete → tls_encrypt_done,
    // or the decryption's callback.
    ++c.completed;
    if (r.done) r.done(s, 0);
    else tls_encrypt_done(s, *r.ctx, *r.rec, 0);
    co_await s.point("cryptd_queue_worker");
  }
}
}  // namespace

void cryptd_aead::enqueue(Sched& s, request r) {
  queue.push_back(std::move(r));
  if (!spawned) {
    spawned = true;
    s.spawn("kworker/cryptd", TaskKind::crypto, cryptd_queue_worker(s, *this), true, "cryptd_queue_worker");
  } else {
    wq.wake_up_all(s);
  }
}

int cryptd_aead::encrypt(Sched& s, tls_context& ctx, tls_rec& rec) {
  s.note("crypto", "crypto_aead_encrypt(record #{}): queued to cryptd → -EINPROGRESS", rec.id);
  enqueue(s, request{&ctx, &rec, {}});
  return -kerr::einprogress;
}

int cryptd_aead::decrypt(Sched& s, uint64_t rec, std::function<void(Sched&, int)> done) {
  s.note("crypto", "crypto_aead_decrypt(record #{}): queued to cryptd → -EINPROGRESS", rec);
  enqueue(s, request{nullptr, nullptr, std::move(done)});
  return -kerr::einprogress;
}

}  // namespace kpsim::model
