// net/ipv4/tcp_minisocks.c tcp_create_openreq_child, with net/ipv4/tcp_input.c's
// tcp_conn_request / tcp_openreq_init_rwin (kernel 6.12): see tcp_minisocks.h.
#include "model/net/ipv4/tcp_minisocks.h"

#include "model/net/ipv4/tcp_output.h"

namespace kpsim::model {

tcp_request_sock tcp_openreq_init_rwin(const tcp_sock& listener, const tcp_sock& client) {
  tcp_request_sock req;
  // tcp_parse_options: the SYN's MSS option (the client's advmss), at most the listener's
  // TCP_MAXSEG; its window scale option.
  req.mss = tcp_mss_clamp(listener, client.advmss);
  req.snd_wscale = client.rcv_wscale;
  // tcp_openreq_init_rwin: advmss of the route (TCP_MAXSEG if smaller), less the timestamp
  // option both SYNs carry on loopback.
  const uint32_t mss = tcp_mss_clamp(listener, kLoopbackAdvmss);
  req.rsk_window_clamp = listener.window_clamp;
  tcp_select_initial_window(tcp_full_space(), mss - kTCPOLEN_TSTAMP_ALIGNED, req.rsk_rcv_wnd, req.rsk_window_clamp,
                            req.rcv_wscale);
  return req;
}

void tcp_create_openreq_child(tcp_sock& newtp, const tcp_request_sock& req, uint32_t ack_window) {
  newtp.window_clamp = req.rsk_window_clamp;
  newtp.rcv_ssthresh = req.rsk_rcv_wnd;
  newtp.rcv_wnd_syn = req.rsk_rcv_wnd;
  newtp.rcv_wscale = req.rcv_wscale;
  newtp.snd_wscale = req.snd_wscale;
  // The ACK that completes the handshake is not a SYN: its window is scaled.
  newtp.snd_wnd = uint64_t{ack_window >> newtp.snd_wscale} << newtp.snd_wscale;
  newtp.max_window = newtp.snd_wnd;
  newtp.mss_clamp = req.mss;
}

}  // namespace kpsim::model
