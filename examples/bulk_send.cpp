// A bulk sender that prints the connection's TCP_INFO, as `ss -ti` would
// show it, once every byte is acknowledged.
//
//   bulk_send [--count MiB] [--loss P]
//                       to a sink in this process over a simulated
//                       1 Gbit/s link with 1 ms of delay each way
//   bulk_send --tap sptap0 --addr 10.77.0.2/24 --connect 10.77.0.1:5001
//                       to a Linux sink (e.g. `nc -l 5001 >/dev/null`)
#include <atomic>
#include <thread>
#include <vector>

#include "common.hpp"

namespace {

const char* const kUsage =
    "usage: bulk_send [--count MiB] [--loss P]\n"
    "                 [--tap DEV [--netns NS] [--addr A/P] [--gw IP] --connect IP:PORT]\n";

// Reads until the sender closes, then closes too; returns the bytes read.
std::uint64_t sink(sp::Host& host, std::uint16_t port, std::atomic<bool>* ready) {
  const int lfd = ex::listen_on(host, port);
  ready->store(true);
  const int fd = sp::accept(lfd, nullptr, nullptr);
  ex::check(fd >= 0, "accept");
  std::vector<char> buf(256 * 1024);
  std::uint64_t total = 0;
  for (;;) {
    const ssize_t n = sp::recv(fd, buf.data(), buf.size(), 0);
    ex::check(n >= 0, "recv");
    if (n == 0) break;
    total += static_cast<std::uint64_t>(n);
  }
  sp::close(fd);
  sp::close(lfd);
  return total;
}

void print_tcp_info(const sp::tcp_info_612& i) {
  const ::tcp_info& v = i.v;
  std::printf("tcp_info: state %u ca_state %u rto %.3fms rtt %.3f/%.3fms mss %u cwnd %u",
              v.tcpi_state, v.tcpi_ca_state, v.tcpi_rto / 1000.0, v.tcpi_rtt / 1000.0,
              v.tcpi_rttvar / 1000.0, v.tcpi_snd_mss, v.tcpi_snd_cwnd);
  if (v.tcpi_snd_ssthresh < 0x7fffffff) std::printf(" ssthresh %u", v.tcpi_snd_ssthresh);
  std::printf(
      "\ntcp_info: bytes_sent %llu bytes_acked %llu segs_out %u retrans %u/%u lost %u"
      " delivery_rate %.1fMbit/s pacing_rate %.1fMbit/s total_rto %u\n",
      static_cast<unsigned long long>(v.tcpi_bytes_sent),
      static_cast<unsigned long long>(v.tcpi_bytes_acked), v.tcpi_segs_out, v.tcpi_retrans,
      v.tcpi_total_retrans, v.tcpi_lost, static_cast<double>(v.tcpi_delivery_rate) * 8 / 1e6,
      static_cast<double>(v.tcpi_pacing_rate) * 8 / 1e6, i.tcpi_total_rto);
}

// Sends size bytes, waits for the peer's close (so every byte and the FIN
// are acknowledged) and prints TCP_INFO.
void send_bulk(sp::Host& host, const sockaddr_in& to, std::uint64_t size) {
  sp::TcpSocket s = sp::TcpSocket::open(host);
  ex::check(s.valid(), "socket");
  ex::check(sp::connect(s.fd(), reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0, "connect");
  std::vector<char> chunk(256 * 1024);
  for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<char>(i * 31 + 7);
  for (std::uint64_t left = size; left > 0;) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk.size()));
    ex::send_all(s.fd(), chunk.data(), n);
    left -= n;
  }
  ex::check(s.shutdown(SHUT_WR) == 0, "shutdown");
  char c;
  ex::check(sp::recv(s.fd(), &c, 1, 0) == 0, "waiting for the peer's close");
  sp::tcp_info_612 info{};
  ex::check(s.info(&info), "TCP_INFO");
  print_tcp_info(info);
}

}  // namespace

int main(int argc, char** argv) {
  const ex::Options o = ex::parse(argc, argv, kUsage);
  const std::uint64_t size = static_cast<std::uint64_t>(o.count > 0 ? o.count : 32) << 20;
  std::string err;

  if (!o.tap.empty()) {
    if (o.connect.empty()) ex::die(std::string("with --tap, say --connect\n") + kUsage);
    sp::Host host("bulk_send");
    ex::open_tap(host, o);
    if (host.run_in_thread(&err) < 0) ex::die(err);
    send_bulk(host, ex::parse_host_port(o.connect), size);
    std::printf("bulk_send: %llu bytes sent\n", static_cast<unsigned long long>(size));
    return 0;
  }

  constexpr std::uint16_t kPort = 5001;
  sp::Host receiver("receiver");
  sp::Host sender("sender");
  ex::join_sim(sender, receiver, "bulk-link", o.loss);
  if (sender.run_in_thread(&err) < 0) ex::die(err);
  std::atomic<bool> ready{false};
  std::uint64_t received = 0;
  std::thread sink_thread([&] { received = sink(receiver, kPort, &ready); });
  while (!ready.load()) std::this_thread::yield();
  send_bulk(sender, ex::make_addr(ex::kServerAddr, kPort), size);
  sink_thread.join();
  if (received != size) ex::die("the sink read " + std::to_string(received) + " bytes");
  std::printf("bulk_send: %llu bytes sent and received\n", static_cast<unsigned long long>(size));
  return 0;
}
