// Sysctls whose effect a user sees on a socket, each set and checked against
// the default (issue 19: every knob the stack reads is exercised by a test).
// What is checked is what Linux 6.12 shows for the same setting: TCP_INFO's
// fields, TCP_WINDOW_CLAMP, the window in the SYN, the size of the segments.
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "tcp_send_fixture.hpp"

namespace sp::send_test {
namespace {

class SysctlKnobsTest : public TcpSendTest {
 protected:
  ::tcp_info info(int fd) {
    ::tcp_info ti{};
    socklen_t len = sizeof ti;
    EXPECT_EQ(sp::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
    return ti;
  }
  // connect() and the SYN it sent; the peer answers with `mss`.
  int connect_with_peer_mss(std::uint16_t mss, ParsedSeg* syn_out = nullptr, Nanos rtt = 0) {
    const int fd = sp::socket(st_, AF_INET, SOCK_STREAM, 0);
    fds_.push_back(fd);
    EXPECT_EQ(sp::fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(kPeerPort);
    sin.sin_addr.s_addr = be_addr(10, 0, 0, 2);
    EXPECT_EQ(sp::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin), -1);
    const ParsedSeg syn = dev_->sent.back();
    if (syn_out) *syn_out = syn;
    local_port_ = syn.sport;
    iss_ = syn.seq;
    TcpOpts o;
    o.mss = mss;
    o.wscale = 7;
    if (rtt) clock_.advance_to(clock_.now_ns() + rtt);
    inject("S.", kPeerIsn, iss_ + 1, 0xffff, o);
    ack(iss_ + 1);
    clear_sent();
    return fd;
  }
};

// tcp_init_sock: a new socket's reordering estimate starts at
// net.ipv4.tcp_reordering, which TCP_INFO reports.
TEST_F(SysctlKnobsTest, tcp_reordering_is_the_new_sockets_reordering) {
  const int a = connected_socket();
  EXPECT_EQ(info(a).tcpi_reordering, 3u);
  ASSERT_EQ(st_.sysctl().set("net.ipv4.tcp_reordering", "12"), "");
  const int b = connected_socket();
  EXPECT_EQ(info(b).tcpi_reordering, 12u);
}

// net.ipv4.tcp_rto_min_us is the floor of a new socket's RTO: with an RTT
// of almost nothing the RTO is the floor (200 ms by default).
TEST_F(SysctlKnobsTest, tcp_rto_min_us_is_the_floor_of_the_rto) {
  const int a = connected_socket();
  EXPECT_GE(info(a).tcpi_rto, 200000u);
  ASSERT_EQ(st_.sysctl().set("net.ipv4.tcp_rto_min_us", "50000"), "");
  const int b = connected_socket();
  const std::uint32_t rto = info(b).tcpi_rto;
  EXPECT_GE(rto, 50000u);
  EXPECT_LT(rto, 200000u) << "the RTO follows the lower floor";
}

// tcp_select_initial_window: with the workaround for peers that read the
// window as signed (the default), the SYN offers at most 32767 bytes;
// without it, up to 65535.
TEST_F(SysctlKnobsTest, tcp_workaround_signed_windows_caps_the_syn_window_at_32767) {
  ParsedSeg syn;
  connect_with_peer_mss(1460, &syn);
  EXPECT_LE(syn.win, 65535u);
  const std::uint32_t unworked = syn.win;
  ASSERT_EQ(st_.sysctl().set("net.ipv4.tcp_workaround_signed_windows", "1"), "");
  connect_with_peer_mss(1460, &syn);
  EXPECT_LE(syn.win, 32767u);
  EXPECT_GT(unworked, 32767u) << "the default SYN offers more than the workaround allows";
}

// tcp_mtu_to_mss never goes below net.ipv4.tcp_min_snd_mss, whatever MSS
// the peer announced (the defence against tiny-MSS resource attacks).
TEST_F(SysctlKnobsTest, tcp_min_snd_mss_is_the_smallest_segment_sent) {
  // The device takes TSO skbs: the segment size is the skb's gso_size.
  const int a = connect_with_peer_mss(200);
  ASSERT_EQ(write_n(a, 2000), 2000);
  ASSERT_FALSE(dev_->gso_size.empty());
  EXPECT_EQ(dev_->gso_size.at(0), 200u) << "the default floor (48) is below the peer's 200";
  ASSERT_EQ(st_.sysctl().set("net.ipv4.tcp_min_snd_mss", "536"), "");
  const int b = connect_with_peer_mss(200);
  ASSERT_EQ(write_n(b, 2000), 2000);
  ASSERT_FALSE(dev_->gso_size.empty());
  EXPECT_EQ(dev_->gso_size.at(0), 536u);
}

// tcp_init_buffer_space keeps 1/2^tcp_app_win of the buffer for the
// application: the window clamp (TCP_WINDOW_CLAMP) is the whole space with
// the default 31, half of it with 1.
TEST_F(SysctlKnobsTest, tcp_app_win_reserves_part_of_the_buffer_from_the_window) {
  const int a = connected_socket();
  int whole = 0;
  socklen_t len = sizeof whole;
  ASSERT_EQ(sp::getsockopt(a, IPPROTO_TCP, TCP_WINDOW_CLAMP, &whole, &len), 0);
  ASSERT_EQ(st_.sysctl().set("net.ipv4.tcp_app_win", "1"), "");
  const int b = connected_socket();
  int half = 0;
  ASSERT_EQ(sp::getsockopt(b, IPPROTO_TCP, TCP_WINDOW_CLAMP, &half, &len), 0);
  EXPECT_GT(whole, 0);
  EXPECT_NEAR(half, whole / 2, whole / 50 + 1);
}

// tcp_update_pacing_rate: in congestion avoidance the pacing rate is
// tcp_pacing_ca_ratio percent of cwnd * mss / srtt; halving the ratio
// halves the rate TCP_INFO reports.
TEST_F(SysctlKnobsTest, tcp_pacing_ca_ratio_scales_the_pacing_rate_in_congestion_avoidance) {
  auto ca_rate = [&] {
    clear_sent();
    const int fd = connected_socket();
    TcpSock* tp = tp_of(fd);
    tp->snd_ssthresh = tp->snd_cwnd;  // congestion avoidance from here
    EXPECT_EQ(write_n(fd, 1000), 1000);
    advance_ms(10);
    ack(iss_ + 1 + 1000);
    return info(fd).tcpi_pacing_rate;
  };
  const std::uint64_t r120 = ca_rate();
  ASSERT_EQ(st_.sysctl().set("net.ipv4.tcp_pacing_ca_ratio", "60"), "");
  const std::uint64_t r60 = ca_rate();
  ASSERT_GT(r120, 0u);
  EXPECT_NEAR(static_cast<double>(r60) / static_cast<double>(r120), 0.5, 0.02);
}

// Autocorking (tcp_should_autocork): with TCP_NODELAY a small write goes at
// once, unless an earlier skb of the socket is still in the device; then,
// with net.ipv4.tcp_autocorking (the default), it waits for that skb to
// leave so later writes can join it (TCPAutoCorking), and goes when the
// device frees it. With the knob off it goes at once.
TEST_F(SysctlKnobsTest, tcp_autocorking_holds_a_small_write_while_the_device_has_ours) {
  auto second_write_waits = [&] {
    const int fd = connected_socket();
    const int one = 1;
    EXPECT_EQ(sp::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
    dev_->hold = true;
    EXPECT_EQ(write_n(fd, 100), 100);
    EXPECT_EQ(sent_count(), 1u);
    EXPECT_EQ(write_n(fd, 100), 100);
    const bool waited = sent_count() == 1;
    dev_->release_all();
    st_.poll();
    EXPECT_EQ(sent_count(), 2u) << "once the device let ours go, the write leaves";
    dev_->hold = false;
    clear_sent();
    return waited;
  };
  const std::uint64_t corked0 = mib(MibId::TcpExtTCPAutoCorking);
  EXPECT_TRUE(second_write_waits());
  EXPECT_EQ(mib(MibId::TcpExtTCPAutoCorking), corked0 + 1);
  ASSERT_EQ(st_.sysctl().set("net.ipv4.tcp_autocorking", "0"), "");
  EXPECT_FALSE(second_write_waits());
  EXPECT_EQ(mib(MibId::TcpExtTCPAutoCorking), corked0 + 1);
}

// tcp_tso_autosize: an skb carries about 1 ms of data at the pacing rate,
// plus gso_max_size >> (min_rtt_us >> tcp_tso_rtt_log) for short paths. At
// a 100 kB/s pacing cap and a 200 us RTT, the default log (9) gives the
// whole 64 KiB allowance (200 >> 9 = 0), so the first skb is as large as
// tcp_cwnd_test lets one burst be, half the initial window (5 segments);
// with log 0 the allowance vanishes (64 KiB >> 200) and the skb is
// min_tso_segs (2) segments.
TEST_F(SysctlKnobsTest, tcp_tso_rtt_log_sizes_tso_skbs_on_short_paths) {
  auto first_skb_segments = [&] {
    clear_sent();
    const int fd = connect_with_peer_mss(1460, nullptr, 200 * kNsPerUs);
    const unsigned rate = 100000;
    EXPECT_EQ(sp::setsockopt(fd, SOL_SOCKET, SO_MAX_PACING_RATE, &rate, sizeof rate), 0);
    EXPECT_EQ(write_n(fd, 10 * 1448), 10 * 1448);
    EXPECT_FALSE(dev_->sent.empty());
    if (dev_->sent.empty() || dev_->gso_size.at(0) == 0) return 1u;
    return sent(0).payload_len / dev_->gso_size.at(0);
  };
  const unsigned with_default = first_skb_segments();
  ASSERT_EQ(st_.sysctl().set("net.ipv4.tcp_tso_rtt_log", "0"), "");
  const unsigned with_zero = first_skb_segments();
  std::printf("segments in the first skb: %u (log 9), %u (log 0)\n", with_default, with_zero);
  EXPECT_EQ(with_zero, 2u);
  EXPECT_GT(with_default, with_zero);
}

}  // namespace
}  // namespace sp::send_test
