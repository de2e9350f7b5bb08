// BPF_MAP_TYPE_SOCKMAP and the bpf_sk_redirect_map() helper (net/core/sock_map.c), reduced to
// what a verdict program needs: slot -> socket, and the redirect that the program requests.
#pragma once

#include <cstdint>
#include <vector>

#include "model/include/linux/skmsg.h"

namespace kpsim::model {

inline constexpr uint64_t BPF_F_INGRESS = 1;

struct bpf_sockmap {
  std::vector<sock*> slots;
};

// Stores (target | BPF_F_INGRESS) in the skb and returns SK_PASS; SK_DROP if the slot is empty.
inline int bpf_sk_redirect_map(sk_buff& skb, const bpf_sockmap& map, uint32_t key, uint64_t flags) {
  if (key >= map.slots.size() || !map.slots[key]) return SK_DROP;
  skb.sk_redir = map.slots[key];
  skb.redir_ingress = (flags & BPF_F_INGRESS) != 0;
  return SK_PASS;
}

}  // namespace kpsim::model
