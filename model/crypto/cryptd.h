// An asynchronous AEAD behind kTLS: cryptd (crypto/cryptd.c cryptd_enqueue_request,
// cryptd_queue_worker; kernel 6.12) as the reporter used it (cryptd(gcm(aes)) at priority 150),
// standing for any engine that answers crypto_aead_encrypt() with -EINPROGRESS (CAAM, QAT).
//
// encrypt() queues the request and returns -EINPROGRESS; a kworker of its own (TaskKind::crypto)
// takes requests in order, one per step, and calls the completion, tls_encrypt_done, from its
// context: with no socket lock and no tx_lock, concurrently with the sender, tx_work and close.
#pragma once

#include <deque>

#include "model/net/tls/tls_sw.h"

namespace kpsim::model {

struct cryptd_aead final : tls_aead {
  int encrypt(Sched& s, tls_context& ctx, tls_rec& rec) override;

  std::deque<std::pair<tls_context*, tls_rec*>> queue;  // cryptd_cpu_queue
  WaitQueue wq;
  bool spawned = false;
  uint64_t completed = 0;
};

}  // namespace kpsim::model
