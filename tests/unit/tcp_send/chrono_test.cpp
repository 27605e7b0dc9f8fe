// TCP_INFO's chronographs (Linux's tcp_chrono_start/stop): how long the
// socket had data to send (tcpi_busy_time) and how much of that the peer's
// receive window held it back (tcpi_rwnd_limited).
#include "tcp_send_fixture.hpp"

namespace sp::send_test {
namespace {

class ChronoTest : public TcpSendTest {
 protected:
  tcp_info_612 info(int fd) {
    tcp_info_612 ti{};
    socklen_t len = sizeof ti;
    EXPECT_EQ(sp::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
    return ti;
  }
  void nodelay(int fd) {
    int one = 1;
    ASSERT_EQ(sp::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
  }
};

TEST_F(ChronoTest, idle_socket_has_no_busy_time) {
  int fd = connected_socket();
  advance_ms(100);
  EXPECT_EQ(info(fd).v.tcpi_busy_time, 0u);
  EXPECT_EQ(info(fd).v.tcpi_rwnd_limited, 0u);
}

TEST_F(ChronoTest, busy_time_includes_time_limited_by_the_receive_window) {
  int fd = connected_socket(/*peer_win=*/1000, /*wscale=*/false);
  nodelay(fd);
  ASSERT_EQ(write_n(fd, 2000), 2000);
  ASSERT_EQ(sent_bytes(), 1000u) << "the peer's window holds back the second 1000 bytes";
  advance_ms(100);
  tcp_info_612 ti = info(fd);
  EXPECT_EQ(ti.v.tcpi_rwnd_limited, 100000u);
  EXPECT_EQ(ti.v.tcpi_busy_time, 100000u) << "busy time is the sum of all chronographs";

  ack(iss_ + 1 + 1000, 1000);  // the window moves: the rest leaves, busy again
  ASSERT_EQ(sent_bytes(), 2000u);
  advance_ms(30);
  ti = info(fd);
  EXPECT_EQ(ti.v.tcpi_rwnd_limited, 100000u);
  EXPECT_EQ(ti.v.tcpi_busy_time, 130000u);
}

TEST_F(ChronoTest, busy_time_stops_when_everything_sent_is_acknowledged) {
  int fd = connected_socket();
  ASSERT_EQ(write_n(fd, 1000), 1000);
  advance_ms(20);
  ack(iss_ + 1 + 1000);
  advance_ms(200);
  tcp_info_612 ti = info(fd);
  EXPECT_EQ(ti.v.tcpi_busy_time, 20000u) << "queues empty: the chronograph stopped at the ACK";
  EXPECT_EQ(ti.v.tcpi_rwnd_limited, 0u);

  ASSERT_EQ(write_n(fd, 1000), 1000);  // the next write starts it again
  advance_ms(10);
  EXPECT_EQ(info(fd).v.tcpi_busy_time, 30000u);
}

}  // namespace
}  // namespace sp::send_test
