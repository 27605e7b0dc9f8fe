// Addresses, routes (longest prefix match) and the PMTU table.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cerrno>

#include "core/stack.hpp"

namespace sp {
namespace {

be32 ip(const char* s) {
  in_addr a{};
  inet_pton(AF_INET, s, &a);
  return a.s_addr;
}

class NullDevice : public NetDevice {
 public:
  NetdevTx xmit(SkbPtr) override { return NETDEV_TX_OK; }
  int poll(int) override { return 0; }
};

struct RouteTest : ::testing::Test {
  VirtualClock clock;
  Stack stack{clock};
  int eth0 = 0, eth1 = 0;
  void SetUp() override {
    eth0 = stack.register_netdev(std::make_unique<NullDevice>());
    eth1 = stack.register_netdev(std::make_unique<NullDevice>());
    stack.add_address(eth0, ip("10.0.0.2"), 24);
    stack.add_address(eth1, ip("192.168.1.2"), 16);
  }
};

TEST_F(RouteTest, devices_get_consecutive_ifindexes) {
  EXPECT_EQ(eth0, 1);
  EXPECT_EQ(eth1, 2);
  EXPECT_EQ(stack.dev_get_by_index(eth1)->ifindex, eth1);
  EXPECT_EQ(stack.dev_get_by_index(3), nullptr);
  EXPECT_EQ(stack.dev_get_by_index(0), nullptr);
}

TEST_F(RouteTest, address_brings_a_connected_route) {
  RouteResult r = stack.ip_route_output(ip("10.0.0.77"));
  ASSERT_NE(r.dev, nullptr);
  EXPECT_EQ(r.dev->ifindex, eth0);
  EXPECT_EQ(r.nexthop, ip("10.0.0.77"));
  EXPECT_EQ(r.saddr, ip("10.0.0.2"));
  EXPECT_EQ(r.mtu, 1500u);
}

TEST_F(RouteTest, no_matching_route_is_unreachable) {
  EXPECT_EQ(stack.ip_route_output(ip("8.8.8.8")).dev, nullptr);
}

TEST_F(RouteTest, default_route_goes_through_its_gateway) {
  stack.add_route(0, 0, ip("10.0.0.1"), eth0);
  RouteResult r = stack.ip_route_output(ip("8.8.8.8"));
  ASSERT_NE(r.dev, nullptr);
  EXPECT_EQ(r.dev->ifindex, eth0);
  EXPECT_EQ(r.nexthop, ip("10.0.0.1"));
  EXPECT_EQ(r.saddr, ip("10.0.0.2"));
}

TEST_F(RouteTest, longest_prefix_wins_whatever_the_insertion_order) {
  stack.add_route(ip("172.16.5.0"), 24, ip("192.168.1.1"), eth1);
  stack.add_route(ip("172.16.0.0"), 12, ip("10.0.0.1"), eth0);
  EXPECT_EQ(stack.ip_route_output(ip("172.16.5.9")).nexthop, ip("192.168.1.1"));
  EXPECT_EQ(stack.ip_route_output(ip("172.20.0.1")).nexthop, ip("10.0.0.1"));
}

TEST_F(RouteTest, host_route_beats_the_connected_subnet) {
  stack.add_route(ip("10.0.0.9"), 32, ip("192.168.1.1"), eth1);
  RouteResult r = stack.ip_route_output(ip("10.0.0.9"));
  EXPECT_EQ(r.dev->ifindex, eth1);
  EXPECT_EQ(r.saddr, ip("192.168.1.2"));
}

TEST_F(RouteTest, adding_the_same_prefix_replaces_the_route) {
  stack.add_route(0, 0, ip("10.0.0.1"), eth0);
  stack.add_route(0, 0, ip("192.168.1.1"), eth1);
  EXPECT_EQ(stack.ip_route_output(ip("8.8.8.8")).nexthop, ip("192.168.1.1"));
}

TEST_F(RouteTest, local_addresses_are_known) {
  EXPECT_TRUE(stack.is_local_address(ip("10.0.0.2")));
  EXPECT_FALSE(stack.is_local_address(ip("10.0.0.3")));
}

TEST_F(RouteTest, learned_pmtu_lowers_the_route_mtu) {
  stack.update_pmtu(ip("10.0.0.7"), 1400);
  EXPECT_EQ(stack.ip_route_output(ip("10.0.0.7")).mtu, 1400u);
  EXPECT_EQ(stack.ip_route_output(ip("10.0.0.8")).mtu, 1500u);
}

TEST_F(RouteTest, pmtu_never_rises_above_what_was_learned) {
  stack.update_pmtu(ip("10.0.0.7"), 1300);
  stack.update_pmtu(ip("10.0.0.7"), 1400);
  EXPECT_EQ(stack.ip_route_output(ip("10.0.0.7")).mtu, 1300u);
}

TEST_F(RouteTest, pmtu_is_clamped_to_the_minimum) {
  stack.update_pmtu(ip("10.0.0.7"), 68);
  EXPECT_EQ(stack.ip_route_output(ip("10.0.0.7")).mtu, 552u);
}

TEST_F(RouteTest, pmtu_expires_after_ten_minutes) {
  stack.update_pmtu(ip("10.0.0.7"), 1400);
  clock.advance_by(599 * kNsPerSec);
  EXPECT_EQ(stack.ip_route_output(ip("10.0.0.7")).mtu, 1400u);
  clock.advance_by(2 * kNsPerSec);
  EXPECT_EQ(stack.ip_route_output(ip("10.0.0.7")).mtu, 1500u);
}

TEST_F(RouteTest, route_metrics_come_with_the_route) {
  stack.add_route(ip("192.0.2.1"), 32, ip("10.0.0.1"), eth0);
  RouteMetrics m;
  m.advmss = 600;
  m.mtu = 640;
  m.initcwnd = 11;
  ASSERT_EQ(stack.change_route(ip("192.0.2.1"), 32, ip("10.0.0.1"), eth0, m), 0);
  RouteResult r = stack.ip_route_output(ip("192.0.2.1"));
  ASSERT_NE(r.dev, nullptr);
  EXPECT_EQ(r.mtu, 640u) << "the mtu metric replaces the device MTU";
  EXPECT_EQ(r.metrics.advmss, 600u);
  EXPECT_EQ(r.metrics.initcwnd, 11u);
  EXPECT_EQ(stack.ip_route_output(ip("10.0.0.7")).metrics.advmss, 0u) << "other routes: none";
}

TEST_F(RouteTest, change_route_needs_an_existing_route) {
  EXPECT_EQ(stack.change_route(ip("192.0.2.1"), 32, ip("10.0.0.1"), eth0, {}), -ENOENT);
  EXPECT_EQ(stack.ip_route_output(ip("192.0.2.1")).dev, nullptr);
}

TEST_F(RouteTest, locked_mtu_ignores_learned_pmtu) {
  stack.add_route(ip("192.0.2.1"), 32, ip("10.0.0.1"), eth0);
  stack.add_route(ip("192.0.2.2"), 32, ip("10.0.0.1"), eth0);
  RouteMetrics locked;
  locked.mtu = 1400;
  locked.mtu_locked = true;
  RouteMetrics unlocked;
  unlocked.mtu = 1400;
  ASSERT_EQ(stack.change_route(ip("192.0.2.1"), 32, ip("10.0.0.1"), eth0, locked), 0);
  ASSERT_EQ(stack.change_route(ip("192.0.2.2"), 32, ip("10.0.0.1"), eth0, unlocked), 0);
  stack.update_pmtu(ip("192.0.2.1"), 1200);
  stack.update_pmtu(ip("192.0.2.2"), 1200);
  EXPECT_EQ(stack.ip_route_output(ip("192.0.2.1")).mtu, 1400u);
  EXPECT_EQ(stack.ip_route_output(ip("192.0.2.2")).mtu, 1200u);
}

TEST_F(RouteTest, every_route_change_bumps_the_generation) {
  const std::uint32_t g0 = stack.route_genid();
  stack.add_route(ip("192.0.2.1"), 32, ip("10.0.0.1"), eth0);
  const std::uint32_t g1 = stack.route_genid();
  EXPECT_NE(g1, g0);
  ASSERT_EQ(stack.change_route(ip("192.0.2.1"), 32, ip("10.0.0.1"), eth0, {}), 0);
  EXPECT_NE(stack.route_genid(), g1);
}

}  // namespace
}  // namespace sp
