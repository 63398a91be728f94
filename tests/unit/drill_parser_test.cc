// The packetdrill script parser (src/packetdrill): times, packets, options, system calls, commands.
#include <gtest/gtest.h>

#include "packetdrill/code_block.h"
#include "packetdrill/parser.h"
#include "packetdrill/runner.h"

namespace ustack::drill {
namespace {

TEST(DrillParser, OptionsTimesAndCommands) {
  Script s = parse_script(R"(--tolerance_usecs=10000
// a comment
`../common/defaults.sh`
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
  +.1...0.200 connect(3, ..., ...) = 0
    * > S 0:0(0) <...>
 1~2 < S. 0:0(0) ack 1 win 5792
 +0 %{ assert tcpi_ca_state == 0 }%
)");
  ASSERT_EQ(s.options.size(), 1u);
  EXPECT_EQ(s.options[0].first, "tolerance_usecs");
  EXPECT_EQ(s.options[0].second, "10000");
  ASSERT_EQ(s.events.size(), 6u);
  EXPECT_EQ(s.events[0].type, Event::Type::kCommand);
  EXPECT_EQ(s.events[0].text, "../common/defaults.sh");
  EXPECT_EQ(s.events[1].time.type, TimeType::kAbsolute);
  EXPECT_EQ(s.events[1].line, 4);
  const Event& c = s.events[2];
  EXPECT_EQ(c.time.type, TimeType::kRelative);
  EXPECT_EQ(c.time.usecs, 100000);
  EXPECT_TRUE(c.call.blocking);
  EXPECT_EQ(c.call.end_usecs, 200000);
  EXPECT_EQ(c.call.name, "connect");
  EXPECT_EQ(s.events[3].time.type, TimeType::kAny);
  EXPECT_TRUE(s.events[3].packet.any_options);
  EXPECT_EQ(s.events[4].time.type, TimeType::kAbsoluteRange);
  EXPECT_EQ(s.events[4].time.end_usecs, 2000000);
  EXPECT_EQ(s.events[5].type, Event::Type::kCode);
}

TEST(DrillParser, TcpPacketFieldsAndOptions) {
  Script s = parse_script(
      "0 < [ect0] P. 1:1001(1000) ack 1 win 257 urg 3 <nop,nop,TS val 700 ecr 100,sack 1:2 3:4,eol>\n"
      "+0 > S. 0:0(0) ack 1 <mss 1460,sackOK,nop,wscale 8>\n"
      "+0 > SEW 0:0(0)\n");
  ASSERT_EQ(s.events.size(), 3u);
  const PacketSpec& p = s.events[0].packet;
  EXPECT_TRUE(p.inbound);
  EXPECT_EQ(p.ecn, "ect0");
  EXPECT_EQ(p.flags, 0x18);
  EXPECT_EQ(p.start, 1u);
  EXPECT_EQ(p.end, 1001u);
  EXPECT_EQ(p.len, 1000u);
  EXPECT_EQ(*p.ack, 1u);
  EXPECT_EQ(*p.win, 257u);
  EXPECT_EQ(*p.urg, 3u);
  ASSERT_EQ(p.options.size(), 5u);
  EXPECT_EQ(p.options[2].kind, TcpOptionSpec::Kind::kTimestamp);
  EXPECT_EQ(p.options[2].a, 700u);
  EXPECT_EQ(p.options[2].b, 100u);
  ASSERT_EQ(p.options[3].blocks.size(), 2u);
  EXPECT_EQ(p.options[3].blocks[1], std::make_pair(3u, 4u));
  EXPECT_EQ(p.options[4].kind, TcpOptionSpec::Kind::kEol);
  const PacketSpec& q = s.events[1].packet;
  EXPECT_FALSE(q.inbound);
  EXPECT_EQ(q.flags, 0x12);
  EXPECT_EQ(q.options[0].a, 1460u);
  EXPECT_EQ(q.options[3].a, 8u);
  EXPECT_EQ(s.events[2].packet.flags, 0x02 | 0x40 | 0x80);
}

TEST(DrillParser, SyscallExpressionsAndErrno) {
  Script s = parse_script(R"(
+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=0}, 8) = 0
+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0 poll([{fd=3, events=POLLIN, revents=0}], 1, 0) = 0
+0 bind(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("192.168.0.1")}, 16) = 0
+0 getsockopt(3, SOL_SOCKET, SO_RCVBUF, [65536], [4]) = 0
)");
  ASSERT_EQ(s.events.size(), 6u);
  const Expr& linger = s.events[0].call.args[3];
  EXPECT_EQ(linger.kind, Expr::Kind::kStruct);
  EXPECT_EQ(linger.fields[1], "l_linger");
  EXPECT_EQ(s.events[1].call.args[2].kind, Expr::Kind::kOr);
  EXPECT_EQ(s.events[2].call.result.num, -1);
  EXPECT_EQ(s.events[2].call.errno_name, "EINPROGRESS");
  EXPECT_EQ(s.events[3].call.args[0].items[0].fields[2], "revents");
  EXPECT_EQ(s.events[4].call.args[1].str(),
            "{sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr(\"192.168.0.1\")}");
  EXPECT_EQ(s.events[5].call.args[3].items[0].num, 65536);
}

TEST(DrillParser, UnsupportedPacketsAndErrors) {
  Script s =
      parse_script("0 < udp (1000)\n+0 > icmp unreachable port\n+0 < S 0:0(0) win 1 <FO 1234,nop,nop>\n");
  ASSERT_EQ(s.events.size(), 3u);
  EXPECT_EQ(s.events[0].packet.proto, "udp");
  EXPECT_FALSE(s.events[0].packet.unsupported.empty());
  EXPECT_FALSE(s.events[2].packet.unsupported.empty());
  EXPECT_FALSE(skip_reason(s).empty());
  try {
    parse_script("0 socket(..., SOCK_STREAM\n");
    FAIL() << "expected a parse error";
  } catch (const ParseError& e) {
    EXPECT_EQ(e.line, 2);
  }
  EXPECT_THROW(parse_script("0 < S 0:0 win 1\n"), ParseError);
}

TEST(DrillRunner, HandshakeAndCloseInVirtualTime) {
  // A passive open, data, and a close, at seconds apart: runs in virtual time.
  Script s = parse_script(R"(
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0
   +0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
   +0 > S. 0:0(0) ack 1 <...>
   +5 < . 1:1(0) ack 1 win 257
   +0 accept(3, ..., ...) = 4
   +0 < P. 1:11(10) ack 1 win 257
   +0 read(4, ..., 100) = 10
   +0 read(4, ..., 100) = -1 EAGAIN (Resource temporarily unavailable)
)");
  // read() on a blocking socket would block: make it non-blocking first.
  s.events.insert(s.events.begin() + 8,
                  parse_script("+0 fcntl(4, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n").events[0]);
  ScriptResult r = run_script(s);
  EXPECT_EQ(r.outcome, Outcome::kPass)
      << r.reason << " at line " << r.line << ": " << r.expected << " vs " << r.actual;
  EXPECT_GE(r.virtual_usecs, 5000000);
}

TEST(DrillRunner, ReportsTheDifference) {
  Script s = parse_script(R"(
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0
   +0 < S 0:0(0) win 32792 <mss 1000>
   +0 > S 0:0(0) ack 1 <...>
)");
  ScriptResult r = run_script(s);
  EXPECT_EQ(r.outcome, Outcome::kFail);
  EXPECT_EQ(r.line, 6);
  EXPECT_EQ(r.reason, "flags differ");
  Script skip = parse_script("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 %{ print(1) }%\n");
  EXPECT_EQ(run_script(skip).outcome, Outcome::kSkip);
}

TEST(DrillCodeBlock, AssertsOverTcpInfoFields) {
  auto fields = [](const std::string& n) -> std::optional<int64_t> {
    if (n == "tcpi_snd_cwnd") return 10;
    if (n == "tcpi_ca_state") return 3;
    return std::nullopt;
  };
  EXPECT_EQ(eval_code_block("assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd", fields).kind, CodeResult::Kind::kOk);
  EXPECT_EQ(eval_code_block("\nassert tcpi_ca_state == TCP_CA_Recovery, tcpi_ca_state\n"
                            "assert 8 <= tcpi_snd_cwnd <= 12, 'cwnd=%d' % tcpi_snd_cwnd  # a range\n",
                            fields)
                .kind,
            CodeResult::Kind::kOk);
  CodeResult f = eval_code_block("assert tcpi_snd_cwnd == 7; assert tcpi_snd_cwnd == 10", fields);
  EXPECT_EQ(f.kind, CodeResult::Kind::kFailed);
  EXPECT_EQ(f.what, "assert tcpi_snd_cwnd == 7 (tcpi_snd_cwnd=10)");
  EXPECT_EQ(eval_code_block("assert tcpi_last_data_recv <= 10", fields).kind, CodeResult::Kind::kUnsupported);
  EXPECT_EQ(eval_code_block("import os", fields).kind, CodeResult::Kind::kUnsupported);
  EXPECT_EQ(eval_code_block("assert tcpi_snd_cwnd", fields).kind, CodeResult::Kind::kUnsupported);
}

TEST(DrillRunner, CodeBlocksSeeTheSocketUnderTest) {
  Script s = parse_script(R"(
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0
   +0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
   +0 > S. 0:0(0) ack 1 <...>
  +.1 < . 1:1(0) ack 1 win 257
   +0 accept(3, ..., ...) = 4
   +0 %{ assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd; assert tcpi_snd_mss == 1000 }%
   +0 %{ assert tcpi_ca_state == TCP_CA_Loss }%
)");
  ScriptResult r = run_script(s);
  EXPECT_EQ(r.outcome, Outcome::kFail);
  EXPECT_EQ(r.line, 10);
  EXPECT_EQ(r.actual, "assert tcpi_ca_state == TCP_CA_Loss (tcpi_ca_state=0)");
}

}  // namespace
}  // namespace ustack::drill
