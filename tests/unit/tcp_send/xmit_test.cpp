// The output engine's behaviour on virtual time: Nagle, cork, MSG_MORE,
// windows, blocking on memory, TSQ, autocorking, checksums.
#include <cstring>

#include "tcp_send_fixture.hpp"
#include "wire/tcp.hpp"

namespace sp::send_test {
namespace {

class XmitTest : public TcpSendTest {};

TEST_F(XmitTest, nagle_holds_second_small_write_until_ack) {
  int fd = connected_socket();
  ASSERT_EQ(write_n(fd, 100), 100);
  ASSERT_EQ(sent_count(), 1u) << "nothing in flight: the first small write goes at once";
  ASSERT_EQ(write_n(fd, 100), 100);
  ASSERT_EQ(write_n(fd, 50), 50);
  advance_ms(100);
  EXPECT_EQ(sent_count(), 1u) << "a small segment is unacknowledged: Nagle holds the rest";
  ack(iss_ + 1 + 100);
  ASSERT_EQ(sent_count(), 2u);
  EXPECT_EQ(sent(1).seq, iss_ + 1 + 100);
  EXPECT_EQ(sent(1).payload_len, 150u) << "what Nagle held went out as one segment";
}

TEST_F(XmitTest, nodelay_sends_second_small_write_at_once) {
  int fd = connected_socket();
  int one = 1;
  ASSERT_EQ(sp::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
  ASSERT_EQ(write_n(fd, 100), 100);
  ASSERT_EQ(write_n(fd, 100), 100);
  EXPECT_EQ(sent_count(), 2u);
}

TEST_F(XmitTest, nagle_lets_full_sized_segments_go) {
  int fd = connected_socket();
  ASSERT_EQ(write_n(fd, 100), 100);
  ASSERT_EQ(write_n(fd, 3000), 3000);
  // 1460 + 1460 go; the 180-byte tail waits for the first small segment's ACK.
  EXPECT_EQ(sent_bytes(), 100u + 2 * 1460u);
}

TEST_F(XmitTest, msg_more_holds_a_small_write_until_a_write_without_it) {
  int fd = connected_socket();
  ASSERT_EQ(write_n(fd, 100, MSG_MORE), 100);
  ASSERT_EQ(write_n(fd, 100, MSG_MORE), 100);
  EXPECT_EQ(sent_count(), 0u);
  ASSERT_EQ(write_n(fd, 100), 100);
  ASSERT_EQ(sent_count(), 1u);
  EXPECT_EQ(sent(0).payload_len, 300u);
  EXPECT_TRUE(sent(0).has(test::kTcpPsh)) << "the end of a write without MSG_MORE is pushed";
}

TEST_F(XmitTest, cork_holds_partial_segment_until_uncork) {
  int fd = connected_socket();
  int one = 1, zero = 0;
  ASSERT_EQ(sp::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &one, sizeof one), 0);
  ASSERT_EQ(write_n(fd, 100), 100);
  ASSERT_EQ(write_n(fd, 200), 200);
  advance_ms(50);
  EXPECT_EQ(sent_count(), 0u);
  ASSERT_EQ(sp::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &zero, sizeof zero), 0);
  ASSERT_EQ(sent_count(), 1u);
  EXPECT_EQ(sent(0).payload_len, 300u);
}

TEST_F(XmitTest, cork_sends_full_segments_and_holds_the_tail) {
  int fd = connected_socket();
  int one = 1;
  ASSERT_EQ(sp::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &one, sizeof one), 0);
  ASSERT_EQ(write_n(fd, 3000), 3000);
  EXPECT_EQ(sent_bytes(), 2 * 1460u);
  EXPECT_EQ(tp_of(fd)->write_seq - tp_of(fd)->snd_nxt, 80u);
}

TEST_F(XmitTest, cork_is_released_by_the_probe_timer_after_200ms) {
  int fd = connected_socket();
  inet_csk(sk_of(fd))->icsk_rto = TCP_RTO_MIN;  // an established low-RTT connection
  int one = 1;
  ASSERT_EQ(sp::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &one, sizeof one), 0);
  const Nanos t0 = clock_.now_ns();
  ASSERT_EQ(write_n(fd, 100), 100);
  advance_ms(199);
  EXPECT_EQ(sent_count(), 0u);
  advance_ms(2);
  ASSERT_EQ(sent_count(), 1u);
  EXPECT_EQ(sent(0).payload_len, 100u);
  EXPECT_TRUE(sent(0).has(test::kTcpPsh));
  EXPECT_GE(clock_.now_ns() - t0, 200 * kNsPerMs);
}

TEST_F(XmitTest, sends_only_what_the_peer_window_allows) {
  int fd = connected_socket(/*peer_win=*/2920, /*wscale=*/false);
  int one = 1;
  ASSERT_EQ(sp::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
  ASSERT_EQ(write_n(fd, 10000), 10000);
  EXPECT_EQ(sent_bytes(), 2920u);
  ack(iss_ + 1 + 2920, 2920);
  EXPECT_EQ(sent_bytes(), 2 * 2920u);
}

TEST_F(XmitTest, initial_window_is_ten_segments_in_tso_bursts) {
  int fd = connected_socket();
  set_sndbuf(fd, 200000);
  ASSERT_EQ(write_n(fd, 100000), 100000);
  std::uint32_t segs = 0;
  for (const auto& s : dev_->sent) segs += (s.payload_len + 1459) / 1460;
  EXPECT_EQ(segs, TCP_INIT_CWND);
  EXPECT_EQ(tp_of(fd)->packets_out, TCP_INIT_CWND);
  ASSERT_GE(sent_count(), 2u);
  // tcp_cwnd_test: at most half the window in one TSO packet.
  EXPECT_EQ(sent(0).payload_len, 5 * 1460u);
  EXPECT_EQ(dev_->gso_size[0], 1460) << "a TSO skb tells the device its MSS";
}

TEST_F(XmitTest, acks_open_the_congestion_window_and_release_more) {
  int fd = connected_socket();
  set_sndbuf(fd, 200000);
  ASSERT_EQ(write_n(fd, 100000), 100000);
  const std::uint32_t first = sent_bytes();
  ack(iss_ + 1 + first);
  EXPECT_GT(sent_bytes(), 2 * first) << "slow start: each ACKed segment allows two more";
}

TEST_F(XmitTest, full_send_buffer_blocks_then_resumes_when_acks_free_memory) {
  int fd = connected_socket();
  set_sndbuf(fd, 16384);  // 32 KiB
  int one = 1;
  ASSERT_EQ(sp::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
  // The pretend peer: each turn of the wait driver, 1 ms passes and
  // everything sent so far is acknowledged.
  int turns = 0;
  st_.set_wait_driver([&](Nanos) {
    ++turns;
    clock_.advance_by(kNsPerMs);
    ack(tcp_sk(sk_of(fd))->snd_nxt);
    st_.poll();
  });
  const std::size_t n = 1 << 20;
  std::vector<std::uint8_t> buf(n);
  for (std::size_t i = 0; i < n; ++i) buf[i] = static_cast<std::uint8_t>(i * 7);
  ASSERT_EQ(sp::send(fd, buf.data(), n, 0), static_cast<ssize_t>(n));
  EXPECT_GT(turns, 0) << "the send had to wait for memory";
  EXPECT_LE(sk_of(fd)->sk_wmem_queued, sk_of(fd)->sk_sndbuf + 65536);
  st_.set_wait_driver(nullptr);
  // Every byte left, in order.
  ack(tcp_sk(sk_of(fd))->snd_nxt);
  advance_ms(10);
  std::vector<std::uint8_t> wire;
  std::uint32_t next = iss_ + 1;
  for (std::size_t i = 0; i < sent_count(); ++i) {
    ASSERT_EQ(sent(i).seq, next);
    next += sent(i).payload_len;
    wire.insert(wire.end(), sent(i).data.begin(), sent(i).data.end());
  }
  ASSERT_EQ(wire.size(), n);
  EXPECT_TRUE(wire == buf);
}

TEST_F(XmitTest, so_sndtimeo_bounds_a_blocked_send) {
  int fd = connected_socket();
  freeze(fd);
  set_sndbuf(fd, 16384);
  timeval tv{0, 100000};  // 100 ms
  ASSERT_EQ(sp::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), 0);
  st_.set_wait_driver([&](Nanos deadline) {
    clock_.advance_to(std::min(deadline, clock_.now_ns() + 10 * kNsPerMs));
    st_.poll();
  });
  const Nanos t0 = clock_.now_ns();
  const ssize_t n = write_n(fd, 1 << 20);
  EXPECT_GT(n, 0);
  EXPECT_LT(n, 1 << 20) << "the bytes copied before the timeout";
  EXPECT_GE(clock_.now_ns() - t0, 100 * kNsPerMs);
  const Nanos t1 = clock_.now_ns();
  EXPECT_EQ(write_n(fd, 100), -1);
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_GE(clock_.now_ns() - t1, 100 * kNsPerMs);
  st_.set_wait_driver(nullptr);
}

TEST_F(XmitTest, checksum_is_left_partial_for_an_offloading_device) {
  int fd = connected_socket();
  ASSERT_EQ(write_n(fd, 100), 100);
  ASSERT_EQ(sent_count(), 1u);
  EXPECT_EQ(dev_->ip_summed[0], IpSummed::CHECKSUM_PARTIAL);
}

class XmitNoCsumTest : public TcpSendTest {
 protected:
  XmitNoCsumTest() : TcpSendTest(NETIF_F_SG | NETIF_F_TSO) {}
};

TEST_F(XmitNoCsumTest, segments_carry_a_valid_checksum_without_offload) {
  int fd = connected_socket();
  ASSERT_EQ(write_n(fd, 1000), 1000);
  ASSERT_EQ(sent_count(), 1u);
  const auto& b = dev_->seg_bytes[0];
  auto tv = TcpView::parse(std::span<const std::uint8_t>(b).subspan(20));
  ASSERT_TRUE(tv.ok());
  EXPECT_TRUE(tv.value().verify_checksum(ipv4_addr(10, 0, 0, 1), ipv4_addr(10, 0, 0, 2)));
}

// The clone tcp_transmit_skb sends is the write-queue skb's fclone
// companion, and it pushes its headers into the shared head room that
// __skb_header_release gave it: finishing its checksum in dev_queue_xmit
// (skb_checksum_help) copies no head, and no struct is taken from the pool.
TEST_F(XmitNoCsumTest, transmit_clone_is_the_fclone_and_checksums_without_copying_the_head) {
  int fd = connected_socket();
  dev_->hold = true;  // the clone stays in the device
  const SkbPoolStats before = skb_pool_stats();
  ASSERT_EQ(write_n(fd, 1000), 1000);
  ASSERT_EQ(sent_count(), 1u);
  EXPECT_EQ(dev_->ip_summed[0], IpSummed::CHECKSUM_NONE);
  EXPECT_EQ(skb_pool_stats().head_allocs - before.head_allocs, 1u)
      << "one head, the write-queue skb's: no pskb_expand_head per transmit";
  std::vector<SkBuff*> rtx;
  for (SkBuff& skb : tp_of(fd)->tcp_rtx_queue) rtx.push_back(&skb);
  ASSERT_EQ(rtx.size(), 1u);
  EXPECT_TRUE(skb_fclone_busy(sk_of(fd), rtx[0])) << "the clone in the device is the companion";
  const auto& b = dev_->seg_bytes[0];
  auto tv = TcpView::parse(std::span<const std::uint8_t>(b).subspan(20));
  ASSERT_TRUE(tv.ok());
  EXPECT_TRUE(tv.value().verify_checksum(ipv4_addr(10, 0, 0, 1), ipv4_addr(10, 0, 0, 2)));
}

TEST_F(XmitNoCsumTest, gso_segments_carry_valid_checksums_without_offload) {
  int fd = connected_socket();
  ASSERT_EQ(write_n(fd, 10000), 10000);
  ASSERT_GE(sent_count(), 7u);
  for (const auto& b : dev_->seg_bytes) {
    auto tv = TcpView::parse(std::span<const std::uint8_t>(b).subspan(20));
    ASSERT_TRUE(tv.ok());
    EXPECT_TRUE(tv.value().verify_checksum(ipv4_addr(10, 0, 0, 1), ipv4_addr(10, 0, 0, 2)));
  }
}

TEST_F(XmitTest, autocork_holds_a_small_write_while_an_earlier_skb_is_in_the_device) {
  int fd = connected_socket();
  int one = 1;
  ASSERT_EQ(sp::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
  dev_->hold = true;
  ASSERT_EQ(write_n(fd, 100), 100);
  ASSERT_EQ(sent_count(), 1u);
  // Linux corks only while the device holds more than the tail skb's
  // truesize, so one more small write is what waits here.
  ASSERT_EQ(write_n(fd, 60), 60);
  EXPECT_EQ(sent_count(), 1u) << "the device still has our first skb: cork automatically";
  EXPECT_GE(mib(MibId::TcpExtTCPAutoCorking), 1u);
  dev_->release_all();  // the first frame left the host: tcp_wfree -> TSQ handler
  st_.poll();
  ASSERT_EQ(sent_count(), 2u);
  EXPECT_EQ(sent(1).payload_len, 60u);
}

TEST_F(XmitTest, small_queues_stop_at_the_output_limit_and_resume_when_the_device_frees) {
  int fd = connected_socket();
  set_sndbuf(fd, 200000);
  st_.sysctl().tcp_limit_output_bytes = 20000;
  tcp_snd_cwnd_set(tp_of(fd), 100);
  dev_->hold = true;
  ASSERT_EQ(write_n(fd, 150000), 150000);
  const std::size_t first = sent_count();
  EXPECT_GE(first, 2u);
  EXPECT_LT(sent_bytes(), 150000u) << "TSQ throttled the socket";
  EXPECT_TRUE(sk_of(fd)->sk_tsq_flags & TSQ_THROTTLED);
  dev_->release_all();
  st_.poll();
  EXPECT_GT(sent_count(), first) << "freeing the device's skbs let more out";
}

TEST_F(XmitTest, sent_skbs_move_to_the_retransmit_queue) {
  int fd = connected_socket();
  ASSERT_EQ(write_n(fd, 1000), 1000);
  TcpSock* tp = tp_of(fd);
  EXPECT_TRUE(sk_of(fd)->sk_write_queue.empty());
  ASSERT_EQ(tp->tcp_rtx_queue.size(), 1u);
  EXPECT_EQ(TCP_SKB_CB(tp->tcp_rtx_queue.first())->seq, iss_ + 1);
  EXPECT_EQ(tp->snd_nxt, iss_ + 1 + 1000);
  EXPECT_EQ(tp->packets_out, 1u);
  EXPECT_TRUE(inet_csk(sk_of(fd))->icsk_retransmit_timer.pending()) << "the RTO is armed";
  ack(iss_ + 1 + 1000);
  EXPECT_TRUE(tp->tcp_rtx_queue.empty());
  EXPECT_EQ(sk_of(fd)->sk_wmem_queued, 0);
  EXPECT_LT(sk_of(fd)->sk_forward_alloc, SK_MEM_QUANTUM) << "freed memory is returned, not hoarded";
}

TEST_F(XmitTest, ioctl_reports_queued_and_unsent_bytes) {
  int fd = connected_socket(/*peer_win=*/1000, /*wscale=*/false);
  ASSERT_EQ(write_n(fd, 3000), 3000);
  int outq = -1, nsd = -1;
  ASSERT_EQ(sp::ioctl(fd, SIOCOUTQ, &outq), 0);
  ASSERT_EQ(sp::ioctl(fd, SIOCOUTQNSD, &nsd), 0);
  EXPECT_EQ(outq, 3000);
  EXPECT_EQ(nsd, 2000) << "1000 bytes fit the window and left";
}

TEST_F(XmitTest, send_buffer_grows_with_the_congestion_window) {
  int fd = connected_socket();
  Sock* sk = sk_of(fd);
  const int initial = sk->sk_sndbuf;
  EXPECT_GE(initial, st_.sysctl().tcp_wmem[1]) << "sized for the initial window at establishment";
  tcp_snd_cwnd_set(tp_of(fd), 100);
  // The writer runs out of room; ACKs free it with the window not in use.
  EXPECT_LT(write_n(fd, 1 << 20, MSG_DONTWAIT), 1 << 20);
  ack(tp_of(fd)->snd_nxt);
  EXPECT_GT(sk->sk_sndbuf, 4 * initial) << "tcp_sndbuf_expand: two windows of skbs";
  EXPECT_LE(sk->sk_sndbuf, st_.sysctl().tcp_wmem[2]);
}

TEST_F(XmitTest, so_sndbuf_turns_send_buffer_autotuning_off) {
  int fd = connected_socket();
  set_sndbuf(fd, 10000);
  tcp_snd_cwnd_set(tp_of(fd), 100);
  EXPECT_LT(write_n(fd, 1 << 20, MSG_DONTWAIT), 1 << 20);
  ack(tp_of(fd)->snd_nxt);
  EXPECT_EQ(sk_of(fd)->sk_sndbuf, 20000);
}

TEST_F(XmitTest, pacing_spaces_segments_at_the_pacing_rate) {
  int fd = connected_socket();
  int one = 1;
  ASSERT_EQ(sp::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
  Sock* sk = sk_of(fd);
  sk->sk_pacing_status = SK_PACING_NEEDED;
  sk->sk_pacing_rate = 1460 * 1000;  // one 1460-byte segment per millisecond
  sk->sk_gso_max_segs = 1;           // one segment per skb, to see the spacing
  // Linux leaves a connection's first 10 data segments unpaced: send them,
  // have them acknowledged, and wait for the departure time the 10th set.
  for (int i = 0; i < 10; ++i) ASSERT_EQ(write_n(fd, 1460), 1460);
  ASSERT_EQ(sent_count(), 10u);
  ack(tp_of(fd)->snd_nxt);
  sk->sk_pacing_rate = 1460 * 1000;  // the ACK recomputed it from cwnd and RTT
  advance(kNsPerMs);
  clear_sent();
  std::vector<Nanos> at;
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(write_n(fd, 1460), 1460);
  }
  const Nanos t0 = clock_.now_ns();
  std::size_t seen = sent_count();
  EXPECT_EQ(seen, 1u) << "the rest wait for their departure time";
  for (int step = 0; step < 20 && sent_count() < 5; ++step) {
    advance(kNsPerMs / 4);
    if (sent_count() != seen) {
      at.push_back(clock_.now_ns() - t0);
      seen = sent_count();
    }
  }
  ASSERT_EQ(sent_count(), 5u);
  ASSERT_EQ(at.size(), 4u);
  for (std::size_t i = 0; i < at.size(); ++i)
    EXPECT_NEAR(static_cast<double>(at[i]), static_cast<double>((i + 1) * kNsPerMs), 0.3e6);
}

TEST_F(XmitTest, pacing_leaves_the_first_ten_data_segments_unpaced) {
  int fd = connected_socket();
  int one = 1;
  ASSERT_EQ(sp::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
  Sock* sk = sk_of(fd);
  tcp_snd_cwnd_set(tp_of(fd), 100);
  sk->sk_pacing_status = SK_PACING_NEEDED;
  sk->sk_pacing_rate = 1460 * 1000;  // one 1460-byte segment per millisecond
  sk->sk_gso_max_segs = 1;
  for (int i = 0; i < 12; ++i) ASSERT_EQ(write_n(fd, 1460), 1460);
  EXPECT_EQ(sent_count(), 10u) << "ten leave at once; the 10th sets the next departure";
  advance(kNsPerMs);
  EXPECT_EQ(sent_count(), 11u);
}

TEST_F(XmitTest, pacing_credits_late_sending_for_at_most_half_a_segment) {
  int fd = connected_socket();
  int one = 1;
  ASSERT_EQ(sp::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
  Sock* sk = sk_of(fd);
  sk->sk_pacing_status = SK_PACING_NEEDED;
  sk->sk_pacing_rate = 1460 * 1000;  // one 1460-byte segment per millisecond
  sk->sk_gso_max_segs = 1;
  for (int i = 0; i < 10; ++i) ASSERT_EQ(write_n(fd, 1460), 1460);
  ack(tp_of(fd)->snd_nxt);
  sk->sk_pacing_rate = 1460 * 1000;  // the ACK recomputed it from cwnd and RTT
  // Idle for 10 ms past the departure time the 10th segment set: sending
  // now is late by 9 ms, but only half a segment's time may be made up.
  advance(10 * kNsPerMs);
  clear_sent();
  ASSERT_EQ(write_n(fd, 1460), 1460);
  ASSERT_EQ(write_n(fd, 1460), 1460);
  EXPECT_EQ(sent_count(), 1u) << "the second waits half a segment's pacing time";
  advance(kNsPerMs / 4);
  EXPECT_EQ(sent_count(), 1u);
  advance(kNsPerMs / 2);
  EXPECT_EQ(sent_count(), 2u);
}

TEST_F(XmitTest, notsent_lowat_limits_writability) {
  int fd = connected_socket();
  freeze(fd);
  int lowat = 1000;
  ASSERT_EQ(sp::setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat), 0);
  ASSERT_EQ(write_n(fd, 400), 400);
  pollfd p{fd, POLLOUT, 0};
  EXPECT_EQ(sp::poll(&p, 1, 0), 1) << "400 unsent bytes: below half the low-water mark";
  ASSERT_EQ(write_n(fd, 200), 200);
  p.revents = 0;
  EXPECT_EQ(sp::poll(&p, 1, 0), 0) << "600 unsent bytes: a writer would only add to the backlog";
  tcp_snd_cwnd_set(tp_of(fd), 10);
  tcp_push_pending_frames(sk_of(fd));
  p.revents = 0;
  EXPECT_EQ(sp::poll(&p, 1, 0), 1) << "sent, so no longer unsent";
}

TEST_F(XmitTest, so_rcvtimeo_bounds_a_blocked_recv) {
  int fd = connected_socket();
  timeval tv{0, 150000};  // 150 ms
  ASSERT_EQ(sp::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
  const Nanos t0 = clock_.now_ns();
  char buf[16];
  EXPECT_EQ(sp::recv(fd, buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(clock_.now_ns() - t0, 150 * kNsPerMs)
      << "the stack's default driver ran to the deadline";
}

TEST_F(XmitTest, blocked_write_resumes_only_once_a_third_of_the_send_buffer_is_free) {
  // No window scaling and a 50000-byte window: skbs of at most half of it.
  int fd = connected_socket(50000, false);
  set_sndbuf(fd, 21000);  // sk_sndbuf 42000, locked: no autotuning
  Sock* sk = sk_of(fd);
  TcpSock* tp = tp_of(fd);
  // The pretend peer acknowledges 1000 more bytes per 1 ms turn. Each turn
  // notes the room left after the ACK and the writer's progress, so the
  // next turn can tell whether the writer resumed in between.
  int turns = 0;
  int resumes = 0;
  int slept_with_memory_free = 0;
  std::uint32_t write_seq_at_end = 0;
  bool writeable_at_end = false;
  bool free_at_end = false;
  st_.set_wait_driver([&](Nanos) {
    if (turns > 0) {
      if (tp->write_seq != write_seq_at_end) {
        ++resumes;
        EXPECT_TRUE(writeable_at_end) << "the writer resumed with less than a third of "
                                         "the buffer free (turn "
                                      << turns << ")";
      } else if (free_at_end) {
        ++slept_with_memory_free;
      }
    }
    ++turns;
    clock_.advance_by(kNsPerMs);
    std::uint32_t next = tp->snd_una + 1000;
    if (after(next, tp->snd_nxt)) next = tp->snd_nxt;
    ack(next, 50000);
    st_.poll();
    write_seq_at_end = tp->write_seq;
    writeable_at_end = sk_stream_wspace(sk) >= sk_stream_min_wspace(sk);
    free_at_end = sk_stream_memory_free(sk);
  });
  ASSERT_EQ(write_n(fd, 61000), 61000);
  st_.set_wait_driver(nullptr);
  EXPECT_GT(turns, 0) << "the write had to wait for room";
  EXPECT_GT(slept_with_memory_free, 0)
      << "an ACK that frees some memory but leaves less than a third of the buffer "
         "free does not wake the writer";
}

TEST_F(XmitTest, window_reopening_after_an_idle_rto_restarts_cwnd) {
  int fd = connected_socket();
  TcpSock* tp = tp_of(fd);
  tcp_snd_cwnd_set(tp, 36);
  ASSERT_EQ(write_n(fd, 1000), 1000);
  ack(tp->snd_nxt, 0);  // all acknowledged, and the peer's window closes
  ASSERT_EQ(tp->packets_out, 0u);
  ASSERT_EQ(write_n(fd, 20000), 20000);
  EXPECT_EQ(tcp_snd_cwnd(tp), 36u) << "queued right after the last send: no idle restart";
  advance_ms(3000);  // zero-window probes only: no data leaves
  ASSERT_EQ(tp->packets_out, 0u);
  ack(tp->snd_una, 0xffff);  // the window reopens
  EXPECT_EQ(tcp_snd_cwnd(tp), 10u) << "idle for longer than the RTO: back to the initial window";
}

TEST_F(XmitTest, blocked_recv_returns_data_injected_while_it_waits) {
  int fd = connected_socket();
  // The packetdrill-style driver: the peer's segment arrives 30 ms into the wait.
  bool injected = false;
  st_.set_wait_driver([&](Nanos) {
    clock_.advance_by(10 * kNsPerMs);
    if (!injected && clock_.now_ns() >= 30 * kNsPerMs + kNsPerSec) {
      injected = true;
      auto data = test::payload("late");
      inject("P.", kPeerIsn + 1, iss_ + 1, 0xffff, {}, data);
    }
    st_.poll();
  });
  char buf[16] = {};
  ASSERT_EQ(sp::recv(fd, buf, sizeof buf, 0), 4);
  EXPECT_EQ(std::string(buf, 4), "late");
  st_.set_wait_driver(nullptr);
}

}  // namespace
}  // namespace sp::send_test
