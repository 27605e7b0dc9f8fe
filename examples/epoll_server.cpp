// An epoll server with many clients, driven from the program's own event
// loop: no stack thread. Each turn, Host::poll() does the stack's work, the
// server and the clients handle what epoll reports, and when nothing
// happened the program sleeps in poll(2) on Host::fds() for
// Host::next_timeout_ms() -- where a real program would also wait on its
// own descriptors.
//
//   epoll_server [--count N]   N clients (default 50) in this process, over
//                              a simulated link, each sending a request and
//                              checking the reply
//   epoll_server --tap sptap0 --addr 10.77.0.2/24 --listen 8000 [--count N]
//                              serve N Linux clients (0: for ever), e.g.
//                              `echo hi | nc -N 10.77.0.2 8000`
#include <poll.h>

#include <map>
#include <string>
#include <vector>

#include "common.hpp"

namespace {

const char* const kUsage =
    "usage: epoll_server [--count N] [--tap DEV [--netns NS] [--addr A/P] [--gw IP] --listen "
    "PORT]\n";

// The server: a non-blocking listener and connections on one epoll instance;
// each connection's bytes come back prefixed with "echo: ".
class Server {
 public:
  Server(sp::Host& host, std::uint16_t port) {
    lfd_ = ex::listen_on(host, port, SOCK_NONBLOCK);
    epfd_ = sp::epoll_create1(0);
    ex::check(epfd_ >= 0, "epoll_create1");
    watch(lfd_, EPOLLIN);
  }
  ~Server() {
    for (auto& [fd, out] : conns_) sp::close(fd);
    sp::close(lfd_);
    sp::close(epfd_);
  }
  int closed() const { return closed_; }

  // Handles what is ready now; returns the number of events.
  int turn() {
    epoll_event evs[64];
    const int n = sp::epoll_wait(epfd_, evs, 64, 0);
    ex::check(n >= 0, "epoll_wait");
    for (int i = 0; i < n; ++i) {
      const int fd = evs[i].data.fd;
      if (fd == lfd_) {
        accept_all();
      } else {
        serve(fd);
      }
    }
    return n;
  }

 private:
  void watch(int fd, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    ex::check(sp::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0, "epoll_ctl");
  }
  void accept_all() {
    for (;;) {
      const int fd = sp::accept4(lfd_, nullptr, nullptr, SOCK_NONBLOCK);
      if (fd < 0 && errno == EAGAIN) return;
      ex::check(fd >= 0, "accept4");
      conns_[fd] = "";
      watch(fd, EPOLLIN | EPOLLRDHUP);
    }
  }
  void serve(int fd) {
    char buf[2048];
    for (;;) {
      const ssize_t n = sp::recv(fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EAGAIN) return;
      if (n <= 0) {  // the client closed (or reset): so do we
        sp::close(fd);
        conns_.erase(fd);
        ++closed_;
        return;
      }
      const std::string reply = "echo: " + std::string(buf, static_cast<std::size_t>(n));
      // Small replies into an empty send buffer: they fit.
      ex::check(sp::send(fd, reply.data(), reply.size(), 0) == static_cast<ssize_t>(reply.size()),
                "send");
    }
  }

  int lfd_ = -1;
  int epfd_ = -1;
  std::map<int, std::string> conns_;
  int closed_ = 0;
};

// The clients: non-blocking connects; each sends its request once
// connected, reads the reply and closes.
class Clients {
 public:
  Clients(sp::Host& host, const sockaddr_in& to, int n) {
    epfd_ = sp::epoll_create1(0);
    ex::check(epfd_ >= 0, "epoll_create1");
    for (int i = 0; i < n; ++i) {
      const int fd = sp::socket(host, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      ex::check(fd >= 0, "socket");
      const int r = sp::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to);
      ex::check(r == 0 || errno == EINPROGRESS, "connect");
      epoll_event ev{};
      ev.events = EPOLLOUT | EPOLLIN;
      ev.data.fd = fd;
      ex::check(sp::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0, "epoll_ctl");
      request_[fd] = "request from client " + std::to_string(i) + "\n";
    }
  }
  ~Clients() { sp::close(epfd_); }
  int done() const { return done_; }

  int turn() {
    epoll_event evs[64];
    const int n = sp::epoll_wait(epfd_, evs, 64, 0);
    ex::check(n >= 0, "epoll_wait");
    for (int i = 0; i < n; ++i) handle(evs[i].data.fd, evs[i].events);
    return n;
  }

 private:
  void handle(int fd, std::uint32_t events) {
    if (events & (EPOLLERR | EPOLLHUP)) ex::die("a client's connection failed");
    const std::string& req = request_[fd];
    if ((events & EPOLLOUT) && !sent_[fd]) {
      ex::check(sp::send(fd, req.data(), req.size(), 0) == static_cast<ssize_t>(req.size()),
                "send");
      sent_[fd] = true;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      ex::check(sp::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) == 0, "epoll_ctl");
    }
    if (events & EPOLLIN) {
      char buf[2048];
      const ssize_t n = sp::recv(fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EAGAIN) return;
      ex::check(n >= 0, "recv");
      reply_[fd].append(buf, static_cast<std::size_t>(n));
      if (reply_[fd].size() < req.size() + 6) return;
      if (reply_[fd] != "echo: " + req) ex::die("wrong reply: " + reply_[fd]);
      sp::close(fd);  // also leaves the epoll instance
      ++done_;
    }
  }

  int epfd_ = -1;
  std::map<int, std::string> request_, reply_;
  std::map<int, bool> sent_;
  int done_ = 0;
};

// Sleeps until a device has frames or the next timer is due.
void wait_for_stack(sp::Host& host) {
  std::vector<pollfd> fds;
  for (int fd : host.fds()) fds.push_back({fd, POLLIN, 0});
  const int t = host.next_timeout_ms();
  ::poll(fds.data(), fds.size(), t < 0 || t > 1000 ? 1000 : t);
}

}  // namespace

int main(int argc, char** argv) {
  const ex::Options o = ex::parse(argc, argv, kUsage);

  if (!o.tap.empty()) {
    if (!o.listen_port) ex::die(std::string("with --tap, say --listen\n") + kUsage);
    sp::Host host("epoll_server");
    ex::open_tap(host, o);
    Server server(host, static_cast<std::uint16_t>(o.listen_port));
    while (o.count == 0 || server.closed() < o.count) {
      const int work = host.poll() + server.turn();
      if (!work) wait_for_stack(host);
    }
    std::printf("epoll_server: %d clients served\n", server.closed());
    return 0;
  }

  const int n = o.count > 0 ? o.count : 50;
  constexpr std::uint16_t kPort = 8000;
  sp::Host server_host("server");
  sp::Host client_host("client");
  ex::join_sim(client_host, server_host, "epoll-link");
  Server server(server_host, kPort);
  Clients clients(client_host, ex::make_addr(ex::kServerAddr, kPort), n);
  // Joined by the link, the two hosts share one loop: polling one polls both.
  while (clients.done() < n || server.closed() < n) {
    const int work = server_host.poll() + server.turn() + clients.turn();
    if (!work) wait_for_stack(server_host);
  }
  std::printf("epoll_server: %d clients served, every reply checked\n", n);
  return 0;
}
