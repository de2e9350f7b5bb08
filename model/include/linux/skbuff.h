// sk_buff, reduced to what the sockmap paths look at (include/linux/skbuff.h,
// include/linux/skmsg.h skb_bpf_* helpers): the payload bytes, the owning socket, and the
// redirect target + BPF_F_INGRESS flag that bpf_sk_redirect_map() stores in skb->_sk_redir.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace kpsim::model {

struct sock;

struct sk_buff {
  std::string data;             // the payload; the model carries real bytes so loss shows
  sock* sk = nullptr;           // owner (skb_set_owner_r): who is charged for it
  sock* sk_redir = nullptr;     // skb_bpf_redirect_fetch(): target chosen by the verdict
  bool redir_ingress = false;   // BPF_F_INGRESS: deliver to the target's receive side
  uint32_t len() const { return static_cast<uint32_t>(data.size()); }
};

using skb_ptr = std::unique_ptr<sk_buff>;

}  // namespace kpsim::model
