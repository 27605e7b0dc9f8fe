// The congestion control registry and the Reno helpers every algorithm builds
// on (net/ipv4/tcp_cong.c).
#include "tcp/cong/tcp_cong.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "tcp/tcp.hpp"
#include "tcp/tcp_sock.hpp"

namespace sp {

namespace {

// The list of available algorithms. Not a static-initialisation registrar:
// sp_stack is a static library, so the built-ins are added on first use.
std::vector<TcpCongestionOps*>& ca_list() {
  static std::vector<TcpCongestionOps*> list;
  static bool builtin_done = false;
  if (!builtin_done) {
    builtin_done = true;
    list.push_back(&tcp_reno);
    list.push_back(&cubictcp);
  }
  return list;
}

bool ca_ops_valid(const TcpCongestionOps* ca) {
  if (!ca->ssthresh || !ca->undo_cwnd) return false;
  if (!ca->cong_avoid && !ca->cong_control) return false;
  return ca->name && ca->name[0] != '\0' && std::strlen(ca->name) < TCP_CA_NAME_MAX;
}

// Start the algorithm on a connection: clear its private area first, as a
// fresh module instance would see zeroed memory.
void tcp_ca_start(Sock* sk) {
  InetConnectionSock* icsk = inet_csk(sk);
  std::memset(icsk->icsk_ca_priv, 0, sizeof(icsk->icsk_ca_priv));
  if (icsk->icsk_ca_ops->init) icsk->icsk_ca_ops->init(sk);
  icsk->icsk_ca_initialized = true;
}

}  // namespace

int tcp_register_congestion_control(TcpCongestionOps* ca) {
  if (!ca_ops_valid(ca)) return -EINVAL;
  if (tcp_ca_find(ca->name)) return -EEXIST;
  ca_list().push_back(ca);
  return 0;
}

void tcp_unregister_congestion_control(TcpCongestionOps* ca) {
  auto& l = ca_list();
  l.erase(std::remove(l.begin(), l.end(), ca), l.end());
}

TcpCongestionOps* tcp_ca_find(std::string_view name) {
  for (TcpCongestionOps* ca : ca_list())
    if (name == ca->name) return ca;
  return nullptr;
}

std::string tcp_get_available_congestion_control() {
  std::string s;
  for (TcpCongestionOps* ca : ca_list()) {
    if (!s.empty()) s += ' ';
    s += ca->name;
  }
  return s;
}

void tcp_assign_congestion_control(Sock* sk) {
  InetConnectionSock* icsk = inet_csk(sk);
  TcpCongestionOps* ca = tcp_ca_find(sk->stack->sysctl().tcp_congestion_control);
  icsk->icsk_ca_ops = ca ? ca : &tcp_reno;
  icsk->icsk_ca_initialized = false;
  std::memset(icsk->icsk_ca_priv, 0, sizeof(icsk->icsk_ca_priv));
}

void tcp_init_congestion_control(Sock* sk) {
  if (!inet_csk(sk)->icsk_ca_ops) tcp_assign_congestion_control(sk);
  tcp_sk(sk)->prior_ssthresh = 0;
  tcp_ca_start(sk);
}

void tcp_cleanup_congestion_control(Sock* sk) {
  InetConnectionSock* icsk = inet_csk(sk);
  if (icsk->icsk_ca_ops && icsk->icsk_ca_initialized && icsk->icsk_ca_ops->release)
    icsk->icsk_ca_ops->release(sk);
  icsk->icsk_ca_initialized = false;
}

int tcp_set_congestion_control(Sock* sk, std::string_view name) {
  TcpCongestionOps* ca = tcp_ca_find(name);
  if (!ca) return -ENOENT;
  InetConnectionSock* icsk = inet_csk(sk);
  if (ca == icsk->icsk_ca_ops) return 0;
  tcp_cleanup_congestion_control(sk);
  icsk->icsk_ca_ops = ca;
  // Before the handshake completes the algorithm starts with the
  // connection (tcp_init_transfer); afterwards it starts now.
  if (sk->sk_state != TCP_CLOSE && sk->sk_state != TCP_LISTEN && sk->sk_state != TCP_SYN_SENT &&
      sk->sk_state != TCP_SYN_RECV)
    tcp_ca_start(sk);
  return 0;
}

// Slow start (RFC 5681 with RFC 3465 byte counting): cwnd grows by one per
// acked packet but never past ssthresh; what is left over is returned so the
// caller can spend it on congestion avoidance.
std::uint32_t tcp_slow_start(TcpSock* tp, std::uint32_t acked) {
  std::uint32_t cwnd = std::min(tcp_snd_cwnd(tp) + acked, tp->snd_ssthresh);
  acked -= cwnd - tcp_snd_cwnd(tp);
  tcp_snd_cwnd_set(tp, std::min(cwnd, tp->snd_cwnd_clamp));
  return acked;
}

// Additive increase: one packet per `w` acked packets, kept as a credit in
// snd_cwnd_cnt so stretch ACKs and small w are both exact.
void tcp_cong_avoid_ai(TcpSock* tp, std::uint32_t w, std::uint32_t acked) {
  if (w == 0) w = 1;
  // Credit earned while w was larger is spent now, one packet at a time.
  if (tp->snd_cwnd_cnt >= w) {
    tp->snd_cwnd_cnt = 0;
    tcp_snd_cwnd_set(tp, tcp_snd_cwnd(tp) + 1);
  }
  tp->snd_cwnd_cnt += acked;
  if (tp->snd_cwnd_cnt >= w) {
    std::uint32_t inc = tp->snd_cwnd_cnt / w;
    tp->snd_cwnd_cnt -= inc * w;
    tcp_snd_cwnd_set(tp, tcp_snd_cwnd(tp) + inc);
  }
  tcp_snd_cwnd_set(tp, std::min(tcp_snd_cwnd(tp), tp->snd_cwnd_clamp));
}

void tcp_reno_cong_avoid(Sock* sk, std::uint32_t /*ack*/, std::uint32_t acked) {
  TcpSock* tp = tcp_sk(sk);
  // Growing a window the sender is not using would only build a burst.
  if (!tcp_is_cwnd_limited(sk)) return;
  if (tcp_in_slow_start(tp)) {
    acked = tcp_slow_start(tp, acked);
    if (!acked) return;
  }
  tcp_cong_avoid_ai(tp, tcp_snd_cwnd(tp), acked);
}

std::uint32_t tcp_reno_ssthresh(Sock* sk) {
  return std::max(tcp_snd_cwnd(tcp_sk(sk)) >> 1, 2u);
}

std::uint32_t tcp_reno_undo_cwnd(Sock* sk) {
  const TcpSock* tp = tcp_sk(sk);
  return std::max(tcp_snd_cwnd(tp), tp->prior_cwnd);
}

}  // namespace sp
