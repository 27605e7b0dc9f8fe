// What a program sees through libsendpath-preload.so, checked from inside
// such a program: this binary knows nothing of sendpath (plain libc calls),
// and tests/preload/run.sh runs it with LD_PRELOAD against Linux peers in a
// namespace it creates:
//   PEER:7001  echo (socat)
//   PEER:7002  takes one connection and keeps what it reads (exit linger)
//   PEER:7998  SYNs dropped (timed out)
//   PEER:7999  nothing listens (refused)
// Environment: SP_PEER (Linux's address), SP_SELF (sendpath's), SP_NS.
//
// `shim_check --socket-errnos` prints the errno of two TCP socket() calls.
// `shim_check --write-and-exit N` connects to PEER:7002, writes N bytes of
// a pattern and exits without closing: the shim must deliver them anyway.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string env(const char* n) {
  const char* v = std::getenv(n);
  return v ? v : "";
}

sockaddr_in addr(const std::string& ip, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

// A connected TCP socket to the peer's port (blocking), or -1.
int dial(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a = addr(env("SP_PEER"), port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Reads exactly n bytes (blocking), false on EOF or error.
bool read_all(int fd, char* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = read(fd, buf + got, n - got);
    if (r <= 0) return false;
    got += static_cast<size_t>(r);
  }
  return true;
}

// Runs a shell command with the kernel's sockets (no preload), in the background.
void linux_side(const std::string& cmd) {
  const std::string full = "env -u LD_PRELOAD timeout 20 ip netns exec " + env("SP_NS") +
                           " sh -c '" + cmd + "' >/dev/null 2>&1 &";
  ASSERT_EQ(std::system(full.c_str()), 0);
}

TEST(Shim, echo_round_trip_and_what_the_socket_looks_like) {
  const int fd = dial(7001);
  ASSERT_GE(fd, 0) << strerror(errno);
  struct stat st {};
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  int type = 0;
  socklen_t len = sizeof type;
  ASSERT_EQ(getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len), 0);
  EXPECT_EQ(type, SOCK_STREAM);
  sockaddr_in me{}, peer{};
  socklen_t ml = sizeof me, pl = sizeof peer;
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&me), &ml), 0);
  ASSERT_EQ(getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl), 0);
  char ip[32];
  EXPECT_EQ(std::string(inet_ntop(AF_INET, &me.sin_addr, ip, sizeof ip)), env("SP_SELF"));
  EXPECT_EQ(std::string(inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip)), env("SP_PEER"));
  EXPECT_EQ(ntohs(peer.sin_port), 7001);
  EXPECT_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);

  // 1 MiB through the echo in 4 KiB writes, read back and compared.
  std::vector<char> out(1 << 20), in(out.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(i * 7 + 3);
  std::thread writer([&] {
    for (size_t off = 0; off < out.size(); off += 4096)
      ASSERT_EQ(write(fd, out.data() + off, 4096), 4096);
  });
  ASSERT_TRUE(read_all(fd, in.data(), in.size()));
  writer.join();
  EXPECT_EQ(in, out);

  // FIONREAD counts what is queued.
  ASSERT_EQ(send(fd, "abc", 3, 0), 3);
  int queued = 0;
  for (int i = 0; i < 200 && queued < 3; ++i) {
    ASSERT_EQ(ioctl(fd, FIONREAD, &queued), 0);
    if (queued < 3) usleep(5000);
  }
  EXPECT_EQ(queued, 3);
  char b[3];
  ASSERT_TRUE(read_all(fd, b, 3));
  // Our FIN: the echo closes, we read end of stream.
  ASSERT_EQ(shutdown(fd, SHUT_WR), 0);
  EXPECT_EQ(read(fd, b, 1), 0);
  EXPECT_EQ(close(fd), 0);
  EXPECT_EQ(close(fd), -1);
  EXPECT_EQ(errno, EBADF);
}

TEST(Shim, threads_each_with_connections_of_their_own_and_one_shared) {
  // Four threads, each echoing 2 MiB through a connection of its own, while
  // a fifth blocks in recv on a shared socket that a sixth writes to.
  constexpr size_t kBytes = 2 << 20;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &ok] {
      const int fd = dial(7001);
      if (fd < 0) return;
      std::vector<char> out(kBytes), in(kBytes);
      for (size_t i = 0; i < kBytes; ++i) out[i] = static_cast<char>(i * (t + 3));
      std::thread w([&] {
        for (size_t off = 0; off < kBytes; off += 65536)
          if (write(fd, out.data() + off, 65536) != 65536) return;
      });
      const bool got = read_all(fd, in.data(), kBytes);
      w.join();
      if (got && in == out) ++ok;
      close(fd);
    });
  }
  const int shared = dial(7001);
  ASSERT_GE(shared, 0);
  char c = 0;
  std::thread reader([&] { ASSERT_EQ(recv(shared, &c, 1, MSG_WAITALL), 1); });
  std::thread writer([&] {
    usleep(100000);
    ASSERT_EQ(send(shared, "s", 1, 0), 1);
  });
  writer.join();
  reader.join();
  EXPECT_EQ(c, 's');
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 4);
  close(shared);
}

TEST(Shim, vectored_calls_sendfile_and_mmsg) {
  const int fd = dial(7001);
  ASSERT_GE(fd, 0);
  // writev / readv.
  char a[] = "hello ", b[] = "world";
  iovec out[2] = {{a, 6}, {b, 5}};
  ASSERT_EQ(writev(fd, out, 2), 11);
  char x[4], y[7];
  iovec in[2] = {{x, 4}, {y, 7}};
  size_t got = 0;
  while (got < 11) {
    iovec part[2];
    int n = 0;
    size_t skip = got;
    for (const iovec& v : in) {
      if (skip >= v.iov_len) {
        skip -= v.iov_len;
        continue;
      }
      part[n++] = {static_cast<char*>(v.iov_base) + skip, v.iov_len - skip};
      skip = 0;
    }
    const ssize_t r = readv(fd, part, n);
    ASSERT_GT(r, 0);
    got += static_cast<size_t>(r);
  }
  EXPECT_EQ(std::string(x, 4) + std::string(y, 7), "hello world");

  // sendfile from a file, with and without an offset.
  char path[] = "/tmp/shim_check_XXXXXX";
  const int file = mkstemp(path);
  ASSERT_GE(file, 0);
  unlink(path);
  std::string body(300000, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('A' + i % 23);
  ASSERT_EQ(write(file, body.data(), body.size()), static_cast<ssize_t>(body.size()));
  off_t off = 1000;
  ASSERT_EQ(sendfile(fd, file, &off, 100000), 100000);
  EXPECT_EQ(off, 101000);
  EXPECT_EQ(lseek(file, 0, SEEK_CUR), static_cast<off_t>(body.size()));  // untouched
  ASSERT_EQ(lseek(file, 5, SEEK_SET), 5);
  ASSERT_EQ(sendfile(fd, file, nullptr, 50), 50);
  EXPECT_EQ(lseek(file, 0, SEEK_CUR), 55);  // advanced by what went
  std::string back(100050, '\0');
  ASSERT_TRUE(read_all(fd, back.data(), back.size()));
  EXPECT_EQ(back, body.substr(1000, 100000) + body.substr(5, 50));
  close(file);

  // sendmmsg / recvmmsg.
  char m1[] = "one", m2[] = "two";
  iovec v1{m1, 3}, v2{m2, 3};
  mmsghdr msgs[2]{};
  msgs[0].msg_hdr.msg_iov = &v1;
  msgs[0].msg_hdr.msg_iovlen = 1;
  msgs[1].msg_hdr.msg_iov = &v2;
  msgs[1].msg_hdr.msg_iovlen = 1;
  ASSERT_EQ(sendmmsg(fd, msgs, 2, 0), 2);
  EXPECT_EQ(msgs[0].msg_len, 3u);
  EXPECT_EQ(msgs[1].msg_len, 3u);
  char r6[6];
  ASSERT_TRUE(read_all(fd, r6, 6));
  EXPECT_EQ(std::string(r6, 6), "onetwo");
  ASSERT_EQ(send(fd, "mm", 2, 0), 2);
  char rbuf[8];
  iovec rv{rbuf, sizeof rbuf};
  mmsghdr rm{};
  rm.msg_hdr.msg_iov = &rv;
  rm.msg_hdr.msg_iovlen = 1;
  ASSERT_EQ(recvmmsg(fd, &rm, 1, MSG_WAITFORONE, nullptr), 1);
  ASSERT_GE(rm.msg_len, 1u);
  close(fd);
}

TEST(Shim, nonblocking_connect_reports_through_poll_and_so_error) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  ASSERT_GE(fd, 0);
  EXPECT_NE(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
  sockaddr_in a = addr(env("SP_PEER"), 7001);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), -1);
  EXPECT_EQ(errno, EINPROGRESS);
  pollfd p{fd, POLLOUT, 0};
  ASSERT_EQ(poll(&p, 1, 5000), 1);
  EXPECT_TRUE(p.revents & POLLOUT);
  int err = -1;
  socklen_t len = sizeof err;
  ASSERT_EQ(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
  EXPECT_EQ(err, 0);
  // Nothing to read yet: EAGAIN, not a block.
  char c;
  EXPECT_EQ(recv(fd, &c, 1, 0), -1);
  EXPECT_EQ(errno, EAGAIN);
  close(fd);
}

TEST(Shim, connect_to_a_closed_port_is_refused) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = addr(env("SP_PEER"), 7999);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), -1);
  EXPECT_EQ(errno, ECONNREFUSED);
  close(fd);
}

TEST(Shim, a_connect_nobody_answers_times_out) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  const int syncnt = 1;  // one retry: about 3 s (1 s, then 2 s) instead of two minutes
  ASSERT_EQ(setsockopt(fd, IPPROTO_TCP, TCP_SYNCNT, &syncnt, sizeof syncnt), 0);
  sockaddr_in a = addr(env("SP_PEER"), 7998);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), -1);
  EXPECT_EQ(errno, ETIMEDOUT);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, std::chrono::milliseconds(2500));
  EXPECT_LT(took, std::chrono::seconds(10));
  close(fd);
}

TEST(Shim, poll_and_select_wait_on_kernel_and_sendpath_descriptors_together) {
  const int fd = dial(7001);
  ASSERT_GE(fd, 0);
  int pfd[2];
  ASSERT_EQ(pipe(pfd), 0);
  // Nothing ready for reading: poll times out.
  pollfd p[2] = {{pfd[0], POLLIN, 0}, {fd, POLLIN, 0}};
  EXPECT_EQ(poll(p, 2, 50), 0);
  // The pipe wakes it (a thread writes while poll sleeps).
  std::thread t1([&] {
    usleep(50000);
    ASSERT_EQ(write(pfd[1], "x", 1), 1);
  });
  ASSERT_EQ(poll(p, 2, 5000), 1);
  t1.join();
  EXPECT_EQ(p[0].revents, POLLIN);
  EXPECT_EQ(p[1].revents, 0);
  char c;
  ASSERT_EQ(read(pfd[0], &c, 1), 1);
  // The socket wakes it: the echo's reply arrives while poll sleeps.
  ASSERT_EQ(write(fd, "y", 1), 1);
  ASSERT_EQ(poll(p, 2, 5000), 1);
  EXPECT_EQ(p[0].revents, 0);
  EXPECT_EQ(p[1].revents, POLLIN);
  // select sees the same, and the socket is writable.
  fd_set rd, wr;
  FD_ZERO(&rd);
  FD_ZERO(&wr);
  FD_SET(fd, &rd);
  FD_SET(pfd[0], &rd);
  FD_SET(fd, &wr);
  timeval tv{1, 0};
  ASSERT_EQ(select(std::max(fd, pfd[0]) + 1, &rd, &wr, nullptr, &tv), 2);
  EXPECT_TRUE(FD_ISSET(fd, &rd));
  EXPECT_FALSE(FD_ISSET(pfd[0], &rd));
  EXPECT_TRUE(FD_ISSET(fd, &wr));
  ASSERT_EQ(read(fd, &c, 1), 1);
  EXPECT_EQ(c, 'y');
  // Drained: select on reading times out.
  FD_ZERO(&rd);
  FD_SET(fd, &rd);
  tv = {0, 50000};
  EXPECT_EQ(select(fd + 1, &rd, nullptr, nullptr, &tv), 0);
  close(pfd[0]);
  close(pfd[1]);
  close(fd);
}

// Events epoll_wait reports for the descriptor whose data is `tag` within timeout.
int count_events(int ep, std::uint64_t tag, int timeout_ms, std::uint32_t* last = nullptr) {
  epoll_event ev[8];
  const int n = epoll_wait(ep, ev, 8, timeout_ms);
  int c = 0;
  for (int i = 0; i < n; ++i) {
    if (ev[i].data.u64 != tag) continue;
    ++c;
    if (last) *last = ev[i].events;
  }
  return c;
}

TEST(Shim, epoll_level_edge_oneshot_and_rdhup_over_mixed_descriptors) {
  const int fd = dial(7001);
  ASSERT_GE(fd, 0);
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  ASSERT_GE(ep, 0);
  int pfd[2];
  ASSERT_EQ(pipe(pfd), 0);
  // A kernel descriptor with a data word of the program's own.
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 0xfeedfacecafebeefull;
  ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, pfd[0], &ev), 0);
  ev.events = EPOLLIN;
  ev.data.u64 = 42;
  ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
  EXPECT_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), -1);
  EXPECT_EQ(errno, EEXIST);
  EXPECT_EQ(count_events(ep, 42, 50), 0);

  // Level-triggered: reported while data waits.
  ASSERT_EQ(write(fd, "ab", 2), 2);
  std::uint32_t mask = 0;
  ASSERT_EQ(count_events(ep, 42, 5000, &mask), 1);
  EXPECT_EQ(mask, static_cast<std::uint32_t>(EPOLLIN));
  usleep(20000);  // let the second byte come too
  EXPECT_EQ(count_events(ep, 42, 0), 1);
  char buf[16];
  ASSERT_EQ(recv(fd, buf, sizeof buf, 0), 2);
  EXPECT_EQ(count_events(ep, 42, 50), 0);

  // The kernel descriptor's event comes through with its own data.
  ASSERT_EQ(write(pfd[1], "z", 1), 1);
  EXPECT_EQ(count_events(ep, 0xfeedfacecafebeefull, 1000), 1);
  ASSERT_EQ(read(pfd[0], buf, 1), 1);

  // Edge-triggered: once per arrival, not again while it stays unread.
  ev.events = EPOLLIN | EPOLLET;
  ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev), 0);
  ASSERT_EQ(write(fd, "c", 1), 1);
  EXPECT_EQ(count_events(ep, 42, 5000), 1);
  EXPECT_EQ(count_events(ep, 42, 50), 0);
  ASSERT_EQ(write(fd, "d", 1), 1);  // a new arrival: a new edge
  EXPECT_EQ(count_events(ep, 42, 5000), 1);
  usleep(20000);
  ASSERT_EQ(recv(fd, buf, sizeof buf, 0), 2);

  // One-shot: once, then nothing until EPOLL_CTL_MOD re-arms it.
  ev.events = EPOLLIN | EPOLLONESHOT;
  ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev), 0);
  ASSERT_EQ(write(fd, "e", 1), 1);
  EXPECT_EQ(count_events(ep, 42, 5000), 1);
  EXPECT_EQ(count_events(ep, 42, 50), 0);
  ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev), 0);
  EXPECT_EQ(count_events(ep, 42, 1000), 1);
  ASSERT_EQ(recv(fd, buf, sizeof buf, 0), 1);

  // EPOLLOUT level-triggered on an idle connection: writable.
  ev.events = EPOLLOUT;
  ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev), 0);
  ASSERT_EQ(count_events(ep, 42, 1000, &mask), 1);
  EXPECT_EQ(mask, static_cast<std::uint32_t>(EPOLLOUT));

  // The peer's FIN: EPOLLRDHUP with EPOLLIN.
  ev.events = EPOLLIN | EPOLLRDHUP;
  ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev), 0);
  ASSERT_EQ(shutdown(fd, SHUT_WR), 0);  // the echo ends and closes its side
  ASSERT_EQ(count_events(ep, 42, 5000, &mask), 1);
  EXPECT_TRUE(mask & EPOLLIN);
  EXPECT_TRUE(mask & EPOLLRDHUP);

  ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr), 0);
  EXPECT_EQ(epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(count_events(ep, 42, 50), 0);
  close(fd);
  close(pfd[0]);
  close(pfd[1]);
  close(ep);
}

TEST(Shim, closing_a_watched_socket_removes_it_from_epoll) {
  const int fd = dial(7001);
  ASSERT_GE(fd, 0);
  const int ep = epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLOUT;
  ev.data.u64 = 7;
  ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
  EXPECT_EQ(count_events(ep, 7, 1000), 1);
  close(fd);
  EXPECT_EQ(count_events(ep, 7, 50), 0);
  close(ep);
}

std::atomic<int> g_signals{0};
void on_signal(int) {
  ++g_signals;
}

TEST(Shim, a_signal_interrupts_a_blocking_recv_with_eintr) {
  const int fd = dial(7001);
  ASSERT_GE(fd, 0);
  struct sigaction sa {};
  sa.sa_handler = on_signal;  // no SA_RESTART
  sigaction(SIGALRM, &sa, nullptr);
  g_signals = 0;
  itimerval it{};
  it.it_value.tv_usec = 100000;
  setitimer(ITIMER_REAL, &it, nullptr);
  const auto t0 = std::chrono::steady_clock::now();
  char c;
  EXPECT_EQ(recv(fd, &c, 1, 0), -1);
  EXPECT_EQ(errno, EINTR);
  EXPECT_EQ(g_signals.load(), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  signal(SIGALRM, SIG_DFL);
  close(fd);
}

TEST(Shim, a_blocking_recv_interrupted_by_an_sa_restart_handler_goes_on) {
  const int fd = dial(7001);
  ASSERT_GE(fd, 0);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, nullptr);
  g_signals = 0;
  itimerval it{};
  it.it_value.tv_usec = 100000;
  setitimer(ITIMER_REAL, &it, nullptr);
  // The byte comes back from the echo well after the signal.
  std::thread later([fd] {
    usleep(300000);
    ASSERT_EQ(send(fd, "r", 1, 0), 1);
  });
  char c = 0;
  EXPECT_EQ(recv(fd, &c, 1, 0), 1);
  EXPECT_EQ(c, 'r');
  EXPECT_EQ(g_signals.load(), 1);
  later.join();
  signal(SIGALRM, SIG_DFL);
  close(fd);
}

TEST(Shim, so_rcvtimeo_bounds_a_blocking_recv) {
  const int fd = dial(7001);
  ASSERT_GE(fd, 0);
  timeval tv{0, 200000};
  ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
  const auto t0 = std::chrono::steady_clock::now();
  char c;
  EXPECT_EQ(recv(fd, &c, 1, 0), -1);
  EXPECT_EQ(errno, EAGAIN);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, std::chrono::milliseconds(150));
  EXPECT_LT(took, std::chrono::seconds(3));
  close(fd);
}

TEST(Shim, a_send_after_shutdown_raises_sigpipe_unless_msg_nosignal) {
  const int fd = dial(7001);
  ASSERT_GE(fd, 0);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGPIPE, &sa, nullptr);
  g_signals = 0;
  ASSERT_EQ(shutdown(fd, SHUT_WR), 0);
  char c = 'x';
  EXPECT_EQ(send(fd, &c, 1, MSG_NOSIGNAL), -1);
  EXPECT_EQ(errno, EPIPE);
  EXPECT_EQ(g_signals.load(), 0);
  EXPECT_EQ(send(fd, &c, 1, 0), -1);
  EXPECT_EQ(errno, EPIPE);
  EXPECT_EQ(g_signals.load(), 1);
  EXPECT_EQ(write(fd, &c, 1), -1);
  EXPECT_EQ(errno, EPIPE);
  EXPECT_EQ(g_signals.load(), 2);
  signal(SIGPIPE, SIG_DFL);
  close(fd);
}

TEST(Shim, dup_keeps_the_connection_until_the_last_close) {
  const int fd = dial(7001);
  ASSERT_GE(fd, 0);
  const int fd2 = dup(fd);
  ASSERT_GE(fd2, 0);
  ASSERT_NE(fd2, fd);
  const int fd3 = fcntl(fd, F_DUPFD_CLOEXEC, 100);
  ASSERT_GE(fd3, 100);
  EXPECT_EQ(fcntl(fd3, F_GETFD), FD_CLOEXEC);
  EXPECT_EQ(fcntl(fd2, F_GETFD), 0);
  ASSERT_EQ(close(fd), 0);
  ASSERT_EQ(write(fd2, "q", 1), 1);
  char c;
  ASSERT_TRUE(read_all(fd3, &c, 1));
  EXPECT_EQ(c, 'q');
  // O_NONBLOCK belongs to the open file: set through one, seen through another.
  ASSERT_EQ(fcntl(fd2, F_SETFL, O_NONBLOCK), 0);
  EXPECT_NE(fcntl(fd3, F_GETFL) & O_NONBLOCK, 0);
  EXPECT_EQ(read(fd3, &c, 1), -1);
  EXPECT_EQ(errno, EAGAIN);
  // dup2 onto a pipe's descriptor: it now names the socket.
  int pfd[2];
  ASSERT_EQ(pipe(pfd), 0);
  ASSERT_EQ(dup2(fd2, pfd[0]), pfd[0]);
  ASSERT_EQ(write(pfd[0], "r", 1), 1);
  ASSERT_EQ(fcntl(fd2, F_SETFL, 0), 0);
  ASSERT_TRUE(read_all(fd2, &c, 1));
  EXPECT_EQ(c, 'r');
  close(pfd[1]);
  close(pfd[0]);
  close(fd2);
  // The last descriptor: our FIN goes, the echo answers with its own.
  ASSERT_EQ(shutdown(fd3, SHUT_WR), 0);
  EXPECT_EQ(read(fd3, &c, 1), 0);
  close(fd3);
}

TEST(Shim, close_range_closes_sockets_and_frees_their_numbers) {
  const int fd = dial(7001);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(close_range(static_cast<unsigned>(fd), static_cast<unsigned>(fd), 0), 0);
  EXPECT_EQ(fcntl(fd, F_GETFD), -1);
  EXPECT_EQ(errno, EBADF);
  // The number comes back for a pipe, which must behave as a pipe.
  int pfd[2];
  ASSERT_EQ(pipe(pfd), 0);
  const int r = pfd[0] == fd ? pfd[0] : pfd[1] == fd ? pfd[1] : -1;
  EXPECT_NE(r, -1) << "the freed number was not reused";
  ASSERT_EQ(write(pfd[1], "p", 1), 1);
  char c;
  ASSERT_EQ(read(pfd[0], &c, 1), 1);
  EXPECT_EQ(c, 'p');
  struct stat st {};
  ASSERT_EQ(fstat(pfd[0], &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  close(pfd[0]);
  close(pfd[1]);
}

TEST(Shim, accept_from_a_linux_client) {
  const int ls = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(ls, 0);
  const int one = 1;
  ASSERT_EQ(setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
  sockaddr_in a = addr("0.0.0.0", 7100);
  ASSERT_EQ(bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(ls, 8), 0);
  linux_side("printf hello | nc -N " + env("SP_SELF") + " 7100");
  sockaddr_in from{};
  socklen_t fl = sizeof from;
  const int c = accept4(ls, reinterpret_cast<sockaddr*>(&from), &fl, SOCK_CLOEXEC);
  ASSERT_GE(c, 0) << strerror(errno);
  char ip[32];
  EXPECT_EQ(std::string(inet_ntop(AF_INET, &from.sin_addr, ip, sizeof ip)), env("SP_PEER"));
  EXPECT_EQ(fcntl(c, F_GETFD), FD_CLOEXEC);
  char buf[5];
  ASSERT_TRUE(read_all(c, buf, 5));
  EXPECT_EQ(std::string(buf, 5), "hello");
  EXPECT_EQ(read(c, buf, 1), 0);
  close(c);
  // A non-blocking listener with nothing queued: EAGAIN.
  ASSERT_EQ(fcntl(ls, F_SETFL, O_NONBLOCK), 0);
  EXPECT_EQ(accept(ls, nullptr, nullptr), -1);
  EXPECT_EQ(errno, EAGAIN);
  close(ls);
}

TEST(Shim, a_forked_child_gets_ebadf_and_the_parent_keeps_its_connection) {
  const int fd = dial(7001);
  ASSERT_GE(fd, 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int code = 0;
    if (write(fd, "child", 5) != -1 || errno != EBADF) code |= 1;
    if (socket(AF_INET, SOCK_STREAM, 0) != -1 || errno != EAFNOSUPPORT) code |= 2;
    const int u = socket(AF_INET, SOCK_DGRAM, 0);  // the kernel's: still fine
    if (u < 0) code |= 4;
    if (close(fd) != 0) code |= 8;  // closes the child's descriptor only
    _exit(code);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  ASSERT_EQ(write(fd, "parent", 6), 6);
  char buf[6];
  ASSERT_TRUE(read_all(fd, buf, 6));
  EXPECT_EQ(std::string(buf, 6), "parent");
  close(fd);
}

TEST(Shim, exec_does_not_pass_sendpath_descriptors_on) {
  const int fd = dial(7001);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(fcntl(fd, F_GETFD), 0);  // the program did not ask for close-on-exec
  const std::string cmd =
      "env -u LD_PRELOAD sh -c 'test ! -e /proc/self/fd/" + std::to_string(fd) + "'";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  close(fd);
}

TEST(Shim, udp_and_unix_sockets_stay_on_the_kernel) {
  const int u = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(u, 0);
  sockaddr_in a = addr("127.0.0.1", 0);
  ASSERT_EQ(bind(u, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);  // the kernel's loopback
  close(u);
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  ASSERT_EQ(write(sv[0], "u", 1), 1);
  char c;
  ASSERT_EQ(read(sv[1], &c, 1), 1);
  close(sv[0]);
  close(sv[1]);
  // A TCP socket asked for IPv6 stays on the kernel too.
  const int six = socket(AF_INET6, SOCK_STREAM, 0);
  if (six >= 0) close(six);
}

// The exit-linger helper: write n bytes and exit without closing.
int write_and_exit(long n) {
  const int fd = dial(7002);
  if (fd < 0) {
    std::perror("dial");
    return 2;
  }
  std::vector<char> buf(1 << 16);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<char>('a' + i % 26);
  long left = n;
  while (left > 0) {
    const ssize_t w = write(fd, buf.data(), static_cast<size_t>(std::min<long>(left, 65536)));
    if (w <= 0) {
      std::perror("write");
      return 3;
    }
    left -= w;
  }
  std::exit(0);  // no close: exit's
}

}  // namespace

// The no-device helper: two TCP sockets, each failure's errno on stdout.
int socket_errnos() {
  for (int i = 0; i < 2; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    std::printf("%s\n", fd >= 0 ? "ok" : strerrorname_np(errno));
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--socket-errnos") return socket_errnos();
  if (argc == 3 && std::string(argv[1]) == "--write-and-exit")
    return write_and_exit(std::atol(argv[2]));
  if (env("SP_PEER").empty()) {
    std::fprintf(stderr, "run through tests/preload/run.sh (needs SP_PEER, SP_SELF, SP_NS)\n");
    return 2;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
