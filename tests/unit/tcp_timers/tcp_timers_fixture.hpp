// Test bench for timer-driven recovery: the tcp_recv fixture (one stack on
// a virtual clock, a fake device recording every segment) plus an active
// open with a chosen RTT, MSS 1000 and optionally SACK or timestamps.
#pragma once
#include <linux/tcp.h>  // struct tcp_info

#include "unit/tcp_recv/tcp_recv_fixture.hpp"

namespace sp::test {

class TcpTimersTest : public TcpRecvTest {
 protected:
  // Active open whose SYN-ACK arrives `rtt_ms` after the SYN left, MSS 1000,
  // SACK negotiated unless `sack` is false (TLP needs SACK).
  TcpSock* open_with_rtt(std::uint32_t rtt_ms, bool sack = true, bool tstamps = false) {
    TcpSock* sk = connect_sock();
    ParsedSeg syn = pop_sent();
    our_isn_ = syn.seq;
    peer_nxt_ = 5001;
    advance_ms(rtt_ms);
    TcpOpts opts = TcpOpts().with_mss(1000);
    if (sack) opts.with_sack_perm();
    if (tstamps) {
      // Echo the SYN's TSval; the peer's own clock starts at 1000.
      EXPECT_TRUE(syn.ts.has_value());
      opts.with_ts(peer_tsval_, syn.ts ? syn.ts->first : 0);
    }
    inject("S.", 5000, our_isn_ + 1, 65535, opts);
    EXPECT_EQ(sk->sk_state, TCP_ESTABLISHED);
    clear_sent();
    return sk;
  }
  std::uint32_t data_seq(std::uint32_t offset) const { return our_isn_ + 1 + offset; }
  void ack(std::uint32_t offset, std::uint16_t win = 65535) {
    inject(".", peer_nxt_, data_seq(offset), win);
  }
  ::tcp_info info(TcpSock* sk) {
    ::tcp_info ti{};
    tcp_get_info(sk, &ti);
    return ti;
  }
  Nanos now() const { return clock_.now_ns(); }

  std::uint32_t peer_tsval_ = 1000;
};

}  // namespace sp::test
