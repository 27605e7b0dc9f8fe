// The runner against sendpath itself: a handshake and one write, written
// right, pass; the same script with one deliberate mistake (a sequence
// number, an option, a time) fails on the line of the mistake.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace sp::drill
