// An echo server and client on sendpath.
//
//   echo                       both ends in this process, joined by a
//                              simulated link; the server on its own thread
//   echo --tap sptap0 --addr 10.77.0.2/24 --listen 7
//                              the server only, for Linux clients on the tap
//   echo --tap sptap0 --addr 10.77.0.2/24 --connect 10.77.0.1:7
//                              the client only, against a Linux echo server
//
// The hosts run in a thread of their own (Host::run_in_thread), so the
// server thread and the client (main thread) make ordinary blocking calls.
#include <atomic>
#include <string>
#include <thread>

#include "common.hpp"

namespace {

const char* const kUsage =
    "usage: echo [--count N] [--tap DEV [--netns NS] [--addr A/P] [--gw IP]\n"
    "             (--listen PORT | --connect IP:PORT)]\n";

// Echoes what each client sends until it closes; serves `clients` clients
// (0: for ever). `ready` is set once the socket listens.
void serve(sp::Host& host, std::uint16_t port, int clients, std::atomic<bool>* ready) {
  const int lfd = ex::listen_on(host, port);
  ready->store(true);
  for (int served = 0; clients == 0 || served < clients; ++served) {
    const int fd = sp::accept(lfd, nullptr, nullptr);
    ex::check(fd >= 0, "accept");
    char buf[4096];
    for (;;) {
      const ssize_t n = sp::recv(fd, buf, sizeof buf, 0);
      ex::check(n >= 0, "recv");
      if (n == 0) break;
      ex::send_all(fd, buf, static_cast<std::size_t>(n));
    }
    sp::close(fd);
  }
  sp::close(lfd);
}

// Sends `messages` lines and checks that each comes back whole.
void client(sp::Host& host, const sockaddr_in& to, int messages) {
  sp::TcpSocket s = sp::TcpSocket::open(host);
  ex::check(s.valid(), "socket");
  ex::check(sp::connect(s.fd(), reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0, "connect");
  std::size_t bytes = 0;
  for (int i = 0; i < messages; ++i) {
    const std::string line =
        "message " + std::to_string(i) + " of " + std::to_string(messages) + "\n";
    ex::send_all(s.fd(), line.data(), line.size());
    std::string back(line.size(), '\0');
    std::size_t got = 0;
    while (got < back.size()) {
      const ssize_t n = sp::recv(s.fd(), back.data() + got, back.size() - got, 0);
      ex::check(n >= 0, "recv");
      if (n == 0) ex::die("the server closed early");
      got += static_cast<std::size_t>(n);
    }
    if (back != line) ex::die("echoed back differently: " + back);
    bytes += line.size();
  }
  s.shutdown(SHUT_WR);
  std::printf("echo: %d messages, %zu bytes, all echoed back\n", messages, bytes);
}

}  // namespace

int main(int argc, char** argv) {
  const ex::Options o = ex::parse(argc, argv, kUsage);
  const int messages = o.count > 0 ? o.count : 100;
  constexpr std::uint16_t kPort = 7;
  std::string err;

  if (!o.tap.empty()) {
    sp::Host host("echo");
    ex::open_tap(host, o);
    if (host.run_in_thread(&err) < 0) ex::die(err);
    std::atomic<bool> ready{false};
    if (o.listen_port) {
      serve(host, static_cast<std::uint16_t>(o.listen_port), o.count, &ready);
    } else if (!o.connect.empty()) {
      client(host, ex::parse_host_port(o.connect), messages);
    } else {
      ex::die(std::string("with --tap, say --listen or --connect\n") + kUsage);
    }
    return 0;
  }

  sp::Host server("server");
  sp::Host client_host("client");
  ex::join_sim(client_host, server, "echo-link");
  // Joined by the link, the two hosts share one loop: this runs both.
  if (server.run_in_thread(&err) < 0) ex::die(err);
  std::atomic<bool> ready{false};
  std::thread server_thread([&] { serve(server, kPort, 1, &ready); });
  while (!ready.load()) std::this_thread::yield();
  client(client_host, ex::make_addr(ex::kServerAddr, kPort), messages);
  server_thread.join();
  return 0;
}
