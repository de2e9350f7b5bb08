// crypto/cryptd.c as kTLS's asynchronous AEAD (kernel 6.12): see cryptd.h.
#include "model/crypto/cryptd.h"

#include "model/kernel/sched/cputime.h"

namespace kpsim::model {

namespace {
Co<> cryptd_queue_worker(Sched& s, cryptd_aead& c) {
  for (;;) {
    while (c.queue.empty()) co_await c.wq.sleep(s, "cryptd_queue_worker", false);
    cryptd_aead::request r = std::move(c.queue.front());
    c.queue.pop_front();
    // The cipher runs, then the request's completion: aead_request_complete → tls_encrypt_done,
    // or the decryption's callback. cryptd queued the request on the submitting CPU and runs it
    // there: an encryption costs the sender's CPU (the clock's), a decryption the reader's.
    ++c.completed;
    if (r.done) {
      account_cpu(s, *r.rx_sk->kc, r.rx_sk->stats.cpu, cpu_work::decrypt, r.data_len, on_cpu::other);
      r.done(s, 0);
    } else {
      account_cpu(s, *r.ctx->sk->kc, r.ctx->sk->stats.cpu, cpu_work::encrypt, r.rec->pl_size);
      tls_encrypt_done(s, *r.ctx, *r.rec, 0);
    }
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

int cryptd_aead::decrypt(Sched& s, tcp_sock& sk, uint64_t rec, uint64_t data_len,
                         std::function<void(Sched&, int)> done) {
  s.note("crypto", "crypto_aead_decrypt(record #{}): queued to cryptd → -EINPROGRESS", rec);
  enqueue(s, request{nullptr, nullptr, std::move(done), &sk, data_len});
  return -kerr::einprogress;
}

}  // namespace kpsim::model
