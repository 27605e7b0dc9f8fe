// lwIP's raw API in one thread: two netifs (10.0.0.1 and 10.0.0.2) whose
// output hands a private copy of each IP packet to the other's input on the
// next turn of the loop -- the SimLink's work in sendpath's run (a linear
// copy per frame, no rate, no delay). lwIP's Debian build fixes its options
// at build time (lwipopts.h): TCP_WND = TCP_SND_BUF = 64 KiB (window scaling
// compiled in, but the window itself is 0xFFFF), MSS 1460, checksums
// generated and checked in software (LWIP_CHECKSUM_ON_COPY), pbufs from
// malloc (MEMP_MEM_MALLOC). NO_SYS = 0, but the raw API is called only from
// this thread and tcpip_init is never called, so no core lock is needed.
#include "bench_lwip.hpp"

#ifdef SP_HAVE_LWIP
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <utility>
#include <vector>

#include "harness/bench.hpp"

extern "C" {
#include "lwip/init.h"
#include "lwip/ip.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
}

namespace sp::tools {

namespace {

struct Wire {
  netif nif[2];
  std::deque<std::pair<int, pbuf*>> q;  // (destination netif, packet)
};
Wire* g_wire = nullptr;

err_t wire_output(netif* n, pbuf* p, const ip4_addr_t*) {
  const int from = n == &g_wire->nif[0] ? 0 : 1;
  pbuf* c = pbuf_clone(PBUF_RAW, PBUF_RAM, p);
  if (!c) return ERR_MEM;
  g_wire->q.emplace_back(1 - from, c);
  return ERR_OK;
}

err_t wire_init(netif* n) {
  n->output = wire_output;
  n->mtu = 1500;
  n->flags = NETIF_FLAG_UP | NETIF_FLAG_LINK_UP;
  n->name[0] = 'w';
  n->name[1] = n == &g_wire->nif[0] ? '0' : '1';
  return ERR_OK;
}

struct Receiver {
  bench::RxChecker* rx = nullptr;
  std::uint64_t received = 0;
  tcp_pcb* pcb = nullptr;
};

err_t on_recv(void* arg, tcp_pcb* pcb, pbuf* p, err_t) {
  auto* r = static_cast<Receiver*>(arg);
  if (!p) return ERR_OK;
  // What lwip_recv would do: copy into the application's buffer (sendpath's
  // run reads with recv() into the same kind of ring), checked apart from
  // the clock.
  for (std::uint32_t off = 0; off < p->tot_len;) {
    const auto n = static_cast<u16_t>(std::min<std::size_t>(p->tot_len - off, r->rx->room()));
    pbuf_copy_partial(p, r->rx->space(), n, static_cast<u16_t>(off));
    r->rx->received(n);
    r->received += n;
    off += n;
  }
  tcp_recved(pcb, p->tot_len);
  pbuf_free(p);
  return ERR_OK;
}

err_t on_accept(void* arg, tcp_pcb* pcb, err_t err) {
  if (err != ERR_OK || !pcb) return ERR_VAL;
  auto* r = static_cast<Receiver*>(arg);
  r->pcb = pcb;
  tcp_arg(pcb, r);
  tcp_recv(pcb, on_recv);
  return ERR_OK;
}

bool g_connected = false;
err_t on_connected(void*, tcp_pcb*, err_t err) {
  g_connected = err == ERR_OK;
  return ERR_OK;
}

}  // namespace

LwipRun run_lwip(std::uint64_t bytes) {
  LwipRun res;
  static bool inited = false;
  if (!inited) {
    lwip_init();
    inited = true;
  }
  const bench::Pattern pat;
  Wire wire;
  g_wire = &wire;
  ip4_addr_t a, b, mask, gw;
  IP4_ADDR(&a, 10, 0, 0, 1);
  IP4_ADDR(&b, 10, 0, 0, 2);
  IP4_ADDR(&mask, 255, 255, 255, 0);
  IP4_ADDR(&gw, 0, 0, 0, 0);
  netif_add(&wire.nif[0], &a, &mask, &gw, nullptr, wire_init, ip_input);
  netif_add(&wire.nif[1], &b, &mask, &gw, nullptr, wire_init, ip_input);
  netif_set_up(&wire.nif[0]);
  netif_set_up(&wire.nif[1]);

  bench::RxChecker checker(pat);
  Receiver rx;
  rx.rx = &checker;
  tcp_pcb* l = tcp_new();
  tcp_bind_netif(l, &wire.nif[1]);
  tcp_bind(l, IP_ADDR_ANY, 5001);
  l = tcp_listen(l);
  // Accepted pcbs take the listener's netif (tcp_listen_input); without it
  // the SYN-ACK to 10.0.0.1 would be routed to nif[0] and looped back.
  tcp_bind_netif(l, &wire.nif[1]);
  tcp_arg(l, &rx);
  tcp_accept(l, on_accept);
  tcp_pcb* c = tcp_new();
  tcp_bind_netif(c, &wire.nif[0]);
  ip_addr_t dst;
  ip_addr_copy_from_ip4(dst, b);
  g_connected = false;
  tcp_connect(c, &dst, 5001, on_connected);

  auto pump = [&] {
    sys_check_timeouts();
    if (wire.q.empty()) return false;
    for (std::size_t n = wire.q.size(); n && !wire.q.empty(); --n) {
      auto [to, p] = wire.q.front();
      wire.q.pop_front();
      if (wire.nif[to].input(p, &wire.nif[to]) != ERR_OK) pbuf_free(p);
    }
    return true;
  };
  for (int i = 0; i < 10000 && !(g_connected && rx.pcb); ++i) pump();
  if (!g_connected || !rx.pcb) {
    res.skipped = "lwIP: the connection did not come up";
  } else {
    constexpr std::uint32_t kWrite = 64 * 1024;
    const double w0 = bench::wall_seconds(), c0 = bench::thread_cpu_seconds();
    std::uint64_t sent = 0;
    for (std::uint64_t turn = 0; rx.received < bytes; ++turn) {
      bool wrote = false;
      while (sent < bytes) {
        const std::uint32_t room = tcp_sndbuf(c);
        if (room == 0 || tcp_sndqueuelen(c) >= TCP_SND_QUEUELEN) break;
        const std::uint64_t n =
            std::min<std::uint64_t>(std::min<std::uint64_t>(kWrite, room), bytes - sent);
        if (tcp_write(c, pat.at(sent), static_cast<u16_t>(std::min<std::uint64_t>(n, 0xffff)),
                      TCP_WRITE_FLAG_COPY) != ERR_OK)
          break;
        sent += std::min<std::uint64_t>(n, 0xffff);
        wrote = true;
      }
      if (wrote) tcp_output(c);
      if (!pump() && !wrote) {
        // Idle until one of lwIP's timers (the 250 ms fast timer that sends
        // a delayed ACK): sleep, so the wait costs no CPU time, as it would
        // not in a program blocked in the tcpip thread.
        const u32_t ms = sys_timeouts_sleeptime();
        usleep(1000 * std::min<u32_t>(ms, 10));
        res.idle_waits++;
      }
      if ((turn & 1023) == 0 && bench::wall_seconds() - w0 > 120) {
        res.skipped = "lwIP: timed out";
        break;
      }
    }
    checker.flush();
    res.cpu_s = bench::thread_cpu_seconds() - c0 - checker.check_cpu_s();
    res.bytes = rx.received;
    res.wall_s = bench::wall_seconds() - w0;
    res.verify_s = checker.check_cpu_s();
    res.pattern_ok = checker.ok();
  }
  res.note =
      "raw API, one thread, 64 KiB window and send buffer (fixed in Debian's lwipopts.h), MSS "
      "1460, "
      "software checksums, a pbuf copy per packet between the netifs, the receiver copies out "
      "as lwip_recv would";
  tcp_abort(c);
  if (rx.pcb) tcp_abort(rx.pcb);
  tcp_close(l);
  // The RSTs the aborts sent are dropped, not delivered: a RST answering a
  // RST would be routed to the sender's own address (lwIP's loopback, which
  // needs the tcpip thread).
  for (auto& [to, p] : wire.q) pbuf_free(p);
  netif_remove(&wire.nif[0]);
  netif_remove(&wire.nif[1]);
  g_wire = nullptr;
  return res;
}

}  // namespace sp::tools

#else

namespace sp::tools {
LwipRun run_lwip(std::uint64_t) {
  LwipRun r;
  r.skipped = "built without lwIP (pkg-config lwip not found)";
  return r;
}
}  // namespace sp::tools

#endif
