// Packetization-layer path MTU discovery (RFC 4821, Linux's tcp_mtu_probe)
// with tcp_mtu_probing=2: a segment larger than the MSS probes the path;
// its ACK raises the MSS; a route change reaches an established socket.
#include "tcp_send_fixture.hpp"

namespace sp::send_test {
namespace {

class MtuProbeTest : public TcpSendTest {
 protected:
  MtuProbeTest() {
    st_.sysctl().tcp_mtu_probing = 2;
    st_.sysctl().tcp_base_mss = 512;
  }
  // A host route to the peer, with metrics.
  void peer_route(const RouteMetrics& m) {
    if (!have_route_) st_.add_route(be_addr(10, 0, 0, 2), 32, 0, ifindex_);
    have_route_ = true;
    ASSERT_EQ(st_.change_route(be_addr(10, 0, 0, 2), 32, 0, ifindex_, m), 0);
  }
  int nodelay_socket() {
    int fd = connected_socket();
    int one = 1;
    EXPECT_EQ(sp::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
    return fd;
  }
  bool have_route_ = false;
};

TEST_F(MtuProbeTest, probing_starts_at_the_base_mss) {
  int fd = nodelay_socket();
  // search_low = tcp_base_mss + headers: the MSS never exceeds it until a
  // probe succeeds.
  EXPECT_EQ(tp_of(fd)->mss_cache, 512u);
  EXPECT_EQ(inet_csk(sk_of(fd))->icsk_mtup.search_low, 552);
  EXPECT_EQ(inet_csk(sk_of(fd))->icsk_mtup.search_high, 1500);
}

TEST_F(MtuProbeTest, probe_goes_first_and_its_ack_raises_the_mss) {
  RouteMetrics m;
  m.initcwnd = 11;  // tcp_mtu_probe needs a window of 11
  peer_route(m);
  int fd = nodelay_socket();
  ASSERT_EQ(tcp_snd_cwnd(tp_of(fd)), 11u);
  ASSERT_EQ(write_n(fd, 4000), 4000);
  ASSERT_GE(sent_count(), 2u);
  // Halfway between 552 and 1500: a 1026-byte packet, 986 bytes of data.
  EXPECT_EQ(sent(0).seq, iss_ + 1);
  EXPECT_EQ(sent(0).payload_len, 986u);
  EXPECT_EQ(sent_bytes(), 4000u);
  EXPECT_EQ(dev_->gso_size[1], 512) << "the rest at the current MSS";
  EXPECT_EQ(tcp_snd_cwnd(tp_of(fd)), 10u) << "the probe counts as two packets";
  EXPECT_EQ(inet_csk(sk_of(fd))->icsk_mtup.probe_size, 1026u);

  ack(iss_ + 1 + 4000);
  EXPECT_EQ(mib(MibId::TcpExtTCPMTUPSuccess), 1u);
  EXPECT_EQ(inet_csk(sk_of(fd))->icsk_mtup.probe_size, 0u);
  EXPECT_EQ(inet_csk(sk_of(fd))->icsk_mtup.search_low, 1026);
  EXPECT_EQ(tp_of(fd)->mss_cache, 986u);

  clear_sent();
  ASSERT_EQ(write_n(fd, 2000), 2000);
  ASSERT_GE(sent_count(), 1u);
  EXPECT_EQ(dev_->gso_size[0], 986) << "new data uses the probed MSS";
}

// net.ipv4.tcp_probe_threshold: a search whose range (search_high -
// search_low, 1500 - 552 here) is narrower than it has converged, and no
// probe leaves: the data goes at the current MSS.
TEST_F(MtuProbeTest, tcp_probe_threshold_wider_than_the_range_sends_no_probe) {
  ASSERT_EQ(st_.sysctl().set("net.ipv4.tcp_probe_threshold", "1000"), "");
  RouteMetrics m;
  m.initcwnd = 11;
  peer_route(m);
  int fd = nodelay_socket();
  ASSERT_EQ(write_n(fd, 4000), 4000);
  ASSERT_GE(sent_count(), 1u);
  EXPECT_EQ(dev_->gso_size[0], 512) << "no 986-byte probe first";
  EXPECT_EQ(inet_csk(sk_of(fd))->icsk_mtup.probe_size, 0u);
  ack(iss_ + 1 + 4000);
  EXPECT_EQ(mib(MibId::TcpExtTCPMTUPSuccess), 0u);
}

// net.ipv4.tcp_probe_interval: once the search has converged, a new one
// starts (tcp_mtu_check_reprobe restamps probe_timestamp and reopens the
// range) only after that many seconds: not within 2 s by default (600 s),
// within 2 s with 1.
TEST_F(MtuProbeTest, tcp_probe_interval_restarts_a_converged_search_after_its_seconds) {
  ASSERT_EQ(st_.sysctl().set("net.ipv4.tcp_probe_threshold", "1000"), "");
  // Two idle seconds must not shrink cwnd below the 11 probing needs.
  ASSERT_EQ(st_.sysctl().set("net.ipv4.tcp_slow_start_after_idle", "0"), "");
  RouteMetrics m;
  m.initcwnd = 11;
  peer_route(m);
  auto restarted_within_2s = [&](const char* interval) {
    EXPECT_EQ(st_.sysctl().set("net.ipv4.tcp_probe_interval", interval), "");
    clear_sent();
    int fd = nodelay_socket();
    const std::uint32_t stamp0 = inet_csk(sk_of(fd))->icsk_mtup.probe_timestamp;
    advance_ms(2000);
    EXPECT_EQ(write_n(fd, 4000), 4000);  // tcp_write_xmit calls tcp_mtu_probe
    return inet_csk(sk_of(fd))->icsk_mtup.probe_timestamp != stamp0;
  };
  EXPECT_FALSE(restarted_within_2s("600"));
  EXPECT_TRUE(restarted_within_2s("1"));
}

// Black-hole detection (tcp_timer.c's tcp_mtu_probing): with
// tcp_mtu_probing = 1, timeouts past tcp_retries1 turn probing on; the next
// ones halve the low end of the search, no lower than tcp_mtu_probe_floor.
TEST_F(MtuProbeTest, timeouts_past_tcp_retries1_turn_probing_on_then_lower_the_search_floor) {
  st_.sysctl().tcp_mtu_probing = 1;
  st_.sysctl().tcp_mtu_probe_floor = 300;
  int fd = nodelay_socket();
  InetConnectionSock* icsk = inet_csk(sk_of(fd));
  ASSERT_FALSE(icsk->icsk_mtup.enabled) << "1: only after a black hole is suspected";
  ASSERT_EQ(icsk->icsk_mtup.search_low, 552);
  ASSERT_EQ(write_n(fd, 1000), 1000);
  // Nothing is acknowledged: RTO after RTO (bounded: 60 s of virtual time).
  for (int i = 0; i < 120 && !icsk->icsk_mtup.enabled; ++i) advance_ms(500);
  ASSERT_TRUE(icsk->icsk_mtup.enabled) << "retransmissions " << icsk->icsk_retransmits;
  EXPECT_GE(icsk->icsk_retransmits, 2) << "not before tcp_retries1's modelled time";
  EXPECT_EQ(icsk->icsk_mtup.search_low, 552) << "turning probing on keeps the floor";
  const auto retrans_when_enabled = icsk->icsk_retransmits;
  for (int i = 0; i < 240 && icsk->icsk_retransmits == retrans_when_enabled; ++i) advance_ms(500);
  // 512 / 2 = 256, raised to tcp_mtu_probe_floor = 300, plus 40 of headers.
  EXPECT_EQ(icsk->icsk_mtup.search_low, 340);
  EXPECT_EQ(tp_of(fd)->mss_cache, 300u);
}

TEST_F(MtuProbeTest, no_probe_without_enough_data_behind_it) {
  RouteMetrics m;
  m.initcwnd = 11;
  peer_route(m);
  int fd = nodelay_socket();
  // The probe needs probe_size + (reordering + 1) MSS of data queued.
  ASSERT_EQ(write_n(fd, 2000), 2000);
  ASSERT_GE(sent_count(), 1u);
  EXPECT_EQ(dev_->gso_size[0], 512);
  EXPECT_EQ(inet_csk(sk_of(fd))->icsk_mtup.probe_size, 0u);
}

TEST_F(MtuProbeTest, established_socket_takes_a_changed_route_mtu_at_its_next_send) {
  st_.sysctl().tcp_mtu_probing = 0;
  RouteMetrics small;
  small.mtu = 640;
  small.mtu_locked = true;
  peer_route(small);
  int fd = nodelay_socket();
  EXPECT_EQ(tp_of(fd)->mss_cache, 600u);
  RouteMetrics large;
  large.mtu = 1500;
  large.mtu_locked = true;
  peer_route(large);
  ASSERT_EQ(write_n(fd, 100), 100);  // the send re-routes (__sk_dst_check)
  ASSERT_EQ(write_n(fd, 3000), 3000);
  EXPECT_EQ(tp_of(fd)->mss_cache, 1460u);
}

}  // namespace
}  // namespace sp::send_test
