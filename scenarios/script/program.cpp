#include "scenarios/script/program.h"

#include <stdexcept>

namespace kpsim::script {

std::string Loc::str() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(col);
}

std::optional<uint32_t> Program::find_sock(const std::string& sock_name) const {
  for (size_t i = 0; i < socks.size(); ++i)
    if (socks[i].name == sock_name) return static_cast<uint32_t>(i);
  return std::nullopt;
}

bool Program::stream() const {
  if (tls_tx || tls_rx || !files.empty() || !pipes.empty() || sysctl_tcp_notsent_lowat || !checks.empty())
    return true;
  // A ring is the splice world's when it carries that world's settings; a ring only read from
  // and sent on (uring_read, uring_send) belongs to the socket pairs.
  for (const Ring& r : rings)
    if (r.others || r.iowq_max) return true;
  for (const Socket& so : socks)
    if (so.maxseg || so.window_clamp || so.drain) return true;
  for (const Thread& t : threads)
    for (const Step& st : t.steps)
      if (st.op >= Op::sendfile) return true;
  return false;
}

// Why the payloads are what they are.
//
// A receiver checks its `data` expectation byte for byte, and when it fails the report has to
// say *which* bytes arrived: another channel's, the same ones twice, a hole. So no two bytes
// that could be confused may be equal.
//
// - Small programs (at most 62 bytes sent in all, as every seed): the bytes are consecutive
//   characters of "0-9a-zA-Z" in program order, each byte distinct across the whole run and
//   readable in a trace ("01" then "23456789" for seed 000; the hand-written seed used exactly
//   these, so its recorded findings replay unchanged).
// - Larger programs: the alphabet runs out, so every sending socket k (numbered by its first
//   send, at most 4) owns the byte range [0x40*k, 0x40*k + 0x3f]. Byte j of socket k's stream
//   (j counting across all its sends) is 0x40*k + the top 6 bits of j * 2654435761 (Knuth's
//   multiplicative hash, mod 2^32): a receiver attributes every byte to its sender by its top
//   two bits, and the low six bits vary along the stream in a fixed, non-periodic-looking way,
//   so a lost, duplicated or reordered segment almost never compares equal to the expectation.
//   The function of (k, j) alone: the bytes do not depend on other sockets' sends.
std::string payload_bytes(uint64_t total, uint64_t offset, uint32_t sender, uint64_t sender_offset,
                          uint32_t bytes) {
  static constexpr char kAlphabet[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  static_assert(sizeof(kAlphabet) - 1 == kAlphabetBytes);
  if (bytes > kMaxSendBytes || total > kMaxTotalSendBytes)
    throw std::invalid_argument("payload_bytes: send larger than the limits");
  if (total <= kAlphabetBytes) {
    if (offset + bytes > total) throw std::invalid_argument("payload_bytes: offset beyond total");
    return std::string(kAlphabet + offset, bytes);
  }
  if (sender >= kMaxSendersBeyondAlphabet)
    throw std::invalid_argument("payload_bytes: more than 4 sending sockets");
  std::string out(bytes, '\0');
  for (uint32_t i = 0; i < bytes; ++i) {
    const uint32_t j = static_cast<uint32_t>(sender_offset + i);
    const uint32_t h = (j * 2654435761u) >> 26 & 0x3f;
    out[i] = static_cast<char>(0x40 * sender + h);
  }
  return out;
}

std::string guest_unsupported(const Program& p) {
  if (p.map) return p.map->loc.str() + ": a sockmap/sockhash (sockmap scripts run on the host: --kernel host)";
  if (p.socks.size() != 2 || p.socks[0].proto != Proto::tcp)
    return (p.socks.empty() ? std::string("<script>") : p.socks[0].loc.str()) +
           ": the guest runner runs one TCP connection (one create_pair(tcp))";
  if (p.files.size() > 1) return p.files[1].loc.str() + ": a second file";
  if (p.tls_rx) {
    // The runner checks every read against the sender's record boundaries, which it knows for
    // write() calls only (sendfile's and splice's records close where MSG_MORE lets them).
    if (!p.tls_tx || p.tls_tx->version != p.tls_rx->version)
      return p.tls_rx->loc.str() + ": tls_rx without tls_tx of the same version";
    // The guest gets an async AEAD by registering cryptd(gcm(aes)), which then outranks the
    // synchronous gcm(aes) for every kTLS socket set up after it: both ends get it or neither.
    if (p.tls_tx->crypto != p.tls_rx->crypto)
      return p.tls_rx->loc.str() + ": tls_rx and tls_tx with different AEADs (sync and async): the guest's kTLS "
                                   "gets gcm(aes) by priority for both ends, so a registered cryptd serves both";
    if (p.files.empty()) return p.tls_rx->loc.str() + ": tls_rx without a file to send";
    for (const Thread& t : p.threads)
      for (const Step& s : t.steps)
        if (s.op == Op::sendfile || s.op == Op::sendfile_loop || s.op == Op::splice_loop ||
            s.op == Op::uring_splice_close)
          return s.loc.str() + ": " + s.text + " with tls_rx (the runner knows the record boundaries of write() only)";
  }
  if (p.pipes.size() > 1) return p.pipes[1].loc.str() + ": a second pipe";
  for (const Ring& r : p.rings) {
    if (r.others) return r.loc.str() + ": io_uring_others (other connections' requests)";
    if (r.iowq_max) return r.loc.str() + ": io_uring_register_iowq_max_workers";
    if (r.setup == RingSetup::coop_taskrun) return r.loc.str() + ": IORING_SETUP_COOP_TASKRUN";
  }
  for (const Thread& t : p.threads)
    for (const Step& s : t.steps) {
      // recv, recv_timeout, recv_loop and poll: on the kTLS RX socket only.
      const bool rx_step = s.op == Op::recv || s.op == Op::recv_loop || s.op == Op::poll;
      if (rx_step && p.tls_rx && s.sock == p.tls_rx->sock) continue;
      if (s.op == Op::send || rx_step || s.op == Op::fionread || s.op == Op::wait_fionread || s.op == Op::map_update ||
          s.op == Op::map_delete || s.op == Op::uring_read || s.op == Op::uring_send)
        return s.loc.str() + ": " + s.text + " (the guest runner runs the stream steps, and reads on a tls_rx socket)";
    }
  return "";
}

}  // namespace kpsim::script
