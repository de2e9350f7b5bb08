// The loopback TCP pair (loopback.h).
#include "loopback.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace kpsim::guest {

namespace {

void set_int_opt(int fd, int level, int name, int v) { setsockopt(fd, level, name, &v, sizeof v); }

sockaddr* as_sockaddr(sockaddr_in& a) { return reinterpret_cast<sockaddr*>(&a); }

}  // namespace

bool open_loopback_pair(const LoopbackOptions& opt, LoopbackPair& pair, std::string& err) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  Fd listener(socket(AF_INET, SOCK_STREAM, 0));
  if (listener.fd < 0) { err = "socket"; return false; }
  if (opt.reuse_addr) set_int_opt(listener.fd, SOL_SOCKET, SO_REUSEADDR, 1);
  if (opt.listener_mss > 0 &&
      setsockopt(listener.fd, IPPROTO_TCP, TCP_MAXSEG, &opt.listener_mss, sizeof opt.listener_mss) != 0) {
    err = std::string("TCP_MAXSEG: ") + strerror(errno);
    return false;
  }
  if (bind(listener.fd, as_sockaddr(a), sizeof a) != 0) { err = "bind"; return false; }
  if (listen(listener.fd, 1) != 0) { err = "listen"; return false; }
  socklen_t alen = sizeof a;
  getsockname(listener.fd, as_sockaddr(a), &alen);  // the ephemeral port bind chose

  pair.client.reset(socket(AF_INET, SOCK_STREAM, 0));
  if (pair.client.fd < 0) { err = "client socket"; return false; }
  if (opt.client_rcvbuf > 0) set_int_opt(pair.client.fd, SOL_SOCKET, SO_RCVBUF, opt.client_rcvbuf);
  if (connect(pair.client.fd, as_sockaddr(a), sizeof a) != 0) {
    err = std::string("connect: ") + strerror(errno);
    return false;
  }
  pair.server.reset(accept(listener.fd, nullptr, nullptr));
  if (pair.server.fd < 0) { err = "accept"; return false; }
  if (opt.server_sndbuf > 0) set_int_opt(pair.server.fd, SOL_SOCKET, SO_SNDBUF, opt.server_sndbuf);
  if (opt.server_nodelay) set_int_opt(pair.server.fd, IPPROTO_TCP, TCP_NODELAY, 1);
  return true;
}

void read_until_eof(int fd, size_t buf_bytes, std::atomic<long long>* received,
                    std::atomic<double>* t_last_byte) {
  std::vector<char> buf(buf_bytes);
  for (;;) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n <= 0) break;
    if (received) *received += n;
    if (t_last_byte) *t_last_byte = now_s();
  }
}

}  // namespace kpsim::guest
