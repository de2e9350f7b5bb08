// Closing a kTLS socket (net/tls/tls_main.c tls_sk_proto_close, tls_sk_proto_cleanup,
// wait_on_pending_writer, tls_handle_open_record; net/tls/tls_sw.c tls_sw_cancel_work_tx,
// tls_sw_release_resources_tx; net/ipv4/tcp.c tcp_close → tcp_send_fin; kernel 6.12).
//
// Runs in whatever context ran the final fput (see file.h). The order is what loses data:
// cancel tx_work (and wait for a running one), lock_sock, wait for in-flight encryptions,
// tls_tx_records(-1) ONCE — a blocking send that an interruptible wait can abort — then free
// every record still on tx_list and the open record, and hand the socket to tcp_close, whose
// FIN ends the stream the peer reads. close() itself returns 0 either way.
#pragma once

#include "model/net/tls/tls_sw.h"

namespace kpsim::model {


struct tls_close_stats {
  bool closed = false;
  std::string closed_by;             // the task that ran tls_sk_proto_close
  int tx_records_rc = 0;             // tls_tx_records' return value, which close ignores
  uint64_t records_freed = 0;        // records still on tx_list after it: freed unsent
  uint64_t plaintext_freed = 0;      // ... their payload bytes
  uint64_t partially_sent_freed = 0; // ... of which the head had gone out in part
  uint64_t open_rec_dropped = 0;     // payload of an unpushed open record (tls_free_open_rec)
  uint64_t worker_flushes = 0;       // fix=flush-in-worker: tx_work runs waited for
};

// sk->sk_prot->close for a TLS socket; ends with tcp_close (net/ipv4/tcp.h).
Co<> tls_sk_proto_close(Sched& s, tls_context& ctx, tls_close_stats& st);

}  // namespace kpsim::model
