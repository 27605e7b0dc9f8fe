// Test bench for the send half: one stack on a virtual clock with a fake
// raw-IP device that records every segment the stack sends (and can hold the
// skbs, as a busy NIC queue would, so that TCP small queues and autocorking
// see bytes "in the device"), sockets made and connected through the public
// API, and ACKs from a pretend peer injected the way a trace reads.
#pragma once
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <vector>

#include "api/fd_table.hpp"
#include "common/tcp_packets.hpp"
#include "common/virtual_time.hpp"
#include "core/stack.hpp"
#include "sendpath/api.hpp"
#include "tcp/tcp.hpp"
#include "tcp/tcp_stack_state.hpp"

namespace sp::send_test {

using test::Flow;
using test::ParsedSeg;
using test::TcpOpts;

class FakeDevice final : public NetDevice {
 public:
  explicit FakeDevice(std::uint64_t feats) {
    name = "fake0";
    type = LinkType::kRawIp;
    hard_header_len = 0;
    mtu = 1500;
    features = feats;
  }
  NetdevTx xmit(SkbPtr skb) override {
    std::vector<std::uint8_t> bytes = test::skb_bytes(skb.get());
    if (auto seg = test::parse_ip_tcp(bytes)) {
      seg_bytes.push_back(bytes);
      ip_summed.push_back(skb->ip_summed);
      gso_size.push_back(skb_shinfo(skb.get())->gso_size);
      sent.push_back(*seg);
    }
    if (hold)
      held.push_back(std::move(skb));
    else
      consume_skb(std::move(skb));
    return NETDEV_TX_OK;
  }
  int poll(int) override { return 0; }
  // The frames "leave the wire": free them (runs tcp_wfree).
  void release_all() {
    while (!held.empty()) {
      consume_skb(std::move(held.front()));
      held.pop_front();
    }
  }

  bool hold = false;
  std::deque<SkbPtr> held;
  std::vector<ParsedSeg> sent;
  std::vector<std::vector<std::uint8_t>> seg_bytes;
  std::vector<IpSummed> ip_summed;
  std::vector<std::uint16_t> gso_size;
};

inline be32 be_addr(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  return htonl(ipv4_addr(a, b, c, d));
}

class TcpSendTest : public ::testing::Test {
 protected:
  static constexpr std::uint16_t kPeerPort = 80;
  static constexpr std::uint32_t kPeerIsn = 7000;

  explicit TcpSendTest(std::uint64_t features = NETIF_F_SG | NETIF_F_HW_CSUM | NETIF_F_TSO)
      : clock_(1 * kNsPerSec), st_(clock_) {
    auto d = std::make_unique<FakeDevice>(features);
    dev_ = d.get();
    ifindex_ = st_.register_netdev(std::move(d));
    st_.add_address(ifindex_, be_addr(10, 0, 0, 1), 24);
    st_.tcp().set_secrets_from_seed(7);
    st_.sysctl().tcp_timestamps = 0;  // segments read easier without TS
    // The default driver would jump virtual time to the next timer; tests
    // that block install their own peer.
  }

  ~TcpSendTest() override {
    for (int fd : fds_) sp::close(fd);
  }

  Sock* sk_of(int fd) {
    Socket* s = sockfd_lookup(fd);
    return s ? s->sk : nullptr;
  }
  TcpSock* tp_of(int fd) { return tcp_sk(sk_of(fd)); }

  // Packets from the peer (10.0.0.2:80) to our socket.
  Flow in_flow() const {
    return Flow{ipv4_addr(10, 0, 0, 2), ipv4_addr(10, 0, 0, 1), kPeerPort, local_port_};
  }
  void inject(std::string_view flags, std::uint32_t seq, std::uint32_t ack, std::uint16_t win,
              const TcpOpts& opts = {}, std::span<const std::uint8_t> data = {}) {
    tcp_v4_rcv(st_, test::make_rx_skb(test::tcp_pkt(in_flow(), flags, seq, ack, win, opts, data)));
    st_.poll();
  }
  // The peer acknowledges everything up to `ack` and offers `win` (scaled by
  // the peer's window scale, which these tests negotiate as 7 unless told).
  void ack(std::uint32_t ack_seq, std::uint16_t win = 0xffff) {
    inject(".", kPeerIsn + 1, ack_seq, win);
  }

  // A connected socket through socket()/connect(): SYN out, SYN-ACK in (MSS
  // 1460, window scale 7 so the peer can offer up to 8 MiB), ACK out.
  int connected_socket(std::uint16_t peer_win = 0xffff, bool wscale = true) {
    int fd = sp::socket(st_, AF_INET, SOCK_STREAM, 0);
    EXPECT_GE(fd, 3);
    fds_.push_back(fd);
    EXPECT_EQ(sp::fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(kPeerPort);
    sin.sin_addr.s_addr = be_addr(10, 0, 0, 2);
    EXPECT_EQ(sp::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin), -1);
    EXPECT_EQ(errno, EINPROGRESS);
    EXPECT_EQ(dev_->sent.size(), 1u);
    const ParsedSeg syn = dev_->sent.back();
    local_port_ = syn.sport;
    iss_ = syn.seq;
    TcpOpts o;
    o.mss = 1460;
    if (wscale) o.wscale = 7;
    inject("S.", kPeerIsn, iss_ + 1, peer_win, o);
    EXPECT_EQ(sk_of(fd)->sk_state, TCP_ESTABLISHED);
    // The SYN-ACK's window is never scaled (RFC 7323); the peer's first
    // ACK offers the scaled one.
    ack(iss_ + 1, peer_win);
    EXPECT_EQ(sp::fcntl(fd, F_SETFL, 0), 0);
    clear_sent();
    return fd;
  }

  // Stop the output engine (a zero congestion window) so that the write
  // queue can be inspected as tcp_sendmsg built it.
  void freeze(int fd) { tcp_snd_cwnd_set(tp_of(fd), 0); }

  void set_sndbuf(int fd, int v) {
    ASSERT_EQ(sp::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v), 0);
  }

  ssize_t write_n(int fd, std::size_t n, int flags = 0, std::uint8_t fill = 'a') {
    std::vector<std::uint8_t> buf(n, fill);
    return sp::send(fd, buf.data(), buf.size(), flags);
  }

  std::vector<SkBuff*> write_queue(int fd) {
    std::vector<SkBuff*> v;
    for (SkBuff& s : sk_of(fd)->sk_write_queue) v.push_back(&s);
    return v;
  }

  void clear_sent() {
    dev_->sent.clear();
    dev_->seg_bytes.clear();
    dev_->ip_summed.clear();
    dev_->gso_size.clear();
  }
  std::size_t sent_count() const { return dev_->sent.size(); }
  const ParsedSeg& sent(std::size_t i) const { return dev_->sent.at(i); }
  std::uint32_t sent_bytes() const {
    std::uint32_t n = 0;
    for (const auto& s : dev_->sent) n += s.payload_len;
    return n;
  }

  // Run timers and deferred work up to now + d, in time order.
  void advance(Nanos d) { test::run_stack_until(st_, clock_, clock_.now_ns() + d); }
  void advance_ms(std::uint64_t ms) { advance(ms * kNsPerMs); }

  std::uint64_t mib(MibId id) { return st_.mib().get(id); }

  VirtualClock clock_;
  Stack st_;
  FakeDevice* dev_ = nullptr;
  int ifindex_ = 0;
  std::uint16_t local_port_ = 0;
  std::uint32_t iss_ = 0;
  std::vector<int> fds_;
};

}  // namespace sp::send_test
