// scripts/netns-lab and TunConfig::netns together: the script makes the
// namespace and Linux's end of the tap; sendpath attaches from outside.
#include <sys/stat.h>

#include <filesystem>

#include "gtest/gtest.h"
#include "interop_lab.hpp"

namespace sp::interop {
namespace {

ino_t netns_inode() {
  struct stat st {};
  ::stat("/proc/self/ns/net", &st);
  return st.st_ino;
}

struct LabScript {
  std::string ns = "splt" + unique_suffix();
  std::string tap = "splt" + unique_suffix();
  std::string run(const std::string& verb) const {
    return "env NS=" + ns + " TAP=" + tap + " " SP_SOURCE_DIR "/scripts/netns-lab " + verb;
  }
  ~LabScript() { sh(run("down")); }
};

TEST(NetnsLab, UpTwiceThenDownTwiceSucceedsAndLeavesNothing) {
  if (const char* why = lab_unavailable()) {
    GTEST_SKIP() << why;
  }
  LabScript lab;
  EXPECT_TRUE(sh(lab.run("up")));
  EXPECT_TRUE(sh(lab.run("up"))) << "up must be idempotent";
  EXPECT_TRUE(sh("ip netns exec " + lab.ns + " ip link show dev " + lab.tap));
  EXPECT_TRUE(sh(lab.run("down")));
  EXPECT_TRUE(sh(lab.run("down"))) << "down must be idempotent";
  EXPECT_FALSE(std::filesystem::exists("/var/run/netns/" + lab.ns));
}

TEST(NetnsLab, SendpathOwnsTheLabTapFromOutsideAndLinuxCanPingIt) {
  if (const char* why = lab_unavailable()) {
    GTEST_SKIP() << why;
  }
  LabScript lab;
  ASSERT_TRUE(sh(lab.run("up")));
  const ino_t before = netns_inode();

  MonotonicClock clock;
  Stack stack(clock);
  TunConfig cfg;
  cfg.name = lab.tap;
  cfg.netns = lab.ns;
  std::string err;
  auto dev = TapDevice::open(cfg, &err);
  ASSERT_NE(dev, nullptr) << err;
  EXPECT_EQ(netns_inode(), before) << "the process must stay in its own namespace";
  const int ifindex = stack.register_netdev(std::move(dev));
  stack.add_address(ifindex, inet(kSendpathIp), 24);
  RealtimeLoop loop(stack);
  arp_announce(stack, ifindex);

  // Linux's side, in the lab: a ping over the link the script made.
  NetnsChild child(lab.ns, [] {
    return std::system(
               "timeout 10 sh -c 'command -v ping >/dev/null || exit 0; "
               "ping -c 2 -W 2 10.77.0.2 >/dev/null'") == 0
               ? 0
               : 1;
  });
  if (child.pidfd() >= 0) loop.watch_fd(child.pidfd(), [] {});
  ASSERT_TRUE(loop.run_until([&] { return child.done(); }, clock.now_ns() + 20 * kNsPerSec));
  EXPECT_EQ(child.status(), 0);
  // The kernel end reports carrier once our fd is attached.
  EXPECT_TRUE(sh("sh -c 'ip netns exec " + lab.ns + " ip link show dev " + lab.tap +
                 " | grep -q LOWER_UP'"));
}

}  // namespace
}  // namespace sp::interop
