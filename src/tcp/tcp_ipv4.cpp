// TCP over IPv4 (net/ipv4/tcp_ipv4.c): the entry point from IP
// (tcp_v4_rcv: checks, checksum, socket lookup), passive open (request socks,
// SYN queue, accept queue), active open (tcp_v4_connect: route, port, ISN),
// socketless RST and ACK replies, and ICMP errors.
#include <arpa/inet.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "skb/fail_alloc.hpp"
#include "tcp/tcp.hpp"
#include "tcp/tcp_stack_state.hpp"
#include "trace/events.hpp"
#include "wire/checksum.hpp"
#include "wire/tcp.hpp"

namespace sp {

// --- ISN (RFC 6528) ------------------------------------------------------------------------

namespace {

// A keyed hash of the connection identifiers: SHA-256 over the stack's secret
// and the tuple, first 32 bits. Unpredictable to an off-path attacker who
// lacks the secret, as RFC 6528 requires of F().
std::uint32_t keyed_hash32(const std::array<std::uint8_t, 16>& secret, const std::uint8_t* data,
                           std::size_t len) {
  std::uint8_t md[EVP_MAX_MD_SIZE];
  unsigned md_len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx, secret.data(), secret.size());
  EVP_DigestUpdate(ctx, data, len);
  EVP_DigestFinal_ex(ctx, md, &md_len);
  EVP_MD_CTX_free(ctx);
  std::uint32_t h;
  std::memcpy(&h, md, sizeof h);
  return h;
}

}  // namespace

std::uint32_t secure_tcp_seq(const Stack& st, be32 saddr, be32 daddr, std::uint16_t sport,
                             std::uint16_t dport) {
  std::uint8_t buf[12];
  std::memcpy(buf, &saddr, 4);
  std::memcpy(buf + 4, &daddr, 4);
  std::memcpy(buf + 8, &sport, 2);
  std::memcpy(buf + 10, &dport, 2);
  std::uint32_t hash = keyed_hash32(const_cast<Stack&>(st).tcp().isn_secret(), buf, sizeof buf);
  // RFC 6528 ISN = M + F(...): M is a clock ticking every 64 ns, as
  // Linux's secure_tcp_seq, so successive incarnations move forward.
  return hash + static_cast<std::uint32_t>(st.now() >> 6);
}

std::uint32_t secure_tcp_ts_off(const Stack& st, be32 saddr, be32 daddr) {
  std::uint8_t buf[8];
  std::memcpy(buf, &saddr, 4);
  std::memcpy(buf + 4, &daddr, 4);
  return keyed_hash32(const_cast<Stack&>(st).tcp().ts_secret(), buf, sizeof buf);
}

// --- socketless replies ----------------------------------------------------------------------

namespace {

// What a reply needs from the segment it answers; copied out before the skb
// is consumed by the state machine.
struct SegInfo {
  be32 saddr = 0, daddr = 0;           // of the received segment, network order
  std::uint16_t sport = 0, dport = 0;  // network order
  std::uint32_t seq = 0, end_seq = 0, ack_seq = 0;
  std::uint8_t flags = 0;
  int ifindex = 0;
};

SegInfo seg_info(const SkBuff* skb) {
  SegInfo i;
  const std::uint8_t* iph = skb_network_header(skb);
  const std::uint8_t* th = skb_transport_header(skb);
  std::memcpy(&i.saddr, iph + 12, 4);
  std::memcpy(&i.daddr, iph + 16, 4);
  std::memcpy(&i.sport, th, 2);
  std::memcpy(&i.dport, th + 2, 2);
  const TcpSkbCb* cb = TCP_SKB_CB(skb);
  i.seq = cb->seq;
  i.end_seq = cb->end_seq;
  i.ack_seq = cb->ack_seq;
  i.flags = cb->tcp_flags;
  i.ifindex = skb->ifindex;
  return i;
}

// Build and send a bare control segment from local (saddr, sport) to
// remote (daddr, dport): a RST or an ACK with no socket behind it.
void tcp_v4_send_ctl(Stack& st, be32 saddr, be32 daddr, std::uint16_t sport, std::uint16_t dport,
                     std::uint32_t seq, std::uint32_t ack, std::uint8_t flags, std::uint16_t win,
                     bool ts, std::uint32_t tsval, std::uint32_t tsecr) {
  TcpOptions opts;
  if (ts) {
    opts.saw_tstamp = true;
    opts.ts_val = tsval;
    opts.ts_ecr = tsecr;
  }
  const unsigned optlen = tcp_options_size(opts);
  const unsigned thlen = kTcpMinHeaderLen + optlen;
  SkbPtr skb = alloc_skb_with_headroom(MAX_TCP_HEADER, thlen);
  if (!skb) return;
  std::uint8_t* th = skb_put(skb.get(), thlen);
  TcpHeader h;
  h.source = ntohs(sport);
  h.dest = ntohs(dport);
  h.seq = seq;
  h.ack_seq = ack;
  h.flags = flags;
  h.window = win;
  tcp_header_write(th, h, static_cast<std::uint8_t>(thlen / 4));
  tcp_options_write(th + kTcpMinHeaderLen, opts);
  Wsum sum = csum_partial(th, thlen, 0);
  store_be16(th + kTcpCheckOffset, tcp_v4_check(thlen, ntohl(saddr), ntohl(daddr), sum));
  skb_reset_transport_header(skb.get());
  skb->ip_summed = IpSummed::CHECKSUM_NONE;
  IpXmitParams p;
  p.saddr = saddr;
  p.daddr = daddr;
  p.protocol = IPPROTO_TCP_;
  p.ttl = static_cast<std::uint8_t>(st.sysctl().ip_default_ttl);
  st.mib().inc(MibId::TcpOutSegs);
  st.ip_queue_xmit(std::move(skb), p);
}

// RFC 9293 3.10.7.1 reset generation for a segment nobody wants: if it had
// an ACK, the RST takes its sequence number from that ACK; otherwise it
// ACKs everything the segment occupied. sk is the socket Linux hands to
// tcp_v4_send_reset (the connection, the child, or the listener that
// refused the segment), null when none matched; only the tracepoint uses it.
void tcp_v4_send_reset(Stack& st, const SegInfo& in, Sock* sk = nullptr) {
  if (in.flags & TCPHDR_RST) return;  // never answer a reset
  // The segment that caused the reset is consumed by now: no skb.
  if (sk)
    trace_tcp_send_reset(sk, nullptr);
  else
    trace_tcp_send_reset(st, in.daddr, in.saddr, in.dport, in.sport);
  std::uint32_t seq = 0, ack = 0;
  std::uint8_t flags = TCPHDR_RST;
  if (in.flags & TCPHDR_ACK) {
    seq = in.ack_seq;
  } else {
    ack = in.end_seq;
    flags |= TCPHDR_ACK;
  }
  st.mib().inc(MibId::TcpOutRsts);
  tcp_v4_send_ctl(st, in.daddr, in.saddr, in.dport, in.sport, seq, ack, flags, 0, false, 0, 0);
}

void tcp_v4_send_ack(Stack& st, const SegInfo& in, std::uint32_t seq, std::uint32_t ack,
                     std::uint16_t win, bool ts, std::uint32_t tsval, std::uint32_t tsecr) {
  tcp_v4_send_ctl(st, in.daddr, in.saddr, in.dport, in.sport, seq, ack, TCPHDR_ACK, win, ts, tsval,
                  tsecr);
}

InetTuple tuple_of(const SegInfo& in) {
  return InetTuple{in.saddr, in.daddr, in.sport, ntohs(in.dport)};
}

}  // namespace

// --- the established/child path ---------------------------------------------------------------

int tcp_v4_do_rcv(Sock* sk, SkbPtr skb) {
  if (sk->sk_state == TCP_ESTABLISHED) {
    tcp_rcv_established(sk, std::move(skb));
    return 0;
  }
  SegInfo info = seg_info(skb.get());
  Stack& st = *sk->stack;
  sock_hold(sk);  // the state machine may drop the last reference
  int reset = tcp_rcv_state_process(sk, std::move(skb));
  if (reset) tcp_v4_send_reset(st, info, sk);
  sock_put(sk);
  return 0;
}

// --- passive open -------------------------------------------------------------------------------

void tcp_listendrop(Stack& st) {
  st.mib().inc(MibId::TcpExtListenDrops);
}

TcpSock* tcp_v4_syn_recv_sock(Sock* listener, const RequestSock* req, const SkBuff* skb,
                              SkbDropReason* reason) {
  Stack& st = *listener->stack;
  if (sk_acceptq_is_full(listener)) {
    st.mib().inc(MibId::TcpExtListenOverflows);
    tcp_listendrop(st);
    *reason = SkbDropReason::SKB_DROP_REASON_SOCKET_BACKLOG;
    return nullptr;
  }
  TcpSock* child = inet_csk_clone_lock(listener, req);
  if (!child) {
    tcp_listendrop(st);
    *reason = SkbDropReason::SKB_DROP_REASON_NOMEM;
    return nullptr;
  }
  // inet_csk_clone_lock took the addresses, ports and route caps from req.
  Sock* csk = child;
  tcp_create_openreq_child(csk, req, skb);
  // Linux gives the child the TTL of the ACK that completed the handshake
  // as its multicast TTL (tcp_v4_syn_recv_sock), which IP_MULTICAST_TTL shows.
  child->mc_ttl = skb_network_header(skb)[8];
  child->rcv_tos = skb_network_header(skb)[1];
  RouteResult rt = st.ip_route_output(req->ir_rmt_addr);
  const std::uint32_t mtu = rt.mtu ? rt.mtu : 1500;
  inet_csk(csk)->icsk_pmtu_cookie = mtu;
  tcp_sync_mss(csk, mtu);
  std::uint32_t advmss = dst_metric_advmss(rt);
  if (tcp_sk(listener)->rx_opt.user_mss && advmss > tcp_sk(listener)->rx_opt.user_mss)
    advmss = tcp_sk(listener)->rx_opt.user_mss;
  child->advmss = static_cast<std::uint16_t>(advmss);
  if (!req->num_retrans && req->snt_synack) {
    long rtt_us = static_cast<long>(static_cast<std::uint32_t>(st.now() / 1000) - req->snt_synack);
    tcp_synack_rtt_meas(csk, rtt_us);
  }
  if (!st.tcp().inet_ehash_insert(csk)) {
    sock_put(csk);
    tcp_listendrop(st);
    *reason = SkbDropReason::SKB_DROP_REASON_NOT_SPECIFIED;
    return nullptr;
  }
  st.mib().inc(MibId::TcpPassiveOpens);
  return child;
}

void tcp_child_process(Sock* listener, Sock* child, SkbPtr skb) {
  Stack& st = *listener->stack;
  SegInfo in = seg_info(skb.get());
  // Queue for accept() (takes the creation reference), then let the child
  // process the ACK itself: SYN_RECV -> ESTABLISHED.
  sock_hold(child);
  inet_csk_reqsk_queue_add(listener, child);
  int reset = tcp_rcv_state_process(child, std::move(skb));
  if (reset) tcp_v4_send_reset(st, in, child);
  listener->sk_data_ready(listener);
  sock_put(child);
}

namespace {

void reqsk_drop(Stack& st, const InetTuple& key) {
  std::unique_ptr<RequestSock> req = st.tcp().reqsk_remove(key);
  if (!req) return;
  st.del_timer(req->rsk_timer);
  if (Sock* l = st.tcp().lookup_listener(req->ir_loc_addr, req->ir_num, req->ir_rmt_addr,
                                         req->ir_rmt_port)) {
    RequestSockQueue& q = inet_csk(l)->icsk_accept_queue;
    if (q.qlen) q.qlen--;
    if (!req->num_retrans && q.young) q.young--;
  }
}

int send_synack(Stack& st, const Sock* listener, RequestSock* req) {
  SkbPtr skb = tcp_make_synack(listener, req);
  if (!skb) return -ENOMEM;
  IpXmitParams p;
  p.saddr = req->ir_loc_addr;
  p.daddr = req->ir_rmt_addr;
  p.protocol = IPPROTO_TCP_;
  p.ttl = static_cast<std::uint8_t>(st.sysctl().ip_default_ttl);
  // tcp_make_synack counted it in TcpOutSegs, as Linux's does.
  return st.ip_queue_xmit(std::move(skb), p);
}

// SYN-ACK retransmission with exponential backoff (reqsk_timer_handler);
// after tcp_synack_retries the request is forgotten.
void tcp_synack_timer(Stack& st, InetTuple key) {
  RequestSock* req = st.tcp().lookup_reqsk(key);
  if (!req) return;
  Sock* listener =
      st.tcp().lookup_listener(req->ir_loc_addr, req->ir_num, req->ir_rmt_addr, req->ir_rmt_port);
  if (!listener || req->num_retrans >= st.sysctl().tcp_synack_retries) {
    reqsk_drop(st, key);
    return;
  }
  if (!req->num_retrans) {
    RequestSockQueue& q = inet_csk(listener)->icsk_accept_queue;
    if (q.young) q.young--;
  }
  req->num_retrans++;
  req->num_timeout++;
  st.mib().inc(MibId::TcpExtTCPSynRetrans);
  send_synack(st, listener, req);
  req->timeout = std::min<std::uint32_t>(req->timeout << 1, TCP_RTO_MAX);
  st.mod_timer(req->rsk_timer, timer_fire_after(st.now(), req->timeout));
}

// The SYN queue is full, or tcp_syncookies = 2 (tcp_syn_flood_action): a
// cookie if the sysctl allows one, else the SYN is dropped. Linux also logs
// "Possible SYN flooding on port" once per listener; sendpath has no kernel
// log (the counters say it).
bool tcp_syn_flood_action(Stack& st) {
  if (st.sysctl().tcp_syncookies) {
    st.mib().inc(MibId::TcpExtTCPReqQFullDoCookies);
    return true;
  }
  st.mib().inc(MibId::TcpExtTCPReqQFullDrop);
  return false;
}

// tcp_peer_is_proven: Linux asks the tcp_metrics cache whether the peer
// has been seen alive; sendpath has no metrics cache (tcp_no_metrics_save
// is 1), so no peer is proven, as for a Linux host meeting it first.
bool tcp_peer_is_proven(const RequestSock*) {
  return false;
}

void syn_drop(Stack& st, SkbPtr skb) {
  tcp_listendrop(st);
  tcp_drop_reason(st, std::move(skb), SkbDropReason::SKB_DROP_REASON_SOCKET_BACKLOG);
}

// A SYN for a listener (tcp_conn_request): create a request sock, answer
// with a SYN-ACK. The connection's full socket is made only when the
// handshake completes. With a cookie nothing is kept: the SYN-ACK is built
// from a request sock that is freed at once.
void tcp_v4_conn_request(Sock* listener, SkbPtr skb, std::uint32_t isn) {
  Stack& st = *listener->stack;
  TcpStackState& tcp = st.tcp();
  InetConnectionSock* licsk = inet_csk(listener);
  const TcpSock* ltp = tcp_sk(listener);
  const int syncookies = st.sysctl().tcp_syncookies;

  // A SYN that reopens a TIME_WAIT connection (isn set) skips the SYN queue
  // limit and cookies, as Linux's.
  bool want_cookie = false;
  if (!isn && (syncookies == 2 || inet_csk_reqsk_queue_is_full(listener))) {
    want_cookie = tcp_syn_flood_action(st);
    if (!want_cookie) {
      syn_drop(st, std::move(skb));
      return;
    }
  }
  // Accept queue full: the application is not accepting; drop the SYN and
  // let the peer retry (no cookie either: its child would have no room).
  if (sk_acceptq_is_full(listener)) {
    st.mib().inc(MibId::TcpExtListenOverflows);
    syn_drop(st, std::move(skb));
    return;
  }

  SegInfo in = seg_info(skb.get());
  TcpOptionsReceived tmp;
  tmp.user_mss = ltp->rx_opt.user_mss;
  tmp.mss_clamp = TCP_MSS_DEFAULT;
  tcp_parse_options(st.sysctl(), skb.get(), &tmp, false);
  if (tmp.user_mss && tmp.mss_clamp > tmp.user_mss) tmp.mss_clamp = tmp.user_mss;
  // A cookie without timestamps has nowhere to keep window scale or SACK:
  // the SYN-ACK offers neither (tcp_clear_options; the MSS stays).
  if (want_cookie && !tmp.saw_tstamp) {
    tmp.wscale_ok = false;
    tmp.snd_wscale = 0;
    tmp.sack_ok = 0;
  }

  // inet_reqsk_alloc failing: the SYN is consumed unanswered, a listen drop.
  if (fail_alloc_should_fail(kFailSock)) {
    st.mib().inc(MibId::TcpExtListenDrops);
    consume_skb(std::move(skb));
    return;
  }
  auto req = std::make_unique<RequestSock>(listener);
  req->syncookie = want_cookie;
  req->ir_loc_addr = in.daddr;
  req->ir_rmt_addr = in.saddr;
  req->ir_num = ntohs(in.dport);
  req->ir_rmt_port = in.sport;
  // inet_request_bound_dev_if: the child is bound where the listener is
  // (nowhere, unless bound), not to the device the SYN came in on.
  req->ir_iif = listener->sk_bound_dev_if;
  req->mss = tmp.mss_clamp;
  req->tstamp_ok = tmp.saw_tstamp;
  req->ts_recent = tmp.saw_tstamp ? tmp.rcv_tsval : 0;
  req->sack_ok = tmp.sack_ok != 0;
  req->wscale_ok = tmp.wscale_ok;
  req->snd_wscale = tmp.wscale_ok ? tmp.snd_wscale : 0;
  req->rcv_isn = in.seq;
  // tcp_timestamps = 2: timestamps without the per-connection offset.
  req->ts_off = st.sysctl().tcp_timestamps == 1 ? secure_tcp_ts_off(st, in.daddr, in.saddr) : 0;
  req->snt_synack = static_cast<std::uint32_t>(st.now() / 1000);
  req->timeout = TCP_TIMEOUT_INIT;

  if (!want_cookie && !isn) {
    // Without cookies the last quarter of tcp_max_syn_backlog is kept for
    // peers known to be alive (none here: tcp_peer_is_proven), so a flood
    // does not take the whole queue from them.
    const int max_syn_backlog = st.sysctl().tcp_max_syn_backlog;
    if (!syncookies &&
        max_syn_backlog - static_cast<int>(licsk->icsk_accept_queue.qlen) <
            (max_syn_backlog >> 2) &&
        !tcp_peer_is_proven(req.get())) {
      syn_drop(st, std::move(skb));
      return;
    }
    isn = secure_tcp_seq(st, in.daddr, in.saddr, in.dport, in.sport);
  }
  if (want_cookie) {
    isn = cookie_v4_init_sequence(st, in.saddr, in.daddr, in.sport, in.dport, in.seq, &req->mss);
    tcp_synq_overflow(listener);
    st.mib().inc(MibId::TcpExtSyncookiesSent);
    // The ECN bit travels in the timestamp; without one there is no ECN.
    if (!req->tstamp_ok) req->ecn_ok = false;
  }
  req->snt_isn = isn;

  // Our receive window and scale for this connection.
  RouteResult rt = st.ip_route_output(in.saddr);
  std::uint32_t mss = dst_metric_advmss(rt);
  if (ltp->rx_opt.user_mss && mss > ltp->rx_opt.user_mss) mss = ltp->rx_opt.user_mss;
  req->advmss = static_cast<std::uint16_t>(mss);
  if (req->tstamp_ok) mss -= TCPOLEN_TSTAMP_ALIGNED;
  std::uint32_t rcv_wnd = 0, window_clamp = ltp->window_clamp;
  std::uint8_t rcv_wscale = 0;
  tcp_select_initial_window(listener, tcp_full_space(listener), mss, &rcv_wnd, &window_clamp,
                            req->wscale_ok, &rcv_wscale, 0);
  req->rsk_rcv_wnd = rcv_wnd;
  req->rsk_window_clamp = window_clamp;
  req->rcv_wscale = req->wscale_ok ? rcv_wscale : 0;

  if (want_cookie) {
    send_synack(st, listener, req.get());
    consume_skb(std::move(skb));
    return;
  }
  InetTuple key = tuple_of(in);
  RequestSock* r = tcp.reqsk_insert(key, std::move(req));
  if (!r) {
    tcp_drop_reason(st, std::move(skb), SkbDropReason::SKB_DROP_REASON_NOMEM);
    return;
  }
  licsk->icsk_accept_queue.qlen++;
  licsk->icsk_accept_queue.young++;
  Stack* stp = &st;
  r->rsk_timer.set_function([stp, key] { tcp_synack_timer(*stp, key); });
  st.mod_timer(r->rsk_timer, timer_fire_after(st.now(), r->timeout));
  send_synack(st, listener, r);
  consume_skb(std::move(skb));
}

// The segment for a request sock (tcp_check_req): the ACK that completes
// the handshake creates the child; a retransmitted SYN gets the SYN-ACK
// again; anything unacceptable is answered as RFC 9293 says.
void tcp_v4_req_rcv(Stack& st, RequestSock* req, SkbPtr skb) {
  TcpStackState& tcp = st.tcp();
  SegInfo in = seg_info(skb.get());
  InetTuple key = tuple_of(in);
  Sock* listener =
      tcp.lookup_listener(req->ir_loc_addr, req->ir_num, req->ir_rmt_addr, req->ir_rmt_port);
  if (!listener) {
    reqsk_drop(st, key);
    tcp_v4_send_reset(st, in);
    tcp_drop_reason(st, std::move(skb), SkbDropReason::SKB_DROP_REASON_NO_SOCKET);
    return;
  }
  const std::uint8_t flg = in.flags & (TCPHDR_SYN | TCPHDR_ACK | TCPHDR_RST);

  TcpOptionsReceived tmp;
  tmp.tstamp_ok = req->tstamp_ok;
  bool paws_reject = false;
  tcp_parse_options(st.sysctl(), skb.get(), &tmp, true);
  if (tmp.saw_tstamp) {
    tmp.ts_recent = req->ts_recent;
    if (tmp.rcv_tsecr) tmp.rcv_tsecr -= req->ts_off;
    // The request has no ts_recent_stamp of its own; take it as set one
    // second per retransmitted SYN-ACK ago (as Linux estimates).
    tmp.ts_recent_stamp = tcp_ts_seconds(st) - ((TCP_TIMEOUT_INIT / HZ) << req->num_timeout);
    paws_reject = tcp_paws_reject(st, &tmp, in.flags & TCPHDR_RST);
  }

  // A retransmitted SYN: our SYN-ACK was lost; send it again, at most once
  // per tcp_invalid_ratelimit (a flood of SYNs draws no flood of SYN-ACKs).
  if (in.seq == req->rcv_isn && flg == TCPHDR_SYN && !paws_reject) {
    if (!tcp_oow_rate_limited(st, skb.get(), MibId::TcpExtTCPACKSkippedSynRecv,
                              &req->last_oow_ack_time)) {
      send_synack(st, listener, req);
      req->num_retrans++;
      st.mib().inc(MibId::TcpExtTCPSynRetrans);
    }
    consume_skb(std::move(skb));
    return;
  }

  // An ACK that does not acknowledge our SYN-ACK: reset it (a RST with such
  // an ACK goes on to the window and RST checks).
  if ((flg & TCPHDR_ACK) && !(flg & TCPHDR_RST) && in.ack_seq != req->snt_isn + 1) {
    tcp_v4_send_reset(st, in, listener);
    tcp_drop_reason(st, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_INVALID_ACK_SEQUENCE);
    return;
  }

  // The ACK a request sock answers with (tcp_v4_reqsk_send_ack).
  const std::uint32_t rcv_nxt = req->rcv_isn + 1;
  auto reqsk_send_ack = [&] {
    tcp_v4_send_ack(st, in, req->snt_isn + 1, rcv_nxt,
                    static_cast<std::uint16_t>(
                        std::min<std::uint32_t>(req->rsk_rcv_wnd >> req->rcv_wscale, 65535)),
                    req->tstamp_ok, static_cast<std::uint32_t>(st.now() / kNsPerMs) + req->ts_off,
                    req->ts_recent);
  };

  // Out of window (or PAWS): ACK (rate limited) and drop, unless it is a
  // RST. The window is the SYN-ACK's, which carried no scale (RFC 7323 2.3):
  // at most 65535 (tcp_synack_window).
  const std::uint32_t synack_wnd = std::min<std::uint32_t>(req->rsk_rcv_wnd, 65535);
  if (paws_reject || !tcp_in_window(in.seq, in.end_seq, rcv_nxt, rcv_nxt + synack_wnd)) {
    if (!(flg & TCPHDR_RST) &&
        !tcp_oow_rate_limited(st, skb.get(), MibId::TcpExtTCPACKSkippedSynRecv,
                              &req->last_oow_ack_time))
      reqsk_send_ack();
    if (paws_reject) st.mib().inc(MibId::TcpExtPAWSEstab);
    tcp_drop_reason(st, std::move(skb),
                    paws_reject ? SkbDropReason::SKB_DROP_REASON_TCP_RFC7323_PAWS
                                : SkbDropReason::SKB_DROP_REASON_TCP_INVALID_SEQUENCE);
    return;
  }

  // A SYN at the peer's ISN with more in it: the SYN itself is left of the
  // window, the rest is looked at as if it had none.
  std::uint8_t flags = flg;
  if (in.seq == req->rcv_isn) flags &= static_cast<std::uint8_t>(~TCPHDR_SYN);

  // RFC 5961 3.2 as RFC 9293 3.10.7.4 clarifies it for SYN-RECEIVED (Linux
  // 6.12.y's tcp_reqsk_send_challenge_ack): a RST in the window but not at
  // rcv_nxt gets a challenge ACK, under the same limits as a full socket's.
  if ((flags & TCPHDR_RST) && in.seq != rcv_nxt) {
    if (!__tcp_oow_rate_limited(st, MibId::TcpExtTCPACKSkippedChallenge, &req->last_oow_ack_time) &&
        tcp_challenge_ack_allowed(st)) {
      st.mib().inc(MibId::TcpExtTCPChallengeACK);
      reqsk_send_ack();
    }
    tcp_drop_reason(st, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_RESET);
    return;
  }

  // RST at rcv_nxt, or a SYN inside the window: the embryonic connection dies.
  if (flags & (TCPHDR_RST | TCPHDR_SYN)) {
    st.mib().inc(MibId::TcpAttemptFails);
    if (!(flags & TCPHDR_RST)) tcp_v4_send_reset(st, in, listener);
    st.mib().inc(MibId::TcpExtEmbryonicRsts);
    reqsk_drop(st, key);
    tcp_drop_reason(st, std::move(skb),
                    (flags & TCPHDR_RST) ? SkbDropReason::SKB_DROP_REASON_TCP_RESET
                                         : SkbDropReason::SKB_DROP_REASON_TCP_INVALID_SYN);
    return;
  }
  if (!(flags & TCPHDR_ACK)) {
    tcp_drop_reason(st, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_FLAGS);
    return;
  }
  // The handshake is complete: the child, unless the application has no
  // room for it (the ACK is then ignored and the peer will retransmit it;
  // tcp_abort_on_overflow = 0).
  SkbDropReason reason = SkbDropReason::SKB_DROP_REASON_NOT_SPECIFIED;
  TcpSock* child = tcp_v4_syn_recv_sock(listener, req, skb.get(), &reason);
  if (!child) {
    // No room in the accept queue, or no memory for the child
    // (tcp_v4_syn_recv_sock's exit paths, each a listen drop): the request
    // stays, marked acked, for the peer's next retransmission or our
    // SYN-ACK timer to try again (tcp_check_req's listen_overflow).
    req->acked = true;
    tcp_drop_reason(st, std::move(skb), reason);
    return;
  }
  reqsk_drop(st, key);
  tcp_child_process(listener, child, std::move(skb));
}

// A segment for a listening socket with no request sock.
void tcp_v4_listen_rcv(Sock* listener, SkbPtr skb, std::uint32_t isn) {
  Stack& st = *listener->stack;
  const std::uint8_t flags = TCP_SKB_CB(skb.get())->tcp_flags;
  if (flags & TCPHDR_RST) {
    tcp_drop_reason(st, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_RESET);
    return;
  }
  if (flags & TCPHDR_ACK) {
    // tcp_v4_cookie_check: the ACK may complete a handshake answered with
    // a cookie.
    if (!(flags & TCPHDR_SYN)) {
      Sock* nsk = cookie_v4_check(listener, skb);
      if (!nsk) return;
      if (nsk != listener) {
        tcp_child_process(listener, nsk, std::move(skb));
        return;
      }
    }
    // An ACK for a connection we know nothing about: reset it.
    SegInfo in = seg_info(skb.get());
    tcp_v4_send_reset(st, in, listener);
    tcp_drop_reason(st, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_FLAGS);
    return;
  }
  if ((flags & TCPHDR_SYN) && !(flags & TCPHDR_FIN)) {
    tcp_v4_conn_request(listener, std::move(skb), isn);
    return;
  }
  tcp_drop_reason(st, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_FLAGS);
}

// Verify the TCP checksum over the pseudo header and the whole segment
// (linear part and page fragments).
bool tcp_checksum_ok(const SkBuff* skb, be32 saddr, be32 daddr) {
  if (skb->ip_summed == IpSummed::CHECKSUM_UNNECESSARY) return true;
  Wsum sum = 0;
  std::uint32_t off = 0;
  const std::uint32_t head = skb_headlen(skb);
  sum = csum_partial(skb->data, head, 0);
  off = head;
  const SkbSharedInfo* sh = skb_shinfo(skb);
  for (int i = 0; i < sh->nr_frags; i++) {
    const SkbFrag* f = &sh->frags[i];
    sum = csum_block_add(sum, csum_partial(skb_frag_address(f), f->size, 0), off);
    off += f->size;
  }
  return tcp_v4_check(skb->len, ntohl(saddr), ntohl(daddr), sum) == 0;
}

}  // namespace

// --- TIME-WAIT input (tcp_minisocks.cpp) ---------------------------------------------------------
enum TcpTwStatus { TCP_TW_SUCCESS, TCP_TW_RST, TCP_TW_ACK, TCP_TW_SYN };
TcpTwStatus tcp_timewait_state_process(TcpTimewaitSock* tw, const SkBuff* skb,
                                       std::uint32_t* tw_isn, const InetTuple& key);

// --- the entry point -----------------------------------------------------------------------------

namespace {

// pskb_may_pull for a TCP header that reaches into the frags: replace the
// skb by a linear copy, the IP header kept in front and data at the TCP
// header. false when the copy fails (the skb is dropped, NOMEM).
bool tcp_v4_linearize(Stack& st, SkbPtr& skb) {
  const auto nh_len = static_cast<std::uint32_t>(skb->data - skb_network_header(skb.get()));
  skb_push(skb.get(), nh_len);
  SkbPtr lin = skb_copy(skb.get());
  if (!lin) {
    tcp_drop_reason(st, std::move(skb), SkbDropReason::SKB_DROP_REASON_NOMEM);
    return false;
  }
  lin->ifindex = skb->ifindex;
  skb = std::move(lin);
  skb_reset_network_header(skb.get());
  skb_pull(skb.get(), nh_len);
  skb_reset_transport_header(skb.get());
  return true;
}

}  // namespace

void tcp_v4_rcv(Stack& st, SkbPtr skb) {
  TcpStackState& tcp = st.tcp();
  st.mib().inc(MibId::TcpInSegs);

  // The fixed header must be there, and all of the header linear.
  if (skb->len < kTcpMinHeaderLen) {
    st.mib().inc(MibId::TcpInErrs);
    tcp_drop_reason(st, std::move(skb), SkbDropReason::SKB_DROP_REASON_PKT_TOO_SMALL);
    return;
  }
  if (skb_headlen(skb.get()) < kTcpMinHeaderLen && !tcp_v4_linearize(st, skb)) return;
  std::uint8_t* th = skb->data;
  const std::uint32_t doff = (th[12] >> 4) * 4u;
  if (doff < kTcpMinHeaderLen || doff > skb->len) {
    st.mib().inc(MibId::TcpInErrs);
    tcp_drop_reason(st, std::move(skb), SkbDropReason::SKB_DROP_REASON_PKT_TOO_SMALL);
    return;
  }
  if (skb_headlen(skb.get()) < doff) {
    if (!tcp_v4_linearize(st, skb)) return;
    th = skb->data;
  }
  skb_reset_transport_header(skb.get());

  const std::uint8_t* iph = skb_network_header(skb.get());
  be32 saddr, daddr;
  std::memcpy(&saddr, iph + 12, 4);
  std::memcpy(&daddr, iph + 16, 4);
  if (!tcp_checksum_ok(skb.get(), saddr, daddr)) {
    st.mib().inc(MibId::TcpInCsumErrors);
    st.mib().inc(MibId::TcpInErrs);
    tcp_drop_reason(st, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_CSUM);
    return;
  }

  TcpSkbCb* cb = TCP_SKB_CB(skb.get());
  std::memset(cb, 0, sizeof(*cb));
  const std::uint8_t flags = th[13];
  cb->seq = load_be32(th + 4);
  cb->ack_seq = load_be32(th + 8);
  cb->end_seq =
      cb->seq + ((flags & TCPHDR_SYN) ? 1 : 0) + ((flags & TCPHDR_FIN) ? 1 : 0) + skb->len - doff;
  cb->tcp_flags = flags;

  std::uint16_t sport, dport;
  std::memcpy(&sport, th, 2);
  std::memcpy(&dport, th + 2, 2);
  const std::uint16_t hnum = ntohs(dport);
  const InetTuple key{saddr, daddr, sport, hnum};

  // Lookup as __inet_lookup_skb: established (and request socks, which
  // Linux keeps in the same table), then time-wait, then listeners.
  std::uint32_t isn = 0;
  if (Sock* sk = tcp.lookup_established(saddr, sport, daddr, hnum)) {
    if (sk->sk_state == TCP_CLOSE) {
      tcp_drop_reason(st, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_CLOSE);
      return;
    }
    // tcp_segs_in: segments (a GRO packet counts its parts) and those with data.
    TcpSock* tp = tcp_sk(sk);
    const std::uint32_t segs = std::max<std::uint32_t>(1, skb_shinfo(skb.get())->gso_segs);
    tp->segs_in += segs;
    if (skb->len > doff) tp->data_segs_in += segs;
    sock_hold(sk);
    tcp_v4_do_rcv(sk, std::move(skb));
    sock_put(sk);
    return;
  }
  if (RequestSock* req = tcp.lookup_reqsk(key)) {
    tcp_v4_req_rcv(st, req, std::move(skb));
    return;
  }
  if (TcpTimewaitSock* tw = tcp.lookup_tw(key)) {
    SegInfo in = seg_info(skb.get());
    switch (tcp_timewait_state_process(tw, skb.get(), &isn, key)) {
      case TCP_TW_SYN:
        // A new incarnation: fall through to the listener with a fresh ISN
        // above anything the old connection used (tw was removed).
        break;
      case TCP_TW_ACK: {
        TcpTimewaitSock* t = tcp.lookup_tw(key);
        if (t) {
          tcp_v4_send_ack(st, in, t->tw_snd_nxt, t->tw_rcv_nxt,
                          static_cast<std::uint16_t>(
                              std::min<std::uint32_t>(t->tw_rcv_wnd >> t->tw_rcv_wscale, 65535)),
                          t->tw_tstamp_ok,
                          static_cast<std::uint32_t>(st.now() / kNsPerMs) + t->tw_ts_offset,
                          t->tw_ts_recent);
        }
        consume_skb(std::move(skb));
        return;
      }
      case TCP_TW_RST:
        tcp_v4_send_reset(st, in);
        tcp_drop_reason(st, std::move(skb), SkbDropReason::SKB_DROP_REASON_TCP_FLAGS);
        return;
      case TCP_TW_SUCCESS:
        consume_skb(std::move(skb));
        return;
    }
  }
  if (Sock* listener = tcp.lookup_listener(daddr, hnum, saddr, sport)) {
    sock_hold(listener);
    tcp_v4_listen_rcv(listener, std::move(skb), isn);
    sock_put(listener);
    return;
  }

  // No socket: RFC 9293 3.10.7.1, answer with a reset.
  SegInfo in = seg_info(skb.get());
  tcp_v4_send_reset(st, in);
  tcp_drop_reason(st, std::move(skb), SkbDropReason::SKB_DROP_REASON_NO_SOCKET);
}

// --- active open
// ------------------------------------------------------------------------------------

int tcp_v4_connect(Sock* sk, const sockaddr* uaddr, int addr_len) {
  if (addr_len < static_cast<int>(sizeof(sockaddr_in))) return -EINVAL;
  const sockaddr_in* usin = reinterpret_cast<const sockaddr_in*>(uaddr);
  if (usin->sin_family != AF_INET) return -EAFNOSUPPORT;
  Stack& st = *sk->stack;
  TcpStackState& tcp = st.tcp();
  TcpSock* tp = tcp_sk(sk);
  InetSock* inet = inet_sk(sk);
  InetConnectionSock* icsk = inet_csk(sk);

  const be32 daddr = usin->sin_addr.s_addr;
  RouteResult rt = st.ip_route_output(daddr);
  if (!rt.dev) {
    st.mib().inc(MibId::IpOutNoRoutes);
    return -ENETUNREACH;
  }
  if (!inet->inet_saddr) inet->inet_saddr = inet->inet_rcv_saddr ? inet->inet_rcv_saddr : rt.saddr;
  if (!inet->inet_rcv_saddr) inet->inet_rcv_saddr = inet->inet_saddr;
  inet->inet_dport = usin->sin_port;
  inet->inet_daddr = daddr;

  // A clean slate for the options the SYN-ACK will bring.
  tp->rx_opt.ts_recent = 0;
  tp->rx_opt.ts_recent_stamp = 0;
  tp->rx_opt.saw_tstamp = false;
  tp->rx_opt.tstamp_ok = false;
  tp->rx_opt.wscale_ok = false;
  tp->rx_opt.snd_wscale = 0;
  tp->rx_opt.sack_ok = 0;
  tp->rx_opt.mss_clamp = TCP_MSS_DEFAULT;

  tcp_set_state(sk, TCP_SYN_SENT);

  // Source port: keep a bound one, else an ephemeral one whose 4-tuple is
  // free (__inet_hash_connect).
  if (!inet->inet_num) {
    std::uint16_t port = tcp.inet_hash_connect_port(inet->inet_saddr, daddr, usin->sin_port);
    if (!port || tcp.inet_csk_get_port(sk, port) != 0) {
      tcp_set_state(sk, TCP_CLOSE);
      inet->inet_dport = 0;
      return -EADDRNOTAVAIL;
    }
  }
  inet->inet_sport = htons(inet->inet_num);
  if (!tcp.inet_ehash_insert(sk)) {
    tcp_set_state(sk, TCP_CLOSE);
    inet->inet_dport = 0;
    return -EADDRNOTAVAIL;
  }

  // The route's capabilities and path MTU.
  sk_setup_caps(sk, rt);
  icsk->icsk_pmtu_cookie = rt.mtu ? rt.mtu : rt.dev->mtu;

  if (!tp->write_seq)
    tp->write_seq = secure_tcp_seq(st, inet->inet_saddr, daddr, inet->inet_sport, usin->sin_port);
  tp->tsoffset =
      st.sysctl().tcp_timestamps == 1 ? secure_tcp_ts_off(st, inet->inet_saddr, daddr) : 0;
  inet->inet_id = static_cast<std::uint16_t>(tp->write_seq ^ st.now());

  int err = tcp_connect(sk);
  if (err) {
    tcp_set_state(sk, TCP_CLOSE);
    tcp.inet_ehash_remove(sk);
    inet->inet_dport = 0;
    return err;
  }
  return 0;
}

// --- ICMP errors
// -----------------------------------------------------------------------------------

namespace {

// Resend at once what no longer fits the path (tcp_simple_retransmit): the
// loss is not congestion, so cwnd is left alone; only the segments larger
// than the new MSS are marked lost and go out again, split.
void tcp_simple_retransmit(Sock* sk, unsigned mss) {
  TcpSock* tp = tcp_sk(sk);
  const std::uint32_t prior_lost = tp->lost_out;
  for (SkBuff* skb = tp->tcp_rtx_queue.first(); skb; skb = tp->tcp_rtx_queue.next(skb)) {
    TcpSkbCb* cb = TCP_SKB_CB(skb);
    if (skb->len > mss && !(cb->sacked & (TCPCB_LOST | TCPCB_SACKED_ACKED))) {
      if (cb->sacked & TCPCB_SACKED_RETRANS) {
        cb->sacked &= static_cast<std::uint8_t>(~TCPCB_SACKED_RETRANS);
        tp->retrans_out -=
            std::min(tp->retrans_out, static_cast<std::uint32_t>(tcp_skb_pcount(skb)));
      }
      cb->sacked |= TCPCB_LOST;
      tp->lost_out += static_cast<std::uint32_t>(tcp_skb_pcount(skb));
    }
  }
  if (prior_lost == tp->lost_out) return;
  tp->retransmit_skb_hint = nullptr;
  if (inet_csk(sk)->icsk_ca_state != TCP_CA_Loss) {
    tp->high_seq = tp->snd_nxt;
    tp->prior_ssthresh = 0;
    tp->undo_marker = 0;
    tcp_set_ca_state(sk, TCP_CA_Loss);
  }
  tcp_xmit_retransmit_queue(sk);
}

}  // namespace

void tcp_v4_mtu_reduced(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  InetConnectionSock* icsk = inet_csk(sk);
  if ((1u << sk->sk_state) & (TCPF_LISTEN | TCPF_CLOSE)) return;
  std::uint32_t mtu = tp->mtu_info;
  if (!mtu) return;
  sk->stack->update_pmtu(inet_sk(sk)->inet_daddr, mtu);
  // The socket's cached route MTU is what tcp_current_mss re-syncs to (the
  // kernel's dst_mtu(), which the PMTU update lowers): lower it too, or the
  // next transmit puts the MSS back up.
  if (sk->sk_dst_mtu > mtu) sk->sk_dst_mtu = mtu;
  if (icsk->icsk_pmtu_cookie > mtu) {
    const unsigned mss = tcp_sync_mss(sk, mtu);
    tcp_simple_retransmit(sk, mss);
  }
}

void tcp_v4_err(Stack& st, const SkBuff* quoted, int type, int code, std::uint32_t info) {
  // The quoted packet is one we sent: IPv4 header, then at least 8 bytes of
  // TCP (ports and sequence number).
  const std::uint8_t* iph = quoted->data;
  if (skb_headlen(quoted) < 20) return;
  const std::uint32_t ihl = (iph[0] & 0x0f) * 4u;
  if (ihl < 20 || skb_headlen(quoted) < ihl + 8) return;
  const std::uint8_t* th = iph + ihl;
  be32 local, remote;
  std::memcpy(&local, iph + 12, 4);
  std::memcpy(&remote, iph + 16, 4);
  std::uint16_t lport, rport;
  std::memcpy(&lport, th, 2);
  std::memcpy(&rport, th + 2, 2);
  const std::uint32_t seq = load_be32(th + 4);

  Sock* sk = st.tcp().lookup_established(remote, rport, local, ntohs(lport));
  if (!sk) {
    st.mib().inc(MibId::IcmpInErrors);
    return;
  }
  TcpSock* tp = tcp_sk(sk);
  // RFC 5927: believe only errors that quote a sequence number in flight.
  if (sk->sk_state != TCP_LISTEN && !between(seq, tp->snd_una, tp->snd_nxt)) {
    st.mib().inc(MibId::TcpExtOutOfWindowIcmps);
    return;
  }

  constexpr int ICMP_DEST_UNREACH = 3, ICMP_TIME_EXCEEDED = 11, ICMP_PARAMETERPROB = 12,
                ICMP_FRAG_NEEDED = 4, ICMP_SOURCE_QUENCH = 4;
  int err = 0;
  switch (type) {
    case ICMP_SOURCE_QUENCH:
      return;  // RFC 6633: ignored
    case ICMP_PARAMETERPROB:
      err = EPROTO;
      break;
    case ICMP_DEST_UNREACH: {
      if (code > 15) return;
      if (code == ICMP_FRAG_NEEDED) {
        // PMTU discovery (RFC 1191): shrink the MSS to the reported MTU.
        if (sk->sk_state == TCP_LISTEN) return;
        tp->mtu_info = info;
        tcp_v4_mtu_reduced(sk);
        return;
      }
      // icmp_err_convert
      static constexpr int kErr[16] = {ENETUNREACH,  EHOSTUNREACH, ENOPROTOOPT,  ECONNREFUSED,
                                       EMSGSIZE,     EOPNOTSUPP,   ENETUNREACH,  EHOSTDOWN,
                                       ENONET,       ENETUNREACH,  EHOSTUNREACH, ENETUNREACH,
                                       EHOSTUNREACH, EHOSTUNREACH, EHOSTUNREACH, EHOSTUNREACH};
      err = kErr[code];
      break;
    }
    case ICMP_TIME_EXCEEDED:
      err = EHOSTUNREACH;
      break;
    default:
      return;
  }

  switch (sk->sk_state) {
    case TCP_SYN_SENT:
    case TCP_SYN_RECV:
      // The connection attempt failed: report it now.
      sock_hold(sk);
      sk->sk_err = err;
      sk->sk_error_report(sk);
      tcp_write_queue_purge(sk);
      tcp_done(sk);
      sock_put(sk);
      return;
    default:
      // On an established connection ICMP errors are soft (RFC 1122
      // 4.2.3.9): remembered, reported only if the connection times out.
      sk->sk_err_soft = err;
      return;
  }
}

}  // namespace sp
