// The packetdrill script parser: every script of the corpus parses, and the
// forms the corpus uses come out as the runner needs them.
#include "parser.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace sp::drill {
namespace {

Script parse_ok(const std::string& text) {
  auto r = parse_script(text, "t.pkt");
  if (auto* e = std::get_if<ParseError>(&r)) {
    ADD_FAILURE() << e->to_string("t.pkt");
    return {};
  }
  return std::get<Script>(r);
}

ParseError parse_err(const std::string& text) {
  auto r = parse_script(text, "t.pkt");
  if (auto* e = std::get_if<ParseError>(&r)) return *e;
  ADD_FAILURE() << "script parsed but should not have";
  return {};
}

TEST(DrillParser, EveryCorpusScriptParses) {
  namespace fs = std::filesystem;
  int n = 0;
  for (auto& ent : fs::recursive_directory_iterator(SP_CORPUS_DIR)) {
    if (ent.path().extension() != ".pkt") continue;
    ++n;
    auto r = parse_script_file(ent.path().string());
    if (auto* e = std::get_if<ParseError>(&r)) {
      ADD_FAILURE() << e->to_string(ent.path().string());
    } else {
      EXPECT_FALSE(std::get<Script>(r).events.empty()) << ent.path();
    }
  }
  EXPECT_EQ(n, 62);
}

TEST(DrillParser, OptionsAndInitCommandComeBeforeEvents) {
  Script s = parse_ok(
      "--tolerance_usecs=10000\n--strict_segments\n`../common/defaults.sh\nsysctl -q a=1`\n"
      "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n");
  ASSERT_EQ(s.options.size(), 2u);
  EXPECT_EQ(s.options[0].name, "tolerance_usecs");
  EXPECT_EQ(s.options[0].value, "10000");
  EXPECT_EQ(s.options[1].name, "strict_segments");
  EXPECT_EQ(s.options[1].value, "");
  ASSERT_TRUE(s.init_command);
  EXPECT_NE(s.init_command->find("sysctl -q a=1"), std::string::npos);
  ASSERT_EQ(s.events.size(), 1u);
  EXPECT_EQ(s.events[0].line, 5);
}

TEST(DrillParser, EventTimesAbsoluteRelativeAnyAndRanges) {
  Script s = parse_ok(
      "0 close(3) = 0\n+.1 close(3) = 0\n* > . 1:1(0) ack 1\n+.3~+.310 > . 1:1(0) ack 1\n"
      "1.5~2 > . 1:1(0) ack 1\n");
  ASSERT_EQ(s.events.size(), 5u);
  EXPECT_EQ(s.events[0].time.type, TimeType::kAbsolute);
  EXPECT_EQ(s.events[1].time.type, TimeType::kRelative);
  EXPECT_EQ(s.events[1].time.usecs, 100000);
  EXPECT_EQ(s.events[2].time.type, TimeType::kAny);
  EXPECT_EQ(s.events[3].time.type, TimeType::kRelativeRange);
  EXPECT_EQ(s.events[3].time.usecs, 300000);
  EXPECT_EQ(s.events[3].time.usecs_end, 310000);
  EXPECT_EQ(s.events[4].time.type, TimeType::kAbsoluteRange);
  EXPECT_EQ(s.events[4].time.usecs_end, 2000000);
}

TEST(DrillParser, BlockingCallEndTimeFollowsEllipsis) {
  Script s = parse_ok("+0...0.200 accept(3, ..., ...) = 4\n");
  const SyscallSpec& c = s.events[0].syscall;
  EXPECT_EQ(c.name, "accept");
  EXPECT_TRUE(c.blocking());
  EXPECT_EQ(c.end_usecs, 200000);
  ASSERT_EQ(c.args.size(), 3u);
  EXPECT_EQ(c.args[1]->kind, Expr::Kind::kEllipsis);
  EXPECT_EQ(c.result->num, 4);
}

TEST(DrillParser, PacketWithFlagsSeqAckWindowAndOptions) {
  Script s = parse_ok(
      "0 < S. 0:0(0) ack 1 win 32792 <mss 1000,sackOK,TS val 100 ecr 7,nop,wscale 7>\n"
      "+0 > P. 1:1001(1000) ack 1 <nop,nop,sack 2001:3001 4001:5001>\n"
      "+0 > S. 0:0(0) ack 1 <...>\n+0 < FP. 1001:2001(1000) ack 1 win 257\n");
  const PacketSpec& a = s.events[0].packet;
  EXPECT_TRUE(a.inbound);
  EXPECT_EQ(a.flags, "S.");
  EXPECT_TRUE(a.has_ack_field);
  EXPECT_EQ(a.ack, 1u);
  EXPECT_EQ(a.window, 32792);
  ASSERT_EQ(a.options.size(), 5u);
  EXPECT_EQ(a.options[0].kind, TcpOption::Kind::kMss);
  EXPECT_EQ(a.options[0].value, 1000u);
  EXPECT_EQ(a.options[2].kind, TcpOption::Kind::kTimestamp);
  EXPECT_EQ(a.options[2].value, 100u);
  EXPECT_EQ(a.options[2].ecr, 7u);
  const PacketSpec& b = s.events[1].packet;
  EXPECT_FALSE(b.inbound);
  EXPECT_EQ(b.start_seq, 1u);
  EXPECT_EQ(b.payload_len, 1000u);
  EXPECT_EQ(b.window, -1);
  ASSERT_EQ(b.options[2].sack.size(), 2u);
  EXPECT_EQ(b.options[2].sack[1].first, 4001u);
  EXPECT_TRUE(s.events[2].packet.options_any);
  EXPECT_EQ(s.events[3].packet.flags, "FP.");
}

TEST(DrillParser, ErrnoAndNoteAfterResult) {
  Script s = parse_ok(
      "0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n"
      "+0 fcntl(3, F_GETFL) = 0x2 (flags O_RDWR)\n");
  EXPECT_EQ(s.events[0].syscall.result->num, -1);
  EXPECT_EQ(s.events[0].syscall.errno_name, "EINPROGRESS");
  EXPECT_EQ(s.events[0].syscall.note, "Operation now in progress");
  EXPECT_EQ(s.events[1].syscall.result->num, 2);
  EXPECT_TRUE(s.events[1].syscall.result->hex);
  EXPECT_EQ(s.events[1].syscall.errno_name, "");
}

TEST(DrillParser, MsghdrStructWithIovAndControl) {
  Script s = parse_ok(
      "0 sendmsg(4, {msg_name(...)=..., msg_iov(3)=[{..., 100}, {..., 200}, {..., 195}],\n"
      " msg_flags=0, msg_control=[{cmsg_level=SOL_TCP, cmsg_type=TCP_CM_INQ, cmsg_data=8000}]},"
      " MSG_MORE|MSG_EOR) = 495\n");
  const SyscallSpec& c = s.events[0].syscall;
  ASSERT_EQ(c.args.size(), 3u);
  const Expr& m = *c.args[1];
  ASSERT_EQ(m.kind, Expr::Kind::kStruct);
  ASSERT_EQ(m.items.size(), 4u);
  EXPECT_EQ(m.items[1]->text, "msg_iov");
  EXPECT_EQ(m.items[1]->size_arg->num, 3);
  ASSERT_EQ(m.items[1]->value->items.size(), 3u);
  EXPECT_EQ(m.items[1]->value->items[2]->items[1]->num, 195);
  EXPECT_EQ(c.args[2]->kind, Expr::Kind::kOr);
}

TEST(DrillParser, CodeBlocksKeepTheirText) {
  Script s = parse_ok("0 %{\nassert tcpi_snd_cwnd == 10, tcpi_snd_cwnd\n}%\n+0 close(3) = 0\n");
  ASSERT_EQ(s.events.size(), 2u);
  EXPECT_EQ(s.events[0].type, EventType::kCode);
  EXPECT_NE(s.events[0].text.find("assert tcpi_snd_cwnd == 10"), std::string::npos);
  EXPECT_EQ(s.events[1].line, 4);
}

TEST(DrillParser, TimedCommandAndCleanupCommand) {
  Script s =
      parse_ok("0 close(3) = 0\n+0 `tc qdisc replace dev tun0 root pfifo limit 0`\n`/tmp/x.sh`\n");
  ASSERT_EQ(s.events.size(), 3u);
  EXPECT_EQ(s.events[1].type, EventType::kCommand);
  EXPECT_EQ(s.events[2].type, EventType::kCommand);
  EXPECT_EQ(s.events[2].text, "/tmp/x.sh");
}

TEST(DrillParser, FailureCommentAttachesToTheNextEvent) {
  Script s = parse_ok("0 close(3) = 0\n// Failure: boom happened\n\n+0 close(3) = 0\n");
  ASSERT_EQ(s.declared_failures.size(), 1u);
  EXPECT_EQ(s.declared_failures[0].line, 4);
  EXPECT_EQ(s.declared_failures[0].message, "boom happened");
}

TEST(DrillParser, InconsistentSequenceIsAnErrorOnItsLine) {
  ParseError e = parse_err("0 close(3) = 0\n\n+0 > P. 1:1001(999) ack 1\n");
  EXPECT_EQ(e.line, 3);
  EXPECT_NE(e.message.find("inconsistent TCP sequence numbers"), std::string::npos);
}

TEST(DrillParser, UnknownTcpOptionIsAnErrorOnItsLine) {
  ParseError e = parse_err("0 close(3) = 0\n+0 > S. 0:0(0) ack 1 <mss 1460,bogus 3>\n");
  EXPECT_EQ(e.line, 2);
  EXPECT_NE(e.message.find("bogus"), std::string::npos);
}

TEST(DrillParser, MissingResultIsASyntaxErrorOnItsLine) {
  ParseError e = parse_err("0 close(3) = 0\n+0 write(4, ..., 10)\n+0 close(4) = 0\n");
  EXPECT_EQ(e.line, 3);  // the '+' of the next line is where '=' was expected
  EXPECT_NE(e.message.find("syntax error"), std::string::npos);
}

TEST(DrillParser, TimeRangeOnASystemCallIsRejected) {
  ParseError e = parse_err("0 close(3) = 0\n+0~+1 close(3) = 0\n");
  EXPECT_EQ(e.line, 2);
  EXPECT_NE(e.message.find("event time range can only be used with outbound packets"),
            std::string::npos);
}

TEST(DrillParser, UnterminatedCodeBlockIsReported) {
  ParseError e = parse_err("0 close(3) = 0\n+0 %{ assert 1\n");
  EXPECT_EQ(e.line, 2);
  EXPECT_NE(e.message.find("unterminated"), std::string::npos);
}

}  // namespace
}  // namespace sp::drill
