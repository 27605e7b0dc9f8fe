// The tracepoints through the real stack: two stacks on a SimWorld (or one
// stack with injected segments), a Recorder attached, and each event checked
// against what the stack itself reports -- TCP_INFO, the MIB counters, the
// device statistics and the drop counters.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/stack.hpp"
#include "harness/sim_transfer.hpp"
#include "harness/sim_world.hpp"
#include "sendpath/api.hpp"
#include "trace/events.hpp"
#include "trace/sinks.hpp"
#include "trace/trace.hpp"

namespace sp {
namespace {

using trace::Ev;
using trace::ev_bit;

be32 ip(const char* s) {
  in_addr a{};
  inet_pton(AF_INET, s, &a);
  return a.s_addr;
}

sockaddr_in endpoint(be32 addr, std::uint16_t port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = addr;
  return sin;
}

bool seq_before(std::uint32_t a, std::uint32_t b) {
  return static_cast<std::int32_t>(a - b) < 0;
}

// Two stacks, "client" 10.0.0.1 and "server" 10.0.0.2, on one SimLink.
struct TraceWorld : ::testing::Test {
  SimWorld world;
  Stack& client = world.add_stack();
  Stack& server = world.add_stack();
  be32 caddr = ip("10.0.0.1"), saddr = ip("10.0.0.2");
  SimWorld::Connection conn;
  std::vector<int> fds;

  void TearDown() override {
    for (int fd : fds) sp::close(fd);
  }
  void link(const SimLinkConfig& cfg) {
    client.set_name("client");
    server.set_name("server");
    conn = world.connect(client, caddr, server, saddr, 24, cfg);
  }
  static SimLinkConfig plain_link() {
    SimLinkConfig c;
    c.a_to_b.delay = c.b_to_a.delay = 5 * kNsPerMs;
    c.a_to_b.rate_bps = c.b_to_a.rate_bps = 100'000'000;
    return c;
  }
  int track(int fd) {
    if (fd >= 0) fds.push_back(fd);
    return fd;
  }
  void untrack(int fd) { fds.erase(std::remove(fds.begin(), fds.end(), fd), fds.end()); }
  int listener(std::uint16_t port) {
    const int fd = track(sp::socket(server, AF_INET, SOCK_STREAM, 0));
    sockaddr_in sin = endpoint(saddr, port);
    EXPECT_EQ(sp::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
    EXPECT_EQ(sp::listen(fd, 16), 0);
    return fd;
  }
  // Connected client and accepted server sockets.
  std::pair<int, int> open(std::uint16_t port) {
    const int l = listener(port);
    const int c = track(sp::socket(client, AF_INET, SOCK_STREAM, 0));
    sockaddr_in sin = endpoint(saddr, port);
    EXPECT_EQ(sp::connect(c, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
    const int s = track(sp::accept(l, nullptr, nullptr));
    EXPECT_GE(s, 0);
    return {c, s};
  }
  static std::uint16_t local_port(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    sp::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
  }
  static tcp_info_612 info(int fd) {
    tcp_info_612 ti{};
    socklen_t len = sizeof ti;
    EXPECT_EQ(sp::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
    return ti;
  }
  // Send n bytes from c; the server reads them all; run until every byte is
  // acknowledged and nothing is left to send.
  void transfer(int c, int s, std::size_t n) {
    std::vector<std::uint8_t> out(n), in(n);
    payload_fill(3, 0, 0, out.data(), out.size());
    std::size_t sent = 0, got = 0;
    const bool done = world.run_until(
        [&] {
          ssize_t k;
          while (sent < n && (k = sp::send(c, out.data() + sent, n - sent, MSG_DONTWAIT)) > 0)
            sent += static_cast<std::size_t>(k);
          while (got < n && (k = sp::recv(s, in.data() + got, n - got, MSG_DONTWAIT)) > 0)
            got += static_cast<std::size_t>(k);
          const tcp_info_612 ti = info(c);
          return got == n && ti.v.tcpi_unacked == 0 && ti.v.tcpi_notsent_bytes == 0;
        },
        world.now() + 600 * kNsPerSec);
    ASSERT_TRUE(done) << "transfer did not finish";
    ASSERT_EQ(in, out);
  }
  template <class T>
  static std::vector<T> of(const trace::Recorder& rec, Ev id, const Stack& st) {
    std::vector<T> out;
    for (const T& e : rec.of<T>(id))
      if (e.stack == st.trace_id()) out.push_back(e);
    return out;
  }
};

// --- tcp:tcp_probe against TCP_INFO ---------------------------------------------------------

TEST_F(TraceWorld, tcp_probe_fields_match_tcp_info_at_a_quiet_moment) {
  SimLinkConfig cfg = plain_link();
  cfg.a_to_b.loss = 0.005;  // a finite ssthresh and some recovery history
  cfg.seed = 7;
  link(cfg);
  auto [c, s] = open(7100);
  trace::Recorder rec(ev_bit(Ev::tcp_probe));
  transfer(c, s, 400 * 1000);
  ASSERT_FALSE(of<trace::TcpProbe>(rec, Ev::tcp_probe, client).empty())
      << "the sender probes on every ACK it receives";

  // Linux's probe fires before the segment is processed: the state it shows
  // is the state at the moment the next segment arrives. The world is quiet
  // (all acknowledged), so read TCP_INFO now and make the server send one
  // byte: the client's probe for that byte must show exactly this state.
  world.run_for(500 * kNsPerMs);
  const tcp_info_612 ti = info(c);
  rec.clear();
  const std::uint8_t one = 'x';
  ASSERT_EQ(sp::send(s, &one, 1, 0), 1);
  std::uint8_t got = 0;
  ASSERT_TRUE(world.run_until([&] { return sp::recv(c, &got, 1, MSG_DONTWAIT) == 1; },
                              world.now() + 5 * kNsPerSec));
  const auto probes = of<trace::TcpProbe>(rec, Ev::tcp_probe, client);
  ASSERT_EQ(probes.size(), 1u);
  const trace::TcpProbe& p = probes.front();

  EXPECT_EQ(p.saddr.be, caddr);
  EXPECT_EQ(p.daddr.be, saddr);
  EXPECT_EQ(p.sport, local_port(c));
  EXPECT_EQ(p.dport, 7100);
  EXPECT_EQ(p.data_len, 1u);
  EXPECT_EQ(p.snd_cwnd, ti.v.tcpi_snd_cwnd);
  // Linux prints tcp_current_ssthresh(): outside a cwnd reduction at least
  // 3/4 of cwnd; TCP_INFO reports the raw snd_ssthresh.
  const bool in_reduction = (1u << ti.v.tcpi_ca_state) & ((1u << 2) | (1u << 3));
  const std::uint32_t cwnd = ti.v.tcpi_snd_cwnd;
  EXPECT_EQ(p.ssthresh, in_reduction ? ti.v.tcpi_snd_ssthresh
                                     : std::max(ti.v.tcpi_snd_ssthresh, (cwnd >> 1) + (cwnd >> 2)));
  EXPECT_LT(ti.v.tcpi_snd_ssthresh, 0x7fffffffu) << "the loss must have set ssthresh";
  EXPECT_EQ(p.snd_ssthresh, ti.v.tcpi_snd_ssthresh);
  EXPECT_EQ(p.srtt, ti.v.tcpi_rtt);
  EXPECT_EQ(p.snd_wnd, ti.v.tcpi_snd_wnd);
  EXPECT_EQ(p.rcv_wnd, ti.tcpi_rcv_wnd);
  EXPECT_EQ(p.snd_nxt, p.snd_una) << "all acknowledged";
  EXPECT_EQ(p.write_seq, p.snd_nxt);
  EXPECT_EQ(p.rto_us, ti.v.tcpi_rto);
  EXPECT_EQ(p.min_rtt_us, ti.v.tcpi_min_rtt);
  EXPECT_GE(p.rtt_us, p.min_rtt_us);
  EXPECT_LT(p.rtt_us, 1000u * 1000u);
  EXPECT_EQ(p.packets_out, ti.v.tcpi_unacked);
  EXPECT_EQ(p.sacked_out, ti.v.tcpi_sacked);
  EXPECT_EQ(p.lost_out, ti.v.tcpi_lost);
  EXPECT_EQ(p.retrans_out, ti.v.tcpi_retrans);
  EXPECT_EQ(p.in_flight, 0u);
  EXPECT_EQ(p.mss, ti.v.tcpi_snd_mss);
  EXPECT_EQ(p.pacing_rate, ti.v.tcpi_pacing_rate == ~std::uint64_t{0} ? 0 : ti.v.tcpi_pacing_rate);
  EXPECT_EQ(p.delivered, ti.v.tcpi_delivered);
  EXPECT_EQ(p.bytes_acked, ti.v.tcpi_bytes_acked);
  EXPECT_EQ(p.ca_state, ti.v.tcpi_ca_state);
  EXPECT_NE(p.sock_cookie.v, 0u);
}

// --- loss: retransmissions, congestion states and recovery events -----------------------------

TEST_F(TraceWorld, lossy_transfer_events_agree_with_the_mib_counters) {
  SimLinkConfig cfg = plain_link();
  cfg.a_to_b.loss = 0.02;
  cfg.seed = 12345;
  link(cfg);
  auto [c, s] = open(7200);
  const Mib before = client.mib();
  trace::Recorder rec(ev_bit(Ev::tcp_retransmit_skb) | ev_bit(Ev::tcp_cong_state_set) |
                      ev_bit(Ev::tcp_recovery_event) | ev_bit(Ev::tcp_event_new_data_sent));
  transfer(c, s, 2 * 1000 * 1000);
  const tcp_info_612 ti = info(c);
  auto delta = [&](MibId id) { return client.mib().get(id) - before.get(id); };

  // Every retransmission is a range that was sent before (the originals
  // leave contiguously from the ISN: track the highest end sent so far).
  bool have_sent = false;
  std::uint32_t first_seq = 0, high_end = 0;
  std::uint64_t retrans_segs = 0;
  std::size_t retrans_events = 0;
  std::map<std::string_view, std::size_t> kinds;
  std::map<std::string_view, std::uint64_t> cause_segs;
  std::map<std::string_view, std::size_t> cause_events;
  std::vector<std::uint8_t> states;
  for (const auto& any : rec.events()) {
    const trace::Header& h = trace::header_of(any);
    if (h.stack != client.trace_id()) continue;
    if (const auto* e = std::get_if<trace::SkbStep>(&any)) {
      if (!have_sent) first_seq = e->skb.seq;
      have_sent = true;
      if (seq_before(high_end, e->skb.end_seq) || high_end == 0) high_end = e->skb.end_seq;
    } else if (const auto* r = std::get_if<trace::TcpRetransmitSkb>(&any)) {
      ASSERT_TRUE(have_sent);
      EXPECT_FALSE(seq_before(r->skb.seq, first_seq)) << r->skb.seq;
      EXPECT_FALSE(seq_before(high_end, r->skb.end_seq)) << "never sent: " << r->skb.end_seq;
      EXPECT_TRUE(seq_before(r->skb.seq, r->skb.end_seq));
      EXPECT_GE(r->skb.gso_segs, 1u);
      EXPECT_EQ(r->sk.dport, 7200);
      retrans_segs += r->skb.gso_segs;
      ++retrans_events;
      cause_segs[r->cause] += r->skb.gso_segs;
      ++cause_events[r->cause];
    } else if (const auto* k = std::get_if<trace::TcpCongStateSet>(&any)) {
      states.push_back(k->cong_state);
    } else if (const auto* v = std::get_if<trace::TcpRecoveryEvent>(&any)) {
      kinds[v->kind]++;
    }
  }
  ASSERT_GT(retrans_events, 0u) << "2% loss must cause retransmissions";
  ASSERT_EQ(delta(MibId::TcpExtTCPRetransFail), 0u);
  // A retransmitted TSO skb counts each of its segments in the MIB.
  EXPECT_EQ(retrans_segs, delta(MibId::TcpRetransSegs));
  EXPECT_EQ(retrans_segs, ti.v.tcpi_total_retrans);

  // Recovery entered, and Open again by the end.
  const auto rec_it = std::find(states.begin(), states.end(), 3);
  ASSERT_NE(rec_it, states.end()) << "no Recovery";
  EXPECT_NE(std::find(rec_it, states.end(), 0), states.end()) << "never back to Open";
  EXPECT_EQ(ti.v.tcpi_ca_state, 0u);

  EXPECT_EQ(kinds["fast_retransmit"],
            delta(MibId::TcpExtTCPSackRecovery) + delta(MibId::TcpExtTCPRenoRecovery));
  EXPECT_GT(kinds["fast_retransmit"], 0u);
  EXPECT_EQ(kinds["tlp"], delta(MibId::TcpExtTCPLossProbes));
  EXPECT_EQ(kinds["rto"], delta(MibId::TcpExtTCPTimeouts));

  // Each retransmission names the path that sent it, and the paths add up
  // to the counters they bump: Recovery's resends are TCPFastRetrans, the
  // queue resent in Loss TCPSlowStartRetrans, the timer resends the head
  // once per RTO, and a probe that resends is one of the TLPs.
  for (const auto& [cause, n] : cause_events)
    EXPECT_TRUE(cause == "recovery" || cause == "loss" || cause == "rto" || cause == "tlp")
        << "cause '" << cause << "' x" << n;
  EXPECT_GT(cause_segs["recovery"], 0u);
  EXPECT_EQ(cause_segs["recovery"], delta(MibId::TcpExtTCPFastRetrans));
  EXPECT_EQ(cause_segs["loss"], delta(MibId::TcpExtTCPSlowStartRetrans));
  EXPECT_EQ(cause_events["rto"], delta(MibId::TcpExtTCPTimeouts));
  EXPECT_LE(cause_events["tlp"], delta(MibId::TcpExtTCPLossProbes));
  EXPECT_EQ(cause_segs["recovery"] + cause_segs["loss"] + cause_segs["rto"] + cause_segs["tlp"],
            retrans_segs);
  EXPECT_EQ(kinds["undo"], delta(MibId::TcpExtTCPDSACKUndo) + delta(MibId::TcpExtTCPPartialUndo) +
                               delta(MibId::TcpExtTCPFullUndo) + delta(MibId::TcpExtTCPLossUndo));
  EXPECT_GT(kinds["rack"], 0u) << "RACK marks the losses (tcp_recovery = 1)";
  for (const auto& [kind, n] : kinds)
    EXPECT_TRUE(kind == "fast_retransmit" || kind == "rack" || kind == "tlp" || kind == "rto" ||
                kind == "undo")
        << kind;
}

// --- states, destroy, resets ------------------------------------------------------------------

TEST_F(TraceWorld, active_open_and_close_walk_linux_state_sequence) {
  link(plain_link());
  trace::Recorder rec(ev_bit(Ev::inet_sock_set_state) | ev_bit(Ev::tcp_destroy_sock));
  auto [c, s] = open(7300);
  const std::uint16_t cport = local_port(c);
  transfer(c, s, 10000);
  // The client closes first (FIN_WAIT1 .. TIME_WAIT), then the server.
  untrack(c);
  ASSERT_EQ(sp::close(c), 0);
  std::uint8_t b;
  ASSERT_TRUE(world.run_until([&] { return sp::recv(s, &b, 1, MSG_DONTWAIT) == 0; },
                              world.now() + 5 * kNsPerSec));
  untrack(s);
  ASSERT_EQ(sp::close(s), 0);
  world.run_for(2 * kNsPerSec);

  // The connection's sockets by cookie: Linux (and sendpath) enter SYN_SENT
  // before inet_hash_connect picks the port, so that first event has sport 0.
  std::set<std::uint64_t> cookies;
  for (const auto& e : rec.of<trace::InetSockSetState>(Ev::inet_sock_set_state)) {
    if ((e.stack == client.trace_id() && e.sk.sport == cport) ||
        (e.stack == server.trace_id() && e.sk.dport == cport))
      cookies.insert(e.sk.sock_cookie.v);
  }
  std::vector<std::string> client_states, server_states;
  std::map<std::uint64_t, int> destroyed;
  for (const auto& any : rec.events()) {
    if (const auto* e = std::get_if<trace::InetSockSetState>(&any)) {
      EXPECT_EQ(e->sk.state, e->oldstate) << "the event shows the socket before the change";
      if (!cookies.count(e->sk.sock_cookie.v)) continue;
      const std::string step = std::string(e->oldstate) + ">" + std::string(e->newstate);
      (e->stack == client.trace_id() ? client_states : server_states).push_back(step);
    } else if (const auto* d = std::get_if<trace::TcpSockEvent>(&any)) {
      destroyed[d->sk.sock_cookie.v]++;
    }
  }
  // Linux: tcp_time_wait hands the connection to a time-wait sock and
  // tcp_done closes the full socket, so FIN_WAIT2 -> CLOSE is the last step.
  const std::vector<std::string> want_client = {
      "TCP_CLOSE>TCP_SYN_SENT", "TCP_SYN_SENT>TCP_ESTABLISHED", "TCP_ESTABLISHED>TCP_FIN_WAIT1",
      "TCP_FIN_WAIT1>TCP_FIN_WAIT2", "TCP_FIN_WAIT2>TCP_CLOSE"};
  EXPECT_EQ(client_states, want_client);
  // The child is a clone of the listener: LISTEN -> SYN_RECV.
  const std::vector<std::string> want_server = {
      "TCP_LISTEN>TCP_SYN_RECV", "TCP_SYN_RECV>TCP_ESTABLISHED", "TCP_ESTABLISHED>TCP_CLOSE_WAIT",
      "TCP_CLOSE_WAIT>TCP_LAST_ACK", "TCP_LAST_ACK>TCP_CLOSE"};
  EXPECT_EQ(server_states, want_server);
  // Both connection sockets were destroyed, once each.
  EXPECT_EQ(cookies.size(), 2u);
  for (std::uint64_t cookie : cookies) EXPECT_EQ(destroyed[cookie], 1) << std::hex << cookie;
}

TEST_F(TraceWorld, listen_and_close_of_a_listener_are_state_changes) {
  link(plain_link());
  trace::Recorder rec(ev_bit(Ev::inet_sock_set_state) | ev_bit(Ev::tcp_destroy_sock));
  const int l = listener(7301);
  untrack(l);
  ASSERT_EQ(sp::close(l), 0);
  world.run_for(kNsPerMs);
  std::vector<std::string> steps;
  for (const auto& e : rec.of<trace::InetSockSetState>(Ev::inet_sock_set_state))
    steps.push_back(std::string(e.oldstate) + ">" + std::string(e.newstate));
  EXPECT_EQ(steps, (std::vector<std::string>{"TCP_CLOSE>TCP_LISTEN", "TCP_LISTEN>TCP_CLOSE"}));
  EXPECT_EQ(rec.count(Ev::tcp_destroy_sock), 1u);
}

TEST_F(TraceWorld, connect_to_a_closed_port_sends_and_receives_a_reset) {
  link(plain_link());
  trace::Recorder rec(ev_bit(Ev::tcp_send_reset) | ev_bit(Ev::tcp_receive_reset) |
                      ev_bit(Ev::kfree_skb));
  const int c = track(sp::socket(client, AF_INET, SOCK_STREAM, 0));
  sockaddr_in sin = endpoint(saddr, 7399);
  EXPECT_EQ(sp::connect(c, reinterpret_cast<sockaddr*>(&sin), sizeof sin), -1);
  EXPECT_EQ(errno, ECONNREFUSED);
  const std::uint16_t cport = local_port(c);

  const auto sent = of<trace::TcpRetransmitSkb>(rec, Ev::tcp_send_reset, server);
  ASSERT_EQ(sent.size(), 1u);
  // No socket: the RST's own direction, server -> client, taken from the SYN.
  EXPECT_EQ(sent[0].sk.saddr.be, saddr);
  EXPECT_EQ(sent[0].sk.daddr.be, caddr);
  EXPECT_EQ(sent[0].sk.sport, 7399);
  EXPECT_EQ(sent[0].sk.dport, cport);
  EXPECT_EQ(sent[0].sk.sock_cookie.v, 0u);
  EXPECT_GT(sent[0].t_ns, 0u);

  const auto got = of<trace::TcpSockEvent>(rec, Ev::tcp_receive_reset, client);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].sk.state, "TCP_SYN_SENT");
  EXPECT_EQ(got[0].sk.sport, cport);

  // The SYN itself was dropped for want of a socket.
  const auto drops = of<trace::KfreeSkb>(rec, Ev::kfree_skb, server);
  ASSERT_EQ(drops.size(), 1u);
  EXPECT_EQ(drops[0].reason, "NO_SOCKET");
}

TEST_F(TraceWorld, close_with_unread_data_sends_an_active_reset) {
  link(plain_link());
  auto [c, s] = open(7400);
  const char msg[] = "unread";
  ASSERT_EQ(sp::send(s, msg, sizeof msg, 0), static_cast<ssize_t>(sizeof msg));
  world.run_for(50 * kNsPerMs);
  trace::Recorder rec(ev_bit(Ev::tcp_send_reset) | ev_bit(Ev::tcp_receive_reset));
  untrack(c);
  ASSERT_EQ(sp::close(c), 0);  // RFC 2525 2.17: unread data -> RST
  world.run_for(50 * kNsPerMs);

  const auto sent = of<trace::TcpRetransmitSkb>(rec, Ev::tcp_send_reset, client);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_NE(sent[0].sk.sock_cookie.v, 0u);
  EXPECT_EQ(sent[0].sk.dport, 7400);
  EXPECT_EQ(sent[0].skb.skbaddr.v, 0u) << "an active reset has no causing skb";
  const auto got = of<trace::TcpSockEvent>(rec, Ev::tcp_receive_reset, server);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].sk.sport, 7400);
}

// --- the device counters ----------------------------------------------------------------------

TEST_F(TraceWorld, net_dev_xmit_and_netif_receive_skb_count_what_the_devices_count) {
  SimLinkConfig cfg = plain_link();
  cfg.tso = false;  // one skb per frame at the device: the link does not segment
  link(cfg);
  auto [c, s] = open(7500);
  world.run_for(100 * kNsPerMs);
  NetDevice* cdev = client.dev_get_by_index(conn.ifindex_a);
  NetDevice* sdev = server.dev_get_by_index(conn.ifindex_b);
  ASSERT_NE(cdev, nullptr);
  ASSERT_NE(sdev, nullptr);
  const NetDeviceStats c0 = cdev->stats, s0 = sdev->stats;
  trace::Recorder rec(ev_bit(Ev::net_dev_xmit) | ev_bit(Ev::netif_receive_skb));
  transfer(c, s, 300 * 1000);
  world.run_for(100 * kNsPerMs);

  std::uint64_t tx = 0, tx_bytes = 0, rx = 0, rx_bytes = 0;
  for (const auto& e : rec.of<trace::NetDevEvent>(Ev::net_dev_xmit)) {
    if (e.stack != client.trace_id()) continue;
    EXPECT_EQ(e.rc, 0);
    EXPECT_EQ(e.dev, cdev->name);
    ++tx;
    tx_bytes += e.len;
  }
  for (const auto& e : rec.of<trace::NetDevEvent>(Ev::netif_receive_skb)) {
    if (e.stack != server.trace_id()) continue;
    ++rx;
    rx_bytes += e.len + 14;  // the event counts from the network header
  }
  EXPECT_GT(tx, 200u);
  EXPECT_EQ(tx, cdev->stats.tx_packets - c0.tx_packets);
  EXPECT_EQ(tx_bytes, cdev->stats.tx_bytes - c0.tx_bytes);
  EXPECT_EQ(rx, sdev->stats.rx_packets - s0.rx_packets);
  EXPECT_EQ(rx, tx) << "a clean link delivers every frame";
  // Short frames arrive padded to the Ethernet minimum; the IP layer trims.
  EXPECT_LE(rx_bytes, sdev->stats.rx_bytes - s0.rx_bytes);
}

// --- zero cost, detaching ---------------------------------------------------------------------

TEST_F(TraceWorld, nothing_is_produced_without_a_listening_sink) {
  link(plain_link());
  ASSERT_EQ(trace::g_enabled.load(), 0u) << "no sink attached";
  EXPECT_FALSE(trace::enabled(Ev::tcp_probe));
  // With nobody listening a call site does not even read its arguments.
  trace_tcp_probe(nullptr, nullptr);
  trace_tcp_retransmit_skb(nullptr, nullptr);
  trace_tcp_recovery_event(nullptr, "rto", 0);

  std::size_t calls = 0;
  {
    trace::CallbackSink detached(trace::kAllEvents, [&](const trace::AnyEvent&) { ++calls; });
    trace::detach(&detached);
    EXPECT_EQ(trace::g_enabled.load(), 0u);
    // A sink for one event sees only that event.
    trace::Recorder only_drops(ev_bit(Ev::kfree_skb));
    EXPECT_EQ(trace::g_enabled.load(), ev_bit(Ev::kfree_skb));
    auto [c, s] = open(7600);
    transfer(c, s, 50 * 1000);
    EXPECT_EQ(calls, 0u) << "a detached sink gets nothing";
    for (const auto& e : only_drops.events()) EXPECT_EQ(trace::header_of(e).id, Ev::kfree_skb);
  }
  EXPECT_EQ(trace::g_enabled.load(), 0u) << "the last sink left";
}

// --- JSON lines -------------------------------------------------------------------------------

// A flat JSON object: {"key": string | number | true | false, ...}. Returns
// false on anything else (nesting, bad escapes, trailing bytes).
bool parse_flat_json(const std::string& line, std::map<std::string, std::string>* out) {
  std::size_t i = 0;
  auto ws = [&] {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  };
  auto str = [&](std::string* s) {
    if (i >= line.size() || line[i] != '"') return false;
    ++i;
    while (i < line.size() && line[i] != '"') {
      if (static_cast<unsigned char>(line[i]) < 0x20) return false;
      if (line[i] == '\\') {
        if (++i >= line.size()) return false;
        const char e = line[i];
        if (e == 'u') {
          if (i + 4 >= line.size()) return false;
          i += 4;
          *s += '?';
        } else if (std::strchr("\"\\/bfnrt", e)) {
          *s += e;
        } else {
          return false;
        }
        ++i;
        continue;
      }
      *s += line[i++];
    }
    if (i >= line.size()) return false;
    ++i;
    return true;
  };
  ws();
  if (i >= line.size() || line[i++] != '{') return false;
  ws();
  if (i < line.size() && line[i] == '}') return ++i == line.size();
  for (;;) {
    std::string key, val;
    ws();
    if (!str(&key)) return false;
    ws();
    if (i >= line.size() || line[i++] != ':') return false;
    ws();
    if (i < line.size() && line[i] == '"') {
      if (!str(&val)) return false;
      val = "s:" + val;
    } else {
      const std::size_t start = i;
      while (i < line.size() && line[i] != ',' && line[i] != '}' && line[i] != ' ') ++i;
      val = line.substr(start, i - start);
      if (val != "true" && val != "false") {
        char* end = nullptr;
        std::strtod(val.c_str(), &end);
        if (val.empty() || end != val.c_str() + val.size()) return false;
      }
      val = "n:" + val;
    }
    if (out->count(key)) return false;  // duplicate key
    (*out)[key] = val;
    ws();
    if (i >= line.size()) return false;
    if (line[i] == ',') {
      ++i;
      continue;
    }
    if (line[i] != '}') return false;
    return ++i == line.size();
  }
}

TEST_F(TraceWorld, every_jsonl_line_is_a_flat_object_with_the_documented_fields) {
  SimLinkConfig cfg = plain_link();
  cfg.a_to_b.loss = 0.02;
  cfg.seed = 99;
  link(cfg);
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  std::uint64_t lines = 0;
  {
    trace::JsonlSink sink(f, trace::kAllEvents);
    auto [c, s] = open(7700);
    transfer(c, s, 200 * 1000);
    lines = sink.lines();
  }
  ASSERT_GT(lines, 100u);
  std::rewind(f);
  std::set<std::string> seen;
  std::uint64_t n = 0;
  char buf[8192];
  while (std::fgets(buf, sizeof buf, f)) {
    std::string line(buf);
    ASSERT_FALSE(line.empty());
    ASSERT_EQ(line.back(), '\n') << "one event per line";
    line.pop_back();
    std::map<std::string, std::string> obj;
    ASSERT_TRUE(parse_flat_json(line, &obj)) << line;
    ASSERT_TRUE(obj.count("t_ns") && obj["t_ns"].starts_with("n:")) << line;
    ASSERT_TRUE(obj.count("stack") && obj["stack"].starts_with("s:")) << line;
    ASSERT_TRUE(obj.count("event") && obj["event"].starts_with("s:")) << line;
    const std::string stack = obj["stack"].substr(2), event = obj["event"].substr(2);
    EXPECT_TRUE(stack == "client" || stack == "server") << line;
    std::uint64_t mask = 0;
    ASSERT_TRUE(trace::parse_event_list(event, &mask, nullptr)) << event;
    seen.insert(event);
    if (event == "tcp:tcp_probe") {
      for (const char* k :
           {"saddr",       "daddr",       "sport",    "dport",    "mark",       "data_len",
            "snd_nxt",     "snd_una",     "snd_cwnd", "ssthresh", "snd_wnd",    "srtt",
            "rcv_wnd",     "sock_cookie", "rto_us",   "rtt_us",   "min_rtt_us", "in_flight",
            "pacing_rate", "ca_state",    "limit"})
        EXPECT_TRUE(obj.count(k)) << k;
      EXPECT_TRUE(obj["saddr"] == "s:10.0.0.1" || obj["saddr"] == "s:10.0.0.2") << line;
      EXPECT_TRUE(obj["sock_cookie"].starts_with("s:0x")) << line;
    } else if (event == "tcp:tcp_retransmit_skb") {
      for (const char* k :
           {"sock_cookie", "state", "skbaddr", "seq", "end_seq", "len", "gso_segs", "cause"})
        EXPECT_TRUE(obj.count(k)) << k;
      EXPECT_NE(obj["cause"], "s:") << "a retransmission names its cause: " << line;
    } else if (event == "tcp:tcp_send_reset") {
      EXPECT_FALSE(obj.count("cause")) << line;
    } else if (event == "sendpath:tcp_write_xmit") {
      for (const char* k : {"sent", "sent_segs", "stop", "snd_cwnd", "in_flight", "snd_wnd"})
        EXPECT_TRUE(obj.count(k)) << k;
    }
    ++n;
  }
  std::fclose(f);
  EXPECT_EQ(n, lines);
  for (const char* e : {"tcp:tcp_probe", "tcp:tcp_retransmit_skb", "sock:inet_sock_set_state",
                        "net:net_dev_xmit", "net:netif_receive_skb", "sendpath:tcp_write_xmit",
                        "sendpath:tcp_clean_rtx_queue", "sendpath:tcp_sendmsg"})
    EXPECT_TRUE(seen.count(e)) << e;
}

}  // namespace
}  // namespace sp
