// ss's per-socket lines from known tcp_info values: labels, units, rounding
// and which fields ss leaves out (iproute2 misc/ss.c tcp_show_info and
// tcp_stats_print). The golden lines are `ss -tin` / `ss -tina` output of
// real Linux connections (iperf3 over loopback), trailing blanks trimmed.
#include "trace/ss.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "tcp/tcp.hpp"

namespace sp {
namespace {

std::uint32_t ip(const char* s) {
  in_addr a{};
  inet_pton(AF_INET, s, &a);
  return a.s_addr;
}

SsEntry estab() {
  SsEntry e;
  e.state = TCP_ESTABLISHED;
  e.src = ip("127.0.0.1");
  e.dst = ip("127.0.0.1");
  e.sport = 34362;
  e.dport = 5998;
  e.cong = "cubic";
  e.has_info = true;
  e.info.v.tcpi_reordering = 3;
  return e;
}

// A Linux 6.18 CUBIC sender in the middle of an iperf3 run.
SsEntry linux_cubic_sender() {
  SsEntry e = estab();
  e.wqueue = 2819903;
  ::tcp_info& i = e.info.v;
  i.tcpi_options = TCPI_OPT_WSCALE | TCPI_OPT_SACK | TCPI_OPT_TIMESTAMPS;
  i.tcpi_snd_wscale = 10;
  i.tcpi_rcv_wscale = 10;
  i.tcpi_rto = 204000;
  i.tcpi_rtt = 53;
  i.tcpi_rttvar = 42;
  i.tcpi_snd_mss = 65483;
  i.tcpi_pmtu = 65535;
  i.tcpi_rcv_mss = 536;
  i.tcpi_advmss = 65483;
  i.tcpi_snd_cwnd = 44;
  i.tcpi_snd_ssthresh = 44;
  i.tcpi_bytes_sent = 2836501293;
  i.tcpi_bytes_retrans = 170673;
  i.tcpi_bytes_acked = 2836199655;
  i.tcpi_segs_out = 50810;
  i.tcpi_segs_in = 20445;
  i.tcpi_data_segs_out = 50808;
  i.tcpi_last_data_sent = 4;
  i.tcpi_last_data_recv = 1204;
  i.tcpi_last_ack_recv = 4;
  i.tcpi_pacing_rate = 65235894339;  // bytes/s
  i.tcpi_max_pacing_rate = ~0ull;
  i.tcpi_delivery_rate = 4677357142;
  i.tcpi_delivered = 50806;
  i.tcpi_busy_time = 1188500;     // us
  i.tcpi_rwnd_limited = 1084000;  // us
  i.tcpi_unacked = 2;
  i.tcpi_total_retrans = 14;
  i.tcpi_dsack_dups = 13;
  i.tcpi_rcv_space = 65495;
  i.tcpi_rcv_ssthresh = 65495;
  i.tcpi_notsent_bytes = 2688937;
  i.tcpi_min_rtt = 2;
  i.tcpi_snd_wnd = 186368;
  return e;
}

TEST(SsInfo, linux_cubic_sender_line_as_ss_tin_prints_it) {
  SsOptions numeric;
  numeric.numeric = true;
  EXPECT_EQ(ss_tcp_info_text(linux_cubic_sender(), numeric),
            " cubic wscale:10,10 rto:204 rtt:0.053/0.042 mss:65483 pmtu:65535 rcvmss:536"
            " advmss:65483 cwnd:44 ssthresh:44 bytes_sent:2836501293 bytes_retrans:170673"
            " bytes_acked:2836199655 segs_out:50810 segs_in:20445 data_segs_out:50808"
            " send 434905962264bps lastsnd:4 lastrcv:1204 lastack:4"
            " pacing_rate 521887154712bps delivery_rate 37418857136bps delivered:50806"
            " busy:1188ms rwnd_limited:1084ms(91.2%) unacked:2 retrans:0/14 dsack_dups:13"
            " rcv_space:65495 rcv_ssthresh:65495 notsent:2688937 minrtt:0.002 snd_wnd:186368");
}

TEST(SsInfo, rates_in_short_units_without_numeric) {
  const std::string s = ss_tcp_info_text(linux_cubic_sender());
  EXPECT_NE(s.find(" send 435Gbps "), std::string::npos) << s;
  EXPECT_NE(s.find(" pacing_rate 522Gbps "), std::string::npos) << s;
  EXPECT_NE(s.find(" delivery_rate 37.4Gbps "), std::string::npos) << s;
}

TEST(SsInfo, sprint_bw_picks_the_unit_and_three_digits) {
  EXPECT_EQ(ss_sprint_bw(1289000000, false), "1.29G");
  EXPECT_EQ(ss_sprint_bw(2.5e6, false), "2.5M");
  EXPECT_EQ(ss_sprint_bw(1500, false), "1.5k");
  EXPECT_EQ(ss_sprint_bw(999, false), "999");
  EXPECT_EQ(ss_sprint_bw(4e12, false), "4T");
  EXPECT_EQ(ss_sprint_bw(123456789, false), "123M");
  EXPECT_EQ(ss_sprint_bw(123456789, true), "123456789");
}

TEST(SsInfo, linux_receiver_line) {
  SsEntry e = estab();
  ::tcp_info& i = e.info.v;
  i.tcpi_options = TCPI_OPT_WSCALE;
  i.tcpi_snd_wscale = 10;
  i.tcpi_rcv_wscale = 10;
  i.tcpi_rto = 200000;
  i.tcpi_rtt = 14;
  i.tcpi_rttvar = 7;
  i.tcpi_ato = 40000;
  i.tcpi_snd_mss = 32768;
  i.tcpi_pmtu = 65535;
  i.tcpi_rcv_mss = 65483;
  i.tcpi_advmss = 65483;
  i.tcpi_snd_cwnd = 10;
  i.tcpi_snd_ssthresh = 0x7fffffff;  // TCP_INFINITE_SSTHRESH: not shown
  i.tcpi_bytes_received = 2836330620;
  i.tcpi_segs_out = 20444;
  i.tcpi_segs_in = 50811;
  i.tcpi_data_segs_in = 50809;
  i.tcpi_last_data_sent = 1208;
  i.tcpi_last_data_recv = 8;
  i.tcpi_pacing_rate = 66890053155;
  i.tcpi_max_pacing_rate = ~0ull;
  i.tcpi_delivered = 1;
  i.tcpi_delivery_rate_app_limited = 1;
  i.tcpi_rcv_rtt = 22;
  i.tcpi_rcv_space = 524288;
  i.tcpi_rcv_ssthresh = 1878036;
  i.tcpi_min_rtt = 14;
  i.tcpi_snd_wnd = 65536;
  SsOptions numeric;
  numeric.numeric = true;
  EXPECT_EQ(ss_tcp_info_text(e, numeric),
            " cubic wscale:10,10 rto:200 rtt:0.014/0.007 ato:40 mss:32768 pmtu:65535"
            " rcvmss:65483 advmss:65483 cwnd:10 bytes_received:2836330620 segs_out:20444"
            " segs_in:50811 data_segs_in:50809 send 187245714286bps lastsnd:1208 lastrcv:8"
            " pacing_rate 535120425240bps delivered:1 app_limited rcv_rtt:0.022"
            " rcv_space:524288 rcv_ssthresh:1878036 minrtt:0.014 snd_wnd:65536");
}

TEST(SsInfo, busy_time_truncates_to_ms_and_shares_round_to_a_tenth) {
  SsEntry e = estab();
  e.info.v.tcpi_busy_time = 3999;       // 3.999 ms -> "busy:3ms"
  e.info.v.tcpi_rwnd_limited = 1333;    // 33.33 % -> 33.3
  e.info.v.tcpi_sndbuf_limited = 2666;  // 66.67 % -> 66.7
  EXPECT_EQ(ss_tcp_info_text(e),
            " cubic busy:3ms rwnd_limited:1ms(33.3%) sndbuf_limited:2ms(66.7%)");
}

TEST(SsInfo, limited_times_need_busy_time) {
  SsEntry e = estab();
  e.info.v.tcpi_rwnd_limited = 5000;  // without busy time ss prints neither
  EXPECT_EQ(ss_tcp_info_text(e), " cubic");
}

TEST(SsInfo, omission_rules) {
  SsEntry e = estab();
  ::tcp_info& i = e.info.v;
  i.tcpi_rto = 3000000;          // the old initial RTO: hidden
  i.tcpi_min_rtt = ~0u;          // no sample yet: hidden
  i.tcpi_pacing_rate = ~0ull;    // unlimited: hidden
  i.tcpi_snd_ssthresh = 0xFFFF;  // "infinite" from 0xFFFF up
  i.tcpi_reordering = 3;         // the default: hidden
  EXPECT_EQ(ss_tcp_info_text(e), " cubic");
  i.tcpi_reordering = 0;     // anything else is shown, zero too
  i.tcpi_total_retrans = 5;  // retrans shows "now/total" when either is set
  EXPECT_EQ(ss_tcp_info_text(e), " cubic retrans:0/5 reordering:0");
}

TEST(SsInfo, max_pacing_rate_follows_the_pacing_rate) {
  SsEntry e = estab();
  e.info.v.tcpi_pacing_rate = 125000;      // 1 Mbit/s
  e.info.v.tcpi_max_pacing_rate = 250000;  // 2 Mbit/s
  EXPECT_EQ(ss_tcp_info_text(e), " cubic pacing_rate 1Mbps/2Mbps");
}

TEST(SsInfo, listener_shows_its_cwnd_but_not_its_backlog_as_sacked) {
  SsEntry e;
  e.state = TCP_LISTEN;
  e.cong = "cubic";
  e.has_info = true;
  e.info.v.tcpi_snd_cwnd = 10;
  e.info.v.tcpi_reordering = 3;
  e.info.v.tcpi_sacked = 128;  // sk_max_ack_backlog
  EXPECT_EQ(ss_tcp_info_text(e), " cubic cwnd:10");
  e.info.v.tcpi_unacked = 2;  // accept queue
  EXPECT_EQ(ss_tcp_info_text(e), " cubic cwnd:10 unacked:2");
}

TEST(SsInfo, window_fields_of_newer_kernels_close_the_line) {
  SsEntry e = estab();
  e.info.v.tcpi_rcv_ooopack = 40;
  e.info.v.tcpi_snd_wnd = 65536;
  e.info.tcpi_rcv_wnd = 458496;
  EXPECT_EQ(ss_tcp_info_text(e), " cubic rcv_ooopack:40 snd_wnd:65536 rcv_wnd:458496");
}

TEST(SsTable, columns_as_ss_tina_lays_them_out) {
  SsEntry l;
  l.state = TCP_LISTEN;
  l.src = ip("0.0.0.0");
  l.sport = 2024;
  l.wqueue = 128;
  l.cong = "bbr";
  l.has_info = true;
  l.info.v.tcpi_snd_cwnd = 10;
  l.info.v.tcpi_reordering = 3;
  SsEntry tw;
  tw.state = TCP_TIME_WAIT;
  tw.src = ip("127.0.0.1");
  tw.sport = 5998;
  tw.dst = ip("127.0.0.1");
  tw.dport = 34356;
  EXPECT_EQ(ss_text({l, tw}),
            "State     Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n"
            "LISTEN    0      128          0.0.0.0:2024      0.0.0.0:*\n"
            "\t bbr cwnd:10\n"
            "TIME-WAIT 0      0          127.0.0.1:5998    127.0.0.1:34356\n"
            "\t\n");
}

TEST(SsTable, wide_queues_widen_their_columns) {
  SsEntry l;
  l.state = TCP_LISTEN;
  l.src = ip("127.0.0.1");
  l.sport = 5998;
  l.wqueue = 4096;
  SsEntry snd = estab();
  snd.wqueue = 2819903;
  SsEntry rcv = estab();
  rcv.sport = 5998;
  rcv.dport = 34362;
  rcv.rqueue = 1898583;
  const std::string t = ss_text({l, snd, rcv});
  const std::string first = t.substr(0, t.find('\n'));
  EXPECT_EQ(first, "State  Recv-Q  Send-Q  Local Address:Port  Peer Address:Port Process");
  EXPECT_NE(t.find("\nESTAB  0       2819903     127.0.0.1:34362    127.0.0.1:5998\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("\nLISTEN 0       4096        127.0.0.1:5998       0.0.0.0:*\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("\nESTAB  1898583 0           127.0.0.1:5998     127.0.0.1:34362\n"),
            std::string::npos)
      << t;
}

TEST(SsJson, raw_fields_and_addresses) {
  SsEntry e = linux_cubic_sender();
  const std::string j = ss_json({e});
  EXPECT_EQ(
      j.rfind("[{\"state\":\"ESTAB\",\"local\":\"127.0.0.1:34362\",\"peer\":\"127.0.0.1:5998\","
              "\"recv_q\":0,\"send_q\":2819903,\"cong\":\"cubic\",\"tcp_info\":{\"tcpi_state\":0,",
              0),
      0u)
      << j;
  EXPECT_NE(j.find("\"tcpi_bytes_acked\":2836199655"), std::string::npos);
  EXPECT_NE(j.find("\"tcpi_rwnd_limited\":1084000"), std::string::npos);
  EXPECT_NE(j.find("\"tcpi_total_rto_time\":0}}]"), std::string::npos);
}

}  // namespace
}  // namespace sp
