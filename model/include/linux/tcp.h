// struct tcp_sock with the struct sock and inet_connection_sock fields it embeds, as far as the
// send path, the ACK path and the xmit timer read them (include/linux/tcp.h, include/net/sock.h,
// include/net/inet_connection_sock.h, include/net/tcp.h constants). Kernel 6.12.
//
// Sequence numbers are 64-bit byte offsets from the start of the connection (ISN 0): the kernel's
// u32 with before()/after() wraps, a run here never needs to.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/include/linux/errno.h"
#include "model/include/linux/jiffies.h"
#include "model/kernel/sched/cputime.h"
#include "model/include/net/sock.h"
#include "sched/ring_queue.h"
#include "sched/ring_queue.h"
#include "sched/socklock.h"
#include "sched/timer.h"
#include "sched/waitqueue.h"

namespace kpsim::model {

// include/net/tcp.h
inline constexpr int kTCP_NAGLE_OFF = 1;   // TCP_NODELAY
inline constexpr int kTCP_NAGLE_CORK = 2;  // TCP_CORK, or MSG_MORE for one tcp_push
inline constexpr int kTCP_NAGLE_PUSH = 4;  // one-shot: push what is queued
inline constexpr uint32_t kTCP_INIT_CWND = 10;
inline constexpr uint32_t kTCP_MIN_MSS = 88;
// The timestamp option as sent (TCPOLEN_TSTAMP_ALIGNED): mss_cache is the clamp (TCP_MAXSEG, or
// loopback's advmss 65495) less these bytes, which is why TCP_MAXSEG 1448 gives mss_cache 1436.
inline constexpr uint32_t kTCPOLEN_TSTAMP_ALIGNED = 12;
// Loopback's route: MTU 65536; its advertised MSS (ipv4_default_advmss) is the MTU less the IP
// and TCP headers, at most IPV4_MAX_PMTU (65535) less them: 65495, the MSS option both SYNs carry.
inline constexpr uint32_t kLoopbackMtu = 65536;
inline constexpr uint32_t kIpHdrLen = 20;   // sizeof(struct iphdr), no IP options
inline constexpr uint32_t kTcpHdrLen = 20;  // sizeof(struct tcphdr)
inline constexpr uint32_t kLoopbackAdvmss = 65535 - kIpHdrLen - kTcpHdrLen;  // 65495
inline constexpr uint32_t kLoopbackMss = kLoopbackAdvmss - kTCPOLEN_TSTAMP_ALIGNED;  // 65483
inline constexpr uint32_t kTcpMinSndMss = 48;  // net.ipv4.tcp_min_snd_mss
// The receive-buffer sysctls the handshake's window is chosen from: tcp_rmem[1] (a TCP
// socket's initial sk_rcvbuf), tcp_rmem[2] and net.core.rmem_max (the window scale covers the
// larger), and tcp_win_from_space's default scaling_ratio (TCP_DEFAULT_SCALING_RATIO: half of
// the buffer is window, 1 << (TCP_RMEM_TO_WIN_SCALE - 1) of 1 << TCP_RMEM_TO_WIN_SCALE).
inline constexpr uint32_t kTcpRmemDefault = 131072;
inline constexpr uint32_t kTcpRmemMax = 6291456;
inline constexpr uint32_t kNetCoreRmemMax = 212992;
inline constexpr uint32_t kTCP_RMEM_TO_WIN_SCALE = 8;
inline constexpr uint32_t kTCP_DEFAULT_SCALING_RATIO = 1u << (kTCP_RMEM_TO_WIN_SCALE - 1);
inline constexpr uint32_t kTCP_MAX_WSCALE = 14;
// net.ipv4.tcp_notsent_lowat's default, UINT_MAX: no limit on unsent bytes.
inline constexpr uint32_t kTcpNotsentLowatDisabled = UINT32_MAX;
inline constexpr uint64_t kTCP_RTO_MIN_US = 200000;   // HZ/5
inline constexpr uint64_t kTCP_RTO_MAX_US = 120000000;  // 120 s
inline constexpr uint64_t kTCP_RESOURCE_PROBE_INTERVAL_US = 500000;  // HZ/2
inline constexpr uint32_t kTcpRetries2 = 15;  // sysctl tcp_retries2: max probes
// The delayed-ACK engine's constants, in jiffies of the run's HZ (include/net/tcp.h):
// TCP_ATO_MIN and TCP_DELACK_MIN are HZ/25 (40 ms), TCP_DELACK_MAX HZ/5 (200 ms, also
// icsk_delack_max's default), TCP_MAX_QUICKACKS 16, TCP_MSS_DEFAULT 536.
inline constexpr uint32_t kTCP_MAX_QUICKACKS = 16;
inline constexpr uint32_t kTCP_MSS_DEFAULT = 536;
inline uint64_t tcp_ato_min(const Sched& s) { return s.hz() / 25; }
inline uint64_t tcp_delack_min(const Sched& s) { return s.hz() / 25; }
inline uint64_t tcp_delack_max(const Sched& s) { return s.hz() / 5; }

// icsk->icsk_ack.pending bits (include/net/inet_connection_sock.h).
inline constexpr uint8_t kICSK_ACK_SCHED = 1;    // an ACK is owed
inline constexpr uint8_t kICSK_ACK_TIMER = 2;    // the delack timer is armed for it
inline constexpr uint8_t kICSK_ACK_PUSHED = 4;   // a sub-rcv_mss ("pushed") segment arrived
inline constexpr uint8_t kICSK_ACK_PUSHED2 = 8;  // ... twice
inline constexpr uint8_t kICSK_ACK_NOW = 16;     // send the next ACK at once
// sizeof-derived constants (x86-64, 6.12 defconfig-ish): MAX_TCP_HEADER, the aligned
// skb_shared_info and sk_buff. Only sndbuf autotuning and wmem_queued truesize use them.
inline constexpr uint32_t kMaxTcpHeader = 320;
inline constexpr uint32_t kSkbSharedInfo = 320;
inline constexpr uint32_t kSkbStruct = 256;
// truesize of a fresh tcp_stream_alloc_skb(): SKB_TRUESIZE(skb_end_offset) of a
// MAX_TCP_HEADER head. Payload pages are added per byte (sk_wmem_queued_add(copy)).
inline constexpr uint32_t kSkbHeadTruesize = 1280;
inline constexpr uint64_t kTcpWmemMax = 4194304;  // tcp_wmem[2]
// Loopback's GSO limit (GSO_LEGACY_MAX_SIZE) as sk_gso_max_size after the header reserve.
inline constexpr uint32_t kLoopbackGsoMaxSize = 65536 - 1 - kMaxTcpHeader;
inline constexpr uint32_t kGsoMaxSegs = 65535;

// An skb on the write queue or the rtx queue: a sequence range and its accounting.
struct tcp_skb {
  uint64_t seq = 0, end_seq = 0;
  uint64_t truesize = 0;
  uint32_t pcount = 0;  // tcp_skb_pcount: the segments it counted in packets_out when sent
  bool psh = false;  // TCPHDR_PSH
  bool eor = false;  // TCP_SKB_CB(skb)->eor: nothing may be appended (tcp_skb_can_collapse_to)
  uint32_t len() const { return static_cast<uint32_t>(end_seq - seq); }
};

// A send-side queue of tcp_skbs (sk_write_queue, or tcp_rtx_queue, an rbtree in the kernel
// that this path only appends to and trims from the front), which keeps the sums of truesize
// and pcount over its skbs as they come and go. The tcp-accounting invariant compares them
// with sk_wmem_queued and packets_out after every step; walking the queues there was a twentieth
// of a kTLS schedule.
//
// The sums cannot drift from the skbs: a queued skb is read through const references, and
// changed only through an edit (edit_front/edit_back/edit_at), which adds the change of its
// truesize and pcount to the sums when it ends. While an edit is open the queue may not change
// shape (a push or an insert may move every skb of the ring): push, pop and insert then throw
// std::logic_error. tests/tcp_predicates_test.cpp checks the sums against a walk over generated
// operation sequences.
class tcp_skb_queue {
 public:
  class edit {
   public:
    edit(const edit&) = delete;
    edit& operator=(const edit&) = delete;
    ~edit() { done(); }
    tcp_skb& operator*() const { return *skb_; }
    tcp_skb* operator->() const { return skb_; }
    // Ends the edit before the scope does (the caller goes on to push the queue).
    void done() {
      if (!q_) return;
      // Modulo 2^64, so a shrink adds as a negative change would.
      q_->truesize_ += skb_->truesize - truesize_;
      q_->pcount_ += uint64_t{skb_->pcount} - pcount_;
      --q_->edits_;
      q_ = nullptr;
    }

   private:
    friend class tcp_skb_queue;
    edit(tcp_skb_queue& q, tcp_skb& skb) : q_(&q), skb_(&skb), truesize_(skb.truesize), pcount_(skb.pcount) {
      ++q.edits_;
    }
    tcp_skb_queue* q_;
    tcp_skb* skb_;
    uint64_t truesize_;
    uint64_t pcount_;
  };

  bool empty() const { return skbs_.empty(); }
  size_t size() const { return skbs_.size(); }
  const tcp_skb& front() const { return skbs_.front(); }
  const tcp_skb& back() const { return skbs_.back(); }
  const tcp_skb& operator[](size_t i) const { return skbs_[i]; }
  auto begin() const { return skbs_.begin(); }
  auto end() const { return skbs_.end(); }

  edit edit_front() { return edit(*this, skbs_.front()); }
  edit edit_back() { return edit(*this, skbs_.back()); }
  edit edit_at(size_t i) { return edit(*this, skbs_[i]); }

  void push_back(const tcp_skb& skb) {
    no_edit_open();
    truesize_ += skb.truesize;
    pcount_ += skb.pcount;
    skbs_.push_back(skb);
  }
  // Inserts `skb` after the one at `i` (tcp_fragment's new tail part).
  void insert_after(size_t i, const tcp_skb& skb) {
    no_edit_open();
    truesize_ += skb.truesize;
    pcount_ += skb.pcount;
    skbs_.push_back(skb);  // then moved down to i + 1 (the ring has no insert; i is 0 in the model)
    for (size_t j = skbs_.size() - 1; j > i + 1; --j) std::swap(skbs_[j], skbs_[j - 1]);
  }
  tcp_skb pop_front() {
    no_edit_open();
    tcp_skb skb = skbs_.front();
    skbs_.pop_front();
    truesize_ -= skb.truesize;
    pcount_ -= skb.pcount;
    return skb;
  }
  tcp_skb pop_back() {
    no_edit_open();
    tcp_skb skb = skbs_.back();
    skbs_.pop_back();
    truesize_ -= skb.truesize;
    pcount_ -= skb.pcount;
    return skb;
  }

  // The sums over the queued skbs, kept as they change.
  uint64_t truesize_sum() const { return truesize_; }
  uint64_t pcount_sum() const { return pcount_; }

 private:
  void no_edit_open() const {
    if (edits_) [[unlikely]] edit_conflict();
  }
  [[noreturn, gnu::cold]] static void edit_conflict();

  // A ring, not a std::deque: an empty queue allocates nothing (sched/ring_queue.h). References
  // to queued skbs therefore last only until the next push or insert, which may move them.
  RingQueue<tcp_skb> skbs_;
  uint64_t truesize_ = 0;
  uint64_t pcount_ = 0;
  uint32_t edits_ = 0;
};

// icsk->icsk_pending: which event the one xmit timer is armed for.
enum class icsk_timer : uint8_t { none, retrans, probe0 };

// A pure ACK from the peer as it waits in the socket backlog (sk_add_backlog) while the
// socket is owned by a process. On this path the peer sends nothing but ACKs.
struct ack_skb {
  uint64_t ack_seq = 0;
  uint64_t wnd = 0;
};

struct loopback;

// What the models record for the checkers and metrics (facts, not judgements).
struct tcp_stats {
  uint64_t segments = 0;       // tcp_transmit_skb calls with data (GSO skbs: loopback keeps them whole)
  uint64_t wire_packets = 0;   // sum of tcp_skb_pcount: MSS-sized packets on a real link
  std::map<uint32_t, uint64_t> segment_sizes;  // len -> count
  uint64_t persist_expiries = 0;        // PROBE0 expiries that reached tcp_probe_timer
  uint64_t persist_open_window = 0;     // ... of which found data held while the window was open
  uint64_t first_persist_open_ns = 0;
  uint64_t zero_window_probes = 0;
  uint64_t wait_memory_calls = 0;       // sk_stream_wait_memory sleeps
  uint64_t wait_memory_ns = 0;          // virtual time spent asleep in it
  uint64_t vm_waits = 0;                // ... entered with memory free: the VM-pressure sleep
  uint64_t vm_wait_ns = 0;              // virtual time spent in those VM-pressure sleeps
  uint64_t persist_wait_ns = 0;         // virtual time from arming PROBE0 to its expiries
  uint64_t acks = 0;
  uint64_t backlogged_acks = 0;
  uint64_t deferred_write_timers = 0;
  uint64_t wait_memory_interrupted = 0;  // sk_stream_wait_memory returned sock_intr_errno
  uint64_t notify_signal_spins = 0;      // fix=task-sigpending: wait_woken could not sleep
  // The receiving side's ACKs (tcp_acks::delayed), as TcpExt counts them where it can.
  uint64_t acks_sent = 0;           // tcp_send_ack calls (data ACKs and window updates)
  uint64_t delayed_acks = 0;        // TcpExt DelayedACKs: sent by the delack timer
  uint64_t delayed_acks_locked = 0; // TcpExt DelayedACKLocked: the timer found the socket owned
  uint64_t quick_acks = 0;          // sent at once by __tcp_ack_snd_check in quickack mode
  uint64_t cleanup_rbuf_acks = 0;   // sent by tcp_cleanup_rbuf after a read
  uint64_t delack_wait_ns = 0;      // virtual time data waited for the delack timer's ACK
  cpu_time cpu;                     // CPU time charged to this socket's work (model cpu = costed)
};

struct tcp_sock : sock {
  explicit tcp_sock(std::string name_ = "tcp");
  // Kernel variant switches are read from sk->kc (model/kconfig.h).
  RingQueue<ack_skb> sk_backlog;  // sk->sk_backlog: the ACKs that came while the socket was owned
  // Data segments that came while a process owned the socket (sk_add_backlog), processed by the
  // owner in __release_sock / sk_flush_backlog. Only a socket whose reader holds the lock while
  // data may arrive (a kTLS RX reader in tls_sw_recvmsg) enables it; on the other paths no
  // process owns a receiving socket when data arrives, and tcp_v4_rcv says so if one does.
  bool data_backlog = false;
  RingQueue<skb_ptr> sk_backlog_data;

  // ---- struct tcp_sock ------------------------------------------------------------------
  // The bytes written, by sequence number, when the application's sends carry payload
  // (msghdr::payload: the sockmap scenarios); empty for the count-only transmit models.
  std::string snd_data;

  // ---- the receive side (byte offsets): sockmap's tcp_bpf and FIONREAD, and the kTLS peers --
  // Invariant: copied_seq <= rcv_nxt; rcv_nxt - copied_seq bytes are received, not yet read.
  uint64_t rcv_nxt = 0;     // next byte expected from the peer
  uint64_t copied_seq = 0;  // next byte the reader will consume
  uint64_t rcv_wnd = 1114112;     // the window while the reader keeps up (ss: rcv_space)
  // The model's receive buffer: 0, the window stays rcv_wnd; else it is what is left of
  // rcv_buf_bytes unread (a paced reader closes it, seed 002).
  uint64_t rcv_buf_bytes = 0;
  uint64_t rcv_wnd_advertised = 0;  // the window in the last ACK sent
  // The application reads every byte as it arrives (seed 001's draining peer): copied_seq
  // follows rcv_nxt and nothing stays queued.
  bool app_reads_at_once = false;
  bool ack_pending = false;  // an ACK is due at the end of this NET_RX run (see net/core/dev.h)
  // ---- inet_connection_sock: icsk_ack, the delayed-ACK engine (tcp_acks::delayed) ---------
  uint8_t icsk_ack_pending = 0;    // kICSK_ACK_* bits
  uint8_t icsk_ack_quick = 0;      // ACKs left to send at once (quickack mode)
  uint8_t icsk_ack_pingpong = 0;   // interactive: >= TCP_PINGPONG_THRESH (1) means pingpong mode
  uint32_t icsk_ack_ato = 0;       // jiffies; 0 until the first data segment
  uint64_t icsk_ack_lrcvtime = 0;  // jiffies of the last data segment
  uint64_t icsk_ack_timeout_ns = 0;  // the delack timer's deadline
  uint32_t icsk_ack_rcv_mss = 0;   // the peer's full segment size as measured
  uint32_t icsk_ack_last_seg_size = 0;
  uint64_t rcv_wup = 0;            // rcv_nxt when the last window was sent (tcp_select_window)
  uint64_t delack_since_ns = 0;    // when the delack timer was armed for the data it waits on
  bool delack_timer_fired = false;     // the delack timer's softirq has a run to do
  bool delack_timer_deferred = false;  // TCP_DELACK_TIMER_DEFERRED (tcp_release_cb runs it)

  bool fin = false;          // the peer's FIN follows byte fin_seq (tcp_send_fin marks it)
  uint64_t fin_seq = 0;
  // The FIN travels as a segment through loopback (tcp_send_fin queues a FIN skb, the peer's
  // tcp_data_queue → tcp_fin reads it): the scripts' sockets, whose peers read it through a
  // psock. Else tcp_send_fin marks the end of stream on the peer at once (the kTLS models).
  bool fin_segment = false;
  // Invariant: snd_una <= snd_nxt <= write_seq; notsent bytes = write_seq - snd_nxt.
  uint64_t write_seq = 0, snd_nxt = 0, snd_una = 0;
  uint64_t pushed_seq = 0;  // PSH marked up to here (tcp_mark_push)
  uint64_t snd_sml = 0;     // end of the last sub-MSS segment sent (Minshall)
  uint32_t packets_out = 0;  // Invariant: == sum of pcount over rtx_queue
  uint32_t max_packets_out = 0;  // since the last ACK: tcp_is_cwnd_limited's input
  int nonagle = 0;           // kTCP_NAGLE_* bits from TCP_NODELAY / TCP_CORK
  uint32_t mss_cache = kLoopbackMss;
  uint32_t mss_clamp = kLoopbackMss + kTCPOLEN_TSTAMP_ALIGNED;  // rx_opt.mss_clamp
  // rx_opt.user_mss: TCP_MAXSEG (set before connect, or on the listener); 0: not set.
  uint32_t user_mss = 0;
  // The handshake's window state (tcp_handshake, net/ipv4/tcp_ipv4.h): what the SYNs and the
  // final ACK advertise, from which each side's max_window, and so its MSS, starts. rcv_wnd_syn
  // is the kernel's tp->rcv_wnd while connecting (tcp_select_initial_window); the model's
  // rcv_wnd above is the window of the established connection, which its ACKs carry.
  uint32_t advmss = kLoopbackAdvmss;
  uint32_t window_clamp = 0;   // TCP_WINDOW_CLAMP before connect; 0: none
  uint32_t rcv_ssthresh = 0;
  uint32_t rcv_wnd_syn = 0;
  uint8_t rcv_wscale = 0;      // rx_opt.rcv_wscale: the scale of the windows this side sends
  uint8_t snd_wscale = 0;      // rx_opt.snd_wscale: the peer's
  uint32_t icsk_pmtu_cookie = kLoopbackMtu;  // the path MTU mss_cache was synced to
  uint32_t gso_segs = 0;     // tp->gso_segs: cached size_goal / mss
  uint32_t snd_cwnd = kTCP_INIT_CWND;
  uint32_t snd_cwnd_clamp = 100000;
  uint64_t snd_wnd = 0;       // the peer's advertised window
  uint64_t max_window = 0;
  uint32_t notsent_lowat = 0;  // TCP_NOTSENT_LOWAT; 0: use the sysctl
  uint32_t sysctl_notsent_lowat = UINT32_MAX;  // net.ipv4.tcp_notsent_lowat
  bool sysctl_autocorking = true;
  uint32_t skbs_since_backlog_flush = 0;  // tcp_sendmsg_locked's process_backlog counter
  tcp_skb_queue write_queue;  // unsent: front is the send head
  tcp_skb_queue rtx_queue;    // sent, not yet acked

  // ---- inet_connection_sock: the xmit timer -----------------------------------------------
  icsk_timer icsk_pending = icsk_timer::none;
  uint64_t icsk_timeout_ns = 0;
  uint32_t icsk_rto_jiffies = 0;  // set by tcp_init_sock from the loopback RTT
  uint32_t icsk_backoff = 0;
  uint32_t icsk_probes_out = 0;
  uint64_t icsk_probes_tstamp_ns = 0;
  uint64_t probe0_armed_ns = 0;  // when PROBE0 was last armed (the persist_wait_ns statistic)
  uint32_t srtt_us = 0;          // smoothed RTT in µs (the kernel keeps it << 3): bounds the delack
  bool write_timer_deferred = false;  // TCP_WRITE_TIMER_DEFERRED (tcp_release_cb runs it)
  bool write_timer_fired = false;     // the timer softirq has a tcp_write_timer run to do
  WaitQueue write_timer_wq;           // the timer-softirq task waits here for expiries
  Timer icsk_retransmit_timer;
  // Declared after the xmit timer's objects so that those keep their ObjectIds (dpor).
  WaitQueue delack_timer_wq;  // the delack softirq task waits here for expiries
  Timer icsk_delack_timer;    // icsk_delack_timer: tcp_delack_timer

  Sched* sched = nullptr;  // for the timer callback, which runs outside any task
  tcp_stats stats;

  uint64_t notsent_bytes() const { return write_seq - snd_nxt; }
  uint64_t rcv_queued() const { return rcv_nxt - copied_seq; }
  uint64_t rcv_window() const { return rcv_buf_bytes ? rcv_buf_bytes - rcv_queued() : rcv_wnd; }
  bool rcv_eof() const { return fin && copied_seq == fin_seq; }
  uint64_t tcp_wnd_end() const { return snd_una + snd_wnd; }
  const tcp_skb* tcp_send_head() const { return write_queue.empty() ? nullptr : &write_queue.front(); }
  uint32_t tcp_notsent_lowat() const { return notsent_lowat ? notsent_lowat : sysctl_notsent_lowat; }
};

// include/net/tcp.h tcp_bound_to_half_wnd: a packet at most half the largest window the peer
// ever offered (all of it while that is no more than TCP_MSS_DEFAULT), but not below 68 bytes
// of IP datagram less the TCP header with options. Bounds mss_cache (tcp_sync_mss) and
// size_goal (tcp_xmit_size_goal).
inline uint32_t tcp_bound_to_half_wnd(const tcp_sock& tp, uint32_t pktsize) {
  const uint64_t cutoff = tp.max_window > kTCP_MSS_DEFAULT ? tp.max_window >> 1 : tp.max_window;
  if (cutoff && pktsize > cutoff)
    return static_cast<uint32_t>(std::max<uint64_t>(cutoff, 68 - (kTcpHdrLen + kTCPOLEN_TSTAMP_ALIGNED)));
  return pktsize;
}
// include/net/tcp.h tcp_mss_clamp: a route's MSS, or TCP_MAXSEG if that is smaller.
inline uint32_t tcp_mss_clamp(const tcp_sock& tp, uint32_t mss) {
  return tp.user_mss && tp.user_mss < mss ? tp.user_mss : mss;
}
// tcp_win_from_space with the default scaling_ratio, and tcp_full_space of a socket whose
// sk_rcvbuf is still tcp_rmem[1] (the model's TCP sockets: no SO_RCVBUF, no autotuning).
inline uint32_t tcp_win_from_space(uint32_t space) {
  return static_cast<uint32_t>((uint64_t{space} * kTCP_DEFAULT_SCALING_RATIO) >> kTCP_RMEM_TO_WIN_SCALE);
}
inline uint32_t tcp_full_space() { return tcp_win_from_space(kTcpRmemDefault); }

// tcp_sk(sk): the TCP socket a stream sock is.
inline tcp_sock& tcp_sk(sock& sk) { return static_cast<tcp_sock&>(sk); }
inline const tcp_sock& tcp_sk(const sock& sk) { return static_cast<const tcp_sock&>(sk); }

struct tcp_config {
  // TCP_MAXSEG less the timestamp option (mss_cache's largest value); kLoopbackMss: not set.
  // tcp_handshake then bounds mss_cache by half the handshake's window until a larger one comes.
  uint32_t mss = kLoopbackMss;
  uint32_t sysctl_notsent_lowat = UINT32_MAX;
  uint32_t so_sndbuf = 0;               // SO_SNDBUF value; 0: not set (autotuned)
  bool nodelay = false;                 // TCP_NODELAY
  uint64_t rcv_wnd = 1114112;           // the peer's window (ss: snd_wnd:1114112)
  uint64_t srtt_us = 50;                // loopback smoothed RTT, for icsk_rto
};

// tcp_init_sock + tcp_init_transfer on an established loopback connection: MSS, window, RTO,
// initial sndbuf (tcp_init_buffer_space → tcp_sndbuf_expand), default sk_write_space, the
// release_sock backlog hook (__release_sock + tcp_release_cb).
// Registers tcp_accounting_holds as a model invariant of the run.
void tcp_init_sock(Sched& s, tcp_sock& tp, loopback& lo, const tcp_config& cfg);
// The socket's bookkeeping, which the kernel keeps by construction: sk_wmem_queued is the
// truesize of the write and rtx queues, packets_out the segments on the rtx queue, and
// snd_una <= snd_nxt <= write_seq. tcp_accounting_holds is the test, tcp_accounting_message
// says what broke, tcp_accounting_error is both (a message when broken).
bool tcp_accounting_holds(const tcp_sock& tp);
std::string tcp_accounting_message(const tcp_sock& tp);
std::optional<std::string> tcp_accounting_error(const tcp_sock& tp);

// sock_intr_errno(): -ERESTARTSYS for an infinite timeout, -EINTR with SO_SNDTIMEO.
inline int sock_intr_errno(const std::optional<uint64_t>& timeo) {
  return timeo ? -kerr::eintr : -kerr::erestartsys;
}
// sock_sndtimeo(sk, noblock)
inline std::optional<uint64_t> sock_sndtimeo(const tcp_sock& tp, bool noblock) {
  if (noblock) return uint64_t{0};
  return tp.sk_sndtimeo_ns;
}


}  // namespace kpsim::model
