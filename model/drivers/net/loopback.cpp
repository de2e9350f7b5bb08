// drivers/net/loopback.c loopback_xmit and net/core/dev.c netif_rx (kernel 6.12): see loopback.h.
#include "model/drivers/net/loopback.h"

namespace kpsim::model {

void loopback_xmit(Sched& s, loopback& lo, skb_ptr skb) {
  // skb_orphan: the sender's wmem is released at once, which is why loopback never autocorks.
  lo.input_pkt_queue.mut().push_back(std::move(skb));
  lo.napi.wake_up_all(s);  // __raise_softirq_irqoff(NET_RX_SOFTIRQ)
}

}  // namespace kpsim::model
