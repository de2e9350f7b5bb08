// SPDX-License-Identifier: GPL-2.0
/* BPF side of the real-kernel runner for scenario scripts (replay/script_runner.cpp).
 *
 * 1. One BPF_MAP_TYPE_SOCKMAP and one BPF_MAP_TYPE_SOCKHASH; user space sizes both with
 *    bpf_map__set_max_entries() before load and uses the one the script's Program declares.
 * 2. A stream-verdict program driven by a rules array in .rodata (struct script_rule,
 *    bpf/script_verdict.h): the first rule whose socket matches wins. A rule names the socket
 *    the skb arrived on by its socket cookie (bpf_get_socket_cookie(skb), which an sk_skb
 *    program may call; user space reads the same value with getsockopt(SO_COOKIE)); cookie 0
 *    matches every socket (the default rule). rule_hits counts which rule decided, so a run
 *    can show that the per-socket rules matched what they name.
 * 3. The tracing programs of sockmap_verdict.bpf.c (raw tracepoints: when the psock backlog
 *    worker is queued / starts / ends, when a script thread enters and leaves sendto and
 *    recvfrom), following every thread of the runner's process (the tgid) rather than one
 *    thread: a script has several.
 *
 * No vmlinux.h: struct work_struct is declared locally with preserve_access_index (CO-RE). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "replay_events.h"
#include "script_verdict.h"

struct work_struct___kpsim {
	void *func;
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 1); /* set by user space before load */
	__type(key, __u32);
	__type(value, __u32);
} sock_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 1); /* set by user space before load */
	__type(key, __u32);
	__type(value, __u32);
} sock_hash SEC(".maps");

/* Backlog works first queued from a script thread's send (see on_queue_work). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u64);
	__type(value, __u32);
} tracked_works SEC(".maps");

/* Per script thread: REPLAY_SEND_EXIT / REPLAY_RECV_EXIT expected at its next sys_exit. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u32);
} pending_exit SEC(".maps");

/* Filled in by user space before load (rodata is frozen at load). */
const volatile struct script_rule rules[SCRIPT_MAX_RULES];
const volatile __u32 n_rules = 0;
const volatile __u64 backlog_fn = 0;  /* address of sk_psock_backlog from /proc/kallsyms */
const volatile __u32 target_tgid = 0; /* the runner's process: every script thread */
const volatile __u32 nr_sendto = 0;   /* syscall numbers of this architecture */
const volatile __u32 nr_recvfrom = 0;

struct replay_event events[SCRIPT_MAX_EVENTS];
__u32 n_events = 0;
__u64 rule_hits[SCRIPT_MAX_RULES + 1]; /* [SCRIPT_MAX_RULES]: no rule matched (SK_PASS) */

SEC("sk_skb/stream_verdict")
int script_verdict(struct __sk_buff *skb)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	__u32 i;

	for (i = 0; i < SCRIPT_MAX_RULES; i++) {
		__u32 key;

		if (i >= n_rules)
			break;
		if (rules[i].cookie != 0 && rules[i].cookie != cookie)
			continue;
		__sync_fetch_and_add(&rule_hits[i], 1);
		if (rules[i].action == SCRIPT_ACT_PASS)
			return SK_PASS;
		if (rules[i].action == SCRIPT_ACT_DROP)
			return SK_DROP;
		key = rules[i].key;
		if (rules[i].map == SCRIPT_MAP_SOCKHASH)
			return bpf_sk_redirect_hash(skb, &sock_hash, &key, rules[i].flags);
		return bpf_sk_redirect_map(skb, &sock_map, key, rules[i].flags);
	}
	__sync_fetch_and_add(&rule_hits[SCRIPT_MAX_RULES], 1);
	return SK_PASS;
}

static __always_inline void record(__u32 kind, __u64 arg, __u32 tid)
{
	__u32 idx = __sync_fetch_and_add(&n_events, 1);
	struct replay_event *e;

	if (idx >= SCRIPT_MAX_EVENTS)
		return; /* user space sees n_events > SCRIPT_MAX_EVENTS and reports overflow */
	e = &events[idx & (SCRIPT_MAX_EVENTS - 1)];
	e->ts_ns = bpf_ktime_get_ns();
	e->arg = arg;
	e->kind = kind;
	e->cpu = bpf_get_smp_processor_id();
	e->tid = tid;
}

static __always_inline int ours(__u64 pid_tgid)
{
	return (__u32)(pid_tgid >> 32) == target_tgid;
}

static __always_inline int is_backlog(struct work_struct___kpsim *work)
{
	return backlog_fn != 0 && (__u64)BPF_CORE_READ(work, func) == backlog_fn;
}

/* TP_PROTO(int req_cpu, struct pool_workqueue *pwq, struct work_struct *work) */
SEC("raw_tracepoint/workqueue_queue_work")
int on_queue_work(struct bpf_raw_tracepoint_args *ctx)
{
	struct work_struct___kpsim *work = (void *)ctx->args[2];
	__u64 key = (__u64)work, pid_tgid = bpf_get_current_pid_tgid();
	__u32 one = 1;

	if (!is_backlog(work))
		return 0;
	/* First sighting from a script thread's own send (the loopback softirq runs in it);
	 * later queueings of a known work (retries from the worker itself) are kept too. */
	if (!ours(pid_tgid) && !bpf_map_lookup_elem(&tracked_works, &key))
		return 0;
	bpf_map_update_elem(&tracked_works, &key, &one, BPF_ANY);
	record(REPLAY_BACKLOG_QUEUE, key, (__u32)pid_tgid);
	return 0;
}

/* TP_PROTO(struct work_struct *work) */
SEC("raw_tracepoint/workqueue_execute_start")
int on_execute_start(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 key = ctx->args[0];

	if (bpf_map_lookup_elem(&tracked_works, &key))
		record(REPLAY_BACKLOG_START, key, (__u32)bpf_get_current_pid_tgid());
	return 0;
}

/* TP_PROTO(struct work_struct *work, work_func_t function) */
SEC("raw_tracepoint/workqueue_execute_end")
int on_execute_end(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 key = ctx->args[0];

	if (ctx->args[1] == backlog_fn && bpf_map_lookup_elem(&tracked_works, &key))
		record(REPLAY_BACKLOG_END, key, (__u32)bpf_get_current_pid_tgid());
	return 0;
}

/* TP_PROTO(struct pt_regs *regs, long id) */
SEC("raw_tracepoint/sys_enter")
int on_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), id = ctx->args[1];
	__u32 tid = (__u32)pid_tgid, kind;

	if (!ours(pid_tgid))
		return 0;
	if (id == nr_sendto) {
		kind = REPLAY_SEND_EXIT;
		record(REPLAY_SEND_ENTER, 0, tid);
	} else if (id == nr_recvfrom) {
		kind = REPLAY_RECV_EXIT;
		record(REPLAY_RECV_ENTER, 0, tid);
	} else {
		return 0;
	}
	bpf_map_update_elem(&pending_exit, &tid, &kind, BPF_ANY);
	return 0;
}

/* TP_PROTO(struct pt_regs *regs, long ret). The syscall id is not an argument here; the
 * thread's enter handler left the exit it expects in pending_exit. */
SEC("raw_tracepoint/sys_exit")
int on_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, *kind;

	if (!ours(pid_tgid))
		return 0;
	kind = bpf_map_lookup_elem(&pending_exit, &tid);
	if (!kind || *kind == 0)
		return 0;
	record(*kind, ctx->args[1], tid);
	*kind = 0;
	return 0;
}

char _license[] SEC("license") = "GPL";
