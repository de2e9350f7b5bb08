/* Configuration shared by the script verdict object (bpf/script_verdict.bpf.c) and the
 * user-space script runner (script_runner.cpp): the verdict rules user space writes into the
 * object's .rodata before load. Fixed-width types only, same layout for clang -target bpf and
 * the host compiler. */
#ifndef KPSIM_SCRIPT_VERDICT_H
#define KPSIM_SCRIPT_VERDICT_H

#include <linux/types.h>

/* Rules of one verdict program (program.h VerdictRule); more is refused by the runner. */
#define SCRIPT_MAX_RULES 16
/* Power of two: the BPF side masks the slot index. A 64 KiB TCP exchange with a recv loop
 * records a few dozen events; the rest is slack for backlog retries. */
#define SCRIPT_MAX_EVENTS 1024

enum script_action {
	SCRIPT_ACT_PASS = 0,     /* SK_PASS */
	SCRIPT_ACT_DROP = 1,     /* SK_DROP */
	SCRIPT_ACT_REDIRECT = 2, /* bpf_sk_redirect_map / bpf_sk_redirect_hash */
};

enum script_map {
	SCRIPT_MAP_SOCKMAP = 0,
	SCRIPT_MAP_SOCKHASH = 1,
};

struct script_rule {
	__u64 cookie; /* SO_COOKIE of the socket the skb arrived on; 0: every socket (default) */
	__u32 action; /* enum script_action */
	__u32 key;    /* redirect: map key */
	__u32 flags;  /* redirect: BPF_F_INGRESS or 0 */
	__u32 map;    /* redirect: enum script_map */
};

#endif
