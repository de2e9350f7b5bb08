// The class of a transfer and what paced it (issue 15), one rule for the model's runs and the
// guest kernel's, so that `kpsim crosscheck` compares like with like.
//
//   stall  the persist timer found data held while the peer's window was open (the no-stall
//          property; on the kernel, the TCP_INFO sampler's stall signature): mechanism persist;
//          or the transfer stopped for good (the model: every task asleep and no timer, a
//          deadlock; the kernel: a run stopped by --run-timeout): mechanism hang.
//   slow   otherwise, one timer's waits add up to at least kSlowMinS and to at least half of
//          the transfer's time: mechanism persist (window-closed probes), delayed-ack (the
//          receiver's delack timer), rto (the retransmit timer) or memory-wait (the
//          VM-pressure sleep of sk_stream_wait_memory).
//   flows  neither.
//
// The model's times are its virtual waits. The kernel's are estimates from what the guest can
// read: the sampler's persist time, TcpExt DelayedACKs times TCP_DELACK_MIN (40 ms, the delay
// a loopback receiver's delack timer keeps to: the RTT bound) and TCPTimeouts times
// TCP_RTO_MIN (200 ms); the kernel has no counter for the VM-pressure sleep.
#pragma once

#include <string>
#include <utility>

namespace kpsim::script {

inline constexpr double kSlowMinS = 0.2;
inline constexpr double kDelackEstimateS = 0.040;  // per TcpExt DelayedACKs
inline constexpr double kRtoEstimateS = 0.200;     // per TcpExt TCPTimeouts

struct PaceTimes {
  double elapsed_s = 0;  // the transfer's time
  double persist_s = 0, delack_s = 0, rto_s = 0, memory_s = 0;
  bool stalled = false;
  bool hung = false;  // never finished: nothing, not even a timer, would move it on
};

struct Pace {
  std::string verdict;    // stall | slow | flows
  std::string mechanism;  // persist | hang | delayed-ack | rto | memory-wait | none
  std::string text() const { return verdict == "flows" ? verdict : verdict + "(" + mechanism + ")"; }
};

inline Pace classify_pace(const PaceTimes& t) {
  if (t.hung) return {"stall", "hang"};
  if (t.stalled) return {"stall", "persist"};
  std::pair<double, const char*> best{t.persist_s, "persist"};
  for (const auto& m : {std::pair<double, const char*>{t.delack_s, "delayed-ack"}, {t.rto_s, "rto"},
                        {t.memory_s, "memory-wait"}})
    if (m.first > best.first) best = m;
  if (best.first >= kSlowMinS && best.first >= 0.5 * t.elapsed_s) return {"slow", best.second};
  return {"flows", "none"};
}

}  // namespace kpsim::script
