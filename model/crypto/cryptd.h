// An asynchronous AEAD behind kTLS: cryptd (crypto/cryptd.c cryptd_enqueue_request,
// cryptd_queue_worker; kernel 6.12) as the reporter used it (cryptd(gcm(aes)) at priority 150),
// standing for any engine that answers crypto_aead_encrypt()/crypto_aead_decrypt() with
// -EINPROGRESS (CAAM, QAT).
//
// encrypt() and decrypt() queue the request and return -EINPROGRESS; a kworker of its own
// (TaskKind::crypto) takes requests in order, one per step, and calls the request's completion
// from its context: tls_encrypt_done for an encryption, the callback the caller gave for a
// decryption (tls_decrypt_done, or crypto_req_done waking a waiter) - with no socket lock and no
// tx_lock, concurrently with the sender, the reader, tx_work and close. cryptd's queue is
// per CPU and shared by every cryptd instance: one CPU here, so the kTLS TX of one socket and
// the kTLS RX of another share one FIFO.
#pragma once

#include <functional>

#include "model/net/tls/tls_sw.h"
#include "sched/ring_queue.h"

namespace kpsim::model {

struct cryptd_aead final : tls_aead {
  int encrypt(Sched& s, tls_context& ctx, tls_rec& rec) override;
  bool is_async() const override { return true; }
  int decrypt(Sched& s, tcp_sock& sk, uint64_t rec, uint64_t data_len, std::function<void(Sched&, int)> done) override;

  // One request of cryptd_cpu_queue: an encryption (ctx, rec) or a decryption (`done`, of
  // `data_len` bytes received on `rx_sk`).
  struct request {
    tls_context* ctx = nullptr;
    tls_rec* rec = nullptr;
    std::function<void(Sched&, int)> done;
    tcp_sock* rx_sk = nullptr;
    uint64_t data_len = 0;
  };
  RingQueue<request> queue;  // cryptd_cpu_queue
  WaitQueue wq;
  bool spawned = false;
  uint64_t completed = 0;

 private:
  void enqueue(Sched& s, request r);
};

}  // namespace kpsim::model
