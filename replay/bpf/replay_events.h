/* Event record shared by the BPF tracing programs (bpf/sockmap_verdict.bpf.c) and the
 * user-space runner (script_runner.cpp). Plain fixed-width types only, so the same layout is
 * seen by clang -target bpf and by the host C++ compiler; the generated skeleton refers to
 * `struct replay_event` without defining it, which is why this header exists. */
#ifndef KPSIM_REPLAY_EVENTS_H
#define KPSIM_REPLAY_EVENTS_H

#include <linux/types.h>

/* Power of two: the BPF side masks the slot index with (REPLAY_MAX_EVENTS - 1). One run of the
 * selftest produces about ten events; the slack absorbs backlog retries. */
#define REPLAY_MAX_EVENTS 256

enum replay_event_kind {
	REPLAY_BACKLOG_QUEUE = 1, /* workqueue_queue_work for sk_psock_backlog (arg = work ptr) */
	REPLAY_BACKLOG_START = 2, /* workqueue_execute_start for one of those works (arg = work) */
	REPLAY_BACKLOG_END = 3,   /* workqueue_execute_end (arg = work) */
	REPLAY_SEND_ENTER = 4,    /* test thread enters sendto (arg = 0) */
	REPLAY_SEND_EXIT = 5,     /* test thread leaves sendto (arg = return value) */
	REPLAY_RECV_ENTER = 6,    /* test thread enters recvfrom (arg = 0) */
	REPLAY_RECV_EXIT = 7,     /* test thread leaves recvfrom (arg = return value) */
};

struct replay_event {
	__u64 ts_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 arg;
	__u32 kind;  /* enum replay_event_kind */
	__u32 cpu;   /* CPU the program ran on */
	__u32 tid;   /* current thread id (softirq context: the interrupted task) */
	__u32 pad;
};

#endif
