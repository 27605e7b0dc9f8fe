// The runner against sendpath itself: a handshake and one write, written
// right, pass; the same script with one deliberate mistake (a sequence
// number, an option, a time) fails on the line of the mistake.
#include <gtest/gtest.h>

#include "core/stack.hpp"
#include "parser.hpp"
#include "runner.hpp"

namespace sp::drill {
namespace {

const char* kScript =
    "`../common/defaults.sh`\n"                                 // 1
    "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"             // 2
    "+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0\n"  // 3
    "+0 bind(3, ..., ...) = 0\n"                                // 4
    "+0 listen(3, 1) = 0\n"                                     // 5
    "+.1 < S 0:0(0) win 32792 <mss 1460,nop,wscale 7>\n"        // 6
    "+0 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 8>\n"            // 7
    "+.1 < . 1:1(0) ack 1 win 257\n"                            // 8
    "+0 accept(3, ..., ...) = 4\n"                              // 9
    "+0 write(4, ..., 1000) = 1000\n"                           // 10
    "+0 > P. 1:1001(1000) ack 1\n"                              // 11
    "+.1 < . 1:1(0) ack 1001 win 257\n"                         // 12
    "+0 %{ assert tcpi_snd_cwnd >= 10, tcpi_snd_cwnd }%\n";     // 13

ScriptResult run_with(std::string text, const std::string& from, const std::string& to) {
  if (!from.empty()) {
    size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
  }
  // The script sits in the corpus's tcp/blocking directory for defaults.sh.
  std::string path = std::string(SP_CORPUS_DIR) + "/gtests/net/tcp/blocking/inline.pkt";
  auto parsed = parse_script(text, path);
  if (auto* e = std::get_if<ParseError>(&parsed)) {
    ADD_FAILURE() << e->to_string(path);
    return {};
  }
  RunnerConfig cfg;
  // The pure virtual clock, so the times in the messages are the script's.
  cfg.event_latency_us = 0;
  cfg.make_target = sendpath_target_factory();
  return run_script(std::get<Script>(parsed), cfg);
}

TEST(DrillOnSendpath, HandshakeAndWriteAsLinuxDoesPass) {
  ScriptResult r = run_with(kScript, "", "");
  EXPECT_EQ(r.kind, ScriptResult::Kind::kPass) << r.line << ": " << r.reason;
}

TEST(DrillOnSendpath, WrongSequenceFailsOnItsLine) {
  ScriptResult r = run_with(kScript, "> P. 1:1001(1000)", "> P. 1001:2001(1000)");
  EXPECT_EQ(r.kind, ScriptResult::Kind::kFail);
  EXPECT_EQ(r.line, 11);
  EXPECT_NE(r.reason.find("live packet field tcp_seq: expected: 1001 (0x3e9) vs actual: 1 (0x1)"),
            std::string::npos)
      << r.reason;
}

TEST(DrillOnSendpath, WrongOptionFailsOnItsLine) {
  ScriptResult r = run_with(kScript, "<mss 1460,nop,wscale 8>", "<mss 1460,nop,wscale 9>");
  EXPECT_EQ(r.kind, ScriptResult::Kind::kFail);
  EXPECT_EQ(r.line, 7);
  EXPECT_NE(r.reason.find("bad outbound TCP options"), std::string::npos) << r.reason;
}

TEST(DrillOnSendpath, WrongTimeFailsOnItsLine) {
  ScriptResult r = run_with(kScript, "+0 > P. 1:1001(1000)", "+.05 > P. 1:1001(1000)");
  EXPECT_EQ(r.kind, ScriptResult::Kind::kFail);
  EXPECT_EQ(r.line, 11);
  EXPECT_NE(r.reason.find("timing error: expected outbound packet at 0.250000 sec but happened at "
                          "0.200000 sec"),
            std::string::npos)
      << r.reason;
}

TEST(DrillOnSendpath, WrongAssertFailsOnItsLine) {
  ScriptResult r = run_with(kScript, "tcpi_snd_cwnd >= 10", "tcpi_snd_cwnd < 10");
  EXPECT_EQ(r.kind, ScriptResult::Kind::kFail);
  EXPECT_EQ(r.line, 13);
  EXPECT_NE(r.reason.find("assertion failed"), std::string::npos) << r.reason;
}

// The host's event latency (RunnerConfig::event_latency_us) on the two corpus
// scripts whose outcome hangs on it. On the pure virtual clock each meets an
// exact tie a real host never has and fails on the listed line; with any
// latency from 1 us to 200 us both pass, checked by their own outbound lines
// and by the stack's counters, since the latency decides by how many events
// the two times differ, not by its size (docs/linux-differences.md, "Event
// latency").
struct CorpusRun {
  ScriptResult result;
  Mib mib;     // the stack's counters when the script ended
  Mib mib_at;  // and when the event of line `at_line` started
};

CorpusRun run_corpus(const std::string& rel, std::int64_t latency_us, int at_line = 0) {
  CorpusRun out;
  Stack* stack = nullptr;
  RunnerConfig cfg;
  cfg.event_latency_us = latency_us;
  cfg.make_target = [&stack](Stack& st) {
    stack = &st;
    return sendpath_target_factory()(st);
  };
  cfg.on_result = [&](const ScriptResult&) {
    if (stack) out.mib = stack->mib();
  };
  cfg.on_event = [&](int line) {
    if (stack && line == at_line) out.mib_at = stack->mib();
  };
  out.result = run_script_file(std::string(SP_CORPUS_DIR) + "/" + rel, cfg);
  return out;
}

// The ACK of 1001 is due 1 ms after the write's skb left, counted from when
// packetdrill was done with the shutdown() call: on the virtual clock
// tcp_tso_should_defer sees exactly 1 ms since tcp_wstamp_ns (not more) and
// defers 10001:12001, so the TLP sends it; with latency the ACK comes three
// events (the packet read, shutdown(), the injection) later, 10001:12001
// leaves at once and the TLP probes with new data, 12001:13001.
TEST(DrillEventLatency, ShutdownSendQueueAckNeedsTheHostsLatency) {
  const std::string rel = "gtests/net/tcp/shutdown/shutdown-rdwr-send-queue-ack-close.pkt";
  CorpusRun tie = run_corpus(rel, 0);
  EXPECT_EQ(tie.result.kind, ScriptResult::Kind::kFail);
  EXPECT_EQ(tie.result.line, 33);
  for (std::int64_t lat : {1, 5, 50, 200}) {
    CorpusRun r = run_corpus(rel, lat);
    EXPECT_EQ(r.result.kind, ScriptResult::Kind::kPass)
        << lat << " us: " << r.result.line << ": " << r.result.reason;
    EXPECT_EQ(r.mib.get(MibId::TcpExtTCPLossProbes), 1u) << lat << " us";
  }
}

// min_rtt comes from 1:10001, sent by the first write() and acked 1 ms after
// packetdrill was done with eleven more calls and the packet read (13
// latencies); the RACK-timer retransmission of 12001:12401 is acked 1 ms after
// its own read (2 latencies). Its RTT is below min_rtt, so tcp_rack_advance
// takes the ACK as one of the original and marks nothing more lost: PRR sends
// 12401:12801 and 12801:13201, three retransmissions by line 69. On the
// virtual clock the two RTTs tie at 1000 us and one retransmission goes
// missing. (After line 70, past the script's last outbound line, RACK may
// mark and resend 14401:15401; the script does not check that.)
TEST(DrillEventLatency, NoCoalesceRetransNeedsTheHostsLatency) {
  const std::string rel = "gtests/net/tcp/eor/no-coalesce-retrans.pkt";
  CorpusRun tie = run_corpus(rel, 0);
  EXPECT_EQ(tie.result.kind, ScriptResult::Kind::kFail);
  EXPECT_EQ(tie.result.line, 68);
  for (std::int64_t lat : {1, 5, 50, 200}) {
    CorpusRun r = run_corpus(rel, lat, 69);
    EXPECT_EQ(r.result.kind, ScriptResult::Kind::kPass)
        << lat << " us: " << r.result.line << ": " << r.result.reason;
    EXPECT_EQ(r.mib_at.get(MibId::TcpRetransSegs), 3u) << lat << " us";
  }
}

}  // namespace
}  // namespace sp::drill
