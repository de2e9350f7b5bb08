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
  wait_fionread,  // poll ioctl(FIONREAD) every poll_us until >= min_bytes or timeout_us elapsed,
                  // then assert FIONREAD == min_bytes (the selftest's ASSERT_EQ(avail, expected))
  recv,           // recv(sock, len, flags): one call; MSG_DONTWAIT when dontwait
  recv_until,     // the report's loop: recv_timeout(len - got) until got == len or a call fails
};

struct Step {
  StepKind kind = StepKind::send;
  Sock sock = Sock::c0;
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

// The selftest test_sockmap_multi_channels as a Script.
//   test=selftest: one recv_timeout(p1, 11 bytes, MSG_DONTWAIT, 1 s) that must return all bytes
//                  (the original test, 17e2ce02bf56);
//   test=loop:     the report's fix: recv_timeout(IO_TIMEOUT_SEC) in a loop until all arrived;
//   test=upstream: d9d7125e445d: recv exactly `expected`, then for UDP wait for FIONREAD to
//                  report the rest and recv it.
// c1_bytes go natively c1 -> p1, c0_bytes go c0 -> p0 and are redirected to p1.
Script make_multi_channels_script(Proto proto, const std::string& test, uint32_t c1_bytes,
                                  uint32_t c0_bytes);

// The bytes a channel sends: distinct characters across both channels, so a lost, duplicated
// or reordered byte is visible in what p1 receives. offset = bytes sent by earlier channels.
std::string channel_payload(uint32_t offset, uint32_t bytes);

}  // namespace kpsim::sockmap
