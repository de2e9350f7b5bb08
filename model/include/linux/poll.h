// The poll event bits (include/uapi/asm-generic/poll.h and include/uapi/linux/eventpoll.h: the
// same values as EPOLL*; kernel 6.12) that the sockets' ->poll callbacks report.
#pragma once

#include <cstdint>

namespace kpsim::model {

using __poll_t = uint32_t;

inline constexpr __poll_t EPOLLIN = 0x001;
inline constexpr __poll_t EPOLLPRI = 0x002;
inline constexpr __poll_t EPOLLOUT = 0x004;
inline constexpr __poll_t EPOLLERR = 0x008;
inline constexpr __poll_t EPOLLHUP = 0x010;
inline constexpr __poll_t EPOLLRDNORM = 0x040;
inline constexpr __poll_t EPOLLWRNORM = 0x100;
inline constexpr __poll_t EPOLLWRBAND = 0x200;
inline constexpr __poll_t EPOLLRDHUP = 0x2000;

}  // namespace kpsim::model
