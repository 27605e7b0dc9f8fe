// nstat's text and JSON layout of the MIB (iproute2 misc/nstat.c), checked
// against rows as `nstat -a` prints them on Linux.
#include "trace/nstat.hpp"

#include <gtest/gtest.h>

namespace sp {
namespace {

TEST(Nstat, absolute_rows_use_nstats_columns) {
  Mib m;
  m.inc(MibId::IpInReceives, 253859);
  m.inc(MibId::TcpRetransSegs, 62);
  // Copied from `nstat -a` on Linux: %-32s%-16llu%6.1f.
  EXPECT_EQ(nstat_text(nstat_rows(m, nullptr)),
            "#kernel\n"
            "IpInReceives                    253859             0.0\n"
            "TcpRetransSegs                  62                 0.0\n");
}

TEST(Nstat, zero_counters_only_with_zeros) {
  Mib m;
  m.inc(MibId::TcpOutSegs, 3);
  const auto rows = nstat_rows(m, nullptr);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].name, "TcpOutSegs");
  NstatOptions z;
  z.zeros = true;
  // -z lists every counter but the gauge nstat always hides.
  EXPECT_EQ(nstat_rows(m, nullptr, z).size(), static_cast<std::size_t>(MibId::kCount) - 1);
}

TEST(Nstat, current_established_gauge_is_never_shown) {
  Mib m;
  m.inc(MibId::TcpCurrEstab, 2);
  NstatOptions z;
  z.zeros = true;
  for (const NstatRow& r : nstat_rows(m, nullptr, z)) EXPECT_NE(r.name, "TcpCurrEstab");
}

TEST(Nstat, interval_rows_are_increases_with_rates) {
  Mib before, after;
  before.inc(MibId::TcpOutSegs, 100);
  before.inc(MibId::TcpInSegs, 40);
  after.inc(MibId::TcpOutSegs, 350);
  after.inc(MibId::TcpInSegs, 40);  // unchanged: not listed
  NstatOptions o;
  o.interval_s = 0.5;
  EXPECT_EQ(nstat_text(nstat_rows(after, &before, o)),
            "#kernel\n"
            "TcpOutSegs                      250              500.0\n");
}

TEST(Nstat, long_names_push_the_value_right_as_printf_does) {
  Mib m;
  m.inc(MibId::TcpExtTCPSackRecoveryFail, 7);
  EXPECT_EQ(nstat_text(nstat_rows(m, nullptr)),
            "#kernel\n"
            "TcpExtTCPSackRecoveryFail       7                  0.0\n");
  Mib n;
  n.inc(MibId::TcpExtTCPACKSkippedChallenge, 1);  // 28 characters: still padded to 32
  EXPECT_EQ(nstat_text(nstat_rows(n, nullptr)),
            "#kernel\n"
            "TcpExtTCPACKSkippedChallenge    1                  0.0\n");
}

TEST(Nstat, json_is_nstat_j) {
  Mib m;
  m.inc(MibId::IpInReceives, 5);
  m.inc(MibId::TcpExtTCPSackRecovery, 2);
  EXPECT_EQ(nstat_json(nstat_rows(m, nullptr)),
            "{\"kernel\":{\"IpInReceives\":5,\"TcpExtTCPSackRecovery\":2}}");
}

}  // namespace
}  // namespace sp
