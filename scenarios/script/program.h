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
  // Stream world (after loc: positional initialisers of the fields above keep working).
  std::optional<uint32_t> maxseg;  // setsockopt(TCP_MAXSEG, N): the MSS with TCP options
  std::optional<uint32_t> window_clamp;  // setsockopt(TCP_WINDOW_CLAMP, N): the window it advertises
  bool drain = false;              // `drain(S)`: S's application reads every byte as it arrives
};

// ---- one TCP connection with kTLS (seeds 001, 002; the model's "stream world") ----------------

enum class TlsVersion : uint8_t { v1_2, v1_3 };
enum class Crypto : uint8_t {
  sync,   // a synchronous AEAD (AES-NI): encryption completes inside tls_push_record
  async,  // cryptd: encryption completes later, from the cryptd kworker (-EINPROGRESS)
};

// `tls_tx(S, 1.3, sync)`: setsockopt(S, SOL_TCP, TCP_ULP, "tls"), then
// setsockopt(S, SOL_TLS, TLS_TX, &crypto_info) for AES-GCM-128 of that TLS version.
struct TlsTx {
  uint32_t sock = 0;
  TlsVersion version = TlsVersion::v1_3;
  Crypto crypto = Crypto::sync;
  Loc loc;
};

// `f = file(4M)`: a regular file of that size in the page cache (the reproducers' backing file).
struct File {
  std::string name;
  uint64_t size = 0;
  Loc loc;
};

// `p = pipe()`: a pipe (default size: 16 pages).
struct Pipe {
  std::string name;
  Loc loc;
};

// `ring = io_uring_setup(FLAGS)`: an io_uring instance of the thread that first uses it.
enum class RingSetup : uint8_t {
  normal,         // 0: completions signal the submitter with TWA_SIGNAL
  coop_taskrun,   // IORING_SETUP_COOP_TASKRUN
  defer_taskrun,  // IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN
};
struct Ring {
  std::string name;
  RingSetup setup = RingSetup::normal;
  uint32_t iowq_max = 0;          // io_uring_register_iowq_max_workers(ring, N); 0: unlimited
  uint32_t others = 0;            // io_uring_others(ring, N, ...): other connections' requests
  bool others_at_close = true;    // ... submitted with our IORING_OP_CLOSE (else with our splices)
  Loc loc;
};

// `window KIND(...)`: how a real-kernel runner forms the window the model finds by itself. The
// model explores every ordering and ignores these; a kernel runner builds the ordering with
// them and reports, per run, whether each one happened (a run whose window did not form tests
// nothing). docs/scripts.md "Forcing a window on the kernel".
enum class WindowKind : uint8_t {
  cryptd_backlog,     // cryptd_backlog(N): a second kTLS connection queues N full records on
                      // cryptd first, so the script's own encryptions are still pending later
  hold_until_closed,  // hold_until_closed(T, S): thread T starts only once close(S) returned
  task_work,          // task_work(T, FRAME, UNDER): once T's kernel stack shows FRAME called
                      // under UNDER, complete a request on T's ring: its completion is queued as
                      // task work on T (TWA_SIGNAL on a default ring)
};
struct Window {
  WindowKind kind = WindowKind::cryptd_backlog;
  uint64_t records = 0;  // cryptd_backlog
  uint32_t thread = 0;   // hold_until_closed, task_work: index into Program::threads
  uint32_t sock = 0;     // hold_until_closed
  std::string frame, under;  // task_work: kernel function names
  Loc loc;
};

// `property NAME`: a property the model checks because the script asks for it (docs/scripts.md).
struct Check {
  std::string name;  // tcp-seq-order | byte-conservation | no-stall | all-records-delivered | min-throughput
  Loc loc;
  // min-throughput(N): the transfer's throughput in KiB/s must be at least this (0: not this check).
  uint64_t min_kibps = 0;
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

// poll(2) event bits (include/uapi/asm-generic/poll.h): what a poll step asks for and returns.
inline constexpr uint32_t kPollIn = 0x001, kPollOut = 0x004, kPollErr = 0x008, kPollHup = 0x010;

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
  poll,          // poll(sock, events, timeout_us): the revents (events: POLLIN, POLLOUT or both;
                 // POLLERR/POLLHUP are always reported) or 0 on timeout; with select_call:
                 // select(2) for readability, 1 or 0
  uring_read,    // IORING_OP_READ of at most `len` bytes from `sock` on ring `ring`, submitted and
                 // waited for (io_uring_enter(1, 1, GETEVENTS)): ret is the CQE's res
  uring_send,    // IORING_OP_SEND of the step's payload on `sock` (msg_flags `flags`), likewise
  // Stream world (one TCP connection, optionally kTLS):
  sendfile,       // sendfile(sock, file, &pos, len): one call; the file offset carries over
  write,          // write(sock, buf, len): one call of the file's bytes from a buffer
  sendfile_loop,  // sendfile() of at most per_call bytes, looping the file (no call crosses its
                  // end), until `total` bytes are sent or a call fails; ret: the bytes sent
  write_loop,     // the same with write()
  splice_loop,    // splice(file -> pipe) of what the pipe holds, then splice(pipe -> sock), until
                  // `total` bytes are spliced or a splice fails (io=plain of seed 002)
  uring_splice_close,  // the webserver's io_uring loop: IORING_OP_SPLICE file -> pipe and pipe ->
                       // sock (resubmitted while short), IORING_OP_CLOSE of the socket when the
                       // second completes, until every request completed
  read_until_eof,      // recv() of at most `len` bytes, `timeout_us` apart, until EOF (curl)
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
  uint32_t file = 0;         // sendfile*, write*, splice*: index into Program::files
  uint32_t pipe = 0;         // splice*: index into Program::pipes
  uint32_t ring = 0;         // uring_*: index into Program::rings
  bool splice_more = false;  // splice*: SPLICE_F_MORE on the pipe -> socket splice
  bool select_call = false;  // poll: written as select(sock, timeout), which returns 1, not POLLIN
  uint32_t events = 0;       // poll: the events asked for, poll.h values (kPollIn | kPollOut)
  uint64_t total = 0;        // sendfile/write: the call's length; *_loop: the bytes to send
  uint64_t per_call = 0;     // *_loop: at most this many bytes per call
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
  std::string preempt = "tick";           // model/kconfig.h preempt_model: sockmap worlds' switch points
  std::string fix = "none";               // model/kconfig.h kfix: the candidate fix applied
  std::string kernel = "6.12";            // model/kconfig.h kernel_version
  // model/kconfig.h tcp_acks; empty: the world's own (delayed in the stream world, immediate
  // in the worlds whose readers are not modelled through tcp_recvmsg, which refuse delayed).
  std::string acks;
  std::string cpu = "none";  // model/kconfig.h cpu_model: steps cost CPU time (stream world)
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
  // Stream world: kTLS on a socket, files, sysctls, requested checks.
  std::optional<TlsTx> tls_tx;
  // `tls_rx(S, 1.3, sync)`: setsockopt(S, SOL_TLS, TLS_RX, ...) with the key material TLS_TX
  // uses, so S's recv() returns the plaintext of the records its peer sends (same fields).
  std::optional<TlsTx> tls_rx;
  std::vector<File> files;
  std::vector<Pipe> pipes;
  std::vector<Ring> rings;
  std::optional<uint32_t> sysctl_tcp_notsent_lowat;  // `sysctl net.ipv4.tcp_notsent_lowat = N`
  std::vector<Check> checks;
  std::vector<Window> windows;  // kernel runners only (see Window)
  // Limits of a model run (`limit steps 20000`, `limit time 120s`); 0: the defaults.
  uint64_t max_steps = 0;
  uint64_t max_time_ns = 0;

  // Index of the socket called `name`, if any.
  std::optional<uint32_t> find_sock(const std::string& name) const;
  // Whether the program uses a statement of the stream world (kTLS, a file, a sysctl, sendfile
  // or write, TCP_MAXSEG, drain, check): the model then runs it as one TCP connection
  // (scenarios/script/model_stream_world.cpp), and the host runner refuses it.
  bool stream() const;
};

// What the guest runner (replay/guest/script_exec.cpp) cannot run of `p`, as "<loc>: <feature>"
// ("" when it can run all of it): checked by the host before it boots a guest, and by the
// runner again. It runs the stream world: one TCP pair, at most one file and one pipe, the
// stream steps, and the windows.
std::string guest_unsupported(const Program& p);

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
