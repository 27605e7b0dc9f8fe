// SYN cookies (net.ipv4.tcp_syncookies), as Linux 6.12: the cookie's
// arithmetic (MSS table, minute counter, validity), the options its
// timestamp carries, and the listener's choice between the SYN queue, a
// cookie and a drop (tcp_conn_request, cookie_v4_check).
#include <arpa/inet.h>

#include "tcp_recv_fixture.hpp"

namespace sp::test {
namespace {

class SyncookieTest : public TcpRecvTest {
 protected:
  static be32 peer() { return be_addr(10, 0, 0, 2); }
  static be32 local() { return be_addr(10, 0, 0, 1); }
  static Flow from_port(std::uint16_t port) {
    return Flow{ipv4_addr(10, 0, 0, 2), ipv4_addr(10, 0, 0, 1), port, kLocalPort};
  }
  // The cookie ISN for a SYN from the peer's port with sequence number seq.
  std::uint32_t cookie_for(std::uint16_t port, std::uint32_t seq, std::uint16_t* mss) {
    return cookie_v4_init_sequence(st_, peer(), local(), htons(port), htons(kLocalPort), seq, mss);
  }
  // The MSS an ACK (their seq, our ack) from port proves, 0 if none.
  int check(std::uint16_t port, std::uint32_t seq, std::uint32_t ack) {
    return cookie_v4_check_mss(st_, peer(), local(), htons(port), htons(kLocalPort), seq, ack);
  }
  Sock* child_of(std::uint16_t port) {
    return st_.tcp().lookup_established(peer(), htons(port), local(), kLocalPort);
  }
  std::uint32_t ts_off() const { return secure_tcp_ts_off(st_, local(), peer()); }
  // n SYNs from ports first.. that stay in the SYN queue (no ACK follows).
  void fill_syn_queue(int n, std::uint16_t first = 5000) {
    for (int i = 0; i < n; i++)
      inject(tcp_pkt(from_port(static_cast<std::uint16_t>(first + i)), "S", 100, 0, 65535,
                     TcpOpts().with_mss(1460)));
  }
};

// --- the cookie itself -------------------------------------------------------------------

TEST_F(SyncookieTest, cookie_round_trips_every_mss_of_the_table_rounding_down) {
  struct Case {
    std::uint16_t peer_mss, carried;
  };
  const Case cases[] = {{200, 536},   {536, 536},   {1000, 536},  {1299, 536},
                        {1300, 1300}, {1439, 1300}, {1440, 1440}, {1452, 1440},
                        {1459, 1440}, {1460, 1460}, {8960, 1460}};
  std::uint32_t seq = 1000;
  for (const Case& c : cases) {
    std::uint16_t mss = c.peer_mss;
    const std::uint32_t cookie = cookie_for(40000, seq, &mss);
    EXPECT_EQ(mss, c.carried) << "peer MSS " << c.peer_mss;
    EXPECT_EQ(check(40000, seq + 1, cookie + 1), c.carried) << "peer MSS " << c.peer_mss;
    seq += 7777;
  }
}

TEST_F(SyncookieTest, cookie_is_valid_for_two_ticks_of_the_minute_counter) {
  // The clock starts at 1 s: counter 0. A cookie made now is checked with
  // counter 0 or 1, and fails from counter 2 (120 s) on.
  ASSERT_EQ(tcp_cookie_time(st_), 0u);
  std::uint16_t mss = 1460;
  const std::uint32_t cookie = cookie_for(40000, 1000, &mss);
  advance_ms(118'999);  // 119.999 s
  EXPECT_EQ(tcp_cookie_time(st_), 1u);
  EXPECT_EQ(check(40000, 1001, cookie + 1), 1460);
  advance_ms(1);  // 120 s
  EXPECT_EQ(tcp_cookie_time(st_), 2u);
  EXPECT_EQ(check(40000, 1001, cookie + 1), 0) << "expired: older than MAX_SYNCOOKIE_AGE";
}

TEST_F(SyncookieTest, forged_or_mismatched_cookies_are_rejected) {
  std::uint16_t mss = 1460;
  const std::uint32_t cookie = cookie_for(40000, 1000, &mss);
  EXPECT_EQ(check(40001, 1001, cookie + 1), 0) << "another port";
  EXPECT_EQ(cookie_v4_check_mss(st_, be_addr(10, 0, 0, 3), local(), htons(40000), htons(kLocalPort),
                                1001, cookie + 1),
            0)
      << "another address";
  // The MSS index is added in the low bits: one off upward from the top of
  // the table leaves it.
  EXPECT_EQ(check(40000, 1001, cookie + 2), 0) << "ack one too far";
  // Guesses: none of a few thousand pseudo-random values passes.
  std::uint32_t x = 12345;
  int accepted = 0;
  for (int i = 0; i < 4096; i++) {
    x = x * 1664525u + 1013904223u;
    if (x != cookie + 1 && check(40000, 1001, x)) accepted++;
  }
  EXPECT_EQ(accepted, 0);
}

TEST_F(SyncookieTest, an_off_by_one_cookie_moves_the_mss_index_as_in_linux) {
  // The two-bit index sits in the cookie's low bits, so Linux's check
  // accepts a neighbouring value with the neighbouring MSS, and rejects
  // what falls off either end of the table.
  std::uint16_t mss = 536;
  const std::uint32_t cookie = cookie_for(40000, 1000, &mss);
  EXPECT_EQ(check(40000, 1001, cookie + 1), 536);
  EXPECT_EQ(check(40000, 1001, cookie + 2), 1300);
  EXPECT_EQ(check(40000, 1001, cookie), 0) << "index -1";
  EXPECT_EQ(check(40000, 1002, cookie + 1), 0) << "their seq one off: index -1";
}

TEST_F(SyncookieTest, cookie_timestamp_carries_wscale_sack_and_ecn_in_its_low_bits) {
  advance_ms(12'345);
  const Nanos now = clock_.now_ns();
  const auto now_ms = static_cast<std::uint32_t>(now / kNsPerMs);
  struct Case {
    bool wscale_ok;
    std::uint8_t wscale;
    bool sack, ecn;
    std::uint32_t bits;
  };
  const Case cases[] = {{true, 7, true, false, 0x17},
                        {true, 0, false, false, 0x00},
                        {true, 14, false, true, 0x2e},
                        {false, 0, true, true, 0x3f},
                        {false, 0, false, false, 0x0f}};
  for (const Case& c : cases) {
    RequestSock req(nullptr);
    req.wscale_ok = c.wscale_ok;
    req.snd_wscale = c.wscale;
    req.sack_ok = c.sack;
    req.ecn_ok = c.ecn;
    const std::uint32_t ts = cookie_init_timestamp(&req, now);
    EXPECT_EQ(ts & 0x3f, c.bits);
    EXPECT_LE(ts, now_ms) << "never ahead of the clock later TSvals come from";
    EXPECT_GT(ts, now_ms - 64);
  }
}

TEST_F(SyncookieTest, cookie_timestamp_decode_refuses_options_the_host_turned_off) {
  st_.sysctl().tcp_timestamps = 1;
  TcpOptionsReceived o;
  o.saw_tstamp = true;
  o.rcv_tsecr = 0x1000 | TS_OPT_SACK | 7;
  ASSERT_TRUE(cookie_timestamp_decode(st_.sysctl(), &o));
  EXPECT_EQ(o.sack_ok, TCP_SACK_SEEN);
  EXPECT_TRUE(o.wscale_ok);
  EXPECT_EQ(o.snd_wscale, 7);

  TcpOptionsReceived none;
  none.saw_tstamp = true;
  none.rcv_tsecr = 0x1000 | TS_OPT_WSCALE_MASK | TS_OPT_ECN;
  ASSERT_TRUE(cookie_timestamp_decode(st_.sysctl(), &none));
  EXPECT_FALSE(none.wscale_ok);
  EXPECT_EQ(none.sack_ok, 0);

  Sysctl no_sack = st_.sysctl();
  no_sack.tcp_sack = 0;
  TcpOptionsReceived s = o;
  s.rcv_tsecr = 0x1000 | TS_OPT_SACK | TS_OPT_WSCALE_MASK;
  EXPECT_FALSE(cookie_timestamp_decode(no_sack, &s));
  Sysctl no_ws = st_.sysctl();
  no_ws.tcp_window_scaling = 0;
  TcpOptionsReceived w = o;
  w.rcv_tsecr = 0x1000 | 3;
  EXPECT_FALSE(cookie_timestamp_decode(no_ws, &w));
  Sysctl no_ts = st_.sysctl();
  no_ts.tcp_timestamps = 0;
  TcpOptionsReceived t = o;
  EXPECT_FALSE(cookie_timestamp_decode(no_ts, &t));
}

// --- through the listener ------------------------------------------------------------------

TEST_F(SyncookieTest,
       tcp_syncookies_two_answers_every_syn_with_a_cookie_and_the_ack_makes_the_child) {
  st_.sysctl().tcp_syncookies = 2;
  st_.sysctl().tcp_timestamps = 1;
  TcpSock* l = listen_sock();
  advance_ms(5000);
  inject("S", 1000, 0, 65535,
         TcpOpts().with_mss(1400).with_wscale(7).with_sack_perm().with_ts(100u, 0u));
  ASSERT_EQ(sent_count(), 1u);
  const ParsedSeg sa = pop_sent();
  ASSERT_TRUE(sa.has(kTcpSyn | kTcpAck));
  EXPECT_EQ(sa.ack, 1001u);
  EXPECT_EQ(mib(MibId::TcpExtSyncookiesSent), 1u);
  EXPECT_EQ(mib(MibId::TcpExtTCPReqQFullDoCookies), 1u);
  // Nothing was kept: no request sock, an empty SYN queue.
  EXPECT_EQ(inet_csk(l)->icsk_accept_queue.qlen, 0u);
  std::size_t reqs = 0;
  st_.tcp().for_each_reqsk([&](const InetTuple&, const RequestSock&) { reqs++; });
  EXPECT_EQ(reqs, 0u);
  // The ISN is the cookie, carrying 1300 (the table value below 1400).
  EXPECT_EQ(check(kPeerPort, 1001, sa.seq + 1), 1300);
  // Our own options are offered as usual; the TSval's low bits carry theirs.
  EXPECT_EQ(sa.mss, 1460);
  ASSERT_TRUE(sa.wscale.has_value());
  EXPECT_TRUE(sa.sack_perm);
  ASSERT_TRUE(sa.ts.has_value());
  EXPECT_EQ(sa.ts->second, 100u);
  const std::uint32_t tsval = sa.ts->first - ts_off();
  EXPECT_EQ(tsval & 0x3f, 7u | TS_OPT_SACK);
  EXPECT_LE(tsval, static_cast<std::uint32_t>(clock_.now_ns() / kNsPerMs));

  advance_ms(10);
  inject(".", 1001, sa.seq + 1, 1024, TcpOpts().with_ts(110u, sa.ts->first));
  Sock* csk = child_of(kPeerPort);
  ASSERT_NE(csk, nullptr);
  TcpSock* child = tcp_sk(csk);
  EXPECT_EQ(csk->sk_state, TCP_ESTABLISHED);
  EXPECT_EQ(mib(MibId::TcpExtSyncookiesRecv), 1u);
  EXPECT_EQ(mib(MibId::TcpPassiveOpens), 1u);
  // The options came back from the timestamp and the cookie.
  EXPECT_TRUE(child->rx_opt.wscale_ok);
  EXPECT_EQ(child->rx_opt.snd_wscale, 7);
  EXPECT_EQ(child->rx_opt.rcv_wscale, *sa.wscale) << "the scale the SYN-ACK announced";
  EXPECT_EQ(child->rx_opt.sack_ok, TCP_SACK_SEEN);
  EXPECT_TRUE(child->rx_opt.tstamp_ok);
  EXPECT_EQ(child->rx_opt.mss_clamp, 1300);
  EXPECT_EQ(child->rx_opt.ts_recent, 110u);
  EXPECT_EQ(child->tsoffset, ts_off());
  EXPECT_EQ(child->snd_wnd, 1024u << 7) << "their window, scaled by the recovered shift";
  EXPECT_EQ(child->snd_una, sa.seq + 1);
  EXPECT_EQ(child->rcv_nxt, 1001u);
  // The first RTT sample comes from the TSecr (no SYN-ACK send time was
  // kept), so it includes the cookie TSval's rounding down.
  const auto now_ms = static_cast<std::uint32_t>(clock_.now_ns() / kNsPerMs);
  EXPECT_EQ(child->rtt_last_us, (now_ms - tsval) * 1000u);
  EXPECT_GE(child->rtt_last_us, 10'000u);
  EXPECT_GT(child->srtt_us, 0u);

  // Both ways: their data is acknowledged, ours goes out after the cookie.
  inject(".", 1001, sa.seq + 1, 1024, TcpOpts().with_ts(111u, sa.ts->first), payload_of(100));
  EXPECT_EQ(child->rcv_nxt, 1101u);
  clear_sent();
  ASSERT_EQ(send_bytes(child, 1000), 1000);
  ASSERT_GE(sent_count(), 1u);
  const ParsedSeg d = last_sent();
  EXPECT_EQ(d.seq, sa.seq + 1);
  EXPECT_EQ(d.payload_len, 1000u);
  ASSERT_TRUE(d.ts.has_value());
  EXPECT_EQ(d.ts->second, 111u);
}

TEST_F(SyncookieTest, without_timestamps_a_cookie_offers_no_wscale_or_sack_and_keeps_the_mss) {
  st_.sysctl().tcp_syncookies = 2;
  listen_sock();
  inject("S", 1000, 0, 65535, TcpOpts().with_mss(1440).with_wscale(7).with_sack_perm());
  ASSERT_EQ(sent_count(), 1u);
  const ParsedSeg sa = pop_sent();
  EXPECT_FALSE(sa.wscale.has_value()) << "no timestamp to carry it back";
  EXPECT_FALSE(sa.sack_perm);
  EXPECT_FALSE(sa.ts.has_value());
  inject(".", 1001, sa.seq + 1, 4000);
  Sock* csk = child_of(kPeerPort);
  ASSERT_NE(csk, nullptr);
  const TcpSock* child = tcp_sk(csk);
  EXPECT_EQ(csk->sk_state, TCP_ESTABLISHED);
  EXPECT_FALSE(child->rx_opt.wscale_ok);
  EXPECT_EQ(child->rx_opt.sack_ok, 0);
  EXPECT_FALSE(child->rx_opt.tstamp_ok);
  EXPECT_EQ(child->rx_opt.mss_clamp, 1440);
  EXPECT_EQ(child->snd_wnd, 4000u);
}

TEST_F(SyncookieTest, tcp_syncookies_one_sends_cookies_only_once_the_syn_queue_is_full) {
  TcpSock* l = listen_sock(2);
  ASSERT_EQ(st_.sysctl().tcp_syncookies, 1) << "Linux's default";
  fill_syn_queue(3);  // qlen 3 > backlog 2: full
  EXPECT_EQ(sent_count(), 3u);
  EXPECT_EQ(inet_csk(l)->icsk_accept_queue.qlen, 3u);
  EXPECT_EQ(mib(MibId::TcpExtSyncookiesSent), 0u);
  EXPECT_TRUE(inet_csk_reqsk_queue_is_full(l));
  clear_sent();

  inject(tcp_pkt(from_port(6000), "S", 700, 0, 65535, TcpOpts().with_mss(1460)));
  ASSERT_EQ(sent_count(), 1u);
  const ParsedSeg sa = pop_sent();
  EXPECT_EQ(inet_csk(l)->icsk_accept_queue.qlen, 3u) << "a cookie takes no room";
  EXPECT_EQ(mib(MibId::TcpExtSyncookiesSent), 1u);
  EXPECT_EQ(mib(MibId::TcpExtTCPReqQFullDoCookies), 1u);
  EXPECT_EQ(mib(MibId::TcpExtTCPReqQFullDrop), 0u);
  EXPECT_EQ(check(6000, 701, sa.seq + 1), 1460);

  inject(tcp_pkt(from_port(6000), ".", 701, sa.seq + 1, 65535));
  Sock* csk = child_of(6000);
  ASSERT_NE(csk, nullptr);
  EXPECT_EQ(csk->sk_state, TCP_ESTABLISHED);
  EXPECT_EQ(mib(MibId::TcpExtSyncookiesRecv), 1u);
  EXPECT_EQ(inet_csk(l)->icsk_accept_queue.accept_q.size(), 1u);
  int err = 0;
  EXPECT_EQ(inet_csk_accept(l, O_NONBLOCK, &err), csk);
  sock_put(csk);
}

TEST_F(SyncookieTest, tcp_syncookies_zero_drops_the_syn_once_the_syn_queue_is_full) {
  st_.sysctl().tcp_syncookies = 0;
  TcpSock* l = listen_sock(2);
  fill_syn_queue(3);
  clear_sent();
  inject(tcp_pkt(from_port(6000), "S", 700, 0, 65535, TcpOpts().with_mss(1460)));
  EXPECT_EQ(sent_count(), 0u);
  EXPECT_EQ(inet_csk(l)->icsk_accept_queue.qlen, 3u);
  EXPECT_EQ(mib(MibId::TcpExtTCPReqQFullDrop), 1u);
  EXPECT_EQ(mib(MibId::TcpExtListenDrops), 1u);
  EXPECT_EQ(mib(MibId::TcpExtSyncookiesSent), 0u);
}

TEST_F(SyncookieTest, tcp_max_syn_backlog_keeps_its_last_quarter_free_without_cookies) {
  // Linux's "last quarter" rule: with tcp_syncookies = 0 a SYN is dropped
  // once fewer than max_syn_backlog / 4 entries are left, before the queue
  // (sized by the listen backlog) is full.
  st_.sysctl().tcp_syncookies = 0;
  st_.sysctl().tcp_max_syn_backlog = 8;
  TcpSock* l = listen_sock(100);
  fill_syn_queue(7);  // 8 - 6 = 2 left when the 7th came: still taken
  EXPECT_EQ(sent_count(), 7u);
  EXPECT_EQ(inet_csk(l)->icsk_accept_queue.qlen, 7u);
  fill_syn_queue(1, 6000);  // 8 - 7 = 1 < 2
  EXPECT_EQ(sent_count(), 7u);
  EXPECT_EQ(mib(MibId::TcpExtListenDrops), 1u);
  EXPECT_EQ(mib(MibId::TcpExtTCPReqQFullDrop), 0u) << "the queue itself is not full";
}

TEST_F(SyncookieTest, tcp_max_syn_backlog_has_no_early_drop_with_cookies_enabled) {
  st_.sysctl().tcp_max_syn_backlog = 8;
  TcpSock* l = listen_sock(100);
  fill_syn_queue(12);
  EXPECT_EQ(sent_count(), 12u);
  EXPECT_EQ(inet_csk(l)->icsk_accept_queue.qlen, 12u);
  EXPECT_EQ(mib(MibId::TcpExtListenDrops), 0u);
}

TEST_F(SyncookieTest, forged_cookie_ack_after_an_overflow_counts_failed_and_is_reset) {
  TcpSock* l = listen_sock(1);
  fill_syn_queue(2);
  inject(tcp_pkt(from_port(6000), "S", 700, 0, 65535, TcpOpts().with_mss(1460)));
  ASSERT_EQ(mib(MibId::TcpExtSyncookiesSent), 1u) << "the listener overflowed";
  const ParsedSeg sa = last_sent();
  clear_sent();
  // The right tuple, a cookie one off past the table.
  inject(tcp_pkt(from_port(6000), ".", 701, sa.seq + 2, 65535));
  EXPECT_EQ(mib(MibId::TcpExtSyncookiesFailed), 1u);
  EXPECT_EQ(mib(MibId::TcpExtSyncookiesRecv), 0u);
  EXPECT_EQ(child_of(6000), nullptr);
  ASSERT_EQ(sent_count(), 1u);
  EXPECT_TRUE(pop_sent().has(kTcpRst)) << "answered as any stray ACK";
  EXPECT_EQ(inet_csk(l)->icsk_accept_queue.accept_q.size(), 0u);
}

TEST_F(SyncookieTest, a_valid_cookie_is_not_taken_without_a_recent_overflow) {
  // tcp_synq_no_recent_overflow: a listener that never overflowed checks no
  // ACK as a cookie, even one that would pass.
  listen_sock();
  std::uint16_t mss = 1460;
  const std::uint32_t cookie = cookie_for(6000, 700, &mss);
  inject(tcp_pkt(from_port(6000), ".", 701, cookie + 1, 65535));
  EXPECT_EQ(child_of(6000), nullptr);
  EXPECT_EQ(mib(MibId::TcpExtSyncookiesRecv), 0u);
  EXPECT_EQ(mib(MibId::TcpExtSyncookiesFailed), 0u);
  ASSERT_EQ(sent_count(), 1u);
  EXPECT_TRUE(pop_sent().has(kTcpRst));
}

TEST_F(SyncookieTest, cookies_expire_with_the_overflow_two_minutes_later) {
  st_.sysctl().tcp_syncookies = 2;
  listen_sock();
  inject("S", 1000, 0, 65535, TcpOpts().with_mss(1460));
  const ParsedSeg sa = pop_sent();
  // The overflow mark is 120 s old (TCP_SYNCOOKIE_VALID): not recent.
  advance_ms(120'001);
  inject(".", 1001, sa.seq + 1, 65535);
  EXPECT_EQ(child_of(kPeerPort), nullptr);
  EXPECT_EQ(mib(MibId::TcpExtSyncookiesRecv), 0u);
  EXPECT_TRUE(last_sent().has(kTcpRst));
}

TEST_F(SyncookieTest, tcp_syncookies_zero_takes_no_ack_as_a_cookie) {
  st_.sysctl().tcp_syncookies = 2;
  listen_sock();
  inject("S", 1000, 0, 65535, TcpOpts().with_mss(1460));
  const ParsedSeg sa = pop_sent();
  st_.sysctl().tcp_syncookies = 0;
  inject(".", 1001, sa.seq + 1, 65535);
  EXPECT_EQ(child_of(kPeerPort), nullptr);
  EXPECT_EQ(mib(MibId::TcpExtSyncookiesRecv), 0u);
  EXPECT_EQ(mib(MibId::TcpExtSyncookiesFailed), 0u);
  ASSERT_EQ(sent_count(), 1u);
  EXPECT_TRUE(pop_sent().has(kTcpRst));
}

TEST_F(SyncookieTest, a_cookie_claiming_an_option_turned_off_since_makes_no_child) {
  st_.sysctl().tcp_syncookies = 2;
  st_.sysctl().tcp_timestamps = 1;
  listen_sock();
  inject("S", 1000, 0, 65535, TcpOpts().with_mss(1460).with_sack_perm().with_ts(100u, 0u));
  const ParsedSeg sa = pop_sent();
  ASSERT_TRUE(sa.ts.has_value());
  st_.sysctl().tcp_sack = 0;
  inject(".", 1001, sa.seq + 1, 65535, TcpOpts().with_ts(101u, sa.ts->first));
  EXPECT_EQ(mib(MibId::TcpExtSyncookiesRecv), 1u) << "the cookie itself is good";
  EXPECT_EQ(child_of(kPeerPort), nullptr);
  EXPECT_EQ(mib(MibId::TcpPassiveOpens), 0u);
  EXPECT_TRUE(last_sent().has(kTcpRst));
}

TEST_F(SyncookieTest, a_cookie_ack_finding_the_accept_queue_full_is_dropped_silently) {
  st_.sysctl().tcp_syncookies = 2;
  TcpSock* l = listen_sock(0);
  inject(tcp_pkt(from_port(6000), "S", 100, 0, 65535, TcpOpts().with_mss(1460)));
  inject(tcp_pkt(from_port(6001), "S", 200, 0, 65535, TcpOpts().with_mss(1460)));
  ASSERT_EQ(sent_count(), 2u);
  const ParsedSeg a = pop_sent(), b = pop_sent();
  inject(tcp_pkt(from_port(6000), ".", 101, a.seq + 1, 65535));
  ASSERT_NE(child_of(6000), nullptr);
  ASSERT_TRUE(sk_acceptq_is_full(l));
  clear_sent();
  inject(tcp_pkt(from_port(6001), ".", 201, b.seq + 1, 65535));
  EXPECT_EQ(mib(MibId::TcpExtSyncookiesRecv), 2u);
  EXPECT_EQ(child_of(6001), nullptr);
  EXPECT_EQ(mib(MibId::TcpExtListenOverflows), 1u);
  EXPECT_EQ(mib(MibId::TcpExtListenDrops), 1u);
  EXPECT_EQ(sent_count(), 0u) << "no reset: the peer retransmits its ACK";
  EXPECT_EQ(drops(SkbDropReason::SKB_DROP_REASON_SOCKET_BACKLOG), 1u);
}

}  // namespace
}  // namespace sp::test
