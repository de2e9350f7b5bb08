// A scenario script, instantiated: what `kpsim` runs after a .kps file has been parsed and its
// parameters resolved (scenarios/script/script.h). Plain data, no model and no syscalls: the
// model interpreter (scenarios/script/model_world.cpp) and the real-kernel runner
// (replay/script_runner.cpp) both execute one Program, which is what lets `kpsim crosscheck`
// say the model and the kernel ran the same test. docs/scripts.md is the grammar; this file
// is what each statement becomes.
//
// Every value here is already resolved: parameters substituted, `if` blocks chosen, sizes
// computed, payload bytes generated. A runner never evaluates anything from the script text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kpsim::script {

// Where a statement came from, for messages ("seed000.kps:14:3").
struct Loc {
  std::string file;
  uint32_t line = 0, col = 0;
  std::string str() const;
};

enum class Proto : uint8_t { udp, tcp };

// `a, b = create_pair(tcp)`: the selftests' create_pair() (prog_tests/socket_helpers.h).
// a is the server side (UDP: the bound socket, connected back; TCP: the accepted socket), b the
// client side (the one that called connect()). Sockets are numbered in declaration order;
// `peer` is the index of the other end.
struct Socket {
  std::string name;
  Proto proto = Proto::udp;
  uint32_t peer = 0;
  bool server_side = false;
  std::optional<uint32_t> rcvbuf;  // setsockopt(SO_RCVBUF) before the threads start (bytes as given)
  std::optional<uint32_t> sndbuf;  // setsockopt(SO_SNDBUF)
  bool nodelay = false;            // setsockopt(TCP_NODELAY, 1)
  Loc loc;
};

enum class MapType : uint8_t { sockmap, sockhash };

// `m = map(BPF_MAP_TYPE_SOCKMAP, 2)` (or SOCKHASH). One map per script.
struct Map {
  std::string name;
  MapType type = MapType::sockmap;
  uint32_t max_entries = 0;
  Loc loc;
};

// What the sk_skb stream-verdict program returns for an skb.
enum class Action : uint8_t {
  pass,      // SK_PASS, no redirect: the data stays on the socket it arrived on
  drop,      // SK_DROP
  redirect,  // bpf_sk_redirect_map/hash(skb, map, key, flags); SK_DROP when the key is empty
};

struct VerdictAction {
  Action action = Action::pass;
  uint32_t key = 0;      // redirect: map key (sockmap: slot index; sockhash: u32 key)
  bool ingress = false;  // redirect: BPF_F_INGRESS (else egress: skb_send_sock on the target)
};

// One rule of the verdict program. `on` is the socket whose psock runs the verdict (the
// socket the skb arrived on); nullopt is the default rule. The first matching rule wins; the
// parser guarantees exactly one default rule, last.
struct VerdictRule {
  std::optional<uint32_t> on;
  VerdictAction act;
};

// `verdict(m) { ... }` : the program attached to map m as BPF_SK_SKB_STREAM_VERDICT.
struct Verdict {
  std::vector<VerdictRule> rules;  // empty: no verdict program attached
  Loc loc;
};

// Flags of send/recv, as the syscalls take them.
enum MsgFlag : uint32_t {
  msg_dontwait = 1u << 0,  // MSG_DONTWAIT
  msg_peek = 1u << 1,      // MSG_PEEK
  msg_waitall = 1u << 2,   // MSG_WAITALL
  msg_more = 1u << 3,      // MSG_MORE
};

enum class Op : uint8_t {
  send,          // send(sock, bytes, flags): one call, the step's payload
  recv,          // recv(sock, len, flags); with timeout_us: the selftests' recv_timeout(), a
                 // select() for readability first (not readable in time: -EAGAIN, no recv)
  recv_loop,     // the report's loop: recv_timeout(len - got) until len bytes or a call <= 0;
                 // `ret` is the total received
  fionread,      // ioctl(sock, FIONREAD): ret is the value
  wait_fionread, // the selftests' wait_for_fionread(): FIONREAD every poll_us until >= want
                 // or timeout_us; ret is the last value
  usleep,        // usleep(timeout_us)
  map_update,    // bpf_map_update_elem(map, key, sock, BPF_ANY)
  map_delete,    // bpf_map_delete_elem(map, key)
  shutdown,      // shutdown(sock, SHUT_WR)
  close,         // close(sock)
};

struct Expect {
  std::optional<int64_t> ret;       // `= N`: the return value (negative: -errno)
  std::optional<std::string> data;  // `data ...`: the exact bytes the call returns
  // `within DURATION`: the call returns within this many microseconds of its start (model:
  // virtual time; host runner: CLOCK_MONOTONIC, see docs/scripts.md for crosscheck).
  std::optional<uint64_t> within_us;
};

struct Step {
  Op op = Op::send;
  uint32_t sock = 0;         // socket index (not for usleep, map_*)
  uint32_t key = 0;          // map_update / map_delete
  uint32_t len = 0;          // recv/recv_loop: buffer length; wait_fionread: want
  uint32_t flags = 0;        // MsgFlag bits
  uint64_t timeout_us = 0;   // recv/recv_loop: select() timeout (0: no select); wait_fionread:
                             // give up after; usleep: the sleep
  uint64_t poll_us = 1000;   // wait_fionread: sleep between polls
  std::string payload;       // send: the bytes
  Expect expect;
  std::string text;          // the call as written, parameters substituted (for labels)
  Loc loc;
};

struct Thread {
  std::string name;
  std::vector<Step> steps;
  Loc loc;
};

// Model settings a script may declare as parameters (`model fionread = current`): readings
// of the kernel that the model can vary and a real kernel cannot. Kernel runners refuse a
// non-default value (exit 2); crosscheck judges them.
struct ModelSettings {
  std::string fionread = "current";       // model/kconfig.h fionread_semantics
  std::string self_redirect = "backlog";  // model/kconfig.h self_redirect
  std::string kworker_cpu = "same";       // where psock backlog work runs: same | other
};

struct Program {
  std::string name;     // `scenario NAME "summary"`
  std::string summary;
  std::string file;     // where it was read from ("<builtin>/seed000.kps" for built-in scripts)
  std::vector<Socket> socks;
  std::optional<Map> map;
  Verdict verdict;
  // map_update statements before the first thread: done in setup, in this order, after the
  // verdict program is attached (the selftests' order).
  std::vector<Step> setup;
  std::vector<Thread> threads;
  ModelSettings model;
  // Limits of a model run (`limit steps 20000`, `limit time 120s`); 0: the defaults.
  uint64_t max_steps = 0;
  uint64_t max_time_ns = 0;

  // Index of the socket called `name`, if any.
  std::optional<uint32_t> find_sock(const std::string& name) const;
};

// ---- payloads (program.cpp) -----------------------------------------------------------------
// At most this many bytes in one send step, and in all send steps of a program together.
inline constexpr uint32_t kMaxSendBytes = 16u << 20;
inline constexpr uint64_t kMaxTotalSendBytes = 64u << 20;
// Above this many bytes in total the payloads are per-sender byte ranges (payload_bytes).
inline constexpr uint64_t kAlphabetBytes = 62;
inline constexpr uint32_t kMaxSendersBeyondAlphabet = 4;

// The bytes of one send step. `total`: the sum of every send size in the program; `offset`:
// the bytes sent by the send steps before this one (program order: threads in order, steps in
// order); `sender`: the sending socket's number among the sockets that send (in order of their
// first send step); `sender_offset`: the bytes that socket sent before this step.
// Throws std::invalid_argument beyond the limits above (the parser refuses those scripts first).
std::string payload_bytes(uint64_t total, uint64_t offset, uint32_t sender, uint64_t sender_offset,
                          uint32_t bytes);

// The sender number (as above) a byte of a program sending more than kAlphabetBytes came from.
inline uint32_t payload_sender(unsigned char byte) { return byte >> 6; }

}  // namespace kpsim::script
