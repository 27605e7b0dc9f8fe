// The SYN's options follow the sysctls as Linux's tcp_syn_options does:
// net.ipv4.tcp_sack and net.ipv4.tcp_window_scaling off leave SACK-permitted
// and the window scale out of the SYN, and the connection does without them
// even when the peer's SYN-ACK offers them.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "tcp_send_fixture.hpp"

namespace sp::send_test {
namespace {

class SynOptionsTest : public TcpSendTest {
 protected:
  // connect() and return the SYN it sent.
  ParsedSeg syn_of_new_socket() {
    const int fd = sp::socket(st_, AF_INET, SOCK_STREAM, 0);
    EXPECT_GE(fd, 3);
    fds_.push_back(fd);
    last_fd_ = fd;
    EXPECT_EQ(sp::fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(kPeerPort);
    sin.sin_addr.s_addr = be_addr(10, 0, 0, 2);
    EXPECT_EQ(sp::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin), -1);
    EXPECT_FALSE(dev_->sent.empty());
    const ParsedSeg syn = dev_->sent.back();
    local_port_ = syn.sport;
    iss_ = syn.seq;
    return syn;
  }
  // The peer answers with every option on offer.
  void synack_with_everything() {
    TcpOpts o;
    o.mss = 1460;
    o.wscale = 7;
    o.sack_perm = true;
    inject("S.", kPeerIsn, iss_ + 1, 0xffff, o);
  }
  int last_fd_ = -1;
};

TEST_F(SynOptionsTest, syn_offers_sack_and_window_scale_by_default) {
  const ParsedSeg syn = syn_of_new_socket();
  EXPECT_TRUE(syn.sack_perm);
  EXPECT_TRUE(syn.wscale.has_value());
  synack_with_everything();
  ASSERT_EQ(sk_of(last_fd_)->sk_state, TCP_ESTABLISHED);
  EXPECT_NE(tp_of(last_fd_)->rx_opt.sack_ok, 0);
  EXPECT_TRUE(tp_of(last_fd_)->rx_opt.wscale_ok);
  EXPECT_EQ(tp_of(last_fd_)->rx_opt.snd_wscale, 7);
}

TEST_F(SynOptionsTest, tcp_sack_zero_leaves_sack_out_of_the_syn_and_the_connection) {
  ASSERT_EQ(st_.sysctl().set("net.ipv4.tcp_sack", "0"), "");
  const ParsedSeg syn = syn_of_new_socket();
  EXPECT_FALSE(syn.sack_perm);
  EXPECT_TRUE(syn.wscale.has_value()) << "only SACK is off";
  synack_with_everything();
  ASSERT_EQ(sk_of(last_fd_)->sk_state, TCP_ESTABLISHED);
  EXPECT_EQ(tp_of(last_fd_)->rx_opt.sack_ok, 0) << "a SACK-permitted SYN-ACK does not turn it on";
}

TEST_F(SynOptionsTest, tcp_window_scaling_zero_leaves_the_scale_out_of_the_syn_and_the_connection) {
  ASSERT_EQ(st_.sysctl().set("net.ipv4.tcp_window_scaling", "0"), "");
  const ParsedSeg syn = syn_of_new_socket();
  EXPECT_FALSE(syn.wscale.has_value());
  EXPECT_TRUE(syn.sack_perm) << "only window scaling is off";
  synack_with_everything();
  ASSERT_EQ(sk_of(last_fd_)->sk_state, TCP_ESTABLISHED);
  EXPECT_FALSE(tp_of(last_fd_)->rx_opt.wscale_ok);
  EXPECT_EQ(tp_of(last_fd_)->rx_opt.snd_wscale, 0) << "the peer's windows are taken unscaled";
}

// A segment that arrives twice is answered with a D-SACK block naming it
// (RFC 2883, tcp_dsack_set) unless net.ipv4.tcp_dsack is 0.
class DsackTest : public SynOptionsTest {
 protected:
  // The ACK sent for the peer's bytes 1:101 arriving a second time.
  ParsedSeg ack_of_duplicate() {
    syn_of_new_socket();
    synack_with_everything();
    EXPECT_EQ(sk_of(last_fd_)->sk_state, TCP_ESTABLISHED);
    const std::vector<std::uint8_t> data(100, 'd');
    inject("P.", kPeerIsn + 1, iss_ + 1, 0xffff, {}, data);
    clear_sent();
    inject("P.", kPeerIsn + 1, iss_ + 1, 0xffff, {}, data);
    EXPECT_FALSE(dev_->sent.empty()) << "a duplicate is answered at once";
    return dev_->sent.empty() ? ParsedSeg{} : dev_->sent.back();
  }
};

TEST_F(DsackTest, duplicate_data_draws_a_dsack_block) {
  const ParsedSeg a = ack_of_duplicate();
  EXPECT_EQ(a.ack, kPeerIsn + 101);
  ASSERT_EQ(a.sack.size(), 1u);
  EXPECT_EQ(a.sack[0].first, kPeerIsn + 1);
  EXPECT_EQ(a.sack[0].second, kPeerIsn + 101);
  EXPECT_EQ(st_.mib().get(MibId::TcpExtTCPDSACKOldSent), 1u);
}

TEST_F(DsackTest, tcp_dsack_zero_sends_the_duplicate_ack_without_it) {
  ASSERT_EQ(st_.sysctl().set("net.ipv4.tcp_dsack", "0"), "");
  const ParsedSeg a = ack_of_duplicate();
  EXPECT_EQ(a.ack, kPeerIsn + 101);
  EXPECT_TRUE(a.sack.empty());
  EXPECT_EQ(st_.mib().get(MibId::TcpExtTCPDSACKOldSent), 0u);
}

}  // namespace
}  // namespace sp::send_test
