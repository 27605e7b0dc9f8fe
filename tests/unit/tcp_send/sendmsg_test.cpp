// tcp_sendmsg's decisions: what the write queue holds after given writes.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <vector>

#include "tcp_send_fixture.hpp"

namespace sp::send_test {
namespace {

class SendmsgTest : public TcpSendTest {};

// import_iovec caps one call at MAX_RW_COUNT (INT_MAX & PAGE_MASK): a
// vector of more than 2 GiB is counted as MAX_RW_COUNT bytes, never more.
TEST(IovLength, a_vector_longer_than_max_rw_count_is_cut_there) {
  static std::uint8_t buf[4096];
  iovec three_gib[3];
  for (iovec& v : three_gib) v = {buf, std::size_t{1} << 30};
  EXPECT_EQ(MAX_RW_COUNT, 0x7ffff000L);
  EXPECT_EQ(iov_length(three_gib, 3), MAX_RW_COUNT);
  EXPECT_EQ(iov_length(three_gib, 1), 1L << 30);
  iovec negative{buf, static_cast<std::size_t>(-1)};
  EXPECT_EQ(iov_length(&negative, 1), -EINVAL);
}

// The kernel's answer to the same call on a loopback socket, or -2 when the
// host gives no loopback TCP socket.
long kernel_nonblocking_sendmsg(const iovec* iov, std::size_t n) {
  const int l = ::socket(AF_INET, SOCK_STREAM, 0);
  if (l < 0) return -2;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  long rc = -2;
  if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(l, 1) == 0 &&
      ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    const int c = ::socket(AF_INET, SOCK_STREAM, 0);
    int sndbuf = 65536;
    ::setsockopt(c, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    if (::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      ::fcntl(c, F_SETFL, O_NONBLOCK);
      msghdr m{};
      m.msg_iov = const_cast<iovec*>(iov);
      m.msg_iovlen = n;
      rc = ::sendmsg(c, &m, MSG_NOSIGNAL);
    }
    ::close(c);
  }
  ::close(l);
  return rc;
}

// A nonblocking send of 3 GiB (one 4 MiB buffer named three times) takes
// what the send buffer holds and says so, as Linux does: a byte count, not
// an error or a count wrapped through an int.
TEST_F(SendmsgTest, send_of_more_than_2_gib_returns_the_bytes_taken_as_linux) {
  static std::vector<std::uint8_t> buf(4 << 20, 'x');
  iovec iov[3];
  for (iovec& v : iov) v = {buf.data(), std::size_t{1} << 30};
  int fd = connected_socket();
  set_sndbuf(fd, 65536);
  ASSERT_EQ(sp::fcntl(fd, F_SETFL, O_NONBLOCK), 0);
  msghdr m{};
  m.msg_iov = iov;
  m.msg_iovlen = 3;
  const ssize_t n = sp::sendmsg(fd, &m, 0);
  EXPECT_GT(n, 0);
  EXPECT_LE(n, 4 << 20) << "no more than the send buffer's worth";
  EXPECT_EQ(static_cast<std::uint64_t>(n), tp_of(fd)->write_seq - tp_of(fd)->snd_una);
  const long k = kernel_nonblocking_sendmsg(iov, 3);
  if (k != -2) {
    EXPECT_GT(k, 0) << "Linux takes part of it too";
    EXPECT_LE(k, 4 << 20);
  }
}

// The skb pools refuse every new skb and page while it lives (the limits
// set to what the process holds now), as memory pressure would.
class AllocationsFail {
 public:
  AllocationsFail() : saved_(skb_pool_limits()) {
    const SkbPoolUsage u = skb_pool_process_usage();
    SkbPoolLimits l = saved_;
    l.max_skbs = u.skbs;
    l.max_pages = u.pages_4k;
    skb_pool_set_limits(l);
  }
  ~AllocationsFail() { restore(); }
  void restore() { skb_pool_set_limits(saved_); }

 private:
  SkbPoolLimits saved_;
};

// sk_stream_alloc_skb fails while the send buffer has room: a non-blocking
// send fails with EAGAIN (sk_stream_wait_memory's vm_wait), where sendpath
// used to go back to the failing allocation for ever.
TEST_F(SendmsgTest, nonblocking_send_fails_with_eagain_when_allocation_fails_with_room) {
  int fd = connected_socket();
  freeze(fd);
  ASSERT_EQ(sp::fcntl(fd, F_SETFL, O_NONBLOCK), 0);
  ASSERT_TRUE(sk_stream_memory_free(sk_of(fd)));
  {
    AllocationsFail nomem;
    errno = 0;
    EXPECT_EQ(write_n(fd, 3000, 0), -1);
    EXPECT_EQ(errno, EAGAIN);
    EXPECT_TRUE(write_queue(fd).empty());
  }
  EXPECT_EQ(write_n(fd, 3000, 0), 3000) << "memory back: the same send goes through";
}

// A blocking send waits 2 to HZ/5 + 1 jiffies between attempts and goes on
// when memory comes back: here the limits lift 30 ms into the call.
TEST_F(SendmsgTest, blocking_send_waits_for_memory_when_allocation_fails_with_room) {
  int fd = connected_socket();
  freeze(fd);
  AllocationsFail nomem;
  Timer lift([&] { nomem.restore(); });
  const Nanos t0 = st_.now();
  st_.mod_timer(lift, t0 + 30 * kNsPerMs);
  EXPECT_EQ(write_n(fd, 3000, 0), 3000);
  EXPECT_GE(st_.now(), t0 + 30 * kNsPerMs) << "it waited for memory";
  EXPECT_LT(st_.now(), t0 + 30 * kNsPerMs + jiffies_to_nsecs(HZ / 5 + 2))
      << "and tried again within one vm_wait of it coming back";
  ASSERT_EQ(write_queue(fd).size(), 1u);
  EXPECT_EQ(write_queue(fd)[0]->len, 3000u);
}

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
