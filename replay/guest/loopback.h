// The loopback TCP pair every workload runs over: a listener on 127.0.0.1 (ephemeral port), a
// client connected to it and the accepted server socket; the listener is closed once accepted.
//
// The socket options that shape the scenarios are set where the kernel reads them: TCP_MAXSEG
// on the listener (the SYN-ACK announces it and accept() inherits it, as seed 001's report
// does), SO_RCVBUF on the client before connect (the window it announces), SO_SNDBUF and
// TCP_NODELAY on the accepted socket. kTLS is set up by the workload afterwards (ktls.h).
#pragma once

#include <atomic>
#include <cstddef>
#include <string>

#include "posix.h"

namespace kpsim::guest {

struct LoopbackOptions {
  int listener_mss = 0;         // TCP_MAXSEG on the listener (0: loopback default)
  bool reuse_addr = false;      // SO_REUSEADDR on the listener
  int client_rcvbuf = 0;        // SO_RCVBUF on the client before connect (0: default)
  int server_sndbuf = 0;        // SO_SNDBUF on the accepted socket (0: default)
  bool server_nodelay = false;  // TCP_NODELAY on the accepted socket
};

struct LoopbackPair {
  Fd server;  // the accepted socket: the workloads' sender, kTLS TX goes on it
  Fd client;  // the peer that reads what the server sends
};

// Builds the pair; false with err saying which step failed.
bool open_loopback_pair(const LoopbackOptions& opt, LoopbackPair& pair, std::string& err);

// Reads fd in buf_bytes chunks until EOF or an error, adding every count to *received (if
// given) and stamping *t_last_byte (if given) with now_s() after each read.
void read_until_eof(int fd, size_t buf_bytes, std::atomic<long long>* received,
                    std::atomic<double>* t_last_byte = nullptr);

}  // namespace kpsim::guest
