// net/core/sock_map.c (kernel 6.12): updates and deletes of SOCKMAP and SOCKHASH and the psock
// links behind them. See sock_map.h.
#include "model/net/core/sock_map.h"

#include "model/include/linux/errno.h"
#include "model/include/net/sock.h"
#include "model/net/core/skmsg.h"

namespace kpsim::model {

sock* sock_hash_lookup_elem(const bpf_sockhash& map, uint32_t key) {
  for (const auto& [k, sk] : map.elems.get())
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
  if (key >= map.slots->size()) return -kerr::e2big;
  sock_map_link(s, sk, std::move(verdict));
  sock* osk = map.slots->at(key);  // under stab->lock
  map.slots.mut()[key] = &sk;
  if (osk) sock_map_unref(s, *osk, rcu);
  return 0;
}

int sock_hash_update_elem(Sched& s, bpf_sockhash& map, uint32_t key, sock& sk, bpf_prog verdict,
                          std::vector<std::unique_ptr<sk_psock>>& rcu) {
  sock* osk = sock_hash_lookup_elem(map, key);
  if (!osk && map.elems->size() >= map.max_entries) return -kerr::e2big;
  sock_map_link(s, sk, std::move(verdict));
  if (osk) {
    for (auto& e : map.elems.mut())
      if (e.first == key) e.second = &sk;  // hlist_add_head_rcu of the new, hlist_del_rcu of the old
    sock_map_unref(s, *osk, rcu);
  } else {
    map.elems.mut().emplace_back(key, &sk);
  }
  return 0;
}

int sock_map_delete_elem(Sched& s, bpf_sockmap& map, uint32_t key,
                         std::vector<std::unique_ptr<sk_psock>>& rcu) {
  if (key >= map.slots->size()) return -kerr::einval;
  sock* sk = map.slots->at(key);  // __sock_map_delete: xchg under stab->lock
  if (!sk) return -kerr::einval;
  map.slots.mut()[key] = nullptr;
  sock_map_unref(s, *sk, rcu);
  return 0;
}

int sock_hash_delete_elem(Sched& s, bpf_sockhash& map, uint32_t key,
                          std::vector<std::unique_ptr<sk_psock>>& rcu) {
  for (auto it = map.elems.mut().begin(); it != map.elems.mut().end(); ++it) {
    if (it->first != key) continue;
    sock* sk = it->second;
    map.elems.mut().erase(it);
    sock_map_unref(s, *sk, rcu);
    return 0;
  }
  return -kerr::enoent;
}

void sock_map_remove_links(Sched& s, sock& sk, bpf_sockmap* map, bpf_sockhash* hash,
                           std::vector<std::unique_ptr<sk_psock>>& rcu) {
  // Each link names the map slot or hash element holding sk: sock_map_delete_from_link /
  // sock_hash_delete_from_link clear it (only if it still holds sk), then sock_map_unref. With
  // one link per socket the unref is the last put: sk_psock_drop, whose sk_psock_stop frees
  // what ingress_skb and ingress_msg still held.
  bool linked = false;
  if (map) {
    for (sock*& slot : map->slots.mut()) {
      if (slot != &sk) continue;
      slot = nullptr;
      linked = true;
    }
  }
  if (hash) {
    for (auto it = hash->elems.mut().begin(); it != hash->elems.mut().end();) {
      if (it->second == &sk) {
        it = hash->elems.mut().erase(it);
        linked = true;
      } else {
        ++it;
      }
    }
  }
  if (linked) sock_map_unref(s, sk, rcu);
}

Co<> sock_map_close(Sched& s, sock& sk, bpf_sockmap* map, bpf_sockhash* hash,
                    std::vector<std::unique_ptr<sk_psock>>& rcu, std::function<Co<>()> saved_close) {
  // lock_sock first: no verdict or recv of this socket's runs inside the removal.
  co_await sk.sk_lock.lock_sock(s, "sock_map_close: lock_sock");
  // psock->saved_close is read before the links go: the protocol's own close (tcp_close,
  // udp_lib_close), which sk_psock_restore_proto puts back when the psock is dropped.
  if (sk.psock) {
    s.note(sk.name, "sock_map_close: remove links");
    sock_map_remove_links(s, sk, map, hash, rcu);
    // sk_psock_get now fails (the last link dropped the psock, sk_user_data is NULL): the
    // kernel goes to no_psock, skipping sk_psock_stop / cancel_delayed_work_sync, which the
    // drop has done without waiting. A psock still referenced elsewhere (a recv in progress,
    // a backlog run holding its reference) is the case the model refuses before it gets here.
  }
  sk.sk_lock.release_sock(s);
  co_await saved_close();
}

}  // namespace kpsim::model
