// SPDX-License-Identifier: GPL-2.0
/* BPF side of the real-kernel replay of the sockmap multi-channel selftest.
 *
 * 1. The verdict program and map are the selftest's (progs/test_sockmap_pass_prog.c):
 *    an sk_skb stream-verdict program that redirects every skb, with BPF_F_INGRESS, to the
 *    socket in sock_map_rx slot `redirect_slot` (1 = p1).
 * 2. Tracing programs (raw tracepoints only: kprobes are off and fentry does not load on the
 *    target kernel) record, with bpf_ktime_get_ns(), when the psock backlog worker
 *    (sk_psock_backlog) is queued / starts / ends and when the test thread enters and leaves
 *    sendto/recvfrom. User space reads the `events` array through the skeleton's mmapped .bss
 *    and decides whether the worker ran before or after the recv entered the kernel.
 *
 * Built without vmlinux.h: the two kernel structs we dereference are declared locally with
 * preserve_access_index, so libbpf relocates the field offsets against the running kernel's
 * BTF at load time (CO-RE) and the build does not depend on the build host's BTF. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "replay_events.h"

/* Minimal CO-RE view of struct work_struct: only `func` is read. The ___kpsim suffix is a
 * "flavour" that libbpf strips when matching against the kernel's struct work_struct. */
struct work_struct___kpsim {
	void *func;
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 2);
	__type(key, int);
	__type(value, int);
} sock_map_rx SEC(".maps");

/* Work items seen being queued by the test thread (i.e. from the loopback softirq that runs
 * inside its send()). Only these are traced further, so other sockmap users on the machine do
 * not pollute a run's timeline. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u64);
	__type(value, __u32);
} tracked_works SEC(".maps");

/* Filled in by user space before load (rodata is frozen at load). */
const volatile __u32 redirect_slot = 1;
const volatile __u64 backlog_fn = 0;  /* address of sk_psock_backlog from /proc/kallsyms */
const volatile __u32 target_tid = 0;  /* the test thread */
const volatile __u32 nr_sendto = 0;   /* syscall numbers of this architecture */
const volatile __u32 nr_recvfrom = 0;

struct replay_event events[REPLAY_MAX_EVENTS];
__u32 n_events = 0;
__u32 pending_exit = 0; /* REPLAY_SEND_EXIT / REPLAY_RECV_EXIT expected at the next sys_exit */

SEC("sk_skb/stream_verdict")
int prog_skb_verdict_ingress(struct __sk_buff *skb)
{
	return bpf_sk_redirect_map(skb, &sock_map_rx, redirect_slot, BPF_F_INGRESS);
}

static __always_inline void record(__u32 kind, __u64 arg, __u32 tid)
{
	__u32 idx = __sync_fetch_and_add(&n_events, 1);
	struct replay_event *e;

	if (idx >= REPLAY_MAX_EVENTS)
		return; /* user space sees n_events > REPLAY_MAX_EVENTS and reports overflow */
	e = &events[idx & (REPLAY_MAX_EVENTS - 1)];
	e->ts_ns = bpf_ktime_get_ns();
	e->arg = arg;
	e->kind = kind;
	e->cpu = bpf_get_smp_processor_id();
	e->tid = tid;
}

static __always_inline __u32 current_tid(void)
{
	return (__u32)bpf_get_current_pid_tgid();
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
	__u64 key = (__u64)work;
	__u32 tid = current_tid(), one = 1;

	if (!is_backlog(work))
		return 0;
	/* First sighting must come from the test thread's own send (loopback softirq); later
	 * queueings of a known work (1-jiffy retries from the worker itself) are kept too. */
	if (tid != target_tid && !bpf_map_lookup_elem(&tracked_works, &key))
		return 0;
	bpf_map_update_elem(&tracked_works, &key, &one, BPF_ANY);
	record(REPLAY_BACKLOG_QUEUE, key, tid);
	return 0;
}

/* TP_PROTO(struct work_struct *work) */
SEC("raw_tracepoint/workqueue_execute_start")
int on_execute_start(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 key = ctx->args[0];

	if (bpf_map_lookup_elem(&tracked_works, &key))
		record(REPLAY_BACKLOG_START, key, current_tid());
	return 0;
}

/* TP_PROTO(struct work_struct *work, work_func_t function) */
SEC("raw_tracepoint/workqueue_execute_end")
int on_execute_end(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 key = ctx->args[0];

	if (ctx->args[1] == backlog_fn && bpf_map_lookup_elem(&tracked_works, &key))
		record(REPLAY_BACKLOG_END, key, current_tid());
	return 0;
}

/* TP_PROTO(struct pt_regs *regs, long id) */
SEC("raw_tracepoint/sys_enter")
int on_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 tid = current_tid();
	__u64 id = ctx->args[1];

	if (tid != target_tid)
		return 0;
	if (id == nr_sendto) {
		pending_exit = REPLAY_SEND_EXIT;
		record(REPLAY_SEND_ENTER, 0, tid);
	} else if (id == nr_recvfrom) {
		pending_exit = REPLAY_RECV_EXIT;
		record(REPLAY_RECV_ENTER, 0, tid);
	}
	return 0;
}

/* TP_PROTO(struct pt_regs *regs, long ret). The syscall id is not an argument here; the single
 * test thread's enter handler remembers which exit to expect, so no pt_regs access is needed. */
SEC("raw_tracepoint/sys_exit")
int on_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 tid = current_tid();
	__u32 kind = pending_exit;

	if (tid != target_tid || kind == 0)
		return 0;
	pending_exit = 0;
	record(kind, ctx->args[1], tid);
	return 0;
}

char _license[] SEC("license") = "GPL";
