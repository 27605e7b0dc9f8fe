// Stack-wide TCP memory (net.ipv4.tcp_mem) and receive-queue pruning, as
// Linux 6.12: pages charged through sk_forward_alloc reach the stack's
// counter in net.core.mem_pcpu_rsv steps (one "cpu"); past "pressure" the
// stack enters memory pressure (TCPMemoryPressures), under "low" it leaves
// it (TCPMemoryPressuresChrono); past "high" a charge is refused, which the
// send path answers by moderating sk_sndbuf and the receive path by
// pruning (PruneCalled, TCPRcvCollapsed, OfoPruned) and dropping
// (TCPRcvQDrop, TCPOFODrop).
#include "tcp_recv_fixture.hpp"

namespace sp::test {
namespace {

constexpr std::uint32_t kMss = 1460;

// The byte at peer offset `off` of every stream these tests send, so a
// reader can check it got each byte where it belongs.
std::uint8_t pattern(std::uint32_t off) {
  return static_cast<std::uint8_t>('A' + off % 23);
}

class TcpMemTest : public TcpRecvTest {
 protected:
  TcpStackState& mem() { return st_.tcp(); }

  TcpSock* open_receiver() {
    TcpSock* sk =
        passive_open(1000, 65535, TcpOpts().with_mss(kMss).with_sack_perm().with_wscale(7));
    clear_sent();
    return sk;
  }

  // Peer bytes [off, off + len) of the pattern, as one segment.
  void segment(std::uint32_t off, std::uint32_t len) {
    std::vector<std::uint8_t> data(len);
    for (std::uint32_t i = 0; i < len; ++i) data[i] = pattern(off + i);
    inject(".", peer_nxt_ + off, our_isn_ + 1, 65535, {}, data);
  }

  // The application reads what is queued; returns the bytes read.
  std::vector<std::uint8_t> read_all(TcpSock* sk) {
    std::vector<std::uint8_t> buf(1 << 20);
    iovec iov{buf.data(), buf.size()};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    const int n = tcp_recvmsg(sk, &m, buf.size(), MSG_DONTWAIT, nullptr);
    buf.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return buf;
  }
};

// --- the stack's counter ---------------------------------------------------------------

TEST_F(TcpMemTest, pages_reach_the_stack_counter_in_mem_pcpu_rsv_steps) {
  TcpSock* sk = open_receiver();
  ASSERT_NE(sk, nullptr);
  ASSERT_EQ(st_.sysctl().mem_pcpu_rsv, 256);
  const long base = mem().memory_charged();
  const long global = mem().memory_allocated;
  // 100 pages stay in the cpu's reserve: the global counter does not move.
  ASSERT_TRUE(sk_rmem_schedule(sk, nullptr, 100 * SK_MEM_QUANTUM));
  EXPECT_EQ(sk->sk_forward_alloc / SK_MEM_QUANTUM, 100);
  EXPECT_EQ(mem().memory_charged(), base + 100);
  EXPECT_EQ(mem().memory_allocated, global);
  // 200 more: the reserve passes 256 pages and is folded in.
  ASSERT_TRUE(sk_rmem_schedule(sk, nullptr, 300 * SK_MEM_QUANTUM));
  EXPECT_EQ(mem().per_cpu_fw_alloc, 0);
  EXPECT_EQ(mem().memory_allocated, base + 300);
  // Giving them back: whole pages leave sk_forward_alloc at once.
  sk_mem_reclaim(sk);
  EXPECT_EQ(sk->sk_forward_alloc, 0);
  EXPECT_EQ(mem().memory_charged(), base);
}

// Linux's thresholds read the global counter only, so they act up to a
// reserve late: the 450 pages pass "pressure" (400) once folded in; 100 more
// sit in the reserve and are granted although the truth is over "high"; the
// next 200 fold the reserve in and are refused. Freeing everything takes the
// counter under "low" and ends the pressure, counting its duration.
TEST_F(TcpMemTest, pressure_starts_past_pressure_is_refused_past_high_and_ends_under_low) {
  TcpSock* sk = open_receiver();
  ASSERT_NE(sk, nullptr);
  sk_mem_reclaim(sk);
  ASSERT_EQ(mem().memory_charged(), 0);
  ASSERT_EQ(st_.sysctl().set("net.ipv4.tcp_mem", "300 400 500"), "");
  ASSERT_EQ(sk->sk_rmem_alloc, 0);

  ASSERT_TRUE(sk_rmem_schedule(sk, nullptr, 450 * SK_MEM_QUANTUM));
  EXPECT_EQ(mem().memory_allocated, 450);
  EXPECT_NE(mem().memory_pressure, 0u);
  EXPECT_TRUE(tcp_under_memory_pressure(sk));
  EXPECT_EQ(mib(MibId::TcpExtTCPMemoryPressures), 1u);

  ASSERT_TRUE(sk_rmem_schedule(sk, nullptr, 550 * SK_MEM_QUANTUM))
      << "the global counter still reads 450 (<= high), and the socket holds under tcp_rmem[0]";
  EXPECT_EQ(mem().memory_allocated, 450);
  EXPECT_EQ(mem().per_cpu_fw_alloc, 100);

  EXPECT_FALSE(sk_rmem_schedule(sk, nullptr, 750 * SK_MEM_QUANTUM));
  EXPECT_EQ(mem().memory_allocated, 750) << "the reserve was folded in by the refused charge";
  EXPECT_EQ(mem().memory_charged(), 550) << "and the refused pages given back";
  EXPECT_EQ(sk->sk_forward_alloc, 550 * SK_MEM_QUANTUM);
  EXPECT_EQ(mib(MibId::TcpExtTCPMemoryPressures), 1u) << "entered once";

  advance_ms(100);
  sk_mem_reclaim(sk);
  EXPECT_EQ(mem().memory_charged(), 0);
  EXPECT_EQ(mem().memory_allocated, 0);
  EXPECT_EQ(mem().memory_pressure, 0u);
  EXPECT_GE(mib(MibId::TcpExtTCPMemoryPressuresChrono), 100u);
  EXPECT_LE(mib(MibId::TcpExtTCPMemoryPressuresChrono), 104u);  // jiffies granularity
}

// Under pressure a socket above tcp_rmem[0] may still grow while it holds
// less than its share of "high" (high / sockets); over it, it may not.
TEST_F(TcpMemTest, under_pressure_a_socket_grows_only_within_its_fair_share) {
  TcpSock* sk = open_receiver();
  ASSERT_NE(sk, nullptr);
  ASSERT_EQ(st_.sysctl().set("net.ipv4.tcp_mem", "0 0 100000"), "");
  ASSERT_GE(mem().sockets_allocated, 2) << "the listener and the child";
  ASSERT_LE(mem().sockets_allocated, 3);
  sk_mem_reclaim(sk);
  sk->sk_rmem_alloc = 8192;  // above tcp_rmem[0]
  // Enter pressure (the first charge past 0 pages with the reserve folded).
  ASSERT_TRUE(sk_rmem_schedule(sk, nullptr, 300 * SK_MEM_QUANTUM));
  ASSERT_TRUE(tcp_under_memory_pressure(sk));
  // 2 sockets x (8192 + 300 pages) < 100000 pages: granted.
  EXPECT_TRUE(sk_rmem_schedule(sk, nullptr, 600 * SK_MEM_QUANTUM));
  sk->sk_rmem_alloc = 60000 * SK_MEM_QUANTUM;  // now over half of "high"
  EXPECT_FALSE(sk_rmem_schedule(sk, nullptr, 1200 * SK_MEM_QUANTUM));
  sk->sk_rmem_alloc = 0;
}

// --- the send side -----------------------------------------------------------------------

// Past "high" a send may not grow the queue: sk_sndbuf is moderated to half
// of what is queued, the call takes what that allows (the first skb of an
// empty queue is always charged) and the next one gets EAGAIN. The ACK that
// frees the queue does not grow the buffer back while memory is short
// (tcp_should_expand_sndbuf); once the stack is back under "low" it does.
TEST_F(TcpMemTest, past_high_the_send_buffer_is_moderated_and_sendmsg_returns_eagain) {
  TcpSock* sk = active_open(5000, 65535, TcpOpts().with_mss(kMss));
  ASSERT_NE(sk, nullptr);
  clear_sent();
  const int sndbuf = sk->sk_sndbuf;
  ASSERT_GT(sndbuf, 64 * 1024);
  ASSERT_EQ(st_.sysctl().set("net.ipv4.tcp_mem", "1000 2000 3000"), "");
  // The other sockets of the host hold 4000 pages.
  mem().memory_allocated = 4000;

  const int n = send_bytes(sk, 256 * 1024);
  ASSERT_GT(n, 0) << "the first skb of an empty queue is always charged";
  // Linux lets a socket already at its (moderated) buffer finish the skb
  // it is filling ("fail only if socket is under its sndbuf"): at most one
  // size goal of 64 KB.
  EXPECT_LE(n, 64 * 1024);
  EXPECT_EQ(mib(MibId::TcpExtTCPMemoryPressures), 1u);
  EXPECT_EQ(sk->sk_sndbuf, SOCK_MIN_SNDBUF) << "sk_stream_moderate_sndbuf: half of the queue, "
                                               "which is under the minimum at the first charge";
  EXPECT_EQ(send_bytes(sk, 1000), -EAGAIN);

  // The peer acknowledges everything: memory comes back, but the buffer
  // stays small while the stack is short.
  for (int i = 0; i < 100 && (sk->sk_wmem_queued || sk->snd_una != sk->snd_nxt); ++i) {
    advance_ms(1);
    inject(".", peer_nxt_, sk->snd_nxt, 65535);
  }
  ASSERT_EQ(sk->sk_wmem_queued, 0);
  EXPECT_TRUE(tcp_under_memory_pressure(sk));
  EXPECT_EQ(sk->sk_sndbuf, SOCK_MIN_SNDBUF) << "tcp_should_expand_sndbuf refuses under pressure";
  const int moderated = sk->sk_sndbuf;

  // The others free their memory: the next pages this socket gives back
  // take the counter under "low", which ends the pressure, and the same ACK
  // lets the buffer grow again (tcp_new_space).
  mem().memory_allocated = 0;
  ASSERT_EQ(send_bytes(sk, 3000), 3000);
  EXPECT_NE(mem().memory_pressure, 0u) << "nothing was charged or given back yet";
  advance_ms(1);
  inject(".", peer_nxt_, sk->snd_nxt, 65535);
  EXPECT_EQ(mem().memory_pressure, 0u);
  EXPECT_GT(mib(MibId::TcpExtTCPMemoryPressuresChrono), 0u);
  EXPECT_GT(sk->sk_sndbuf, moderated) << "tcp_new_space expands the buffer again";
}

// SO_SNDBUF fixes the buffer: no moderation; a socket under its buffer is
// refused outright past "high" (Linux: "fail only if socket is under its
// sndbuf"), after the first skb.
TEST_F(TcpMemTest, locked_send_buffer_is_not_moderated_and_the_charge_fails) {
  TcpSock* sk = active_open(5000, 65535, TcpOpts().with_mss(kMss));
  ASSERT_NE(sk, nullptr);
  sk->sk_sndbuf = 200000;
  sk->sk_userlocks |= SOCK_SNDBUF_LOCK;
  ASSERT_EQ(st_.sysctl().set("net.ipv4.tcp_mem", "1000 2000 3000"), "");
  mem().memory_allocated = 4000;
  const int n = send_bytes(sk, 100000);
  EXPECT_EQ(sk->sk_sndbuf, 200000);
  ASSERT_GT(n, 0);
  EXPECT_LE(n, st_.sysctl().tcp_wmem[0] + SK_MEM_QUANTUM)
      << "only the first skb and tcp_wmem[0]'s forced progress";
  EXPECT_EQ(send_bytes(sk, 1000), -EAGAIN);
  mem().memory_allocated = 0;
}

// --- the receive side -----------------------------------------------------------------

// A crafted peer floods thousands of one-byte segments with holes between
// runs of four, each run sent highest byte first (so that no receiver,
// Linux included, could merge them on arrival), into a buffer the user
// fixed. Receive memory stays within sk_rcvbuf (one skb over, as Linux's
// check admits); the runs are copied into compact skbs (TCPRcvCollapsed)
// when the buffer fills, the top of the out-of-order queue is given up
// (OfoPruned) and segments that still do not fit are dropped (TCPOFODrop);
// no SACK block ever names pruned data; and once the peer fills the holes
// (and sends again what we gave up) every byte arrives intact.
TEST_F(TcpMemTest, one_byte_out_of_order_flood_is_bounded_by_rcvbuf_and_the_stream_survives) {
  TcpSock* sk = open_receiver();
  ASSERT_NE(sk, nullptr);
  sk->sk_rcvbuf = 65536;
  sk->sk_userlocks |= SOCK_RCVBUF_LOCK;
  constexpr std::uint32_t kRuns = 1500;
  constexpr std::uint32_t kRun = 4;
  const std::uint32_t span = kRuns * (kRun + 1);
  ASSERT_LE(span, tcp_receive_window(sk)) << "the whole flood is inside the offered window";

  int worst_overshoot = INT_MIN;
  std::uint32_t max_truesize = 0;
  std::uint32_t sent = 0;
  for (std::uint32_t r = 0; r < kRuns; ++r) {
    const std::uint32_t base = 1 + r * (kRun + 1);  // offset 0 is the first hole
    for (std::uint32_t k = kRun; k-- > 0;) {
      segment(base + k, 1);
      ++sent;
      worst_overshoot = std::max(worst_overshoot, sk->sk_rmem_alloc - sk->sk_rcvbuf);
    }
    if (SkBuff* last = sk->out_of_order_queue.last())
      max_truesize = std::max(max_truesize, last->truesize);
  }
  ASSERT_EQ(sent, kRuns * kRun);
  EXPECT_EQ(sk->sk_rcvbuf, 65536) << "SO_RCVBUF holds";
  EXPECT_LE(worst_overshoot, static_cast<int>(SKB_TRUESIZE(2048)))
      << "at most one skb over sk_rcvbuf";
  EXPECT_GT(mib(MibId::TcpExtPruneCalled), 0u);
  EXPECT_GT(mib(MibId::TcpExtTCPRcvCollapsed), 0u) << "runs of 1-byte skbs were copied together";
  EXPECT_GT(mib(MibId::TcpExtOfoPruned), 0u);
  EXPECT_GT(mib(MibId::TcpExtTCPOFODrop), 0u);
  EXPECT_GT(mib(MibId::TcpExtRcvPruned), 0u) << "prunes that could not make room";
  EXPECT_GT(drops(SkbDropReason::SKB_DROP_REASON_TCP_OFO_QUEUE_PRUNE), 0u);
  EXPECT_EQ(sk->rcv_nxt, peer_nxt_) << "nothing in order yet";
  // Collapsed skbs hold whole runs: fewer skbs than bytes held.
  std::uint32_t held = 0;
  for (SkBuff& s : sk->out_of_order_queue) held += s.len;
  EXPECT_LT(sk->out_of_order_queue.size(), held);

  // The SACK blocks we send name only data we hold: filling the first hole
  // draws an ACK.
  clear_sent();
  segment(0, 1);
  advance_ms(250);
  ASSERT_GT(sent_count(), 0u);
  EXPECT_EQ(last_sent().ack, sk->rcv_nxt);
  for (const auto& [start, end] : last_sent().sack) {
    if (before(start, sk->rcv_nxt)) continue;  // a D-SACK block
    for (std::uint32_t seq = start; seq != end; ++seq)
      ASSERT_NE(sk->out_of_order_queue.find_containing(seq), nullptr)
          << "SACKed byte " << seq - peer_nxt_ << " is not held";
  }

  // The peer goes back to rcv_nxt and sends everything again in order
  // (a sender whose SACKed data was reneged on retransmits it after its RTO);
  // the reader keeps up.
  std::vector<std::uint8_t> got;
  for (int i = 0; i < 10000 && sk->rcv_nxt != peer_nxt_ + span; ++i) {
    const std::uint32_t off = sk->rcv_nxt - peer_nxt_;
    segment(off, std::min<std::uint32_t>(kMss, span - off));
    const auto chunk = read_all(sk);
    got.insert(got.end(), chunk.begin(), chunk.end());
  }
  const auto rest = read_all(sk);
  got.insert(got.end(), rest.begin(), rest.end());
  ASSERT_EQ(sk->rcv_nxt, peer_nxt_ + span);
  ASSERT_EQ(got.size(), span);
  for (std::uint32_t i = 0; i < span; ++i) ASSERT_EQ(got[i], pattern(i)) << "byte " << i;
  EXPECT_EQ(sk->sk_state, TCP_ESTABLISHED);
}

// Past "high" the receive side refuses pages. Out-of-order data is dropped
// (TCPOFODrop); in-order data too while the reader has data queued
// (TCPRcvQDrop), answered at once with a zero window (ICSK_ACK_NOMEM). An
// empty receive queue takes the segment regardless (a forced charge), or the
// connection could never move again.
TEST_F(TcpMemTest, past_high_in_order_data_is_dropped_unless_the_queue_is_empty) {
  TcpSock* sk = open_receiver();
  ASSERT_NE(sk, nullptr);
  ASSERT_EQ(st_.sysctl().set("net.ipv4.tcp_mem", "1000 2000 3000"), "");
  for (std::uint32_t i = 0; i < 3; ++i) segment(i * kMss, kMss);
  ASSERT_EQ(sk->rcv_nxt, peer_nxt_ + 3 * kMss);
  mem().memory_allocated = 4000;  // the other sockets' pages
  ASSERT_LT(sk->sk_forward_alloc, static_cast<int>(kMss)) << "no room left for a segment";

  segment(6 * kMss, kMss);
  EXPECT_EQ(mib(MibId::TcpExtTCPOFODrop), 1u);
  EXPECT_TRUE(sk->out_of_order_queue.empty());
  EXPECT_EQ(mib(MibId::TcpExtTCPMemoryPressures), 1u);
  clear_sent();
  segment(3 * kMss, kMss);
  EXPECT_EQ(mib(MibId::TcpExtTCPRcvQDrop), 1u);
  EXPECT_GT(mib(MibId::TcpExtPruneCalled), 0u);
  EXPECT_EQ(drops(SkbDropReason::SKB_DROP_REASON_PROTO_MEM), 2u);
  EXPECT_EQ(sk->rcv_nxt, peer_nxt_ + 3 * kMss);
  ASSERT_EQ(sent_count(), 1u) << "the drop is reported at once";
  EXPECT_EQ(last_sent().win, 0u) << "with a zero window (ICSK_ACK_NOMEM)";

  // The reader empties the queue; memory is still short, but an empty
  // queue takes the next segment.
  EXPECT_EQ(read_all(sk).size(), 3 * kMss);
  ASSERT_GT(tcp_receive_window(sk), kMss) << "the read reopened the window";
  segment(3 * kMss, kMss);
  EXPECT_EQ(sk->rcv_nxt, peer_nxt_ + 4 * kMss);
  EXPECT_EQ(mib(MibId::TcpExtTCPRcvQDrop), 1u);
  EXPECT_GT(mem().memory_allocated, 3000) << "still past high: the charge was forced";
  EXPECT_EQ(last_sent().win, 0u) << "and still answered with a zero window";

  // Memory comes back: once read, the rest is taken.
  mem().memory_allocated = 0;
  EXPECT_EQ(read_all(sk).size(), kMss);
  segment(4 * kMss, kMss);
  segment(5 * kMss, kMss);
  EXPECT_EQ(sk->rcv_nxt, peer_nxt_ + 6 * kMss);
  EXPECT_EQ(read_all(sk).size(), 2 * kMss);
  EXPECT_EQ(mib(MibId::TcpExtTCPRcvQDrop), 1u);
}

// Under memory pressure the receive buffer does not grow to hold what was
// queued (tcp_clamp_window), and the window's slow start is held at four
// segments (tcp_adjust_rcv_ssthresh in __tcp_select_window).
TEST_F(TcpMemTest, under_pressure_the_receive_buffer_and_window_do_not_grow) {
  TcpSock* sk = open_receiver();
  ASSERT_NE(sk, nullptr);
  ASSERT_EQ(st_.sysctl().set("net.ipv4.tcp_mem", "1000 2000 300000"), "");
  mem().memory_allocated = 2500;  // pressure, not past high
  sk->sk_rcvbuf = 16384;          // not locked: it could grow
  for (std::uint32_t i = 0; i < 12; ++i) segment(i * kMss, kMss);
  EXPECT_EQ(sk->sk_rcvbuf, 16384) << "tcp_clamp_window leaves it under pressure";
  EXPECT_GT(mib(MibId::TcpExtPruneCalled), 0u);
  EXPECT_LE(sk->rcv_ssthresh, 4 * sk->advmss);
  EXPECT_TRUE(tcp_under_memory_pressure(sk));
  mem().memory_allocated = 0;
}

}  // namespace
}  // namespace sp::test
