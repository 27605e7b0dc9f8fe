// The sysctl table by name, as packetdrill scripts and the CLI set it.
#include "core/sysctl.hpp"

#include <gtest/gtest.h>

#include "core/mib.hpp"

namespace sp {
namespace {

TEST(Sysctl, defaults_read_as_proc_sys_prints_them) {
  Sysctl s;
  EXPECT_EQ(s.get("net.ipv4.tcp_wmem"), "4096\t16384\t4194304");
  EXPECT_EQ(s.get("net.ipv4.tcp_rmem"), "4096\t131072\t6291456");
  EXPECT_EQ(s.get("net.ipv4.tcp_congestion_control"), "cubic");
  EXPECT_EQ(s.get("net.ipv4.tcp_notsent_lowat"), "4294967295");
  EXPECT_EQ(s.get("net.core.wmem_max"), "212992");
}

TEST(Sysctl, dotted_and_slashed_names_are_the_same_entry) {
  Sysctl s;
  EXPECT_EQ(s.set("net/ipv4/tcp_autocorking", "0"), "");
  EXPECT_EQ(s.tcp_autocorking, 0);
  EXPECT_EQ(s.get("net.ipv4.tcp_autocorking"), "0");
}

TEST(Sysctl, vector_takes_space_or_tab_separated_numbers) {
  Sysctl s;
  EXPECT_EQ(s.set("net.ipv4.tcp_wmem", "4096 65536\t1048576"), "");
  EXPECT_EQ(s.tcp_wmem[0], 4096);
  EXPECT_EQ(s.tcp_wmem[1], 65536);
  EXPECT_EQ(s.tcp_wmem[2], 1048576);
}

TEST(Sysctl, short_vector_updates_only_the_given_values) {
  Sysctl s;
  EXPECT_EQ(s.set("net.ipv4.tcp_rmem", "8192"), "");
  EXPECT_EQ(s.tcp_rmem[0], 8192);
  EXPECT_EQ(s.tcp_rmem[1], 131072);
  EXPECT_EQ(s.tcp_rmem[2], 6291456);
}

TEST(Sysctl, unknown_name_is_an_error) {
  Sysctl s;
  EXPECT_NE(s.set("net.ipv4.tcp_no_such_thing", "1"), "");
  EXPECT_EQ(s.get("net.ipv4.tcp_no_such_thing"), std::nullopt);
}

TEST(Sysctl, non_number_is_an_error_and_keeps_the_value) {
  Sysctl s;
  EXPECT_NE(s.set("net.ipv4.tcp_sack", "yes"), "");
  EXPECT_NE(s.set("net.ipv4.tcp_sack", "1x"), "");
  EXPECT_NE(s.set("net.ipv4.tcp_sack", ""), "");
  EXPECT_EQ(s.tcp_sack, 1);
}

TEST(Sysctl, out_of_range_is_an_error_and_keeps_the_value) {
  Sysctl s;
  EXPECT_NE(s.set("net.ipv4.ip_default_ttl", "0"), "");
  EXPECT_NE(s.set("net.ipv4.ip_default_ttl", "256"), "");
  EXPECT_NE(s.set("net.ipv4.tcp_min_tso_segs", "0"), "");
  EXPECT_NE(s.set("net.ipv4.tcp_wmem", "0 16384 4194304"), "");
  EXPECT_EQ(s.ip_default_ttl, 64);
  EXPECT_EQ(s.tcp_min_tso_segs, 2);
  EXPECT_EQ(s.tcp_wmem[0], 4096);
}

TEST(Sysctl, too_many_vector_values_is_an_error) {
  Sysctl s;
  EXPECT_NE(s.set("net.ipv4.tcp_wmem", "1 2 3 4"), "");
  EXPECT_EQ(s.tcp_wmem[0], 4096);
}

TEST(Sysctl, negative_values_where_linux_allows_them) {
  Sysctl s;
  EXPECT_EQ(s.set("net.ipv4.tcp_adv_win_scale", "-2"), "");
  EXPECT_EQ(s.tcp_adv_win_scale, -2);
}

TEST(Sysctl, string_value_is_set_by_name) {
  Sysctl s;
  EXPECT_EQ(s.set("net.ipv4.tcp_congestion_control", "reno"), "");
  EXPECT_EQ(s.tcp_congestion_control, "reno");
  EXPECT_NE(s.set("net.ipv4.tcp_congestion_control", "two words"), "");
}

TEST(Sysctl, unsigned_value_accepts_the_full_range) {
  Sysctl s;
  EXPECT_EQ(s.set("net.ipv4.tcp_notsent_lowat", "131072"), "");
  EXPECT_EQ(s.tcp_notsent_lowat, 131072u);
  EXPECT_NE(s.set("net.ipv4.tcp_notsent_lowat", "-1"), "");
}

TEST(Sysctl, every_listed_name_can_be_read_and_written_back) {
  Sysctl s;
  const auto names = Sysctl::names();
  EXPECT_GT(names.size(), 60u);
  for (const auto& n : names) {
    auto v = s.get(n);
    ASSERT_TRUE(v.has_value()) << n;
    EXPECT_EQ(s.set(n, *v), "") << n;
    EXPECT_EQ(s.get(n), v) << n;
  }
}

TEST(Mib, names_match_linux_counter_names) {
  EXPECT_EQ(Mib::name(MibId::IpInReceives), "IpInReceives");
  EXPECT_EQ(Mib::name(MibId::TcpRetransSegs), "TcpRetransSegs");
  EXPECT_EQ(Mib::name(MibId::TcpExtTCPSackShiftFallback), "TcpExtTCPSackShiftFallback");
}

TEST(Mib, counters_start_at_zero_and_count) {
  Mib m;
  EXPECT_EQ(m.get(MibId::TcpOutSegs), 0u);
  m.inc(MibId::TcpOutSegs);
  m.inc(MibId::TcpOutSegs, 4);
  EXPECT_EQ(m.get(MibId::TcpOutSegs), 5u);
}

}  // namespace
}  // namespace sp
