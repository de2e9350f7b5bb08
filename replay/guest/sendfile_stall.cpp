// Workload ktls-sendfile-stall: seed 001 ("TLS_SW sendfile() stalls at large MSS").
//
// A loopback TCP pair with kTLS TX (fixed key) on the accepted socket; the client drains raw
// ciphertext as fast as it can, so the receive window never closes and any stall is the
// sender's. TCP_INFO is sampled meanwhile to observe the stall signature: a send call in
// progress, bytes queued but not sent, nothing in flight (so no ACK will come to push them).
//
// Keys (defaults in parse_stall_config):
//   mss=N          TCP_MAXSEG on the listener (0: loopback default); inherited by accept()
//   lowat=N        net.ipv4.tcp_notsent_lowat during the run (0: leave the kernel's value)
//   bytes=N        payload bytes to send (the backing file in dir=/tmp, a tmpfs in the guest)
//   chunk=N        bytes per send call (0: all in one call, as the report's reproducer does)
//   api=sendfile|write
//   tls=13|12|0    TLS version for TLS_TX (0: plain TCP, a control)
//   timeout_ms=N   give up sending after this long (the sender is interrupted with a signal)
//   sample_ms=N    TCP_INFO sampling period (default 5)
//   stall_ms=N     verdict "stall" when the send calls spent this long in total in episodes
//                  of the signature without progress (default 1000 ms = 5 loopback persist
//                  intervals of 200 ms)
#include <linux/tcp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <thread>
#include <vector>

#include "ktls.h"
#include "loopback.h"
#include "posix.h"
#include "procfs.h"
#include "workloads.h"

namespace kpsim::guest {

namespace {

// The client's read size: large, so draining never lags behind the sender.
constexpr size_t kClientReadBytes = 1 << 18;

struct StallConfig {
  long long mss, lowat, bytes, chunk;
  std::string api;
  int tls;
  long long timeout_ms, sample_ms, stall_ms;
  std::string dir;
};

StallConfig parse_stall_config(const KV& kv) {
  StallConfig c;
  c.mss = get_num(kv, "mss", 0);
  c.lowat = get_num(kv, "lowat", 0);
  c.bytes = get_num(kv, "bytes", 4 << 20);
  c.chunk = get_num(kv, "chunk", 0);
  c.api = get_str(kv, "api", "sendfile");
  c.tls = static_cast<int>(get_num(kv, "tls", 13));
  c.timeout_ms = get_num(kv, "timeout_ms", 60000);
  c.sample_ms = std::max<long long>(1, get_num(kv, "sample_ms", 5));
  c.stall_ms = get_num(kv, "stall_ms", 1000);
  c.dir = get_str(kv, "dir", "/tmp");
  if (c.chunk <= 0) c.chunk = c.bytes;
  return c;
}

// What the sender, the sampler and the client share.
struct SendState {
  std::atomic<bool> in_call{false}, done{false}, abort_flag{false};
  std::atomic<double> call_start{0}, t_start{0}, t_last_byte{0};
  std::atomic<long long> received{0};
};

// Stall episodes: consecutive samples with the signature during which the connection made no
// progress (tcpi_bytes_sent unchanged). An episode's length counts from the sample at which
// bytes_sent last changed, so it is a lower bound with the sampling period as resolution.
// (Checking progress matters: one record per persist interval looks like a permanent
// "notsent = one record" to a slower sampler, because each record is replaced by the next
// between two samples.)
struct StallSampler {
  long long samples = 0, stall_samples = 0, episodes = 0, long_episodes = 0;
  bool open = false;
  double cur = 0, longest_stall = 0, stall_total = 0, last_progress_t = 0;
  unsigned long long last_bytes_sent = 0;
  unsigned max_notsent = 0, stall_notsent_min = ~0u, stall_notsent_max = 0;
  unsigned max_probes = 0, max_backoff = 0, max_unacked = 0;

  void close_episode() {
    if (!open) return;
    open = false;
    stall_total += cur;
    if (cur >= 0.1) long_episodes++;
  }

  void sample(const tcp_info& ti, double t, bool in_call) {
    samples++;
    max_notsent = std::max(max_notsent, ti.tcpi_notsent_bytes);
    max_probes = std::max<unsigned>(max_probes, ti.tcpi_probes);
    max_backoff = std::max<unsigned>(max_backoff, ti.tcpi_backoff);
    max_unacked = std::max(max_unacked, ti.tcpi_unacked);
    const bool sig = in_call && ti.tcpi_notsent_bytes > 0 && ti.tcpi_unacked == 0;
    if (ti.tcpi_bytes_sent != last_bytes_sent) {
      close_episode();
      last_bytes_sent = ti.tcpi_bytes_sent;
      last_progress_t = t;
    } else if (sig) {
      stall_samples++;
      stall_notsent_min = std::min(stall_notsent_min, ti.tcpi_notsent_bytes);
      stall_notsent_max = std::max(stall_notsent_max, ti.tcpi_notsent_bytes);
      if (!open) {
        open = true;
        episodes++;
      }
      cur = t - last_progress_t;
      longest_stall = std::max(longest_stall, cur);
    } else {
      close_episode();
    }
  }
};

// The sampler thread: TCP_INFO of sock every sample_ms until done; past timeout_ms inside a
// send call it sets abort_flag and interrupts the sender with SIGUSR1 (no SA_RESTART, main.cpp).
void sample_until_done(int sock, const StallConfig& c, SendState& st, StallSampler& smp,
                       pthread_t sender) {
  while (!st.done) {
    sleep_ms(c.sample_ms);
    tcp_info ti{};
    socklen_t tl = sizeof ti;
    if (getsockopt(sock, IPPROTO_TCP, TCP_INFO, &ti, &tl) != 0) continue;
    const double t = now_s();
    smp.sample(ti, t, st.in_call);
    if (st.in_call && t - st.t_start > static_cast<double>(c.timeout_ms) / 1000.0) {
      st.abort_flag = true;
      pthread_kill(sender, SIGUSR1);  // interrupts sk_stream_wait_memory
    }
  }
}

struct SendOutcome {
  long long sent = 0, calls = 0, longest_call_bytes = 0;
  double longest_call = 0, longest_call_start = 0, t_sent = 0;
  std::string err;
};

// Sends c.bytes in calls of c.chunk (sendfile from file, or write from buf) until done, an
// error, or the sampler's abort.
SendOutcome send_all(const StallConfig& c, int sock, int file, const std::vector<char>& buf,
                     SendState& st) {
  SendOutcome o;
  off_t off = 0;
  st.t_start = now_s();  // the times below count from the first send call
  while (o.sent < c.bytes && !st.abort_flag) {
    const size_t want = static_cast<size_t>(std::min(c.chunk, c.bytes - o.sent));
    st.call_start = now_s();
    st.in_call = true;
    const ssize_t n = c.api == "sendfile" ? sendfile(sock, file, &off, want)
                                          : write(sock, buf.data() + o.sent, want);
    st.in_call = false;
    const double dur = now_s() - st.call_start;
    o.calls++;
    if (n > 0) o.sent += n;
    if (dur > o.longest_call) {
      o.longest_call = dur;
      o.longest_call_start = st.call_start - st.t_start;
      o.longest_call_bytes = n > 0 ? n : 0;
    }
    if (n < 0) {
      if (errno == EINTR && !st.abort_flag) continue;
      if (!st.abort_flag) o.err = c.api + ": " + strerror(errno);
      break;
    }
    if (n == 0) break;
  }
  o.t_sent = now_s();
  return o;
}

// The result's measurements and the verdict, appended to j.
std::string stall_result(Json& j, const StallConfig& c, const SendState& st, const SendOutcome& o,
                         const StallSampler& smp, std::map<std::string, long long>& tcpext_before,
                         std::map<std::string, long long>& tcpext_after) {
  const double elapsed = (st.t_last_byte > 0 ? st.t_last_byte.load() : o.t_sent) - st.t_start;
  const long long wire_expected = wire_bytes(c.bytes, c.tls);
  const bool complete = o.sent == c.bytes && st.received == wire_expected;
  // Verdict: the send call(s) spent at least stall_ms in no-progress episodes with the
  // signature (default 1 s = 5 loopback persist intervals of 200 ms).
  const bool stall = smp.stall_total * 1000.0 >= static_cast<double>(c.stall_ms);
  // A timeout is an observation, not a failure of the run: the verdict says "stall" and
  // timed_out/completed say that the transfer never finished (a permanent stall).
  j.b("ok", o.err.empty() && (complete || st.abort_flag))
      .s("error", o.err)
      .b("timed_out", st.abort_flag)
      .b("completed", complete)
      .s("gcm_aes_driver", c.tls ? gcm_aes_driver() : "")
      .i("sent", o.sent)
      .i("wire_expected", wire_expected)
      .i("wire_received", st.received)
      .d("send_s", o.t_sent - st.t_start)
      .d("elapsed_s", elapsed)
      .d("throughput_MiBps", elapsed > 0 ? static_cast<double>(o.sent) / elapsed / 1048576.0 : 0)
      .i("send_calls", o.calls)
      .d("longest_call_s", o.longest_call)
      .d("longest_call_at_s", o.longest_call_start)
      .i("longest_call_bytes", o.longest_call_bytes)
      .i("samples", smp.samples)
      .i("stall_samples", smp.stall_samples)
      .d("longest_stall_s", smp.longest_stall)
      .i("stall_episodes", smp.episodes)
      .i("stall_episodes_ge_100ms", smp.long_episodes)
      .d("stall_total_s", smp.stall_total)
      .d("stall_mean_episode_s", smp.episodes ? smp.stall_total / static_cast<double>(smp.episodes) : 0)
      .i("stall_notsent_min", smp.stall_samples ? smp.stall_notsent_min : 0)
      .i("stall_notsent_max", smp.stall_notsent_max)
      .i("max_notsent", smp.max_notsent)
      .i("max_unacked", smp.max_unacked)
      .i("max_probes", smp.max_probes)
      .i("max_backoff", smp.max_backoff)
      .i("tcpext_winprobe", tcpext_after["TCPWinProbe"] - tcpext_before["TCPWinProbe"])
      .i("tcpext_autocorking", tcpext_after["TCPAutoCorking"] - tcpext_before["TCPAutoCorking"])
      .s("verdict", stall ? "stall" : "no-stall");
  return j.str();
}

}  // namespace

std::string run_sendfile_stall(const KV& kv) {
  Json j = result_header("ktls-sendfile-stall", kv);
  const StallConfig c = parse_stall_config(kv);
  if (c.api != "sendfile" && c.api != "write") return j.failed("api must be sendfile or write");
  if (c.tls != 0 && c.tls != 12 && c.tls != 13) return j.failed("tls must be 0, 12 or 13");

  const std::string lowat_path = "/proc/sys/net/ipv4/tcp_notsent_lowat";
  SysctlOverride lowat_override;
  if (c.lowat > 0 && !lowat_override.set(lowat_path, std::to_string(c.lowat)))
    return j.failed("cannot set net.ipv4.tcp_notsent_lowat");
  std::string cur_lowat = read_file(lowat_path);
  cur_lowat.erase(cur_lowat.find_last_not_of("\n ") + 1);
  j.s("notsent_lowat", cur_lowat);

  // Backing data: a tmpfs file for sendfile (page cache pages get spliced), memory for write.
  std::vector<char> buf(static_cast<size_t>(c.bytes), 'x');
  Fd file;
  std::string err;
  if (!make_backing_file(c.dir + "/kpsim-stall-XXXXXX", buf.data(), buf.size(), file, err))
    return j.failed(err);
  // Clamp on the listener, as the report does: the SYN-ACK announces it and accept() inherits it.
  LoopbackPair pair;
  if (!open_loopback_pair({.listener_mss = static_cast<int>(c.mss), .reuse_addr = true}, pair, err))
    return j.failed(err);
  int smss = 0;
  socklen_t ml = sizeof smss;
  getsockopt(pair.server.fd, IPPROTO_TCP, TCP_MAXSEG, &smss, &ml);
  j.i("sender_mss", smss);
  if (c.tls != 0 && !set_ktls_tx(pair.server.fd, c.tls, err)) return j.failed(err);

  SendState st;
  std::thread client(
      [&] { read_until_eof(pair.client.fd, kClientReadBytes, &st.received, &st.t_last_byte); });
  StallSampler smp;
  auto tcpext_before = tcpext();
  st.t_start = now_s();
  smp.last_progress_t = st.t_start;
  std::thread sampler(sample_until_done, pair.server.fd, std::cref(c), std::ref(st),
                      std::ref(smp), pthread_self());
  const SendOutcome o = send_all(c, pair.server.fd, file.fd, buf, st);
  // Close the sender: kTLS flushes its open record, TCP sends FIN; the client sees EOF.
  pair.server.reset();
  client.join();
  st.done = true;
  sampler.join();
  smp.close_episode();
  auto tcpext_after = tcpext();
  // (TCPWinProbe stays 0 here: a probe that carries the corked data is not counted as a window
  // probe, and it resets tcpi_probes/backoff because data is then in flight. Episodes of the
  // signature are the observable.)
  return stall_result(j, c, st, o, smp, tcpext_before, tcpext_after);
}

}  // namespace kpsim::guest
