#include "scenarios/sockmap_script.h"

#include <stdexcept>

namespace kpsim::sockmap {

const char* sock_name(Sock s) {
  switch (s) {
    case Sock::c0: return "c0";
    case Sock::c1: return "c1";
    case Sock::p0: return "p0";
    case Sock::p1: return "p1";
  }
  return "?";
}

std::string channel_payload(uint32_t offset, uint32_t bytes) {
  static const std::string alphabet =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  if (offset + bytes > alphabet.size())
    throw std::invalid_argument("channel payloads are limited to 62 distinct bytes in total");
  return alphabet.substr(offset, bytes);
}

// The selftest's constants: wait_for_fionread() counts 1 ms polls against its timeout
// argument, and callers pass IO_TIMEOUT_SEC (30), so it gives up after 30 polls (~30 ms);
// recv_timeout(..., 1) selects for readability for up to 1 s; the loop fix uses IO_TIMEOUT_SEC.
constexpr uint32_t kIoTimeoutSec = 30;
constexpr uint32_t kFionreadTimeoutUs = kIoTimeoutSec * 1000;
constexpr uint32_t kSelectTimeoutUs = 1000000;
constexpr uint32_t kLoopSelectTimeoutUs = kIoTimeoutSec * 1000000;

static Step step(StepKind kind, Sock s) {
  Step st;
  st.kind = kind;
  st.sock = s;
  return st;
}

static Step send(Sock s, std::string payload) {
  Step st = step(StepKind::send, s);
  st.payload = std::move(payload);
  return st;
}

static Step wait_fionread(uint32_t min_bytes) {
  Step st = step(StepKind::wait_fionread, Sock::p1);
  st.min_bytes = min_bytes;
  st.timeout_us = kFionreadTimeoutUs;
  return st;
}

static Step recv(uint32_t len, std::string expect) {
  Step st = step(StepKind::recv, Sock::p1);
  st.len = len;
  st.dontwait = true;
  st.select_timeout_us = kSelectTimeoutUs;
  st.expect = std::move(expect);
  return st;
}

Script make_multi_channels_script(Proto proto, const std::string& test, uint32_t c1_bytes,
                                  uint32_t c0_bytes) {
  const std::string native = channel_payload(0, c1_bytes);
  const std::string redirected = channel_payload(c1_bytes, c0_bytes);
  const std::string all = native + redirected;
  const uint32_t total = c1_bytes + c0_bytes;
  // UDP FIONREAD reports the head datagram only; TCP reports everything queued.
  const uint32_t expected = proto == Proto::udp ? c1_bytes : total;

  Script sc;
  sc.proto = proto;
  sc.steps.push_back(send(Sock::c1, native));
  sc.steps.push_back(wait_fionread(c1_bytes));
  sc.steps.push_back(send(Sock::c0, redirected));
  sc.steps.push_back(wait_fionread(expected));
  if (test == "selftest") {
    sc.steps.push_back(recv(total + 1, all));  // rcv[11]: one byte more than sent
  } else if (test == "loop") {
    Step st = step(StepKind::recv_until, Sock::p1);
    st.len = total;
    st.dontwait = true;
    st.select_timeout_us = kLoopSelectTimeoutUs;
    st.expect = all;
    sc.steps.push_back(st);
  } else if (test == "upstream") {
    sc.steps.push_back(recv(expected, all.substr(0, expected)));
    if (total > expected) {
      sc.steps.push_back(wait_fionread(total - expected));
      sc.steps.push_back(recv(total - expected, all.substr(expected)));
    }
  } else {
    throw std::invalid_argument("unknown test variant '" + test + "'");
  }
  return sc;
}

}  // namespace kpsim::sockmap
