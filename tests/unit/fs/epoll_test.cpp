// epoll through sendpath/api.hpp: two stacks on a simulated link, the
// server's end watched by epoll instances. Edge-triggered items report once
// per socket wake-up, level-triggered ones while the socket stays ready,
// one-shot ones until re-armed; errno as Linux's fs/eventpoll.c.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "dev/sim_link.hpp"
#include "harness/sim_world.hpp"
#include "sendpath/api.hpp"
#include "sendpath/socket.hpp"

namespace sp::epoll_test {
namespace {

constexpr std::uint32_t kClientAddr = 0x0a000001;  // 10.0.0.1
constexpr std::uint32_t kServerAddr = 0x0a000002;  // 10.0.0.2
constexpr std::uint16_t kPort = 5001;
constexpr Nanos kOneWay = 5 * kNsPerMs;

// An epoll descriptor closed at the end of the test.
class EpollFd {
 public:
  EpollFd() : fd_(sp::epoll_create1(0)) {}
  ~EpollFd() {
    if (fd_ >= 0) sp::close(fd_);
  }
  EpollFd(const EpollFd&) = delete;
  EpollFd& operator=(const EpollFd&) = delete;
  int fd() const { return fd_; }

  int add(int fd, std::uint32_t events) { return ctl(EPOLL_CTL_ADD, fd, events); }
  int mod(int fd, std::uint32_t events) { return ctl(EPOLL_CTL_MOD, fd, events); }
  int ctl(int op, int fd, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    return sp::epoll_ctl(fd_, op, fd, &ev);
  }
  // One epoll_wait; the events of the single reported item, 0 when none,
  // -1 on error.
  std::int64_t wait(int timeout_ms = 0) {
    epoll_event ev{};
    const int n = sp::epoll_wait(fd_, &ev, 1, timeout_ms);
    if (n < 0) return -1;
    if (n == 0) return 0;
    last_fd_ = ev.data.fd;
    return ev.events;
  }
  int last_fd() const { return last_fd_; }

 private:
  int fd_;
  int last_fd_ = -1;
};

class EpollTest : public ::testing::Test {
 protected:
  EpollTest() : world_(1 * kNsPerSec), client_(world_.add_stack()), server_(world_.add_stack()) {
    SimLinkConfig cfg;
    cfg.a_to_b.delay = cfg.b_to_a.delay = kOneWay;
    world_.connect(client_, htonl(kClientAddr), server_, htonl(kServerAddr), 24, cfg);
    listener_ = TcpSocket::open(server_);
    int one = 1;
    EXPECT_EQ(sp::setsockopt(listener_.fd(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
    EXPECT_EQ(listener_.bind(kServerAddr, kPort), 0);
    EXPECT_EQ(listener_.listen(8), 0);
    client_sock_ = TcpSocket::open(client_);
    EXPECT_EQ(client_sock_.connect(kServerAddr, kPort), 0) << strerror(errno);
    server_sock_ = listener_.accept();
    EXPECT_TRUE(server_sock_.valid()) << strerror(errno);
    world_.run_for(20 * kNsPerMs);
  }

  // The client sends n bytes; the world runs until they have arrived.
  void client_sends(std::size_t n) {
    std::vector<char> buf(n, 'x');
    ASSERT_EQ(sp::send(client_sock_.fd(), buf.data(), n, 0), static_cast<ssize_t>(n));
    world_.run_for(4 * kOneWay);
  }

  SimWorld world_;
  Stack& client_;
  Stack& server_;
  TcpSocket listener_;
  TcpSocket client_sock_;
  TcpSocket server_sock_;
};

constexpr std::uint32_t kInOut = EPOLLIN | EPOLLOUT;

TEST_F(EpollTest, edge_triggered_epollin_fires_once_per_data_arrival) {
  EpollFd ep;
  const int fd = server_sock_.fd();
  ASSERT_EQ(ep.add(fd, EPOLLIN | EPOLLET), 0);
  EXPECT_EQ(ep.wait(), 0) << "nothing to read yet";
  client_sends(100);
  EXPECT_EQ(ep.wait(), EPOLLIN);
  EXPECT_EQ(ep.last_fd(), fd);
  EXPECT_EQ(ep.wait(), 0) << "no new data, no new edge, though 100 bytes are unread";
  char buf[10];
  ASSERT_EQ(sp::recv(fd, buf, sizeof buf, 0), 10);
  EXPECT_EQ(ep.wait(), 0) << "reading part of the data is no edge";
  client_sends(50);
  EXPECT_EQ(ep.wait(), EPOLLIN) << "new data is a new edge";
  EXPECT_EQ(ep.wait(), 0);
}

// tcp_data_ready wakes the reader only once SO_RCVLOWAT is met: a segment
// below it is no edge, not even for the EPOLLOUT the item also watches.
TEST_F(EpollTest, data_below_so_rcvlowat_is_no_edge) {
  EpollFd ep;
  const int fd = server_sock_.fd();
  const int lowat = 100;
  ASSERT_EQ(sp::setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat), 0);
  ASSERT_EQ(ep.add(fd, kInOut | EPOLLET), 0);
  ASSERT_EQ(ep.wait(), EPOLLOUT);
  client_sends(10);
  EXPECT_EQ(ep.wait(), 0) << "10 of 100 bytes: no wake-up";
  pollfd p{fd, POLLIN, 0};
  EXPECT_EQ(sp::poll(&p, 1, 0), 0) << "and not readable";
  client_sends(90);
  EXPECT_EQ(ep.wait(), EPOLLIN | EPOLLOUT) << "the mark is met";
}

TEST_F(EpollTest, level_triggered_epollin_repeats_until_the_data_is_read) {
  EpollFd ep;
  const int fd = server_sock_.fd();
  ASSERT_EQ(ep.add(fd, EPOLLIN), 0);
  EXPECT_EQ(ep.wait(), 0);
  client_sends(100);
  EXPECT_EQ(ep.wait(), EPOLLIN);
  EXPECT_EQ(ep.wait(), EPOLLIN) << "still readable";
  char buf[200];
  ASSERT_EQ(sp::recv(fd, buf, sizeof buf, 0), 100);
  EXPECT_EQ(ep.wait(), 0) << "drained";
  EXPECT_EQ(ep.wait(), 0);
}

TEST_F(EpollTest, edge_triggered_item_reports_epollout_when_added_then_not_again) {
  EpollFd ep;
  ASSERT_EQ(ep.add(server_sock_.fd(), kInOut | EPOLLET), 0);
  EXPECT_EQ(ep.wait(), EPOLLOUT) << "ready when added: reported once";
  EXPECT_EQ(ep.wait(), 0);
  client_sends(10);
  EXPECT_EQ(ep.wait(), EPOLLIN | EPOLLOUT) << "the report carries the whole current mask";
}

TEST_F(EpollTest, level_triggered_epollout_repeats) {
  EpollFd ep;
  ASSERT_EQ(ep.add(server_sock_.fd(), EPOLLOUT), 0);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ep.wait(), EPOLLOUT);
}

TEST_F(EpollTest, oneshot_disarms_until_epoll_ctl_mod) {
  EpollFd ep;
  const int fd = server_sock_.fd();
  ASSERT_EQ(ep.add(fd, EPOLLIN | EPOLLONESHOT), 0);
  client_sends(10);
  EXPECT_EQ(ep.wait(), EPOLLIN);
  EXPECT_EQ(ep.wait(), 0) << "disarmed, though still readable";
  client_sends(10);
  EXPECT_EQ(ep.wait(), 0) << "a new arrival does not re-arm it";
  ASSERT_EQ(ep.mod(fd, EPOLLIN | EPOLLONESHOT), 0);
  EXPECT_EQ(ep.wait(), EPOLLIN) << "MOD re-arms, and the socket is ready at once";
  EXPECT_EQ(ep.wait(), 0);
}

// TCP_NOTSENT_LOWAT: the socket is writable only while the unsent bytes are
// below half the mark (tcp_stream_memory_free with wake = 1), and the
// edge comes from the write-space wake-up once the send head moves on.
TEST_F(EpollTest, epollout_edge_after_unsent_bytes_drop_below_notsent_lowat) {
  const int fd = client_sock_.fd();
  const int lowat = 20000;
  const int sndbuf = 1 << 20;  // the mark, not the buffer, must stop the writes
  ASSERT_EQ(sp::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), 0);
  ASSERT_EQ(sp::setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat), 0);
  ASSERT_EQ(sp::fcntl(fd, F_SETFL, O_NONBLOCK), 0);
  EpollFd ep;
  ASSERT_EQ(ep.add(fd, EPOLLOUT | EPOLLET), 0);
  EXPECT_EQ(ep.wait(), EPOLLOUT);
  // Fill until the socket refuses: the initial window sends ten segments,
  // the rest stays unsent.
  std::vector<char> buf(200000, 'y');
  ssize_t sent = sp::send(fd, buf.data(), buf.size(), 0);
  ASSERT_GT(sent, 0);
  EXPECT_EQ(sp::send(fd, buf.data(), buf.size(), 0), -1);
  EXPECT_EQ(errno, EAGAIN);
  int unsent = 0;
  ASSERT_EQ(sp::ioctl(fd, SIOCOUTQNSD, &unsent), 0);
  EXPECT_GE(unsent, lowat) << "the write stopped at the mark";
  EXPECT_EQ(ep.wait(), 0) << "no room, no edge";
  // The acks let the stack send the rest; the wake-up comes once the
  // unsent bytes fell below half the mark.
  world_.run_for(20 * kOneWay);
  ASSERT_EQ(sp::ioctl(fd, SIOCOUTQNSD, &unsent), 0);
  EXPECT_LT(unsent, lowat / 2);
  EXPECT_EQ(ep.wait(), EPOLLOUT);
  EXPECT_EQ(ep.wait(), 0) << "one edge per wake-up";
}

TEST_F(EpollTest, epoll_wait_blocks_on_stack_time_until_data_arrives) {
  EpollFd ep;
  ASSERT_EQ(ep.add(server_sock_.fd(), EPOLLIN | EPOLLET), 0);
  ASSERT_EQ(sp::send(client_sock_.fd(), "hi", 2, 0), 2);
  const Nanos t0 = world_.now();
  EXPECT_EQ(ep.wait(1000), EPOLLIN);
  EXPECT_GE(world_.now() - t0, kOneWay) << "the data needed a one-way delay";
  EXPECT_LT(world_.now() - t0, 1000 * kNsPerMs);
}

TEST_F(EpollTest, epoll_wait_times_out_after_the_timeout_of_stack_time) {
  EpollFd ep;
  ASSERT_EQ(ep.add(server_sock_.fd(), EPOLLIN | EPOLLET), 0);
  ASSERT_EQ(sp::send(client_sock_.fd(), "hi", 2, 0), 2);  // arrives one way later
  const Nanos t0 = world_.now();
  EXPECT_EQ(ep.wait(2), 0) << "the data is still on the wire";
  EXPECT_EQ(world_.now() - t0, 2 * kNsPerMs);
  EXPECT_EQ(ep.wait(100), EPOLLIN);
  EXPECT_GE(world_.now() - t0, kOneWay) << "returned when the data arrived";
  EXPECT_LT(world_.now() - t0, kOneWay + kNsPerMs);
}

// A simulated world with nothing pending can never change: the wait ends
// at once, as every blocking call of the API does.
TEST_F(EpollTest, epoll_wait_in_an_idle_world_returns_at_once) {
  EpollFd ep;
  ASSERT_EQ(ep.add(server_sock_.fd(), EPOLLIN), 0);
  EXPECT_EQ(ep.wait(-1), 0);
}

TEST_F(EpollTest, listener_reports_epollin_for_a_pending_connection) {
  EpollFd ep;
  ASSERT_EQ(ep.add(listener_.fd(), EPOLLIN | EPOLLET), 0);
  EXPECT_EQ(ep.wait(), 0);
  TcpSocket c2 = TcpSocket::open(client_);
  c2.set_nonblocking(true);
  EXPECT_EQ(c2.connect(kServerAddr, kPort), -1);
  EXPECT_EQ(ep.wait(1000), EPOLLIN);
  EXPECT_EQ(ep.last_fd(), listener_.fd());
}

TEST_F(EpollTest, peer_close_reports_epollin_and_epollrdhup) {
  EpollFd ep;
  ASSERT_EQ(ep.add(server_sock_.fd(), EPOLLIN | EPOLLRDHUP | EPOLLET), 0);
  client_sock_.reset();
  world_.run_for(4 * kOneWay);
  EXPECT_EQ(ep.wait(), EPOLLIN | EPOLLRDHUP);
}

TEST_F(EpollTest, reset_reports_epollerr_and_epollhup_unasked) {
  EpollFd ep;
  ASSERT_EQ(ep.add(server_sock_.fd(), EPOLLIN | EPOLLET), 0);
  linger lg{1, 0};
  ASSERT_EQ(sp::setsockopt(client_sock_.fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
  client_sock_.reset();  // RST
  world_.run_for(4 * kOneWay);
  const std::int64_t ev = ep.wait();
  EXPECT_TRUE(ev & EPOLLERR) << ev;
  EXPECT_TRUE(ev & EPOLLHUP) << ev;
}

TEST_F(EpollTest, closing_a_watched_socket_removes_it_from_the_set) {
  EpollFd ep;
  TcpSocket other = TcpSocket::open(server_);
  const int fd = other.fd();
  ASSERT_EQ(ep.add(fd, EPOLLOUT), 0);
  other.reset();
  EXPECT_EQ(ep.wait(), 0);
  // The descriptor number comes back for a new socket, which is not watched.
  TcpSocket again = TcpSocket::open(server_);
  ASSERT_EQ(again.fd(), fd);
  EXPECT_EQ(ep.ctl(EPOLL_CTL_DEL, fd, 0), -1);
  EXPECT_EQ(errno, ENOENT);
}

TEST_F(EpollTest, epoll_ctl_del_stops_reports) {
  EpollFd ep;
  const int fd = server_sock_.fd();
  ASSERT_EQ(ep.add(fd, EPOLLIN), 0);
  client_sends(10);
  ASSERT_EQ(ep.ctl(EPOLL_CTL_DEL, fd, 0), 0);
  EXPECT_EQ(ep.wait(), 0);
}

TEST_F(EpollTest, maxevents_limits_a_report_and_the_rest_comes_next) {
  EpollFd ep;
  TcpSocket a = TcpSocket::open(server_);
  TcpSocket b = TcpSocket::open(server_);
  // Unconnected sockets are hung up (TCP_CLOSE): reported at once.
  ASSERT_EQ(ep.add(a.fd(), EPOLLIN | EPOLLET), 0);
  ASSERT_EQ(ep.add(b.fd(), EPOLLIN | EPOLLET), 0);
  epoll_event evs[2]{};
  ASSERT_EQ(sp::epoll_wait(ep.fd(), evs, 1, 0), 1);
  EXPECT_EQ(evs[0].data.fd, a.fd());
  EXPECT_EQ(evs[0].events, static_cast<std::uint32_t>(EPOLLHUP));
  ASSERT_EQ(sp::epoll_wait(ep.fd(), evs, 2, 0), 1);
  EXPECT_EQ(evs[0].data.fd, b.fd());
  EXPECT_EQ(sp::epoll_wait(ep.fd(), evs, 2, 0), 0);
}

TEST_F(EpollTest, nested_epoll_reports_the_inner_instance_readable) {
  EpollFd inner;
  EpollFd outer;
  ASSERT_EQ(inner.add(server_sock_.fd(), EPOLLIN | EPOLLET), 0);
  ASSERT_EQ(outer.add(inner.fd(), EPOLLIN | EPOLLET), 0);
  EXPECT_EQ(outer.wait(), 0);
  client_sends(10);
  EXPECT_EQ(outer.wait(), EPOLLIN);
  EXPECT_EQ(outer.last_fd(), inner.fd());
  EXPECT_EQ(inner.wait(), EPOLLIN);
  pollfd p{inner.fd(), POLLIN, 0};
  EXPECT_EQ(sp::poll(&p, 1, 0), 0) << "the edge was taken: nothing ready inside";
}

// Two instances watching the same socket with EPOLLEXCLUSIVE: a wake-up
// goes to the first one that has a waiter, not to both.
TEST_F(EpollTest, epollexclusive_wakes_one_waiting_instance) {
  EpollFd ep1;
  EpollFd ep2;
  const int fd = server_sock_.fd();
  ASSERT_EQ(ep1.add(fd, EPOLLIN | EPOLLEXCLUSIVE), 0);
  ASSERT_EQ(ep2.add(fd, EPOLLIN | EPOLLEXCLUSIVE), 0);
  ASSERT_EQ(sp::send(client_sock_.fd(), "x", 1, 0), 1);
  EXPECT_EQ(ep1.wait(1000), EPOLLIN);
  EXPECT_EQ(ep2.wait(), 0) << "the exclusive wake-up stopped at ep1";
  EpollFd ep3;
  EpollFd ep4;
  ASSERT_EQ(ep3.add(fd, EPOLLIN | EPOLLET), 0);
  ASSERT_EQ(ep4.add(fd, EPOLLIN | EPOLLET), 0);
  ASSERT_EQ(ep3.wait(), EPOLLIN) << "the unread byte: ready when added";
  ASSERT_EQ(ep4.wait(), EPOLLIN);
  ASSERT_EQ(sp::send(client_sock_.fd(), "x", 1, 0), 1);
  EXPECT_EQ(ep3.wait(1000), EPOLLIN);
  EXPECT_EQ(ep4.wait(), EPOLLIN) << "without EPOLLEXCLUSIVE both are woken";
}

// --- errno ---------------------------------------------------------------------

TEST_F(EpollTest, epoll_create_rejects_bad_size_and_flags) {
  EXPECT_EQ(sp::epoll_create(0), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(sp::epoll_create1(1), -1);
  EXPECT_EQ(errno, EINVAL);
  const int fd = sp::epoll_create1(EPOLL_CLOEXEC);
  ASSERT_GE(fd, 3);
  EXPECT_EQ(sp::close(fd), 0);
  EXPECT_EQ(sp::close(fd), -1);
  EXPECT_EQ(errno, EBADF);
}

TEST_F(EpollTest, epoll_ctl_errno_matches_linux) {
  EpollFd ep;
  const int fd = server_sock_.fd();
  epoll_event ev{};
  ev.events = EPOLLIN;
  EXPECT_EQ(sp::epoll_ctl(ep.fd(), EPOLL_CTL_ADD, fd, nullptr), -1);
  EXPECT_EQ(errno, EFAULT);
  EXPECT_EQ(sp::epoll_ctl(999, EPOLL_CTL_ADD, fd, &ev), -1);
  EXPECT_EQ(errno, EBADF) << "bad epoll descriptor";
  EXPECT_EQ(sp::epoll_ctl(ep.fd(), EPOLL_CTL_ADD, 999, &ev), -1);
  EXPECT_EQ(errno, EBADF) << "bad target descriptor";
  EXPECT_EQ(sp::epoll_ctl(fd, EPOLL_CTL_ADD, listener_.fd(), &ev), -1);
  EXPECT_EQ(errno, EINVAL) << "epfd is not an epoll instance";
  EXPECT_EQ(sp::epoll_ctl(ep.fd(), EPOLL_CTL_ADD, ep.fd(), &ev), -1);
  EXPECT_EQ(errno, EINVAL) << "an instance cannot watch itself";
  EXPECT_EQ(sp::epoll_ctl(ep.fd(), 42, fd, &ev), -1);
  EXPECT_EQ(errno, EINVAL) << "unknown op";
  EXPECT_EQ(sp::epoll_ctl(ep.fd(), EPOLL_CTL_MOD, fd, &ev), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(sp::epoll_ctl(ep.fd(), EPOLL_CTL_DEL, fd, nullptr), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(sp::epoll_ctl(ep.fd(), EPOLL_CTL_ADD, fd, &ev), 0);
  EXPECT_EQ(sp::epoll_ctl(ep.fd(), EPOLL_CTL_ADD, fd, &ev), -1);
  EXPECT_EQ(errno, EEXIST);
  EXPECT_EQ(sp::epoll_ctl(ep.fd(), EPOLL_CTL_DEL, fd, nullptr), 0) << "DEL needs no event";
}

TEST_F(EpollTest, epollexclusive_restrictions_are_einval) {
  EpollFd ep;
  EpollFd other;
  const int fd = server_sock_.fd();
  EXPECT_EQ(ep.add(fd, EPOLLIN | EPOLLRDHUP | EPOLLEXCLUSIVE), -1);
  EXPECT_EQ(errno, EINVAL) << "EPOLLRDHUP is not allowed with EPOLLEXCLUSIVE";
  EXPECT_EQ(ep.add(other.fd(), EPOLLIN | EPOLLEXCLUSIVE), -1);
  EXPECT_EQ(errno, EINVAL) << "an exclusive item cannot watch an epoll instance";
  ASSERT_EQ(ep.add(fd, EPOLLIN | EPOLLEXCLUSIVE), 0);
  EXPECT_EQ(ep.mod(fd, EPOLLIN), -1);
  EXPECT_EQ(errno, EINVAL) << "an exclusive item cannot be modified";
  EXPECT_EQ(ep.mod(fd, EPOLLIN | EPOLLEXCLUSIVE), -1);
  EXPECT_EQ(errno, EINVAL);
}

TEST_F(EpollTest, epoll_cycles_and_deep_nesting_are_eloop) {
  EpollFd a;
  EpollFd b;
  ASSERT_EQ(a.add(b.fd(), EPOLLIN), 0);
  EXPECT_EQ(b.add(a.fd(), EPOLLIN), -1);
  EXPECT_EQ(errno, ELOOP) << "b inside a, a inside b";
  // A chain e[0] <- e[1] <- ... each watching the one before: at most
  // EP_MAX_NESTS (4) levels of nesting.
  std::vector<std::unique_ptr<EpollFd>> e;
  for (int i = 0; i < 6; ++i) e.push_back(std::make_unique<EpollFd>());
  for (int i = 1; i <= 4; ++i) ASSERT_EQ(e[i]->add(e[i - 1]->fd(), EPOLLIN), 0) << i;
  EXPECT_EQ(e[5]->add(e[4]->fd(), EPOLLIN), -1);
  EXPECT_EQ(errno, ELOOP);
}

TEST_F(EpollTest, epoll_wait_errno_matches_linux) {
  EpollFd ep;
  epoll_event ev{};
  EXPECT_EQ(sp::epoll_wait(ep.fd(), &ev, 0, 0), -1);
  EXPECT_EQ(errno, EINVAL) << "maxevents must be positive";
  EXPECT_EQ(sp::epoll_wait(ep.fd(), nullptr, 1, 0), -1);
  EXPECT_EQ(errno, EFAULT);
  EXPECT_EQ(sp::epoll_wait(999, &ev, 1, 0), -1);
  EXPECT_EQ(errno, EBADF);
  EXPECT_EQ(sp::epoll_wait(server_sock_.fd(), &ev, 1, 0), -1);
  EXPECT_EQ(errno, EINVAL) << "not an epoll instance";
}

TEST_F(EpollTest, socket_calls_on_an_epoll_descriptor_are_enotsock) {
  EpollFd ep;
  EXPECT_EQ(sp::send(ep.fd(), "x", 1, 0), -1);
  EXPECT_EQ(errno, ENOTSOCK);
  EXPECT_EQ(sp::listen(ep.fd(), 1), -1);
  EXPECT_EQ(errno, ENOTSOCK);
}

}  // namespace
}  // namespace sp::epoll_test
