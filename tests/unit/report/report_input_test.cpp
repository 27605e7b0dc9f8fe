// The report's inputs: the trace's JSON lines, the socket picked from them,
// and the time-sequence items read from a capture's segments.
#include <gtest/gtest.h>

#include <cmath>

#include "report/capture.hpp"
#include "report/lod.hpp"
#include "report/trace_input.hpp"

namespace sp::report {
namespace {

TraceEvent parse(const std::string& line, std::string& scratch) {
  TraceEvent ev;
  EXPECT_EQ(parse_trace_line(line, ev, scratch), "") << line;
  return ev;
}

void feed(TraceCollector& tc, std::initializer_list<std::string> lines) {
  std::string scratch;
  for (const auto& l : lines) {
    TraceEvent ev;
    ASSERT_EQ(parse_trace_line(l, ev, scratch), "") << l;
    tc.add(ev);
  }
}

TEST(TraceLine, flat_object_numbers_strings_and_escapes) {
  std::string scratch;
  // The event's views point into the line: keep it alive while they are read.
  const std::string line =
      R"({"t_ns":1500,"stack":"client","event":"tcp:tcp_probe","saddr":"10.0.0.1",)"
      R"("snd_una":4294967295,"srtt":-1.5e3,"ok":true,"none":null,"note":"a\"b\\c\u0041"})";
  auto ev = parse(line, scratch);
  EXPECT_EQ(ev.t_ns, 1500);
  EXPECT_EQ(ev.stack, "client");
  EXPECT_EQ(ev.event, "tcp:tcp_probe");
  EXPECT_EQ(ev.str("saddr"), "10.0.0.1");
  EXPECT_EQ(ev.num("snd_una"), 4294967295.0);
  EXPECT_EQ(ev.num("srtt"), -1500.0);
  EXPECT_EQ(ev.num("ok"), 1.0);
  EXPECT_TRUE(std::isnan(*ev.num("none")));
  EXPECT_EQ(ev.str("note"), "a\"b\\cA");
  EXPECT_FALSE(ev.num("missing"));
}

TEST(TraceLine, malformed_lines_are_errors_not_crashes) {
  std::string scratch;
  TraceEvent ev;
  for (const char* bad : {"", "[1]", "{\"a\"", "{\"a\":}", "{\"a\":1", "{\"a\":{\"b\":1}}",
                          "{\"a\":\"x}", "{a:1}", "{\"a\":1 \"b\":2}"})
    EXPECT_NE(parse_trace_line(bad, ev, scratch), "") << bad;
}

TEST(TraceCollector, picks_the_socket_that_sent_and_keeps_its_state) {
  TraceCollector tc;
  feed(
      tc,
      {
          // The receiver's probes: its snd_una never moves.
          R"({"t_ns":100,"stack":"server","event":"tcp:tcp_probe","sock_cookie":9,"snd_una":5,"snd_nxt":5,"snd_cwnd":10,"ssthresh":2147483647})",
          R"({"t_ns":100,"stack":"client","event":"tcp:tcp_probe","sock_cookie":1,"snd_una":4294967000,"snd_nxt":4294967000,"snd_cwnd":10,"ssthresh":2147483647,"srtt":20000,"ca_state":0,"limit":"busy","pacing_rate":1250000})",
          R"({"t_ns":200,"stack":"client","event":"tcp:tcp_cong_state_set","sock_cookie":1,"cong_state":3,"cong_state_name":"Recovery"})",
          R"({"t_ns":210,"stack":"client","event":"sendpath:tcp_recovery_event","sock_cookie":1,"kind":"fast_retransmit","seq":4294967100})",
          R"({"t_ns":210,"stack":"client","event":"tcp:tcp_retransmit_skb","sock_cookie":1,"seq":4294967100,"end_seq":4294967200})",
          R"({"t_ns":220,"stack":"client","event":"sendpath:tcp_write_xmit","sock_cookie":1,"sent":1,"stop":"cwnd"})",
          R"({"t_ns":300,"stack":"client","event":"tcp:tcp_probe","sock_cookie":1,"snd_una":704,"snd_nxt":2000,"snd_cwnd":7,"ssthresh":7,"srtt":21000,"ca_state":3,"limit":"rwnd_limited"})",
          R"({"t_ns":310,"stack":"server","event":"skb:kfree_skb","reason":"TCP_CSUM","skbaddr":"0x1"})",
          R"({"t_ns":400,"stack":"server","event":"tcp:tcp_probe","sock_cookie":9,"snd_una":5,"snd_nxt":5,"snd_cwnd":10,"ssthresh":2147483647})",
      });
  TraceData d = tc.finish();
  EXPECT_EQ(d.stack, "client");
  EXPECT_EQ(d.sock_cookie, "1");
  ASSERT_EQ(d.probe_t.size(), 2u);
  EXPECT_EQ(d.probe[kCwnd][1], 7);
  EXPECT_TRUE(std::isnan(d.probe[kSsthresh][0])) << "infinite ssthresh is a gap";
  EXPECT_EQ(d.probe[kSrttMs][1], 21);
  EXPECT_EQ(d.probe[kPacingMbps][0], 10);
  ASSERT_EQ(d.cong_state.size(), 2u);
  EXPECT_EQ(d.cong_state[0].state, 0);
  EXPECT_EQ(d.cong_state[0].t1_ns, 200);
  EXPECT_EQ(d.cong_state[1].state, 3);
  EXPECT_EQ(d.cong_state[1].t1_ns, 400) << "the last interval lasts to the trace's end";
  ASSERT_EQ(d.limit.size(), 2u);
  EXPECT_EQ(kLimitNames[d.limit[1].state], "rwnd_limited");
  ASSERT_EQ(d.stop.size(), 1u);
  EXPECT_EQ(kStopNames[d.stop[0].state], "cwnd");
  ASSERT_EQ(d.recovery.size(), 1u);
  EXPECT_EQ(d.recovery[0].kind, "fast_retransmit");
  EXPECT_EQ(d.retransmits.size(), 1u);
  EXPECT_EQ(d.drop_reasons["TCP_CSUM"], 1u);
  EXPECT_EQ(d.event_counts["tcp:tcp_probe"], 4u);
}

TEST(TraceCollector, follows_the_first_data_skb_down_the_send_chain) {
  TraceCollector tc("client");
  feed(
      tc,
      {
          R"({"t_ns":1,"stack":"client","event":"sendpath:sock_sendmsg","sock_cookie":"0x1","len":3000})",
          R"({"t_ns":1,"stack":"client","event":"sendpath:tcp_sendmsg","sock_cookie":"0x1","len":3000})",
          // The handshake's ACK has the first data byte's sequence number, and
          // no data: not the segment to follow.
          R"({"t_ns":1,"stack":"client","event":"sendpath:tcp_transmit_skb","sock_cookie":"0x1","skbaddr":"0x9","seq":1,"end_seq":1,"len":32,"data_off":288,"tail_off":320,"end_off":512})",
          R"({"t_ns":2,"stack":"client","event":"sendpath:tcp_skb_entail","sock_cookie":"0x1","skbaddr":"0xa","seq":1,"end_seq":1,"len":0,"data_off":320,"tail_off":320,"end_off":1024})",
          R"({"t_ns":3,"stack":"client","event":"sendpath:tcp_transmit_skb","sock_cookie":"0x1","skbaddr":"0xb","seq":1,"end_seq":1001,"len":1032,"data_off":288,"tail_off":320,"end_off":1024})",
          R"({"t_ns":3,"stack":"client","event":"sendpath:tcp_transmit_skb","sock_cookie":"0x1","skbaddr":"0xc","seq":1001,"end_seq":2001,"len":1032,"data_off":288,"tail_off":320,"end_off":1024})",
          R"({"t_ns":4,"stack":"client","event":"sendpath:ip_queue_xmit","sock_cookie":"0x1","skbaddr":"0xb","seq":1,"end_seq":1001,"len":1052,"data_off":268,"tail_off":320,"end_off":1024})",
          R"({"t_ns":5,"stack":"client","event":"sendpath:dev_queue_xmit","sock_cookie":"0x1","skbaddr":"0xb","seq":1,"end_seq":1001,"len":1066,"data_off":254,"tail_off":320,"end_off":1024})",
          R"({"t_ns":6,"stack":"client","event":"sendpath:dev_queue_xmit","sock_cookie":"0x1","skbaddr":"0xc","seq":1001,"end_seq":2001,"len":1066,"data_off":254,"tail_off":320,"end_off":1024})",
      });
  TraceData d = tc.finish();
  ASSERT_EQ(d.skb_steps.size(), 6u);
  EXPECT_EQ(d.skb_steps[0].event, "sock_sendmsg");
  EXPECT_EQ(d.skb_steps[2].event, "tcp_skb_entail");
  EXPECT_EQ(d.skb_steps[3].event, "tcp_transmit_skb");
  EXPECT_EQ(d.skb_steps[3].num["data_off"], 288);
  EXPECT_EQ(d.skb_steps[5].event, "dev_queue_xmit");
  EXPECT_EQ(d.skb_steps[5].num["data_off"], 254);
}

TcpRecord seg(double t_us, bool fwd, std::uint32_t seq, std::uint32_t ack, std::uint32_t len,
              std::uint8_t flags = 0x10, std::uint16_t win = 1000) {
  TcpRecord r;
  r.t_ns = t_us * 1000;
  r.saddr = fwd ? 1 : 2;
  r.daddr = fwd ? 2 : 1;
  r.sport = fwd ? 40000 : 5001;
  r.dport = fwd ? 5001 : 40000;
  r.seq = seq;
  r.ack = ack;
  r.payload = len;
  r.flags = flags;
  r.win = win;
  return r;
}

TEST(Capture, time_sequence_items_of_the_data_direction) {
  const std::uint32_t isn = 0xfffffff0;  // wraps during the transfer
  std::vector<TcpRecord> recs;
  auto syn = seg(0, true, isn, 0, 0, 0x02, 65535);
  syn.wscale = 7;
  syn.mss = 1000;
  recs.push_back(syn);
  auto synack = seg(20000, false, 500, isn + 1, 0, 0x12, 65535);
  synack.wscale = 2;
  recs.push_back(synack);
  recs.push_back(seg(20010, true, isn + 1, 501, 0));
  recs.push_back(seg(20020, true, isn + 1, 501, 100, 0x18));  // 1..101
  recs.push_back(seg(20030, true, isn + 101, 501, 100));      // 101..201, lost
  recs.push_back(seg(20040, true, isn + 201, 501, 100));      // 201..301
  recs.push_back(seg(40020, false, 501, isn + 101, 0));       // ACK 101
  auto dup = seg(40040, false, 501, isn + 101, 0);
  dup.nsack = 1;
  dup.sack[0][0] = isn + 201;
  dup.sack[0][1] = isn + 301;
  recs.push_back(dup);
  recs.push_back(seg(40050, true, isn + 101, 501, 100));       // retransmission
  recs.push_back(seg(60050, false, 501, isn + 301, 0, 0x11));  // ACK all, FIN
  CaptureView v = analyze_capture(recs);
  ASSERT_TRUE(v.found);
  EXPECT_EQ(v.flow, "0.0.0.1:40000 -> 0.0.0.2:5001");
  ASSERT_EQ(v.segments.size(), 3u);
  EXPECT_EQ(v.segments[0].lo, 1);
  EXPECT_EQ(v.segments[2].hi, 301) << "relative across the 32-bit wrap";
  ASSERT_EQ(v.retransmits.size(), 1u);
  EXPECT_EQ(v.retransmits[0].lo, 101);
  EXPECT_EQ(v.retransmits[0].t_ns, 40050e3);
  ASSERT_EQ(v.dupacks.size(), 1u);
  EXPECT_EQ(v.dupacks[0].lo, 101);
  ASSERT_EQ(v.sacks.size(), 1u);
  EXPECT_EQ(v.sacks[0].lo, 201);
  EXPECT_EQ(v.sacks[0].hi, 301);
  // The receiver's window scale (2) scales its later windows, not its SYN's.
  ASSERT_EQ(v.rwnd.size(), 4u);
  EXPECT_EQ(v.rwnd[0].lo, 1 + 65535);
  EXPECT_EQ(v.rwnd[1].lo, 101 + 1000 * 4);
  // SYN, PSH and the peer's FIN marked.
  int syns = 0, pshs = 0, fins = 0;
  for (const auto& m : v.marks) {
    syns += (m.k & kMarkSyn) != 0;
    pshs += (m.k & kMarkPsh) != 0;
    fins += (m.k & kMarkFin) != 0;
  }
  EXPECT_EQ(syns, 2);
  EXPECT_EQ(pshs, 1);
  EXPECT_EQ(fins, 1);
}

TEST(Capture, the_direction_with_more_payload_is_the_data_flow) {
  std::vector<TcpRecord> recs = {seg(0, true, 1, 1, 10), seg(1, false, 1, 11, 5000),
                                 seg(2, true, 11, 5001, 0)};
  CaptureView v = analyze_capture(recs);
  EXPECT_EQ(v.flow, "0.0.0.2:5001 -> 0.0.0.1:40000");
  EXPECT_EQ(v.segments.size(), 1u);
}

}  // namespace
}  // namespace sp::report

namespace sp::report {
namespace {

// Many short states, each ending on what is a bucket boundary in exact
// arithmetic (and just inside the bucket in floating point): every level is
// written, and the coarse levels keep the state that lasted longest.
TEST(Lod, band_levels_of_many_states_on_bucket_boundaries) {
  std::vector<Interval> runs;
  const double span_ns = 2.654144e9;
  for (int i = 0; i < 20000; ++i) {
    const double t0 = span_ns * i / 20000, t1 = span_ns * (i + 1) / 20000;
    runs.push_back({t0, t1, i % 10 == 0 ? 1 : 0});
  }
  JsonOut j;
  TimeBase tb;
  tb.span_s = span_ns / 1e9;
  write_band(j, runs, kCongStateNames, tb);
  EXPECT_NE(j.str().find("\"levels\":[{"), std::string::npos);
  EXPECT_EQ(j.str().back(), '}');
}

}  // namespace
}  // namespace sp::report
