// --stats end to end: a lossy simulated transfer seen through the nstat and
// ss views (src/trace). The counters must agree with the run's own
// result, and the socket view taken at the last byte must show the
// connection established with every byte acknowledged.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/stack.hpp"
#include "harness/sim_transfer.hpp"
#include "tcp/tcp.hpp"
#include "trace/nstat.hpp"
#include "trace/ss.hpp"

namespace sp {
namespace {

std::uint64_t row(const std::vector<NstatRow>& rows, std::string_view name) {
  for (const NstatRow& r : rows)
    if (r.name == name) return r.value;
  return 0;
}

struct Seen {
  std::vector<SsEntry> client_last, server_last, client_closed;
  std::string client_last_text;
  std::vector<NstatRow> client_totals, server_totals;
  std::uint64_t interval_retrans = 0;
  std::vector<Nanos> interval_times;
  int last_byte_calls = 0;
};

TransferOptions lossy_transfer(Seen& seen) {
  TransferOptions o;
  o.size = 1ull << 20;
  o.seed = 7;
  for (SimPathConfig* p : {&o.link.a_to_b, &o.link.b_to_a}) {
    p->rate_bps = 100'000'000;
    p->delay = 10 * kNsPerMs;
    p->loss = 0.02;
  }
  o.stats_every = 200 * kNsPerMs;
  o.stats = [&seen, prev = std::vector<Mib>(2)](StatsPoint at, Stack& client, Stack& server,
                                                Nanos t) mutable {
    switch (at) {
      case StatsPoint::kInterval:
        seen.interval_times.push_back(t);
        for (int i = 0; i < 2; ++i) {
          Stack& st = i ? server : client;
          seen.interval_retrans += row(nstat_rows(st.mib(), &prev[i]), "TcpRetransSegs");
          prev[i] = st.mib();
        }
        break;
      case StatsPoint::kLastByte:
        ++seen.last_byte_calls;
        seen.client_last = ss_collect(client);
        seen.server_last = ss_collect(server);
        seen.client_last_text = ss_text(seen.client_last);
        break;
      case StatsPoint::kClosed:
        seen.client_closed = ss_collect(client);
        seen.client_totals = nstat_rows(client.mib(), nullptr);
        seen.server_totals = nstat_rows(server.mib(), nullptr);
        break;
    }
  };
  return o;
}

TEST(StatsEndToEnd, lossy_transfer_counters_and_sockets_agree_with_the_run) {
  Seen seen;
  const TransferOptions o = lossy_transfer(seen);
  const TransferResult r = run_transfer(o);
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_GT(r.to_server.loss_drops, 0u);

  // nstat -a at the end: the retransmissions the run counted.
  const std::uint64_t retrans =
      row(seen.client_totals, "TcpRetransSegs") + row(seen.server_totals, "TcpRetransSegs");
  EXPECT_GT(retrans, 0u);
  EXPECT_EQ(retrans, r.retransmits);
  EXPECT_NE(nstat_text(seen.client_totals).find("\nTcpRetransSegs "), std::string::npos);
  // The interval deltas add up to no more than the total (the last
  // interval's tail is only in the total).
  EXPECT_LE(seen.interval_retrans, retrans);
  ASSERT_FALSE(seen.interval_times.empty());
  for (std::size_t i = 0; i < seen.interval_times.size(); ++i)
    EXPECT_EQ(seen.interval_times[i], static_cast<Nanos>(i + 1) * o.stats_every);

  // ss at the last byte: the sender still ESTABLISHED, all acknowledged.
  ASSERT_EQ(seen.last_byte_calls, 1);
  ASSERT_EQ(seen.client_last.size(), 1u);
  const SsEntry& c = seen.client_last[0];
  EXPECT_EQ(c.state, TCP_ESTABLISHED);
  EXPECT_EQ(c.wqueue, 0u);
  // Linux counts the SYN in bytes_acked (its ACK moves snd_una by one), so
  // an established sender that sent N bytes shows N + 1, as ss shows for
  // any Linux connection.
  EXPECT_EQ(c.info.v.tcpi_bytes_acked, o.size + 1);
  EXPECT_EQ(c.info.v.tcpi_bytes_sent - c.info.v.tcpi_bytes_retrans, o.size);
  EXPECT_EQ(c.info.v.tcpi_total_retrans, row(seen.client_totals, "TcpRetransSegs"));
  EXPECT_NE(seen.client_last_text.find("\nESTAB 0      0 "), std::string::npos)
      << seen.client_last_text;
  EXPECT_NE(seen.client_last_text.find(" bytes_acked:" + std::to_string(o.size + 1) + " "),
            std::string::npos)
      << seen.client_last_text;
  EXPECT_NE(seen.client_last_text.find(" retrans:0/" + std::to_string(c.info.v.tcpi_total_retrans)),
            std::string::npos)
      << seen.client_last_text;
  // The server: its listener and the accepted connection, all bytes read.
  ASSERT_EQ(seen.server_last.size(), 2u);
  EXPECT_EQ(seen.server_last[0].state, TCP_LISTEN);
  EXPECT_EQ(seen.server_last[1].state, TCP_ESTABLISHED);
  EXPECT_EQ(seen.server_last[1].info.v.tcpi_bytes_received, o.size);
  EXPECT_EQ(seen.server_last[1].rqueue, 0u);

  // After close the client (which closed first) is left in TIME-WAIT.
  ASSERT_EQ(seen.client_closed.size(), 1u);
  EXPECT_EQ(seen.client_closed[0].state, TCP_TIME_WAIT);
  EXPECT_FALSE(seen.client_closed[0].has_info);
}

TEST(StatsEndToEnd, interval_views_show_the_handshake_states) {
  // 10 ms each way: the SYN is in flight at 5 ms (client SYN-SENT) and the
  // SYN-ACK at 15 ms (a request sock on the server, SYN-RECV as ss lists it).
  TransferOptions o;
  o.size = 64 * 1024;
  for (SimPathConfig* p : {&o.link.a_to_b, &o.link.b_to_a}) {
    p->rate_bps = 100'000'000;
    p->delay = 10 * kNsPerMs;
  }
  o.stats_every = 5 * kNsPerMs;
  std::string client_views, server_views;
  o.stats = [&](StatsPoint at, Stack& client, Stack& server, Nanos) {
    if (at != StatsPoint::kInterval) return;
    client_views += ss_text(ss_collect(client));
    server_views += ss_text(ss_collect(server));
  };
  const TransferResult r = run_transfer(o);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_NE(client_views.find("\nSYN-SENT "), std::string::npos) << client_views;
  EXPECT_NE(server_views.find("\nSYN-RECV "), std::string::npos) << server_views;
  EXPECT_NE(server_views.find("\nLISTEN "), std::string::npos) << server_views;
}

}  // namespace
}  // namespace sp
