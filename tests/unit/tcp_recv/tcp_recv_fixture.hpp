// Test bench for the receive half: one stack on a virtual clock with a fake
// raw-IP device that records every segment the stack sends, and helpers to
// inject segments the way a trace reads (tests/common/tcp_packets.hpp) and
// to bring a connection up by hand, actively or passively.
#pragma once
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <vector>

#include "common/tcp_packets.hpp"
#include "common/virtual_time.hpp"
#include "core/stack.hpp"
#include "tcp/tcp.hpp"
#include "tcp/tcp_stack_state.hpp"

namespace sp::test {

// A device that parses and keeps what it is given, then frees the skb at
// once (as if the frame left the host), so TSQ never throttles.
class FakeDevice final : public NetDevice {
 public:
  FakeDevice() {
    name = "fake0";
    type = LinkType::kRawIp;
    hard_header_len = 0;
    mtu = 1500;
    features = NETIF_F_SG | NETIF_F_HW_CSUM;
  }
  NetdevTx xmit(SkbPtr skb) override {
    if (refuse) {
      // A full qdisc ("pfifo limit 0"): the frame never leaves.
      refused++;
      kfree_skb(std::move(skb));
      return NETDEV_TX_BUSY;
    }
    std::vector<std::uint8_t> bytes = skb_bytes(skb.get());
    if (auto seg = parse_ip_tcp(bytes)) {
      seg->data.clear();  // keep only the length
      sent.push_back(*seg);
      sent_at.push_back(clock->now_ns());
    }
    consume_skb(std::move(skb));
    return NETDEV_TX_OK;
  }
  int poll(int) override { return 0; }

  Clock* clock = nullptr;
  bool refuse = false;  // refuse every frame (local congestion)
  int refused = 0;
  std::deque<ParsedSeg> sent;
  std::deque<Nanos> sent_at;
};

inline be32 be_addr(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  return htonl(ipv4_addr(a, b, c, d));
}

class TcpRecvTest : public ::testing::Test {
 protected:
  static constexpr std::uint16_t kLocalPort = 8080;
  static constexpr std::uint16_t kPeerPort = 40000;

  TcpRecvTest() : clock_(1 * kNsPerSec), st_(clock_) {
    auto d = std::make_unique<FakeDevice>();
    d->clock = &clock_;
    dev_ = d.get();
    ifindex_ = st_.register_netdev(std::move(d));
    st_.add_address(ifindex_, be_addr(10, 0, 0, 1), 24);
    // Deterministic ISNs and timestamp offsets.
    st_.tcp().set_secrets_from_seed(42);
    st_.sysctl().tcp_timestamps = 0;  // most tests read easier without TS
  }

  // Free every socket while the stack's TCP state is still whole, so that
  // teardown does not depend on the order in which the Stack destroys it.
  ~TcpRecvTest() override {
    st_.tcp().free_pending();
    std::vector<Sock*> socks;
    st_.tcp().for_each_sock([&](Sock* sk) { socks.push_back(sk); });
    for (Sock* sk : socks)
      if (sk->sk_prot && sk->sk_prot->destroy) sk->sk_prot->destroy(sk);
    st_.tcp().free_pending();
    socks.clear();
    st_.tcp().for_each_sock([&](Sock* sk) { socks.push_back(sk); });
    for (Sock* sk : socks) delete sk;
  }

  // Segments from the peer to our socket.
  Flow in_flow() const {
    return Flow{ipv4_addr(10, 0, 0, 2), ipv4_addr(10, 0, 0, 1), kPeerPort, kLocalPort};
  }

  void inject(const std::vector<std::uint8_t>& pkt) { tcp_v4_rcv(st_, make_rx_skb(pkt)); }
  void inject(std::string_view flags, std::uint32_t seq, std::uint32_t ack, std::uint16_t win,
              const TcpOpts& opts = {}, std::span<const std::uint8_t> data = {}) {
    inject(tcp_pkt(in_flow(), flags, seq, ack, win, opts, data));
  }

  // Run timers (and deferred work) up to now + d, in time order.
  void advance(Nanos d) { run_stack_until(st_, clock_, clock_.now_ns() + d); }
  void advance_ms(std::uint64_t ms) { advance(ms * kNsPerMs); }

  std::size_t sent_count() const { return dev_->sent.size(); }
  ParsedSeg last_sent() const { return dev_->sent.back(); }
  ParsedSeg pop_sent() {
    ParsedSeg s = dev_->sent.front();
    dev_->sent.pop_front();
    dev_->sent_at.pop_front();
    return s;
  }
  void clear_sent() {
    dev_->sent.clear();
    dev_->sent_at.clear();
  }
  std::uint64_t drops(SkbDropReason r) { return st_.tcp().drops.get(r); }
  std::uint64_t mib(MibId id) { return st_.mib().get(id); }

  // A fresh TCP sock (tcp_prot.alloc + init), not yet bound.
  TcpSock* new_sock() {
    Sock* sk = tcp_prot.alloc(st_);
    tcp_prot.init(sk);
    return tcp_sk(sk);
  }

  // The peer's address, 10.0.0.2:kPeerPort, as tcp_v4_connect takes it.
  static sockaddr_in peer_sockaddr() {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(kPeerPort);
    sin.sin_addr.s_addr = be_addr(10, 0, 0, 2);
    return sin;
  }

  // A sock bound to 10.0.0.1:kLocalPort that has sent its SYN to the peer
  // (tcp_v4_connect): in SYN_SENT, the SYN on the device.
  TcpSock* connect_sock() {
    TcpSock* sk = new_sock();
    sk->inet_rcv_saddr = sk->inet_saddr = be_addr(10, 0, 0, 1);
    EXPECT_EQ(st_.tcp().inet_csk_get_port(sk, kLocalPort), 0);
    sockaddr_in sin = peer_sockaddr();
    EXPECT_EQ(tcp_v4_connect(sk, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
    return sk;
  }

  // A listener on 10.0.0.1:kLocalPort.
  TcpSock* listen_sock(int backlog = 16) {
    TcpSock* l = new_sock();
    l->inet_rcv_saddr = l->inet_saddr = be_addr(10, 0, 0, 1);
    EXPECT_EQ(st_.tcp().inet_csk_get_port(l, kLocalPort), 0);
    l->sk_max_ack_backlog = static_cast<std::uint32_t>(backlog);
    tcp_set_state(l, TCP_LISTEN);
    st_.tcp().inet_listen_hash(l);
    return l;
  }

  // Passive open: SYN from the peer, SYN-ACK back, ACK: returns the child
  // (ESTABLISHED) and the ISN it chose.
  // Passive open up to the accept queue: SYN in, SYN-ACK out, ACK in. The
  // child is established and still queued on the listener (not accepted).
  TcpSock* establish_child(std::uint32_t peer_isn = 1000, std::uint16_t peer_win = 65535,
                           const TcpOpts& syn_opts = TcpOpts().with_mss(1460)) {
    listener_ = listen_sock();
    inject("S", peer_isn, 0, peer_win, syn_opts);
    EXPECT_EQ(sent_count(), 1u);
    if (sent_count() != 1) return nullptr;
    ParsedSeg synack = pop_sent();
    EXPECT_TRUE(synack.has(kTcpSyn | kTcpAck));
    our_isn_ = synack.seq;
    peer_nxt_ = peer_isn + 1;
    inject(".", peer_nxt_, our_isn_ + 1, peer_win);
    Sock* child = st_.tcp().lookup_established(htonl(in_flow().saddr), htons(kPeerPort),
                                               htonl(in_flow().daddr), kLocalPort);
    EXPECT_NE(child, nullptr);
    if (child) {
      EXPECT_EQ(child->sk_state, TCP_ESTABLISHED);
    }
    return child ? tcp_sk(child) : nullptr;
  }

  // Passive open and accept: the child leaves the accept queue as the
  // application's accept() takes it, and the queue's reference passes to the
  // test, which may then close the child (tcp_close) or drop it (sock_put)
  // as an application can.
  TcpSock* passive_open(std::uint32_t peer_isn = 1000, std::uint16_t peer_win = 65535,
                        const TcpOpts& syn_opts = TcpOpts().with_mss(1460)) {
    TcpSock* child = establish_child(peer_isn, peer_win, syn_opts);
    if (child) {
      int err = 0;
      EXPECT_EQ(inet_csk_accept(listener_, O_NONBLOCK, &err), child);
    }
    return child;
  }

  // Active open to 10.0.0.2:kPeerPort from a socket bound to kLocalPort:
  // SYN out, SYN-ACK in, ACK out.
  TcpSock* active_open(std::uint32_t peer_isn = 5000, std::uint16_t peer_win = 65535,
                       const TcpOpts& synack_opts = TcpOpts().with_mss(1460)) {
    TcpSock* sk = connect_sock();
    EXPECT_EQ(sk->sk_state, TCP_SYN_SENT);
    EXPECT_GE(sent_count(), 1u);
    if (sent_count() < 1) return sk;
    ParsedSeg syn = pop_sent();
    EXPECT_TRUE(syn.has(kTcpSyn));
    our_isn_ = syn.seq;
    peer_nxt_ = peer_isn + 1;
    inject("S.", peer_isn, our_isn_ + 1, peer_win, synack_opts);
    EXPECT_EQ(sk->sk_state, TCP_ESTABLISHED);
    return sk;
  }

  // Queue n bytes on sk through tcp_sendmsg (non-blocking); returns its result.
  int send_bytes(TcpSock* sk, std::size_t n, int flags = MSG_DONTWAIT) {
    std::vector<std::uint8_t> buf(n, 'a');
    iovec iov{buf.data(), buf.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_flags = flags;
    return tcp_sendmsg(sk, &msg, n);
  }

  VirtualClock clock_;
  Stack st_;
  FakeDevice* dev_ = nullptr;
  int ifindex_ = 0;
  TcpSock* listener_ = nullptr;
  std::uint32_t our_isn_ = 0;
  std::uint32_t peer_nxt_ = 0;
};

}  // namespace sp::test
