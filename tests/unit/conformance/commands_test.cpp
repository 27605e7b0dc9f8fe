// Backtick commands become sysctl assignments; nothing else is run.
#include "commands.hpp"

#include <gtest/gtest.h>

namespace sp::drill {
namespace {

const std::string kTcpDir = std::string(SP_CORPUS_DIR) + "/gtests/net/tcp/blocking";

const SysctlAssignment* find(const CommandPlan& p, const std::string& name) {
  const SysctlAssignment* last = nullptr;
  for (const auto& a : p.sysctls)
    if (a.name == name) last = &a;
  return last;
}

TEST(DrillCommands, DefaultsShIsReadForItsSysctls) {
  CommandPlan p = plan_command("../common/defaults.sh", kTcpDir);
  ASSERT_FALSE(p.unsupported) << *p.unsupported;
  const SysctlAssignment* wmem = find(p, "net.ipv4.tcp_wmem");
  ASSERT_TRUE(wmem);
  EXPECT_EQ(wmem->value, "4096 262144 4194304");  // $((256*1024)) expanded
  EXPECT_TRUE(wmem->from_defaults);
  const SysctlAssignment* rmem = find(p, "net.ipv4.tcp_rmem");
  ASSERT_TRUE(rmem);
  EXPECT_EQ(rmem->value, "4096 540000 15728640");
  ASSERT_TRUE(find(p, "net.ipv4.tcp_recovery"));
  EXPECT_EQ(find(p, "net.ipv4.tcp_early_retrans")->value, "4");
  EXPECT_EQ(find(p, "net.ipv4.tcp_congestion_control")->value, "cubic");
  EXPECT_FALSE(p.ignored.empty());  // ip tcp_metrics flush, tc qdisc add ... pfifo
}

TEST(DrillCommands, SysctlAndSetSysctlsLinesAreAssignments) {
  CommandPlan p = plan_command(
      "../common/defaults.sh\n sysctl -q net.ipv4.tcp_tso_win_divisor=100\n"
      " ../common/set_sysctls.py /proc/sys/net/ipv4/tcp_min_tso_segs=10 \\\n"
      "    /proc/sys/net/ipv4/tcp_wmem=\"4096 50000 4194304\"\n"
      "sysctl -q net/ipv4/tcp_pacing_ss_ratio=200\n",
      kTcpDir);
  ASSERT_FALSE(p.unsupported) << *p.unsupported;
  EXPECT_EQ(find(p, "net.ipv4.tcp_tso_win_divisor")->value, "100");
  EXPECT_FALSE(find(p, "net.ipv4.tcp_tso_win_divisor")->from_defaults);
  EXPECT_EQ(find(p, "net.ipv4.tcp_min_tso_segs")->value, "10");
  EXPECT_EQ(find(p, "net.ipv4.tcp_wmem")->value,
            "4096 50000 4194304");  // the script's, after defaults
  EXPECT_EQ(find(p, "net.ipv4.tcp_pacing_ss_ratio")->value, "200");
}

TEST(DrillCommands, FqQdiscIsADeviceActionButTunedFqIsUnsupported) {
  CommandPlan p =
      plan_command("../common/defaults.sh\ntc qdisc replace dev tun0 root fq\n", kTcpDir);
  ASSERT_FALSE(p.unsupported) << *p.unsupported;
  ASSERT_FALSE(p.device.empty());
  EXPECT_EQ(p.device.back(), DeviceAction::kQdiscFq);
  CommandPlan tuned = plan_command("tc qdisc replace dev tun0 root fq quantum 3000", ".");
  ASSERT_TRUE(tuned.unsupported);
  EXPECT_EQ(*tuned.unsupported, "shell command `tc qdisc replace dev tun0 root fq quantum 3000`");
}

TEST(DrillCommands, ZeroLengthFifoRefusesTransmitsAndDeleteRestoresTheFifo) {
  CommandPlan p = plan_command(
      "tc qdisc delete dev tun0 root 2>/dev/null ; tc qdisc add dev tun0 root pfifo limit 0", ".");
  ASSERT_FALSE(p.unsupported) << *p.unsupported;
  ASSERT_EQ(p.device.size(), 2u);
  EXPECT_EQ(p.device[0], DeviceAction::kQdiscFifo);
  EXPECT_EQ(p.device[1], DeviceAction::kQdiscDropAll);
}

TEST(DrillCommands, IpRouteChangeCarriesTheRouteMetrics) {
  CommandPlan p = plan_command(
      "ip route change 192.0.2.1 via 192.168.0.2 dev tun0 advmss 600 mtu lock 640 initcwnd 11",
      kTcpDir);
  ASSERT_FALSE(p.unsupported) << *p.unsupported;
  ASSERT_EQ(p.routes.size(), 1u);
  const RouteChange& rc = p.routes[0];
  EXPECT_EQ(rc.dst, 0xC0000201u);
  EXPECT_EQ(rc.prefix_len, 32);
  EXPECT_EQ(rc.gateway, 0xC0A80002u);
  EXPECT_EQ(rc.advmss, 600u);
  EXPECT_EQ(rc.mtu, 640u);
  EXPECT_TRUE(rc.mtu_lock);
  EXPECT_EQ(rc.initcwnd, 11u);

  CommandPlan unlocked =
      plan_command("ip route change 192.0.2.1 via 192.168.0.2 dev tun0 mtu 1500", kTcpDir);
  ASSERT_FALSE(unlocked.unsupported) << *unlocked.unsupported;
  EXPECT_FALSE(unlocked.routes.at(0).mtu_lock);
  EXPECT_EQ(unlocked.routes.at(0).advmss, 0u) << "a metric not named is unset";
}

TEST(DrillCommands, OtherRouteFormsAndOffloadsStayUnsupported) {
  for (const char* c : {"ip route change 192.0.2.1 via 192.168.0.2 dev tun0 rtt 10",
                        "ip route change 192.0.2.1 dev tun0 advmss 600",
                        "ip route change 192.0.2.1 via 192.168.0.2 dev eth0 mtu 600",
                        "ip route change 192.0.2.1 via 192.168.0.2 dev tun0 mtu lock",
                        "ip route add 192.0.2.1 via 192.168.0.2 dev tun0 mtu 600",
                        "ethtool -K tun0 gso on", "ethtool -K tun0 gro off"}) {
    CommandPlan p = plan_command(c, kTcpDir);
    EXPECT_TRUE(p.unsupported) << c;
    EXPECT_TRUE(p.routes.empty()) << c;
    EXPECT_FALSE(p.offloads_off) << c;
  }
  CommandPlan p = plan_command("ethtool -K tun0 gso off tso off", kTcpDir);
  ASSERT_FALSE(p.unsupported) << *p.unsupported;
  EXPECT_TRUE(p.offloads_off);
}

TEST(DrillCommands, CubicParameterAtLinuxDefaultIsANoOpOtherValuesAreNot) {
  CommandPlan p = plan_command("echo 3 > /sys/module/tcp_cubic/parameters/hystart_detect", ".");
  EXPECT_FALSE(p.unsupported);
  EXPECT_EQ(p.ignored.size(), 1u);
  EXPECT_TRUE(
      plan_command("echo 2 > /sys/module/tcp_cubic/parameters/hystart_detect", ".").unsupported);
}

TEST(DrillCommands, ArbitraryShellIsUnsupported) {
  EXPECT_TRUE(plan_command("echo 3 > /proc/sys/net/ipv4/tcp_sack", ".").unsupported);
  EXPECT_TRUE(plan_command("cat /etc/passwd | wc", ".").unsupported);
  EXPECT_TRUE(plan_command("sysctl -q $(evil)", ".").unsupported);
}

TEST(DrillCommands, RestoreScriptIsANoOp) {
  CommandPlan p = plan_command("/tmp/sysctl_restore_${PPID}.sh", ".");
  EXPECT_FALSE(p.unsupported);
  EXPECT_EQ(p.ignored.size(), 1u);
}

}  // namespace
}  // namespace sp::drill
