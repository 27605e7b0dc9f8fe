// SYN cookies end to end (issue 19, "Attacks"): two stacks on a SimLink in
// virtual time. A connection made through a cookie works both ways with the
// options the timestamp carried; a flood of 100 000 SYNs from spoofed
// addresses, injected into the listener's device, leaves an established
// transfer on the same stack its digest and most of its goodput, and a real
// client connecting during the flood gets in through a cookie
// (tcp_syncookies = 1) or has its SYNs dropped (0), as Linux.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/tcp.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/e2e_support.hpp"
#include "harness/sim_world.hpp"
#include "sendpath/api.hpp"
#include "skb/skbuff.hpp"
#include "tcp/tcp_stack_state.hpp"
#include "wire/bytes.hpp"

namespace sp {
namespace {

using test::kScaleDiv;

constexpr std::uint32_t kClientIp = 0x0a000001;   // 10.0.0.1, also the way to the spoofed hosts
constexpr std::uint32_t kServerIp = 0x0a000002;   // 10.0.0.2
constexpr std::uint32_t kSpoofBase = 0xac100000;  // 172.16.0.0/12
constexpr std::uint16_t kBulkPort = 5001;
constexpr std::uint16_t kFloodPort = 80;
constexpr int kFloodBacklog = 128;

// ip in host order.
sockaddr_in addr(std::uint32_t ip, std::uint16_t port) {
  return test::inet_sockaddr(htonl(ip), port);
}

const sockaddr* sa(const sockaddr_in& sin) {
  return reinterpret_cast<const sockaddr*>(&sin);
}

std::uint8_t pattern(std::uint64_t i) {
  return static_cast<std::uint8_t>(i * 131 + (i >> 11));
}

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const std::uint8_t* p, std::size_t n) { EVP_DigestUpdate(ctx_, p, n); }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_DigestFinal_ex(ctx_, md, &len);
    std::string s;
    for (unsigned i = 0; i < len; i++) {
      char b[3];
      std::snprintf(b, sizeof b, "%02x", md[i]);
      s += b;
    }
    return s;
  }

 private:
  EVP_MD_CTX* ctx_;
};

// The client stack (10.0.0.1) and the server stack (10.0.0.2) on a
// 100 Mbit/s link with 5 ms each way. The server reaches the spoofed
// sources through the client, which drops what is not addressed to it: the
// SYN-ACKs of the flood cost the server's uplink, as on a real network.
struct Lab {
  SimWorld world;
  Stack& client;
  Stack& server;
  SimWorld::Connection link;

  explicit Lab(int syncookies)
      : client(world.add_stack()), server(world.add_stack()), link(connect_them()) {
    client.tcp().set_secrets_from_seed(1);
    server.tcp().set_secrets_from_seed(2);
    EXPECT_EQ(server.sysctl().set("net.ipv4.tcp_syncookies", std::to_string(syncookies)), "");
    server.add_route(htonl(kSpoofBase), 12, htonl(kClientIp), link.ifindex_b);
  }

  SimWorld::Connection connect_them() {
    SimLinkConfig lc;
    lc.seed = 19;
    for (SimPathConfig* p : {&lc.a_to_b, &lc.b_to_a}) {
      p->rate_bps = 100'000'000;
      p->delay = 5 * kNsPerMs;
      p->queue_limit = 2000;
    }
    return world.connect(client, htonl(kClientIp), server, htonl(kServerIp), 24, lc);
  }

  int listen_on(std::uint16_t port, int backlog) {
    const int fd = sp::socket(server, AF_INET, SOCK_STREAM, 0);
    EXPECT_GE(fd, 0);
    const sockaddr_in sin = addr(kServerIp, port);
    EXPECT_EQ(sp::bind(fd, sa(sin), sizeof sin), 0);
    EXPECT_EQ(sp::listen(fd, backlog), 0);
    sp::fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
  }

  int connect_to(std::uint16_t port) {
    const int fd = sp::socket(client, AF_INET, SOCK_STREAM, 0);
    EXPECT_GE(fd, 0);
    sp::fcntl(fd, F_SETFL, O_NONBLOCK);
    const sockaddr_in sin = addr(kServerIp, port);
    const int r = sp::connect(fd, sa(sin), sizeof sin);
    EXPECT_TRUE(r == 0 || errno == EINPROGRESS) << std::strerror(errno);
    return fd;
  }

  // Accept on lfd within d of virtual time; -1 if nothing came.
  int accept_within(int lfd, Nanos d) {
    const Nanos end = world.now() + d;
    for (int i = 0; i < 100000 && world.now() < end; i++) {
      const int fd = sp::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK);
      if (fd >= 0) return fd;
      world.run_for(kNsPerMs);
    }
    return -1;
  }

  // A spoofed SYN, as a frame the server's device received: from
  // 172.16.0.0 + n, a port and sequence number derived from n.
  void inject_syn(std::uint32_t n) {
    NetDevice* dev = server.dev_get_by_index(link.ifindex_b);
    constexpr std::uint32_t kLen = 14 + 20 + 24;  // Ethernet, IPv4, TCP with MSS
    SkbPtr skb = alloc_skb_with_headroom(64, kLen);
    ASSERT_TRUE(skb);
    std::uint8_t* f = skb_put(skb.get(), kLen);
    std::memset(f, 0, kLen);
    std::memcpy(f, dev->dev_addr.data(), 6);
    f[6] = 0x02;  // a locally administered source MAC
    f[11] = 0x77;
    store_be16(f + 12, 0x0800);
    std::uint8_t* ip = f + 14;
    ip[0] = 0x45;
    store_be16(ip + 2, 44);
    store_be16(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = 6;
    store_be32(ip + 12, kSpoofBase + 1 + n);
    store_be32(ip + 16, kServerIp);
    store_be16(ip + 10, csum16(ip, 20, 0));
    std::uint8_t* th = ip + 20;
    store_be16(th, static_cast<std::uint16_t>(1024 + n % 60000));
    store_be16(th + 2, kFloodPort);
    store_be32(th + 4, n * 2654435761u);
    th[12] = 6 << 4;
    th[13] = 0x02;  // SYN
    store_be16(th + 14, 64240);
    th[20] = 2;  // MSS 1460
    th[21] = 4;
    store_be16(th + 22, 1460);
    // Pseudo header: addresses, protocol, TCP length.
    std::uint32_t sum = 6 + 24;
    for (int i = 12; i < 20; i += 2) sum += load_be16(ip + i);
    store_be16(th + 16, csum16(th, 24, sum));
    dev->rx_handler(std::move(skb));
  }

  static std::uint16_t csum16(const std::uint8_t* p, std::size_t n, std::uint32_t sum) {
    for (std::size_t i = 0; i + 1 < n; i += 2) sum += load_be16(p + i);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
  }
};

tcp_info info_of(int fd) {
  tcp_info ti{};
  socklen_t len = sizeof ti;
  EXPECT_EQ(sp::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
  return ti;
}

TEST(Syncookies, tcp_syncookies_two_connection_works_both_ways_with_options_from_the_timestamp) {
  Lab lab(2);
  const int lfd = lab.listen_on(kFloodPort, 16);
  const int cfd = lab.connect_to(kFloodPort);
  const int sfd = lab.accept_within(lfd, 2 * kNsPerSec);
  ASSERT_GE(sfd, 0);
  EXPECT_EQ(lab.server.mib().get(MibId::TcpExtSyncookiesSent), 1u);
  EXPECT_EQ(lab.server.mib().get(MibId::TcpExtSyncookiesRecv), 1u);
  EXPECT_EQ(lab.server.mib().get(MibId::TcpExtSyncookiesFailed), 0u);

  // What the client offered came back through the cookie and its TSecr.
  const tcp_info c = info_of(cfd), s = info_of(sfd);
  const unsigned all = TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE;
  EXPECT_EQ(c.tcpi_options & all, all);
  EXPECT_EQ(s.tcpi_options & all, all);
  EXPECT_EQ(unsigned{s.tcpi_snd_wscale}, unsigned{c.tcpi_rcv_wscale});
  EXPECT_EQ(unsigned{s.tcpi_rcv_wscale}, unsigned{c.tcpi_snd_wscale});
  EXPECT_EQ(s.tcpi_snd_mss, c.tcpi_snd_mss) << "1460 from the cookie, less the timestamp";
  int maxseg = 0;
  socklen_t len = sizeof maxseg;
  ASSERT_EQ(sp::getsockopt(sfd, IPPROTO_TCP, TCP_MAXSEG, &maxseg, &len), 0);
  EXPECT_EQ(maxseg, 1448);

  // A megabyte each way, more than one unscaled window.
  std::string up(1 << 20, '\0'), down(1 << 20, '\0');
  for (std::size_t i = 0; i < up.size(); i++) {
    up[i] = static_cast<char>(pattern(i));
    down[i] = static_cast<char>(pattern(i + 7));
  }
  std::string got_up, got_down;
  std::size_t sent_down = 0;
  const Nanos end = lab.world.now() + 30 * kNsPerSec;
  std::size_t sent_up = 0;
  char buf[65536];
  for (int i = 0; i < 1'000'000 && lab.world.now() < end; i++) {
    if (sent_up < up.size()) {
      const ssize_t w = sp::send(cfd, up.data() + sent_up, up.size() - sent_up, MSG_DONTWAIT);
      if (w > 0) sent_up += static_cast<std::size_t>(w);
    }
    if (sent_down < down.size()) {
      const ssize_t w =
          sp::send(sfd, down.data() + sent_down, down.size() - sent_down, MSG_DONTWAIT);
      if (w > 0) sent_down += static_cast<std::size_t>(w);
    }
    for (ssize_t r; (r = sp::recv(sfd, buf, sizeof buf, MSG_DONTWAIT)) > 0;)
      got_up.append(buf, static_cast<std::size_t>(r));
    for (ssize_t r; (r = sp::recv(cfd, buf, sizeof buf, MSG_DONTWAIT)) > 0;)
      got_down.append(buf, static_cast<std::size_t>(r));
    if (got_up.size() == up.size() && got_down.size() == down.size()) break;
    lab.world.run_for(kNsPerMs);
  }
  EXPECT_TRUE(got_up == up) << got_up.size() << " of " << up.size();
  EXPECT_TRUE(got_down == down) << got_down.size() << " of " << down.size();
  sp::close(cfd);
  sp::close(sfd);
  sp::close(lfd);
}

// What one run of the flood scenario saw.
struct FloodRun {
  Nanos transfer_ns = 0;  // from the first byte written to EOF at the client
  std::uint64_t bytes = 0;
  std::string sha_sent, sha_received;
  bool probe_connected = false;
  bool probe_exchanged = false;
  int probe_so_error = 0;
  Mib server, client;
};

// The server sends `size` bytes to the client over an established
// connection; meanwhile (if flood) 100 000 spoofed SYNs reach its port 80,
// 100 every 10 ms, and (if probe) 2 s in the client connects to port 80
// and trades "ping" / "pong".
FloodRun run_flood(int syncookies, std::uint64_t size, std::uint32_t flood_syns, bool probe) {
  FloodRun out;
  Lab lab(syncookies);
  const int bulk_lfd = lab.listen_on(kBulkPort, 16);
  const int flood_lfd = lab.listen_on(kFloodPort, kFloodBacklog);
  const int cfd = lab.connect_to(kBulkPort);
  const int sfd = lab.accept_within(bulk_lfd, 2 * kNsPerSec);
  EXPECT_GE(sfd, 0);
  if (sfd < 0) return out;

  Sha256 sent_sha, recv_sha;
  std::vector<std::uint8_t> chunk(64 * 1024), buf(64 * 1024);
  std::uint64_t written = 0, received = 0;
  bool shut = false, eof = false;
  std::uint32_t flood_sent = 0;
  const Nanos t0 = lab.world.now();
  Nanos next_batch = t0;
  int pfd = -1, psfd = -1;
  std::string pong;
  bool ping_sent = false, pong_sent = false;
  std::string ping_in;

  for (std::uint64_t round = 0; round < 1'000'000 && lab.world.now() < t0 + 120 * kNsPerSec;
       ++round) {
    const Nanos now = lab.world.now();
    for (int b = 0; b < 100 && flood_sent < flood_syns && now >= next_batch; b++)
      lab.inject_syn(flood_sent++);
    if (now >= next_batch) next_batch += 10 * kNsPerMs;

    while (written < size) {
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), size - written));
      for (std::size_t i = 0; i < n; i++) chunk[i] = pattern(written + i);
      const ssize_t w = sp::send(sfd, chunk.data(), n, MSG_DONTWAIT);
      if (w <= 0) break;
      sent_sha.update(chunk.data(), static_cast<std::size_t>(w));
      written += static_cast<std::uint64_t>(w);
    }
    if (written == size && !shut) {
      sp::shutdown(sfd, SHUT_WR);
      shut = true;
    }
    while (!eof) {
      const ssize_t r = sp::recv(cfd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (r == 0) {
        eof = true;
        out.transfer_ns = lab.world.now() - t0;
      }
      if (r <= 0) break;
      recv_sha.update(buf.data(), static_cast<std::size_t>(r));
      received += static_cast<std::uint64_t>(r);
    }

    if (probe) {
      if (pfd < 0 && now >= t0 + 2 * kNsPerSec) pfd = lab.connect_to(kFloodPort);
      if (pfd >= 0 && !ping_sent) {
        const ssize_t w = sp::send(pfd, "ping", 4, MSG_DONTWAIT);
        if (w == 4) ping_sent = out.probe_connected = true;
      }
      if (psfd < 0) psfd = sp::accept4(flood_lfd, nullptr, nullptr, SOCK_NONBLOCK);
      if (psfd >= 0 && !pong_sent) {
        char b[8];
        const ssize_t r = sp::recv(psfd, b, sizeof b, MSG_DONTWAIT);
        if (r > 0) ping_in.append(b, static_cast<std::size_t>(r));
        if (ping_in == "ping") pong_sent = sp::send(psfd, "pong", 4, MSG_DONTWAIT) == 4;
      }
      if (pfd >= 0 && pong.size() < 4) {
        char b[8];
        const ssize_t r = sp::recv(pfd, b, sizeof b, MSG_DONTWAIT);
        if (r > 0) pong.append(b, static_cast<std::size_t>(r));
      }
    }
    const bool probe_done =
        !probe || pong == "pong" || (syncookies == 0 && now >= t0 + 10 * kNsPerSec);
    if (eof && flood_sent == flood_syns && probe_done) break;
    lab.world.run_for(kNsPerMs);
  }
  out.bytes = received;
  out.sha_sent = sent_sha.hex();
  out.sha_received = recv_sha.hex();
  out.probe_exchanged = pong == "pong" && ping_in == "ping";
  if (pfd >= 0) {
    socklen_t len = sizeof out.probe_so_error;
    sp::getsockopt(pfd, SOL_SOCKET, SO_ERROR, &out.probe_so_error, &len);
  }
  out.server = lab.server.mib();
  out.client = lab.client.mib();
  for (int fd : {cfd, sfd, pfd, psfd, bulk_lfd, flood_lfd})
    if (fd >= 0) sp::close(fd);
  return out;
}

constexpr std::uint32_t kFloodSyns = 100'000;

std::uint64_t transfer_size() {
  return (96ull << 20) / kScaleDiv;
}

TEST(
    Syncookies,
    flood_of_spoofed_syns_leaves_a_transfer_its_digest_and_goodput_and_a_client_gets_in_by_cookie) {
  const std::uint64_t size = transfer_size();
  const FloodRun base = run_flood(1, size, 0, false);
  ASSERT_EQ(base.bytes, size);
  ASSERT_GT(base.transfer_ns, 0u);
  const FloodRun r = run_flood(1, size, kFloodSyns, true);

  EXPECT_EQ(r.bytes, size);
  EXPECT_EQ(r.sha_sent, r.sha_received);
  EXPECT_EQ(r.sha_received, base.sha_received);
  ASSERT_GT(r.transfer_ns, 0u);
  // Virtual time, so this is the protocol's behaviour, not the machine's:
  // the SYN-ACKs take a share of the uplink, no more.
  const double ratio = static_cast<double>(base.transfer_ns) / static_cast<double>(r.transfer_ns);
  EXPECT_GE(ratio, 0.8) << "goodput with the flood / without: " << ratio;
  std::printf("[ flood    ] transfer %.3f s alone, %.3f s under the flood: goodput ratio %.3f\n",
              static_cast<double>(base.transfer_ns) / 1e9, static_cast<double>(r.transfer_ns) / 1e9,
              ratio);

  // The first kFloodBacklog + 1 spoofed SYNs fill the SYN queue (and stay:
  // nobody answers their SYN-ACKs); every later one, and the real client's,
  // got a cookie. Only the client came back with one.
  const std::uint64_t queued = kFloodBacklog + 1;
  EXPECT_EQ(r.server.get(MibId::TcpExtSyncookiesSent), kFloodSyns - queued + 1);
  EXPECT_EQ(r.server.get(MibId::TcpExtTCPReqQFullDoCookies), kFloodSyns - queued + 1);
  EXPECT_EQ(r.server.get(MibId::TcpExtSyncookiesRecv), 1u);
  EXPECT_EQ(r.server.get(MibId::TcpExtSyncookiesFailed), 0u);
  EXPECT_EQ(r.server.get(MibId::TcpExtTCPReqQFullDrop), 0u);
  EXPECT_EQ(r.server.get(MibId::TcpExtListenDrops), 0u);
  EXPECT_TRUE(r.probe_connected);
  EXPECT_TRUE(r.probe_exchanged);
  EXPECT_EQ(r.client.get(MibId::TcpExtTCPSynRetrans), 0u) << "the first SYN got in";
}

TEST(Syncookies, flood_without_cookies_drops_the_real_clients_syns_as_linux) {
  const std::uint64_t size = transfer_size();
  const FloodRun r = run_flood(0, size, kFloodSyns, true);
  EXPECT_EQ(r.bytes, size);
  EXPECT_EQ(r.sha_sent, r.sha_received);
  EXPECT_FALSE(r.probe_connected);
  EXPECT_FALSE(r.probe_exchanged);
  EXPECT_EQ(r.probe_so_error, 0) << "still trying";
  // Its SYN (2 s in) and retransmissions (3, 5 and 9 s in) all met a full
  // SYN queue and were dropped with the flood's.
  const std::uint64_t client_syns = 1 + r.client.get(MibId::TcpExtTCPSynRetrans);
  EXPECT_GE(client_syns, 3u);
  const std::uint64_t queued = kFloodBacklog + 1;
  EXPECT_EQ(r.server.get(MibId::TcpExtTCPReqQFullDrop), kFloodSyns - queued + client_syns);
  EXPECT_EQ(r.server.get(MibId::TcpExtListenDrops), kFloodSyns - queued + client_syns);
  EXPECT_EQ(r.server.get(MibId::TcpExtSyncookiesSent), 0u);
  EXPECT_EQ(r.server.get(MibId::TcpExtTCPReqQFullDoCookies), 0u);
}

}  // namespace
}  // namespace sp
