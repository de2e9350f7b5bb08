// CPU time of kernel work (issue 15, "Time"). Linux 6.12 kernel/sched/cputime.c accounts the time
// a CPU spent in the kernel after the fact (account_system_index_time() at each tick, or exact
// with VIRT_CPU_ACCOUNTING); it measures, it does not decide how long work takes. The model has no
// clock of its own to measure, so it charges: a model function that does costly work calls
// account_cpu() with what it did (one system call, N bytes copied or encrypted, one skb sent or
// received) and, with `model cpu = costed`, the virtual clock moves on by the cost table's time
// (kernel_config::costs, model/kconfig.h) inside that step (Sched::run_for); with `cpu = none`,
// the default, nothing happens and steps stay instantaneous.
//
// Which CPU pays. A loopback TCP connection has two: the sender's runs the system call, its
// copy, the encryption, tcp_transmit_skb and, as the device is loopback, the NET_RX softirq that
// receives the skb (tcp_v4_rcv) and the ACKs coming back; the reader's runs copy_to_user in
// tcp_recvmsg. The model's clock follows the sender's CPU (on_cpu::this_one); the reader's work
// (on_cpu::other) is only counted: it runs in parallel. It is the slower side only where the
// sender copies nothing - plain-TCP sendfile (2 GiB: reader 0.52 s, sender 0.38 s) - and there
// the model's throughput is too high: the reader does not hold the clock (metric
// reader_cpu_busy_s against cpu_busy_s shows it).
//
// Where each is charged: syscall — the stream world's write()/sendfile() step; copy —
// tcp_sendmsg_locked for user memory (not for spliced pages), tls_sw_sendmsg_locked's copy into
// the open record, tcp_recvmsg's copy to the reader (other CPU); encrypt — where the cipher
// runs: tls_push_record with a synchronous AEAD, cryptd's worker with the asynchronous one
// (cryptd queues on the CPU that submitted, so a TX record's encryption is the sender's CPU's);
// decrypt — kTLS RX's crypto_aead_decrypt, in the reader's call or in cryptd, both on the
// reader's CPU (other); skb_out — tcp_transmit_skb and tcp_send_ack; skb_in — tcp_v4_rcv (data
// and ACKs). Not charged: splice's page references, the timers' own work, io_uring.
#pragma once

#include <array>
#include <cstdint>

#include "model/kconfig.h"
#include "sched/sched.h"

namespace kpsim::model {

enum class cpu_work : uint8_t { syscall, copy, encrypt, decrypt, skb_out, skb_in };
inline constexpr size_t kCpuWorks = 6;
inline constexpr std::array<const char*, kCpuWorks> kCpuWorkNames{"syscall", "copy",    "encrypt",
                                                                  "decrypt", "skb_out", "skb_in"};

// Nanoseconds charged per kind of work, on the clock's CPU and on the other one.
struct cpu_time {
  std::array<uint64_t, kCpuWorks> this_cpu{};
  std::array<uint64_t, kCpuWorks> other_cpu{};
};

enum class on_cpu : uint8_t { this_one, other };

// The cost of `units` of work `w` (calls, bytes or skbs) with kc's table.
uint64_t cpu_cost_ns(const cpu_costs& c, cpu_work w, uint64_t units);

// Charges it to `t` and, on this CPU, moves the clock on. A no-op with cpu_model::none.
void account_cpu(Sched& s, const kernel_config& kc, cpu_time& t, cpu_work w, uint64_t units,
                 on_cpu where = on_cpu::this_one);

}  // namespace kpsim::model
