// The sockmap multi-channel test as data: sockets, map, verdict and the test thread's steps.
//
// One Script is executed two ways: by the model (scenarios/sockmap_multi_channels.cpp runs the
// steps against model/ under the deterministic scheduler) and by the real-kernel runner
// (replay/) as real syscalls. Keeping the steps as data is what lets `kpsim crosscheck` say the
// two ran the same test.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kpsim::sockmap {

enum class Proto : uint8_t { udp, tcp };

// Socket names follow the selftest: c0<->p0 and c1<->p1 are connected loopback pairs.
enum class Sock : uint8_t { c0, c1, p0, p1 };
const char* sock_name(Sock s);

enum class StepKind : uint8_t {
  send,           // send(sock, payload) — blocking, whole payload in one call
  wait_fionread,  // poll ioctl(FIONREAD) every poll_us until >= min_bytes or timeout_us elapsed
  recv,           // recv(sock, len, flags): one call; MSG_DONTWAIT when dontwait
  recv_until,     // the report's loop: recv_timeout(len - got) until got == len or a call fails
};

struct Step {
  StepKind kind;
  Sock sock;
  std::string payload;     // send: the bytes sent (content makes loss/reorder visible)
  uint32_t min_bytes = 0;  // wait_fionread
  uint32_t len = 0;        // recv, recv_until: buffer length / total wanted
  bool dontwait = false;   // recv: MSG_DONTWAIT
  uint32_t select_timeout_us = 0;  // recv/recv_until: the selftest's recv_timeout() select()
  uint32_t poll_us = 1000;         // wait_fionread: the selftest sleeps 1 ms between polls
  uint32_t timeout_us = 0;         // wait_fionread: give up after this long
  std::string expect;      // recv/recv_until: the bytes the test asserts it receives
};

// The BPF side is fixed by the selftest: an sk_skb stream-verdict program attached to sock_map_rx
// that redirects every skb with BPF_F_INGRESS to map slot redirect_slot.
struct Script {
  Proto proto = Proto::udp;
  Sock map_slot0 = Sock::p0;   // sockmap key 0
  Sock map_slot1 = Sock::p1;   // sockmap key 1
  uint32_t redirect_slot = 1;  // bpf_sk_redirect_map(skb, &sock_map_rx, 1, BPF_F_INGRESS)
  std::vector<Step> steps;     // executed in order by the single test thread
};

}  // namespace kpsim::sockmap
