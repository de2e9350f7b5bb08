// CPU time of kernel work: see cputime.h.
#include "model/kernel/sched/cputime.h"

namespace kpsim::model {

uint64_t cpu_cost_ns(const cpu_costs& c, cpu_work w, uint64_t units) {
  switch (w) {
    case cpu_work::syscall: return units * c.syscall_ns;
    // Per byte in picoseconds; rounded up so that any copy costs something.
    case cpu_work::copy: return (units * c.copy_ps_per_byte + 999) / 1000;
    // AES-GCM decrypts at the speed it encrypts: the same CTR keystream, GHASH over the same
    // ciphertext.
    case cpu_work::encrypt:
    case cpu_work::decrypt: return (units * c.encrypt_ps_per_byte + 999) / 1000;
    case cpu_work::skb_out: return units * c.skb_out_ns;
    case cpu_work::skb_in: return units * c.skb_in_ns;
  }
  return 0;
}

void account_cpu(Sched& s, const kernel_config& kc, cpu_time& t, cpu_work w, uint64_t units, on_cpu where) {
  if (kc.cpu == cpu_model::none || units == 0) return;
  const uint64_t ns = cpu_cost_ns(kc.costs, w, units);
  const auto i = static_cast<size_t>(w);
  if (where == on_cpu::other) {
    t.other_cpu[i] += ns;
    return;
  }
  t.this_cpu[i] += ns;
  s.run_for(ns);
}

}  // namespace kpsim::model
