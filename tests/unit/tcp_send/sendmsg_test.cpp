// tcp_sendmsg's decisions: what the write queue holds after given writes.
#include <cstring>

#include "tcp_send_fixture.hpp"

namespace sp::send_test {
namespace {

class SendmsgTest : public TcpSendTest {};

TEST_F(SendmsgTest, small_writes_coalesce_into_one_paged_skb) {
  int fd = connected_socket();
  freeze(fd);
  const std::uint32_t start = tp_of(fd)->write_seq;
  ASSERT_EQ(write_n(fd, 100, 0, 'a'), 100);
  ASSERT_EQ(write_n(fd, 200, 0, 'b'), 200);
  ASSERT_EQ(write_n(fd, 300, 0, 'c'), 300);
  auto q = write_queue(fd);
  ASSERT_EQ(q.size(), 1u);
  SkBuff* skb = q[0];
  EXPECT_EQ(skb->len, 600u);
  EXPECT_EQ(skb->data_len, 600u) << "payload lives in page frags, not the linear part";
  EXPECT_EQ(skb_shinfo(skb)->nr_frags, 1) << "contiguous appends grow the same frag";
  EXPECT_EQ(TCP_SKB_CB(skb)->seq, start);
  EXPECT_EQ(TCP_SKB_CB(skb)->end_seq, start + 600);
  EXPECT_EQ(tp_of(fd)->write_seq, start + 600);
  std::vector<std::uint8_t> bytes(600);
  ASSERT_EQ(skb_copy_bits(skb, 0, bytes.data(), 600), 0);
  EXPECT_EQ(bytes[0], 'a');
  EXPECT_EQ(bytes[100], 'b');
  EXPECT_EQ(bytes[599], 'c');
}

TEST_F(SendmsgTest, write_larger_than_size_goal_is_cut_at_size_goal) {
  int fd = connected_socket();
  freeze(fd);
  set_sndbuf(fd, 200000);
  int size_goal = 0;
  const unsigned mss = tcp_send_mss(sk_of(fd), &size_goal, 0);
  EXPECT_EQ(mss, 1460u);
  // 65536 - (MAX_TCP_HEADER + 1) = 65215 bytes of GSO room: 44 segments.
  EXPECT_EQ(size_goal, 44 * 1460);
  ASSERT_EQ(write_n(fd, 100000), 100000);
  auto q = write_queue(fd);
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0]->len, static_cast<std::uint32_t>(size_goal));
  EXPECT_EQ(q[1]->len, 100000u - static_cast<std::uint32_t>(size_goal));
  EXPECT_EQ(TCP_SKB_CB(q[1])->seq, TCP_SKB_CB(q[0])->end_seq);
}

TEST_F(SendmsgTest, iovec_pieces_land_in_order_in_one_skb) {
  int fd = connected_socket();
  freeze(fd);
  char a[10], b[20], c[30];
  std::memset(a, 'A', sizeof a);
  std::memset(b, 'B', sizeof b);
  std::memset(c, 'C', sizeof c);
  iovec iov[3] = {{a, sizeof a}, {b, sizeof b}, {c, sizeof c}};
  ASSERT_EQ(sp::writev(fd, iov, 3), 60);
  auto q = write_queue(fd);
  ASSERT_EQ(q.size(), 1u);
  std::vector<std::uint8_t> bytes(60);
  ASSERT_EQ(skb_copy_bits(q[0], 0, bytes.data(), 60), 0);
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()),
            std::string(10, 'A') + std::string(20, 'B') + std::string(30, 'C'));
}

TEST_F(SendmsgTest, msg_eor_stops_later_writes_from_joining_the_skb) {
  int fd = connected_socket();
  freeze(fd);
  ASSERT_EQ(write_n(fd, 100, MSG_EOR), 100);
  ASSERT_EQ(write_n(fd, 100), 100);
  ASSERT_EQ(write_n(fd, 100), 100);
  auto q = write_queue(fd);
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0]->len, 100u);
  EXPECT_TRUE(TCP_SKB_CB(q[0])->eor);
  EXPECT_EQ(q[1]->len, 200u);
}

TEST_F(SendmsgTest, zero_length_write_returns_zero_and_queues_nothing) {
  int fd = connected_socket();
  freeze(fd);
  EXPECT_EQ(write_n(fd, 0), 0);
  EXPECT_TRUE(write_queue(fd).empty());
}

TEST_F(SendmsgTest, sk_wmem_queued_is_the_truesize_of_queued_skbs) {
  int fd = connected_socket();
  freeze(fd);
  set_sndbuf(fd, 200000);
  ASSERT_EQ(write_n(fd, 100000), 100000);
  Sock* sk = sk_of(fd);
  int total = 0;
  for (SkBuff* s : write_queue(fd)) total += static_cast<int>(s->truesize);
  EXPECT_EQ(sk->sk_wmem_queued, total);
  EXPECT_GE(sk->sk_forward_alloc, 0);
  EXPECT_LT(sk->sk_forward_alloc, SK_MEM_QUANTUM) << "charged in whole quanta, no more than needed";
}

TEST_F(SendmsgTest, so_sndbuf_stores_twice_the_request) {
  int fd = connected_socket();
  int v = 10000;
  ASSERT_EQ(sp::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v), 0);
  int got = 0;
  socklen_t len = sizeof got;
  ASSERT_EQ(sp::getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &got, &len), 0);
  EXPECT_EQ(got, 20000);
  EXPECT_TRUE(sk_of(fd)->sk_userlocks & SOCK_SNDBUF_LOCK);
}

TEST_F(SendmsgTest, so_sndbuf_is_clamped_by_wmem_max) {
  int fd = connected_socket();
  int v = 100 << 20;
  ASSERT_EQ(sp::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v), 0);
  EXPECT_EQ(sk_of(fd)->sk_sndbuf, 2 * st_.sysctl().wmem_max);
}

TEST_F(SendmsgTest, full_send_buffer_returns_partial_count_then_eagain_with_dontwait) {
  int fd = connected_socket();
  freeze(fd);
  int v = 32768;  // sk_sndbuf 64 KiB
  ASSERT_EQ(sp::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v), 0);
  const ssize_t n = write_n(fd, 1 << 20, MSG_DONTWAIT);
  EXPECT_GT(n, 0);
  EXPECT_LT(n, 1 << 20) << "a partial write returns the bytes copied";
  EXPECT_EQ(static_cast<std::uint32_t>(n), tp_of(fd)->write_seq - tp_of(fd)->snd_una);
  EXPECT_EQ(write_n(fd, 100, MSG_DONTWAIT), -1);
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_TRUE(sock_flag(sk_of(fd), SOCK_NOSPACE));
}

TEST_F(SendmsgTest, nonblocking_descriptor_gets_eagain_without_msg_dontwait) {
  int fd = connected_socket();
  freeze(fd);
  int v = 16384;
  ASSERT_EQ(sp::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v), 0);
  ASSERT_EQ(sp::fcntl(fd, F_SETFL, O_NONBLOCK), 0);
  EXPECT_GT(write_n(fd, 1 << 20), 0);
  EXPECT_EQ(write_n(fd, 1), -1);
  EXPECT_EQ(errno, EAGAIN);
}

TEST_F(SendmsgTest, send_after_shutdown_wr_fails_with_epipe) {
  int fd = connected_socket();
  ASSERT_EQ(sp::shutdown(fd, SHUT_WR), 0);
  EXPECT_EQ(write_n(fd, 10), -1);
  EXPECT_EQ(errno, EPIPE);
}

TEST_F(SendmsgTest, send_on_unconnected_socket_fails_with_epipe) {
  int fd = sp::socket(st_, AF_INET, SOCK_STREAM, 0);
  fds_.push_back(fd);
  EXPECT_EQ(write_n(fd, 10), -1);
  EXPECT_EQ(errno, EPIPE);
}

TEST_F(SendmsgTest, bad_descriptor_is_ebadf) {
  EXPECT_EQ(write_n(999, 10), -1);
  EXPECT_EQ(errno, EBADF);
}

class SendmsgNoSgTest : public TcpSendTest {
 protected:
  SendmsgNoSgTest() : TcpSendTest(NETIF_F_HW_CSUM) {}
};

TEST_F(SendmsgNoSgTest, without_scatter_gather_skbs_are_one_mss_and_linear) {
  int fd = connected_socket();
  freeze(fd);
  int size_goal = 0;
  EXPECT_EQ(tcp_send_mss(sk_of(fd), &size_goal, 0), 1460u);
  EXPECT_EQ(size_goal, 1460);
  ASSERT_EQ(write_n(fd, 3000), 3000);
  auto q = write_queue(fd);
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[0]->len, 1460u);
  EXPECT_EQ(q[1]->len, 1460u);
  EXPECT_EQ(q[2]->len, 80u);
  for (SkBuff* s : q) EXPECT_EQ(s->data_len, 0u) << "payload is linear";
}

class SendmsgSgNoTsoTest : public TcpSendTest {
 protected:
  SendmsgSgNoTsoTest() : TcpSendTest(NETIF_F_SG | NETIF_F_HW_CSUM) {}
};

TEST_F(SendmsgSgNoTsoTest, without_tso_the_goal_stays_gso_sized_for_software_gso) {
  // Linux gives every TCP socket GSO; the stack segments in software what
  // the device cannot.
  int fd = connected_socket();
  int size_goal = 0;
  tcp_send_mss(sk_of(fd), &size_goal, 0);
  EXPECT_EQ(size_goal, 44 * 1460);
}

TEST_F(SendmsgTest, size_goal_is_bounded_by_half_the_peers_largest_window) {
  int fd = connected_socket(/*peer_win=*/20000, /*wscale=*/false);
  int size_goal = 0;
  tcp_send_mss(sk_of(fd), &size_goal, 0);
  EXPECT_EQ(size_goal, 6 * 1460) << "10000 bytes (half of 20000) hold 6 whole segments";
}

}  // namespace
}  // namespace sp::send_test
