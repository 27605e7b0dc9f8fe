// sp::Host (sendpath/stack.hpp): set-up errors, and the two ways to run it
// -- a stack thread serving blocking calls from several threads at once,
// and the program's own loop -- over a SimLink pair on real time.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "sendpath/api.hpp"
#include "sendpath/socket.hpp"
#include "sendpath/stack.hpp"

namespace sp::api_test {
namespace {

DeviceOptions sim(const std::string& name) {
  DeviceOptions d;
  d.kind = DeviceKind::kSimLink;
  d.name = name;
  d.sim_delay_us = 100;
  return d;
}

// Joins a (10.9.0.1) and b (10.9.0.2) by a SimLink named `name`.
void join(Host& a, Host& b, const std::string& name) {
  std::string err;
  const int ia = a.open_device(sim(name), &err);
  ASSERT_GT(ia, 0) << err;
  const int ib = b.open_device(sim(name), &err);
  ASSERT_GT(ib, 0) << err;
  ASSERT_EQ(a.add_address(ia, "10.9.0.1/24", &err), 0) << err;
  ASSERT_EQ(b.add_address(ib, "10.9.0.2/24", &err), 0) << err;
}

sockaddr_in addr(const char* ip, std::uint16_t port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  inet_pton(AF_INET, ip, &sin.sin_addr);
  return sin;
}

TEST(Host, bad_addresses_routes_and_sysctls_are_errors_with_a_message) {
  Host h;
  std::string err;
  const int i = h.open_device(sim("host-errors"), &err);
  ASSERT_GT(i, 0) << err;
  EXPECT_EQ(h.add_address(i, "10.0.0.300/24", &err), -1);
  EXPECT_NE(err.find("bad address"), std::string::npos) << err;
  EXPECT_EQ(h.add_address(i + 7, "10.0.0.1/24", &err), -1);
  EXPECT_NE(err.find("no device"), std::string::npos) << err;
  EXPECT_EQ(h.add_route("0.0.0.0/0", "not-an-ip", i, &err), -1);
  EXPECT_EQ(h.set_sysctl("net.ipv4.no_such_thing", "1", &err), -1);
  EXPECT_FALSE(err.empty());
  EXPECT_EQ(h.set_sysctl("net.ipv4.tcp_congestion_control", "reno", &err), 0) << err;
}

TEST(Host, a_simlink_end_cannot_be_opened_once_the_host_runs) {
  Host a;
  Host b;
  ASSERT_EQ(a.run_in_thread(), 0);
  EXPECT_TRUE(a.running());
  std::string err;
  EXPECT_EQ(a.open_device(sim("host-late"), &err), -1);
  EXPECT_NE(err.find("before run_in_thread"), std::string::npos) << err;
  EXPECT_EQ(a.run_in_thread(&err), -1) << "already running";
  EXPECT_EQ(a.poll(), -1) << "the thread does the polling";
  a.stop();
  EXPECT_FALSE(a.running());
}

// Four client threads and a server thread make blocking calls on two hosts
// run by one stack thread; every byte comes back.
TEST(Host, blocking_calls_from_many_threads_on_a_host_running_in_its_thread) {
  Host client("client");
  Host server("server");
  join(client, server, "host-threads");
  ASSERT_EQ(server.run_in_thread(), 0);
  EXPECT_TRUE(client.running()) << "hosts joined by a SimLink share the loop";

  constexpr int kClients = 4;
  // Small enough to sit in the buffers while the server echoes another client.
  constexpr std::size_t kBytes = 32 * 1024;
  std::atomic<bool> listening{false};
  std::thread srv([&] {
    const int lfd = sp::socket(server, AF_INET, SOCK_STREAM, 0);
    sockaddr_in any = addr("0.0.0.0", 7);
    ASSERT_EQ(sp::bind(lfd, reinterpret_cast<sockaddr*>(&any), sizeof any), 0);
    ASSERT_EQ(sp::listen(lfd, 16), 0);
    listening = true;
    for (int i = 0; i < kClients; ++i) {
      // A descriptor belongs to the thread that made it: echo here, in turn.
      TcpSocket c(sp::accept(lfd, nullptr, nullptr));
      ASSERT_TRUE(c.valid());
      std::vector<std::uint8_t> buf(16384);
      for (ssize_t n; (n = c.recv(buf)) > 0;)
        ASSERT_EQ(c.send({buf.data(), static_cast<std::size_t>(n)}), n);
    }
    sp::close(lfd);
  });
  while (!listening) std::this_thread::yield();

  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      TcpSocket s = TcpSocket::open(client);
      sockaddr_in to = addr("10.9.0.2", 7);
      ASSERT_EQ(sp::connect(s.fd(), reinterpret_cast<sockaddr*>(&to), sizeof to), 0)
          << strerror(errno);
      std::vector<std::uint8_t> out(kBytes, static_cast<std::uint8_t>('a' + i));
      std::vector<std::uint8_t> in(kBytes);
      // Send everything, then read it back: the server echoes one client
      // at a time, so the others wait in the accept queue or in recv.
      ASSERT_EQ(sp::send(s.fd(), out.data(), out.size(), 0), static_cast<ssize_t>(kBytes));
      ASSERT_EQ(s.shutdown(SHUT_WR), 0);
      ASSERT_EQ(sp::recv(s.fd(), in.data(), in.size(), MSG_WAITALL), static_cast<ssize_t>(kBytes));
      EXPECT_EQ(in, out);
      ++ok;
    });
  }
  for (auto& t : clients) t.join();
  srv.join();
  EXPECT_EQ(ok, kClients);
}

// Without a thread: the program's loop polls, and sleeps on fds() and
// next_timeout_ms() when idle.
TEST(Host, a_program_loop_drives_the_hosts_with_poll) {
  Host client("client");
  Host server("server");
  join(client, server, "host-loop");
  const int lfd = sp::socket(server, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in any = addr("0.0.0.0", 9);
  ASSERT_EQ(sp::bind(lfd, reinterpret_cast<sockaddr*>(&any), sizeof any), 0);
  ASSERT_EQ(sp::listen(lfd, 4), 0);
  const int cfd = sp::socket(client, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in to = addr("10.9.0.2", 9);
  ASSERT_EQ(sp::connect(cfd, reinterpret_cast<sockaddr*>(&to), sizeof to), -1);
  ASSERT_EQ(errno, EINPROGRESS);
  EXPECT_TRUE(client.fds().empty()) << "a SimLink has no descriptor";
  EXPECT_GE(client.next_timeout_ms(), 0) << "the SYN is on the link";
  int afd = -1;
  for (int turns = 0; afd < 0 && turns < 10000; ++turns) {
    if (client.poll() == 0) {
      const int t = client.next_timeout_ms();
      ASSERT_GE(t, 0) << "something must be pending until the handshake is done";
      std::this_thread::sleep_for(std::chrono::milliseconds(t));
    }
    afd = sp::accept(lfd, nullptr, nullptr);
  }
  ASSERT_GE(afd, 0);
  sp::close(afd);
  sp::close(cfd);
  sp::close(lfd);
}

}  // namespace
}  // namespace sp::api_test
