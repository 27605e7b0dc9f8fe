// The transmit schedule under the script device's `fq` qdisc, as Linux 6.12
// builds it: EDT departure times from tcp_update_skb_after_send (the first
// 10 segments unpaced, then each skb's length at sk_pacing_rate), TCP small
// queues throttling the socket while two skbs wait in the qdisc, and each
// completion (the qdisc releasing an skb at its departure time, tcp_wfree)
// letting tcp_write_xmit hand over exactly one more skb. The departures are
// checked by the scripts' own outbound lines (with no timing tolerance), the
// decisions by sendpath:tcp_write_xmit events and the HyStart counters.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "core/stack.hpp"
#include "parser.hpp"
#include "runner.hpp"
#include "trace/sinks.hpp"

namespace sp::drill {
namespace {

struct DrillRun {
  ScriptResult result;
  Mib mib;  // the stack's counters when the script ended
};

DrillRun run_inline(const std::string& text) {
  DrillRun out;
  // The script sits in the corpus's tcp/cubic directory for defaults.sh.
  const std::string path = std::string(SP_CORPUS_DIR) + "/gtests/net/tcp/cubic/inline.pkt";
  auto parsed = parse_script(text, path);
  if (auto* e = std::get_if<ParseError>(&parsed)) {
    ADD_FAILURE() << e->to_string(path);
    return out;
  }
  Stack* stack = nullptr;
  RunnerConfig cfg;
  // Exact departure times on the pure virtual clock: each event exactly at
  // its scripted time, so the schedule is the stack's alone.
  cfg.event_latency_us = 0;
  cfg.make_target = [&stack](Stack& st) {
    stack = &st;
    return sendpath_target_factory()(st);
  };
  cfg.on_result = [&](const ScriptResult&) {
    if (stack) out.mib = stack->mib();
  };
  out.result = run_script(std::get<Script>(parsed), cfg);
  return out;
}

struct XmitCall {
  std::uint64_t t_ns;
  std::uint32_t sent;
  std::string stop;
};

std::string describe(const std::vector<XmitCall>& calls) {
  std::string s;
  for (const XmitCall& c : calls)
    s +=
        "[t_ns " + std::to_string(c.t_ns) + " sent " + std::to_string(c.sent) + " " + c.stop + "] ";
  return s;
}

// The tcp_write_xmit calls that sent something, in order (the handshake
// sends nothing through tcp_write_xmit; the runner's close at the end of a
// script queues a FIN that the full window holds back).
std::vector<XmitCall> xmit_calls(const trace::Recorder& rec) {
  std::vector<XmitCall> calls;
  for (const auto& e : rec.of<trace::TcpWriteXmit>(trace::Ev::tcp_write_xmit))
    if (e.sent) calls.push_back({e.t_ns, e.sent, std::string(e.stop)});
  return calls;
}

// initcwnd 20 and a 20000-byte write at a 100 ms RTT: sk_pacing_rate is
// 200% * 20 * 1000 B / 100 ms = 400 kB/s, so tcp_tso_autosize makes 2-segment
// skbs (min_tso_segs) and each leaves 2000 B / 400 kB/s = 5 ms after the
// previous one once the first 10 segments are out.
const char* kPacedBurst =
    "--tolerance_usecs=0\n"
    "`../../common/defaults.sh\n"
    "tc qdisc replace dev tun0 root fq\n"
    "ip route change 192.0.2.1 via 192.168.0.2 dev tun0 initcwnd 20`\n"
    "    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
    "   +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0\n"
    "   +0 bind(3, ..., ...) = 0\n"
    "   +0 listen(3, 1) = 0\n"
    "   +0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 10>\n"
    "   +0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>\n"
    "  +.1 < . 1:1(0) ack 1 win 514\n"
    "   +0 accept(3, ..., ...) = 4\n"
    "   +0 write(4, ..., 20000) = 20000\n"
    "   +0 > P. 1:2001(2000) ack 1\n"
    "   +0 > P. 2001:4001(2000) ack 1\n"
    "   +0 > P. 4001:6001(2000) ack 1\n"
    "   +0 > P. 6001:8001(2000) ack 1\n"
    "   +0 > P. 8001:10001(2000) ack 1\n"
    "+.005 > P. 10001:12001(2000) ack 1\n"
    "+.005 > P. 12001:14001(2000) ack 1\n"
    "+.005 > P. 14001:16001(2000) ack 1\n"
    "+.005 > P. 16001:18001(2000) ack 1\n"
    "+.005 > P. 18001:20001(2000) ack 1\n"
    "   +0 %{ assert tcpi_snd_cwnd == 20, tcpi_snd_cwnd }%\n";

TEST(FqSchedule, PacedSkbsLeaveAtTheirDepartureTimeOnePerCompletion) {
  trace::Recorder rec(trace::ev_bit(trace::Ev::tcp_write_xmit));
  DrillRun r = run_inline(kPacedBurst);
  ASSERT_EQ(r.result.kind, ScriptResult::Kind::kPass) << r.result.line << ": " << r.result.reason;

  // The write hands the qdisc the 5 unpaced skbs (each leaves at once and
  // completes) and 2 paced ones (held: sk_wmem_alloc is then above
  // 2 * truesize), and TSQ stops it. Each later call is the TSQ handler
  // after one held skb left: it adds exactly one skb (2000 bytes), 5 ms
  // apart, until the write queue is empty.
  const std::vector<XmitCall> calls = xmit_calls(rec);
  ASSERT_EQ(calls.size(), 4u) << describe(calls);
  EXPECT_EQ(calls[0].sent, 7u);
  EXPECT_EQ(calls[0].stop, "tsq");
  for (std::size_t i = 1; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i].sent, 1u) << "call " << i;
    EXPECT_EQ(calls[i].t_ns - calls[0].t_ns, i * 5'000'000ull) << "call " << i;
  }
  EXPECT_EQ(calls[1].stop, "tsq");
  EXPECT_EQ(calls[2].stop, "tsq");
  EXPECT_EQ(calls[3].stop, "empty");
}

// cubic-bulk-166k.pkt up to the ACK of 28001, with the packets the stack
// sends written out: 10 segments at the write, then at each ACK (2 segments
// acked, cwnd + 2) one 4-segment skb, at the ACK's own time. The pacing
// delays (4000 B at 130-250 kB/s, 16-31 ms) end long before the next ACK
// 100 ms later, so fq never holds two skbs and TSQ never throttles: snd_nxt
// after ACK k is 10 + 4k segments, HyStart's rounds end at the ACKs of 2001
// and 12001, and the ninth delay sample of the second round (the ACK of
// 28001) exits slow start at cwnd 36. Linux 6.18 on a tun device does the
// same, paced or not (TCPHystartDelayDetect 1, TCPHystartDelayCwnd 36).
std::string cubic_166k_prefix() {
  std::string s =
      "--tolerance_usecs=0\n"
      "`../../common/defaults.sh\n"
      "tc qdisc replace dev tun0 root fq\n"
      "sysctl -q net.ipv4.tcp_congestion_control=cubic\n"
      "sysctl -q net.ipv4.tcp_min_tso_segs=4\n"
      "sysctl -q net.ipv4.tcp_early_retrans=0`\n"
      "    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
      "   +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0\n"
      "   +0 bind(3, ..., ...) = 0\n"
      "   +0 listen(3, 1) = 0\n"
      "   +0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 10>\n"
      "   +0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>\n"
      "  +.1 < . 1:1(0) ack 1 win 514\n"
      "   +0 accept(3, ..., ...) = 4\n"
      "   +0 setsockopt(4, SOL_SOCKET, SO_SNDBUF, [200000], 4) = 0\n"
      "   +0 write(4, ..., 400000) = 400000\n"
      "   +0 > P. 1:4001(4000) ack 1\n"
      "   +0 > P. 4001:8001(4000) ack 1\n"
      "   +0 > P. 8001:10001(2000) ack 1\n";
  std::uint32_t nxt = 10001;
  for (int k = 1; k <= 13; ++k) {
    s += "  +.1 < . 1:1(0) ack " + std::to_string(1 + 2000 * k) + " win 514\n";
    s += "   +0 > P. " + std::to_string(nxt) + ":" + std::to_string(nxt + 4000) + "(4000) ack 1\n";
    nxt += 4000;
  }
  s += "   +0 %{ assert tcpi_snd_cwnd == 36, tcpi_snd_cwnd }%\n";
  // The 14th ACK: HyStart exits with cwnd 36 and 34 in flight, 2 to send.
  s += "  +.1 < . 1:1(0) ack 28001 win 514\n";
  s += "   +0 > P. " + std::to_string(nxt) + ":" + std::to_string(nxt + 2000) + "(2000) ack 1\n";
  s += "   +0 %{ assert tcpi_snd_cwnd == 36 and tcpi_snd_ssthresh == 36, tcpi_snd_cwnd }%\n";
  return s;
}

TEST(FqSchedule, Cubic166kSendsTheWholeWindowAtEachAckAndHystartExitsAt36) {
  trace::Recorder rec(trace::ev_bit(trace::Ev::tcp_write_xmit));
  DrillRun r = run_inline(cubic_166k_prefix());
  ASSERT_EQ(r.result.kind, ScriptResult::Kind::kPass) << r.result.line << ": " << r.result.reason;

  // Neither fq nor TSQ stopped a transmit: the write's calls and then one
  // call per ACK, each ending on the congestion window.
  const std::vector<XmitCall> calls = xmit_calls(rec);
  ASSERT_GE(calls.size(), 14u) << describe(calls);
  for (const XmitCall& c : calls) {
    EXPECT_NE(c.stop, "tsq") << describe(calls);
    EXPECT_NE(c.stop, "pacing") << describe(calls);
  }
  const std::size_t first_ack = calls.size() - 14;
  for (std::size_t i = first_ack; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i].sent, 1u) << describe(calls);
    EXPECT_EQ(calls[i].stop, "cwnd") << describe(calls);
    EXPECT_EQ(calls[i].t_ns - calls[first_ack].t_ns, (i - first_ack) * 100'000'000ull)
        << describe(calls);
  }

  EXPECT_EQ(r.mib.get(MibId::TcpExtTCPHystartDelayDetect), 1u);
  EXPECT_EQ(r.mib.get(MibId::TcpExtTCPHystartDelayCwnd), 36u);
  EXPECT_EQ(r.mib.get(MibId::TcpExtTCPHystartTrainDetect), 0u);
}

}  // namespace
}  // namespace sp::drill
