// Route metrics on a passive open (`ip route ... advmss N mtu lock N
// initcwnd N`): the SYN-ACK's MSS, the child's MSS and its first window.
#include "tcp_recv_fixture.hpp"

namespace sp::test {
namespace {

class RouteMetricsTest : public TcpRecvTest {
 protected:
  // A host route to the peer carrying these metrics.
  void peer_route(const RouteMetrics& m) {
    st_.add_route(be_addr(10, 0, 0, 2), 32, 0, ifindex_);
    ASSERT_EQ(st_.change_route(be_addr(10, 0, 0, 2), 32, 0, ifindex_, m), 0);
  }
};

TEST_F(RouteMetricsTest, synack_offers_the_route_advmss) {
  RouteMetrics m;
  m.advmss = 600;
  peer_route(m);
  listen_sock();
  inject("S", 777, 0, 65535, TcpOpts().with_mss(1460));
  ASSERT_EQ(sent_count(), 1u);
  ParsedSeg s = pop_sent();
  ASSERT_TRUE(s.mss.has_value());
  EXPECT_EQ(*s.mss, 600) << "RTAX_ADVMSS, not MTU - 40";
}

TEST_F(RouteMetricsTest, locked_route_mtu_sizes_the_child_and_initcwnd_its_first_window) {
  RouteMetrics m;
  m.mtu = 640;
  m.mtu_locked = true;
  m.initcwnd = 11;
  peer_route(m);
  TcpSock* child = establish_child();
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(child->mss_cache, 600u) << "640 - 20 - 20";
  EXPECT_EQ(inet_csk(child)->icsk_pmtu_cookie, 640u);
  EXPECT_EQ(tcp_snd_cwnd(child), 11u);
}

TEST_F(RouteMetricsTest, without_metrics_the_defaults_hold) {
  TcpSock* child = establish_child();
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(child->mss_cache, 1460u);
  EXPECT_EQ(tcp_snd_cwnd(child), TCP_INIT_CWND);
}

}  // namespace
}  // namespace sp::test
