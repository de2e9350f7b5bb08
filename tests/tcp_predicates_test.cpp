// The TCP send-side predicates against cases worked out by hand from the kernel source
// (net/ipv4/tcp_output.c tcp_nagle_check/tcp_nagle_test/tcp_minshall_check/tcp_cwnd_test/
// tcp_snd_wnd_test/tcp_mss_split_point/tcp_xmit_size_goal, include/net/tcp.h
// tcp_probe0_base/when, include/net/sock.h + net/ipv4/tcp.c stream memory, net/tls record
// overhead). Each case states the kernel reasoning it encodes.
#include <catch2/catch.hpp>

#include "model/net/core/stream.h"
#include "model/net/ipv4/tcp_input.h"
#include "model/net/ipv4/tcp_ipv4.h"
#include "model/net/ipv4/tcp_output.h"
#include "model/net/ipv4/tcp_timer.h"
#include "model/net/tls/tls_sw.h"
#include "sched/splitmix64.h"
#include "sched/strategy_random.h"

using namespace kpsim;
using namespace kpsim::model;

namespace {
tcp_skb skb_of(uint64_t seq, uint32_t len) {
  tcp_skb s;
  s.seq = seq;
  s.end_seq = seq + len;
  return s;
}
}  // namespace

TEST_CASE("tcp_nagle_check: only partial segments are ever held", "[tcp]") {
  tcp_sock tp;
  tp.packets_out = 3;
  tp.snd_una = 0, tp.snd_nxt = 3000, tp.snd_sml = 2000;  // a small segment in flight
  // Full-MSS skbs go whatever the cork/Nagle state.
  CHECK_FALSE(tcp_nagle_check(false, tp, kTCP_NAGLE_CORK));
  CHECK_FALSE(tcp_nagle_check(false, tp, 0));
  // Cork (TCP_CORK or MSG_MORE) holds any partial skb, in flight or not.
  CHECK(tcp_nagle_check(true, tp, kTCP_NAGLE_CORK));
  tp.packets_out = 0;
  CHECK(tcp_nagle_check(true, tp, kTCP_NAGLE_CORK));
  // The stall's precondition: corked with nothing in flight is still held.
  CHECK(tcp_nagle_check(true, tp, kTCP_NAGLE_CORK | kTCP_NAGLE_OFF));
}

TEST_CASE("tcp_nagle_check: Nagle holds only behind an unacked small segment (Minshall)", "[tcp]") {
  tcp_sock tp;
  tp.snd_una = 1000, tp.snd_nxt = 5000;
  tp.packets_out = 2;
  tp.snd_sml = 3000;  // after snd_una, not after snd_nxt
  CHECK(tcp_minshall_check(tp));
  CHECK(tcp_nagle_check(true, tp, 0));
  // TCP_NODELAY: nonagle != 0 and no cork bit → never held.
  CHECK_FALSE(tcp_nagle_check(true, tp, kTCP_NAGLE_OFF));
  // The small segment was acked (snd_sml == snd_una): Minshall allows.
  tp.snd_sml = 1000;
  CHECK_FALSE(tcp_minshall_check(tp));
  CHECK_FALSE(tcp_nagle_check(true, tp, 0));
  // Nothing in flight: Nagle never holds (this is how an ACK releases a MSG_MORE cork:
  // tcp_data_snd_check pushes with tp->nonagle, not with the per-call cork).
  tp.snd_sml = 3000;
  tp.packets_out = 0;
  CHECK_FALSE(tcp_nagle_check(true, tp, 0));
}

TEST_CASE("tcp_nagle_test: PUSH overrides, partial is len < mss", "[tcp]") {
  tcp_sock tp;
  const tcp_skb rec = skb_of(0, 16406);  // one TLS 1.3 record
  CHECK_FALSE(tcp_nagle_test(tp, rec, 65483, kTCP_NAGLE_CORK));  // the report: corked
  CHECK(tcp_nagle_test(tp, rec, 1436, kTCP_NAGLE_CORK));         // > MSS: not partial
  CHECK(tcp_nagle_test(tp, rec, 65483, kTCP_NAGLE_CORK | kTCP_NAGLE_PUSH));
  CHECK(tcp_nagle_test(tp, skb_of(0, 65483), 65483, kTCP_NAGLE_CORK));  // exactly one MSS
  CHECK(tcp_nagle_test(tp, rec, 65483, 0));  // Nagle, nothing in flight
}

TEST_CASE("tcp_cwnd_test: at most half the cwnd per call, nothing when full", "[tcp]") {
  tcp_sock tp;
  tp.snd_cwnd = 10;
  tp.packets_out = 0;
  CHECK(tcp_cwnd_test(tp) == 5);
  tp.packets_out = 7;
  CHECK(tcp_cwnd_test(tp) == 3);
  tp.packets_out = 10;
  CHECK(tcp_cwnd_test(tp) == 0);
  tp.snd_cwnd = 1, tp.packets_out = 0;
  CHECK(tcp_cwnd_test(tp) == 1);
}

TEST_CASE("tcp_snd_wnd_test: the first MSS must fit the window", "[tcp]") {
  tcp_sock tp;
  tp.snd_una = 1000;
  tp.snd_wnd = 10000;  // window end 11000
  CHECK(tcp_snd_wnd_test(tp, skb_of(1000, 10000), 20000));
  CHECK_FALSE(tcp_snd_wnd_test(tp, skb_of(1000, 10001), 20000));
  // Multi-MSS skb: only seq + mss is tested.
  CHECK(tcp_snd_wnd_test(tp, skb_of(1000, 50000), 1436));
  CHECK_FALSE(tcp_snd_wnd_test(tp, skb_of(10000, 5000), 1436));
}

TEST_CASE("tcp_mss_split_point: corked tail stays, whole MSS multiples go", "[tcp]") {
  tcp_sock tp;
  tp.snd_una = 0;
  tp.snd_wnd = 1114112;
  const uint32_t mss = 1436;
  // One TLS record (16406 B = 11 MSS + 610) as the last skb, cwnd admits 20 segments.
  const tcp_skb rec = skb_of(0, 16406);
  CHECK(tcp_mss_split_point(tp, rec, true, mss, 20, kTCP_NAGLE_CORK) == 11 * mss);
  CHECK(tcp_mss_split_point(tp, rec, true, mss, 20, kTCP_NAGLE_PUSH) == 16406);
  // cwnd quota smaller than the skb: max_segs * mss.
  CHECK(tcp_mss_split_point(tp, rec, true, mss, 5, kTCP_NAGLE_CORK) == 5 * mss);
  // Not the tail: the quota, whatever Nagle says.
  CHECK(tcp_mss_split_point(tp, rec, false, mss, 20, kTCP_NAGLE_CORK) == 20 * mss);
  // The window cuts it: needed = window; the partial MSS of the window is Nagle-tested.
  tp.snd_wnd = 5000;
  CHECK(tcp_mss_split_point(tp, rec, true, mss, 20, kTCP_NAGLE_CORK) == 3 * mss);
}

TEST_CASE("tcp_xmit_size_goal: one MSS at loopback MSS, 45 MSS at 1436", "[tcp]") {
  tcp_sock tp;
  tp.max_window = 1114112;
  // sk_gso_max_size = 65536 - 1 - MAX_TCP_HEADER = 65215 < 65483: 0 segs → max(0, mss).
  CHECK(tcp_xmit_size_goal(tp, 65483) == 65483);
  tcp_sock tp2;
  tp2.max_window = 1114112;
  CHECK(tcp_xmit_size_goal(tp2, 1436) == 45 * 1436);
  // Half the peer's largest window bounds it.
  tcp_sock tp3;
  tp3.max_window = 20000;
  CHECK(tcp_xmit_size_goal(tp3, 1436) == 6 * 1436);
}

TEST_CASE("tcp_handshake: the MSS starts at half the window the other side's handshake offered", "[tcp]") {
  // Measured on this machine's 6.12 kernel (TCP_INFO snd_mss on a fresh loopback pair): 32741
  // on the connecting side, 32768 on the accepted one. The SYN-ACK offers tcp_rmem[1]'s window
  // (65536) in whole segments of 65483 = 65483, unscaled; the final ACK offers the client's
  // 65495 rounded up to its window scale (7: 128 bytes) = 65536.
  {
    tcp_sock client, server;
    tcp_handshake(client, server);
    CHECK(client.max_window == 65483);
    CHECK(client.snd_wnd == 65483);
    CHECK(client.mss_cache == 32741);
    CHECK(client.rcv_wscale == 7);
    CHECK(server.max_window == 65536);
    CHECK(server.mss_cache == 32768);
    // The 64 KiB GSO limit and the same half-window bound: one MSS per skb, so a 65000-byte
    // send is two skbs (32741 + 32259).
    CHECK(tcp_xmit_size_goal(client, client.mss_cache) == 32741);
    // The first ACK that offers a larger window lifts the bound (tcp_ack_update_window).
    tcp_ack_update_window(client, ack_skb{0, 1114112});
    CHECK(client.max_window == 1114112);
    CHECK(client.mss_cache == kLoopbackMss);
    // A window no larger than before leaves the MSS.
    tcp_ack_update_window(server, ack_skb{0, 65536});
    CHECK(server.mss_cache == 32768);
  }
  {
    // TCP_MAXSEG 1448 on the accepted side (its listener): 1436, below either bound; the
    // client's clamp follows the SYN-ACK's MSS option.
    tcp_sock client, server;
    server.user_mss = 1448;
    tcp_handshake(client, server);
    CHECK(server.mss_cache == 1436);
    CHECK(client.mss_cache == 1436);
    CHECK(client.max_window == 65536 / 1436 * 1436);  // the request's window in whole 1436s
  }
  {
    // TCP_MAXSEG 32767, the kernel's largest (MAX_TCP_WINDOW): 32755 stays under 32768.
    tcp_sock client, server;
    server.user_mss = 32767;
    tcp_handshake(client, server);
    CHECK(server.mss_cache == 32755);
  }
  {
    // TCP_WINDOW_CLAMP 16384 on the client before connect: no window scale, the final ACK offers
    // the clamp, and the server's MSS is half of it for as long as the window stays clamped.
    tcp_sock client, server;
    client.window_clamp = 16384;
    tcp_handshake(client, server);
    CHECK(client.rcv_wscale == 0);
    CHECK(server.max_window == 16384);
    CHECK(server.mss_cache == 8192);
  }
}

TEST_CASE("stream memory: notsent_lowat and sndbuf, writer vs waker", "[tcp]") {
  tcp_sock tp;
  tp.sk_sndbuf = 100000;
  tp.sysctl_notsent_lowat = 16384;
  tp.write_seq = 16406;  // one corked TLS 1.3 record
  tp.snd_nxt = 0;
  CHECK_FALSE(tcp_stream_memory_free(tp, 0));  // 16406 >= 16384: the writer waits
  tp.write_seq = 10000;
  CHECK(tcp_stream_memory_free(tp, 0));        // writer may go on...
  CHECK_FALSE(tcp_stream_memory_free(tp, 1));  // ...but the waker wants < lowat/2
  tp.notsent_lowat = 30000;  // TCP_NOTSENT_LOWAT overrides the sysctl
  CHECK(tcp_stream_memory_free(tp, 1));
  // sndbuf is checked first.
  tp.sk_wmem_queued = 100000;
  CHECK_FALSE(__sk_stream_memory_free(tp, 0));
  tp.sk_wmem_queued = 60000;  // wspace 40000 < wmem/2 30000? no: 40000 >= 30000
  CHECK(__sk_stream_is_writeable(tp, 1));
  tp.sk_wmem_queued = 70000;  // wspace 30000 < 35000
  CHECK_FALSE(__sk_stream_is_writeable(tp, 1));
  // Disabled lowat (UINT_MAX) never blocks on notsent.
  tcp_sock big;
  big.sk_sndbuf = 1 << 30;
  big.write_seq = 1ull << 31;
  CHECK(tcp_stream_memory_free(big, 0));
}

TEST_CASE("tcp_sndbuf_expand at connection start", "[tcp]") {
  // per_mss = roundup_pow_of_two(mss_clamp + MAX_TCP_HEADER + shinfo) + sk_buff; x 2 x 10 segs.
  tcp_sock lo;
  lo.mss_cache = 65483, lo.mss_clamp = 65495;
  tcp_sndbuf_expand(lo);
  CHECK(lo.sk_sndbuf == 2 * 10 * (131072 + 256));
  tcp_sock eth;
  eth.mss_cache = 1436, eth.mss_clamp = 1448;
  tcp_sndbuf_expand(eth);
  CHECK(eth.sk_sndbuf == 2 * 10 * (4096 + 256));
}

TEST_CASE("probe0 interval: max(rto, TCP_RTO_MIN) with exponential backoff", "[tcp]") {
  RandomStrategy st(1);
  Sched s(st, {}, 250);
  tcp_sock tp;
  tp.icsk_rto_jiffies = 51;  // loopback: 200 ms + srtt, rounded up to jiffies
  CHECK(tcp_probe0_base(s, tp) == 51);
  tp.icsk_rto_jiffies = 10;  // an RTO below the minimum is floored at HZ/5
  CHECK(tcp_probe0_base(s, tp) == 50);
  tp.icsk_backoff = 3;
  CHECK(tcp_probe0_when(s, tp, 30000) == 400);
  tp.icsk_backoff = 15;  // shift capped at ilog2(600)+1 = 10, then the max
  CHECK(tcp_probe0_when(s, tp, 30000) == 30000);
}

TEST_CASE("TLS record sizes on the wire", "[tls]") {
  CHECK(kTLS_MAX_PAYLOAD_SIZE + tls_prot_info_for(tls_version::v1_3).overhead_size() == 16406);
  CHECK(kTLS_MAX_PAYLOAD_SIZE + tls_prot_info_for(tls_version::v1_2).overhead_size() == 16413);
}

// The queue's sums are what tcp-accounting compares after every step: they must equal a walk
// over the skbs after any sequence of the operations the model uses.
TEST_CASE("tcp_skb_queue: the sums follow every push, pop, insert and edit", "[tcp]") {
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    SplitMix64 rng(seed);
    tcp_skb_queue q;
    for (int op = 0; op < 60; ++op) {
      tcp_skb skb = skb_of(rng.below(1 << 20), static_cast<uint32_t>(rng.below(70000)));
      skb.truesize = kSkbHeadTruesize + rng.below(70000);
      skb.pcount = static_cast<uint32_t>(rng.below(50));
      switch (q.empty() ? 0 : rng.below(6)) {
        case 0: q.push_back(skb); break;
        case 1: q.pop_front(); break;
        case 2: q.pop_back(); break;
        case 3: q.insert_after(rng.below(q.size()), skb); break;
        case 4: {  // grow the tail as tcp_sendmsg_locked does
          auto e = q.edit_back();
          e->truesize += rng.below(5000);
          e->end_seq += 10;
          break;
        }
        default: {  // shrink one and change its pcount, as tcp_fragment and a resend would
          auto e = q.edit_at(rng.below(q.size()));
          e->truesize -= rng.below(e->truesize + 1);
          e->pcount = static_cast<uint32_t>(rng.below(50));
          e.done();
          e.done();  // a second done() is a no-op
          break;
        }
      }
      uint64_t truesize = 0, pcount = 0;
      for (const tcp_skb& x : q) {
        truesize += x.truesize;
        pcount += x.pcount;
      }
      REQUIRE(q.truesize_sum() == truesize);
      REQUIRE(q.pcount_sum() == pcount);
    }
  }
}

TEST_CASE("tcp_skb_queue: no push, pop or insert while an skb is open for an edit", "[tcp]") {
  tcp_skb_queue q;
  tcp_skb skb = skb_of(0, 100);
  skb.truesize = 1380;
  q.push_back(skb);
  {
    auto e = q.edit_front();
    CHECK_THROWS_AS(q.push_back(skb), std::logic_error);
    CHECK_THROWS_AS(q.pop_front(), std::logic_error);
    CHECK_THROWS_AS(q.pop_back(), std::logic_error);
    CHECK_THROWS_AS(q.insert_after(0, skb), std::logic_error);
    e->truesize += 20;
  }
  CHECK(q.truesize_sum() == 1400);
  q.push_back(skb);  // the edit has ended
  CHECK(q.size() == 2);
}

TEST_CASE("tcp_accounting_error: wmem_queued and packets_out must match the queues", "[tcp]") {
  tcp_sock tp("t");
  CHECK_FALSE(tcp_accounting_error(tp));
  tcp_skb skb;
  skb.seq = 0;
  skb.end_seq = 1000;
  skb.truesize = 2280;
  skb.pcount = 1;
  tp.write_seq = tp.snd_nxt = 1000;
  tp.rtx_queue.push_back(skb);
  tp.packets_out = 1;
  tp.sk_wmem_queued = 2280;
  CHECK_FALSE(tcp_accounting_error(tp));
  tp.sk_wmem_queued = 1280;  // a truesize update forgotten
  REQUIRE(tcp_accounting_error(tp));
  CHECK(tcp_accounting_error(tp)->find("sk_wmem_queued 1280") != std::string::npos);
  tp.sk_wmem_queued = 2280;
  tp.packets_out = 2;  // a segment counted twice
  REQUIRE(tcp_accounting_error(tp));
  CHECK(tcp_accounting_error(tp)->find("packets_out 2") != std::string::npos);
  tp.packets_out = 1;
  tp.snd_una = 1001;  // acked beyond what was sent
  CHECK(tcp_accounting_error(tp));
}

