// sk_msg: one message in a psock's ingress_msg queue (include/linux/skmsg.h, struct sk_msg).
//
// The kernel keeps a ring of scatterlist entries; the reader consumes the head entry in place
// and advances sg.start. The model keeps the bytes and a consumed offset: sg.size is what is
// left. `list` links it into sk_psock::ingress_msg like the kernel's struct list_head.
#pragma once

#include <cstdint>
#include <string>

#include <boost/intrusive/list.hpp>

namespace kpsim::model {

struct sock;

using msg_list_hook =
    boost::intrusive::list_member_hook<boost::intrusive::link_mode<boost::intrusive::safe_link>>;

struct sk_msg {
  msg_list_hook list;
  std::string data;     // the bytes this message was built from
  uint32_t start = 0;   // bytes already consumed by the reader (sg.start, in bytes)
  // Set only for ingress-to-self messages (sk_psock_skb_ingress_self): lets
  // tcp_bpf_recvmsg_parser advance copied_seq for the socket's own bytes only.
  sock* sk = nullptr;

  uint32_t sg_size() const { return static_cast<uint32_t>(data.size()) - start; }
};

using sk_msg_list = boost::intrusive::list<
    sk_msg, boost::intrusive::member_hook<sk_msg, msg_list_hook, &sk_msg::list>>;

}  // namespace kpsim::model
