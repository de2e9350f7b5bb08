// sk_buff, reduced to what the models look at (include/linux/skbuff.h, include/net/tcp.h
// TCP_SKB_CB, include/linux/skmsg.h skb_bpf_* helpers). One type for every packet: a UDP
// datagram, a TCP segment, a zero-window probe.
//
// Bytes: a sender that has real payload (the sockmap scenarios, whose checkers look for lost or
// reordered bytes) puts it in `data`; the TCP/kTLS transmit models carry sequence ranges only —
// what must be conserved there is where every byte went, checked on sequence numbers — and
// leave `data` empty. len() is the sequence range either way.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace kpsim::model {

struct sock;

struct sk_buff {
  sock* dst = nullptr;           // the receiving socket: stands for the 4-tuple lookup on input
  uint64_t seq = 0, end_seq = 0; // TCP_SKB_CB: TCP byte range; UDP: [0, datagram length).
                                 // seq == end_seq on TCP: a zero-window probe (old sequence)
  bool psh = false;              // TCPHDR_PSH
  // skb_shinfo(skb)->gso_size: the sender's MSS when the skb is more than one segment (loopback
  // keeps GSO skbs whole), else 0. The receiver's tcp_measure_rcv_mss reads it.
  uint32_t gso_size = 0;
  // TCPHDR_FIN. The model leaves the FIN out of the sequence space: a FIN skb has seq ==
  // end_seq (no bytes), unlike the kernel's end_seq = seq + 1; tcp_inq subtracts it back anyway.
  bool fin = false;
  std::string data;              // the payload, when the sender carries bytes (see above)
  sock* sk = nullptr;            // owner (skb_set_owner_r): who is charged for it
  sock* sk_redir = nullptr;      // skb_bpf_redirect_fetch(): target chosen by the verdict
  bool redir_ingress = false;    // BPF_F_INGRESS: deliver to the target's receive side
  uint32_t len() const { return static_cast<uint32_t>(end_seq - seq); }
};

using skb_ptr = std::unique_ptr<sk_buff>;

}  // namespace kpsim::model
