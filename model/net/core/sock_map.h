// BPF_MAP_TYPE_SOCKMAP and BPF_MAP_TYPE_SOCKHASH with the helpers a verdict program calls,
// bpf_sk_redirect_map() and bpf_sk_redirect_hash(), and the map updates that create and drop
// psocks (net/core/sock_map.c, kernel 6.12).
//
// A psock lives as long as some map entry links it (sk_psock_init at the first insertion,
// sk_psock_put → sk_psock_drop at the last removal). The model supports one link per socket:
// the kernel's second link shares the psock and stops its verdict when either link goes
// (sock_map_del_link), which is a protocol change (TCP_BPF_BASE) the model does not have.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "model/include/linux/skmsg.h"
#include "sched/co.h"

namespace kpsim::model {

inline constexpr uint64_t BPF_F_INGRESS = 1;

struct bpf_sockmap {
  Shared<std::vector<sock*>> slots;  // stab->sks: max_entries slots
};

// The hash's elements in insertion order: lookups are by key, so the bucket layout the kernel
// has cannot matter to a run.
struct bpf_sockhash {
  uint32_t max_entries = 0;
  Shared<std::vector<std::pair<uint32_t, sock*>>> elems;
};

// __sock_hash_lookup_elem
sock* sock_hash_lookup_elem(const bpf_sockhash& map, uint32_t key);

// Stores (target | BPF_F_INGRESS) in the skb and returns SK_PASS; SK_DROP if the slot is empty
// or a flag other than BPF_F_INGRESS is set. (sock_map_redirect_allowed holds for the
// connected sockets the scenarios put in maps.)
inline int bpf_sk_redirect_map(sk_buff& skb, const bpf_sockmap& map, uint32_t key, uint64_t flags) {
  if (flags & ~BPF_F_INGRESS) return SK_DROP;
  const std::vector<sock*>& slots = map.slots;
  if (key >= slots.size() || !slots[key]) return SK_DROP;
  skb.sk_redir = slots[key];
  skb.redir_ingress = (flags & BPF_F_INGRESS) != 0;
  return SK_PASS;
}

// The same through the hash: SK_DROP when no element has the key.
inline int bpf_sk_redirect_hash(sk_buff& skb, const bpf_sockhash& map, uint32_t key, uint64_t flags) {
  if (flags & ~BPF_F_INGRESS) return SK_DROP;
  sock* sk = sock_hash_lookup_elem(map, key);
  if (!sk) return SK_DROP;
  skb.sk_redir = sk;
  skb.redir_ingress = (flags & BPF_F_INGRESS) != 0;
  return SK_PASS;
}

// bpf(BPF_MAP_UPDATE_ELEM, BPF_ANY) on a sockmap: sock_map_update_common. The caller holds the
// socket lock (sock_map_update_elem_sys takes it). sock_map_link gives the socket a psock with
// `verdict` as its stream-verdict program (the map's program as run on this socket) unless it
// has one; the socket the slot held before loses its link. 0 or -E2BIG.
// Precondition: `sk` is not in the map yet (one link per socket, see above).
int sock_map_update_elem(Sched& s, bpf_sockmap& map, uint32_t key, sock& sk, bpf_prog verdict,
                         std::vector<std::unique_ptr<sk_psock>>& rcu);
// sock_hash_update_common: a new key in a full hash is -E2BIG; an existing key is replaced.
int sock_hash_update_elem(Sched& s, bpf_sockhash& map, uint32_t key, sock& sk, bpf_prog verdict,
                          std::vector<std::unique_ptr<sk_psock>>& rcu);
// bpf(BPF_MAP_DELETE_ELEM): sock_map_delete_elem (-EINVAL for a key out of range or an empty
// slot) / sock_hash_delete_elem (-ENOENT). The removed socket's last link goes: sk_psock_drop,
// whose sk_psock_stop drops what ingress_skb and ingress_msg still held.
int sock_map_delete_elem(Sched& s, bpf_sockmap& map, uint32_t key,
                         std::vector<std::unique_ptr<sk_psock>>& rcu);
int sock_hash_delete_elem(Sched& s, bpf_sockhash& map, uint32_t key,
                          std::vector<std::unique_ptr<sk_psock>>& rcu);

// sock_map_remove_links: every map entry linking sk goes (map or hash may be null), and with
// the last one the psock (sk_psock_drop: queued data dropped).
void sock_map_remove_links(Sched& s, sock& sk, bpf_sockmap* map, bpf_sockhash* hash,
                           std::vector<std::unique_ptr<sk_psock>>& rcu);
// sock_map_close: close() of a socket in a map (its sk_prot->close while linked). Under the
// socket lock the links are removed (psock dropped), then the saved protocol close runs.
Co<> sock_map_close(Sched& s, sock& sk, bpf_sockmap* map, bpf_sockhash* hash,
                    std::vector<std::unique_ptr<sk_psock>>& rcu, std::function<Co<>()> saved_close);

}  // namespace kpsim::model
