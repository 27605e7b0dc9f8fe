// How long after packetdrill's "now" the host's kernel sees a scripted event
// (conformance: the drill runner's --event-latency-us; docs/linux-differences.md,
// "Event latency"). As packetdrill does, it sleeps, reads the clock, then acts:
// (a) writes an IPv4 packet to a tun device: the time to the skb's receive
//     timestamp (SO_TIMESTAMPNS on the socket it reaches), and the length of
//     the write() that carries the packet through the receive path;
// (b) makes a cheap system call, getsockopt(TCP_INFO): its round trip (the
//     kernel acts about half-way);
// (c) reads a packet the kernel sent out of the tun device from a packet
//     socket, as packetdrill sniffs an outbound packet that has already
//     left: the length of that read.
// Run by scripts/measure-event-latency in a namespace of its own; the
// results are in docs/linux-differences.md, "Event latency".
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}
static uint16_t csum(const void* p, int n) {
  const uint16_t* w = p;
  uint32_t s = 0;
  for (; n > 1; n -= 2) s += *w++;
  if (n) s += *(const uint8_t*)w;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return ~s;
}
static int cmp(const void* a, const void* b) {
  int64_t x = *(const int64_t*)a, y = *(const int64_t*)b;
  return x < y ? -1 : x > y;
}
int main(void) {
  int tun = open("/dev/net/tun", O_RDWR);
  if (tun < 0) {
    perror("tun");
    return 1;
  }
  struct ifreq ifr = {0};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  strcpy(ifr.ifr_name, "lattun0");
  if (ioctl(tun, TUNSETIFF, &ifr) < 0) {
    perror("TUNSETIFF");
    return 1;
  }
  if (system("ip addr add 192.168.0.1/16 dev lattun0 && ip link set lattun0 up")) return 1;
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  int one = 1;
  setsockopt(u, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(8080)};
  a.sin_addr.s_addr = htonl(0xC0A80001);
  if (bind(u, (void*)&a, sizeof a)) {
    perror("bind");
    return 1;
  }
  if (system("ip route add 192.0.2.1/32 dev lattun0")) return 1;
  int ps = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP));
  struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP)};
  struct ifreq ix = {0};
  strcpy(ix.ifr_name, "lattun0");
  if (ioctl(u, SIOCGIFINDEX, &ix) < 0) {
    perror("SIOCGIFINDEX");
    return 1;
  }
  ll.sll_ifindex = ix.ifr_ifindex;
  if (ps < 0 || bind(ps, (void*)&ll, sizeof ll)) {
    perror("packet socket");
    return 1;
  }
  struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(9)};
  peer.sin_addr.s_addr = htonl(0xC0000201);
  enum { N = 2000 };
  static int64_t rx[N], wr[N], sc[N], rd[N];
  unsigned char pkt[28 + 8] = {0};
  struct iphdr* ip = (void*)pkt;
  struct udphdr* uh = (void*)(pkt + 20);
  ip->version = 4;
  ip->ihl = 5;
  ip->ttl = 64;
  ip->protocol = IPPROTO_UDP;
  ip->tot_len = htons(sizeof pkt);
  ip->saddr = htonl(0xC0000201);
  ip->daddr = htonl(0xC0A80001);
  ip->check = csum(ip, 20);
  uh->source = htons(48123);
  uh->dest = htons(8080);
  uh->len = htons(16);
  uh->check = 0;
  for (int i = 0; i < N; i++) {
    usleep(200);  // as packetdrill: sleep, then act
    int64_t t0 = now_ns();
    if (write(tun, pkt, sizeof pkt) != sizeof pkt) {
      perror("write");
      return 1;
    }
    int64_t t1 = now_ns();
    char buf[64], cb[256];
    struct iovec iov = {buf, sizeof buf};
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb, .msg_controllen = sizeof cb};
    if (recvmsg(u, &m, 0) < 0) {
      perror("recvmsg");
      return 1;
    }
    struct timespec ts = {0};
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS)
        memcpy(&ts, CMSG_DATA(c), sizeof ts);
    rx[i] = ts.tv_sec * 1000000000LL + ts.tv_nsec - t0;
    wr[i] = t1 - t0;
    struct tcp_info ti;
    socklen_t l = sizeof ti;
    int t = socket(AF_INET, SOCK_STREAM, 0);
    usleep(200);
    int64_t s0 = now_ns();
    getsockopt(t, IPPROTO_TCP, TCP_INFO, &ti, &l);
    int64_t s1 = now_ns();
    close(t);
    sc[i] = s1 - s0;
    if (sendto(u, "x", 1, 0, (void*)&peer, sizeof peer) != 1) {
      perror("sendto");
      return 1;
    }
    usleep(200);
    char out[2048];
    int64_t r0 = now_ns();
    if (recv(ps, out, sizeof out, 0) <= 0) {
      perror("recv packet");
      return 1;
    }
    rd[i] = now_ns() - r0;
    if (read(tun, out, sizeof out) <= 0) {
      perror("read tun");
      return 1;
    }  // the same packet, off the device
  }
  qsort(rx, N, 8, cmp);
  qsort(wr, N, 8, cmp);
  qsort(sc, N, 8, cmp);
  qsort(rd, N, 8, cmp);
  printf("tun write -> skb rx stamp (ns): p10 %lld p50 %lld p90 %lld p99 %lld min %lld\n",
         (long long)rx[N / 10], (long long)rx[N / 2], (long long)rx[9 * N / 10],
         (long long)rx[99 * N / 100], (long long)rx[0]);
  printf("tun write() duration      (ns): p10 %lld p50 %lld p90 %lld p99 %lld\n",
         (long long)wr[N / 10], (long long)wr[N / 2], (long long)wr[9 * N / 10],
         (long long)wr[99 * N / 100]);
  printf("getsockopt(TCP_INFO) round trip (ns): p10 %lld p50 %lld p90 %lld min %lld\n",
         (long long)sc[N / 10], (long long)sc[N / 2], (long long)sc[9 * N / 10], (long long)sc[0]);
  printf("packet socket read of a sent packet (ns): p10 %lld p50 %lld p90 %lld p99 %lld\n",
         (long long)rd[N / 10], (long long)rd[N / 2], (long long)rd[9 * N / 10],
         (long long)rd[99 * N / 100]);
  return 0;
}
