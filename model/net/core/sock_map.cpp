// net/core/sock_map.c (kernel 6.12): updates and deletes of SOCKMAP and SOCKHASH and the psock
// links behind them. See sock_map.h.
#include "model/net/core/sock_map.h"

#include "model/include/linux/errno.h"
#include "model/include/net/sock.h"
#include "model/net/core/skmsg.h"

namespace kpsim::model {

sock* sock_hash_lookup_elem(const bpf_sockhash& map, uint32_t key) {
  for (const auto& [k, sk] : map.elems)
    if (k == key) return sk;
  return nullptr;
}

namespace {

// sock_map_link: sk_psock_get, or sk_psock_init + the map's progs + sk_psock_start_verdict
// (sk_data_ready becomes the verdict's) + the protocol update (tcp_bpf / udp_bpf recvmsg).
void sock_map_link(Sched& s, sock& sk, bpf_prog verdict) {
  if (sk.psock) return;
  sk.psock = std::make_unique<sk_psock>(sk, s);
  sk.psock->stream_verdict = std::move(verdict);
  s.note(sk.name, "sk_psock_init: psock attached, stream verdict on");
}

// sock_map_unref: sock_map_del_link + sk_psock_put. With one link per socket the put is the
// last one: sk_psock_drop.
void sock_map_unref(Sched& s, sock& sk, std::vector<std::unique_ptr<sk_psock>>& rcu) {
  if (sk.psock) sk_psock_drop(s, sk, rcu);
}

}  // namespace

int sock_map_update_elem(Sched& s, bpf_sockmap& map, uint32_t key, sock& sk, bpf_prog verdict,
                         std::vector<std::unique_ptr<sk_psock>>& rcu) {
  if (key >= map.slots.size()) return -kerr::e2big;
  sock_map_link(s, sk, std::move(verdict));
  sock* osk = map.slots[key];  // under stab->lock
  map.slots[key] = &sk;
  if (osk) sock_map_unref(s, *osk, rcu);
  return 0;
}

int sock_hash_update_elem(Sched& s, bpf_sockhash& map, uint32_t key, sock& sk, bpf_prog verdict,
                          std::vector<std::unique_ptr<sk_psock>>& rcu) {
  sock* osk = sock_hash_lookup_elem(map, key);
  if (!osk && map.elems.size() >= map.max_entries) return -kerr::e2big;
  sock_map_link(s, sk, std::move(verdict));
  if (osk) {
    for (auto& e : map.elems)
      if (e.first == key) e.second = &sk;  // hlist_add_head_rcu of the new, hlist_del_rcu of the old
    sock_map_unref(s, *osk, rcu);
  } else {
    map.elems.emplace_back(key, &sk);
  }
  return 0;
}

int sock_map_delete_elem(Sched& s, bpf_sockmap& map, uint32_t key,
                         std::vector<std::unique_ptr<sk_psock>>& rcu) {
  if (key >= map.slots.size()) return -kerr::einval;
  sock* sk = map.slots[key];  // __sock_map_delete: xchg under stab->lock
  if (!sk) return -kerr::einval;
  map.slots[key] = nullptr;
  sock_map_unref(s, *sk, rcu);
  return 0;
}

int sock_hash_delete_elem(Sched& s, bpf_sockhash& map, uint32_t key,
                          std::vector<std::unique_ptr<sk_psock>>& rcu) {
  for (auto it = map.elems.begin(); it != map.elems.end(); ++it) {
    if (it->first != key) continue;
    sock* sk = it->second;
    map.elems.erase(it);
    sock_map_unref(s, *sk, rcu);
    return 0;
  }
  return -kerr::enoent;
}

}  // namespace kpsim::model
