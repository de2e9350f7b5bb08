// The passive side of the handshake (net/ipv4/tcp_minisocks.c and tcp_input.c's
// tcp_openreq_init_rwin; kernel 6.12), as far as the window and the MSS go: the request a SYN
// creates, the SYN-ACK's window, and the child socket's window from the final ACK.
#pragma once

#include "model/include/linux/tcp.h"

namespace kpsim::model {

// struct tcp_request_sock, the fields the SYN-ACK and the child read.
struct tcp_request_sock {
  uint32_t mss = 0;               // req->mss: the SYN's MSS option, at most TCP_MAXSEG
  uint32_t rsk_rcv_wnd = 0;       // the window the SYN-ACK offers (unscaled: at most 65535)
  uint32_t rsk_window_clamp = 0;
  uint8_t rcv_wscale = 0;         // the scale of the windows the server will send
  uint8_t snd_wscale = 0;         // the client's
};

// tcp_conn_request's options (tcp_parse_options on the SYN) and tcp_openreq_init_rwin: the
// listener's (here: the accepted socket's own) TCP_MAXSEG and TCP_WINDOW_CLAMP, the window
// from tcp_full_space in whole segments of advmss less the timestamp option.
tcp_request_sock tcp_openreq_init_rwin(const tcp_sock& listener, const tcp_sock& client);
// tcp_create_openreq_child's window part: the final ACK's window, scaled by the client's
// scale, is snd_wnd and max_window; mss_clamp from the request.
void tcp_create_openreq_child(tcp_sock& newtp, const tcp_request_sock& req, uint32_t ack_window);

}  // namespace kpsim::model
