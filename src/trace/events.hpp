// The call sites: trace_<event>(...) as Linux spells them. Each is an inline
// test of the enabled mask; the out-of-line part (events.cpp) runs only when
// a sink listens, and fills the event from the kernel objects.
#pragma once
#include <cstdint>
#include <string_view>

#include "trace/trace.hpp"

namespace sp {
struct Sock;
struct SkBuff;
class NetDevice;
class Stack;
}  // namespace sp

// The fillers are cold: the compiler keeps their calls out of the hot
// paths' layout (the kernel's tracepoints live in out-of-line sections too).
namespace sp::trace::detail {
[[gnu::cold]] void tcp_probe(Sock* sk, const SkBuff* skb);
[[gnu::cold]] void tcp_sock_skb(Ev id, Sock* sk, const SkBuff* skb);
[[gnu::cold]] void tcp_send_reset_nosk(const Stack& st, std::uint32_t saddr, std::uint32_t daddr,
                                       std::uint16_t sport, std::uint16_t dport);
[[gnu::cold]] void tcp_sock_event(Ev id, Sock* sk);
[[gnu::cold]] void tcp_rcv_space_adjust(Sock* sk);
[[gnu::cold]] void tcp_cong_state_set(Sock* sk, std::uint8_t ca_state);
[[gnu::cold]] void inet_sock_set_state(Sock* sk, int oldstate, int newstate);
[[gnu::cold]] void sock_exceed_buf_limit(Sock* sk, std::string_view kind, int size);
[[gnu::cold]] void kfree_skb(const Stack& st, const SkBuff* skb, std::string_view reason);
[[gnu::cold]] void net_dev(Ev id, const SkBuff* skb, const NetDevice* dev, int rc,
                           std::uint32_t len);
[[gnu::cold]] void sendmsg(Ev id, Sock* sk, std::uint64_t size, std::uint32_t flags);
[[gnu::cold]] void skb_step(Ev id, const Stack* st, Sock* sk, const SkBuff* skb,
                            std::string_view queue, std::uint32_t copy, bool paged,
                            std::uint32_t pushed, std::uint32_t segs);
[[gnu::cold]] void tcp_push(Sock* sk, std::uint32_t mss_now, int nonagle);
[[gnu::cold]] void tcp_write_xmit(Sock* sk, std::uint32_t sent, std::uint32_t sent_segs,
                                  std::string_view stop);
[[gnu::cold]] void tcp_recovery_event(Sock* sk, std::string_view kind, std::uint32_t seq);
}  // namespace sp::trace::detail

namespace sp {

#define SP_TRACE_CALL(ev, call)                                               \
  do {                                                                        \
    if (::sp::trace::enabled(::sp::trace::Ev::ev)) ::sp::trace::detail::call; \
  } while (0)

// --- Linux's tracepoints ---------------------------------------------------------
// tcp:tcp_probe: an established socket received a segment (tcp_rcv_established).
inline void trace_tcp_probe(Sock* sk, const SkBuff* skb) {
  SP_TRACE_CALL(tcp_probe, tcp_probe(sk, skb));
}
inline void trace_tcp_retransmit_skb(Sock* sk, const SkBuff* skb) {
  SP_TRACE_CALL(tcp_retransmit_skb, tcp_sock_skb(trace::Ev::tcp_retransmit_skb, sk, skb));
}
// tcp:tcp_send_reset from a socket: skb is the segment that caused the RST,
// null for an active reset (tcp_send_active_reset), as Linux passes them.
inline void trace_tcp_send_reset(Sock* sk, const SkBuff* skb) {
  SP_TRACE_CALL(tcp_send_reset, tcp_sock_skb(trace::Ev::tcp_send_reset, sk, skb));
}
// tcp:tcp_send_reset for a segment that matched no socket: the RST's own
// addresses and ports (network order; the offending segment's, reversed),
// as Linux takes them from the skb when there is no full socket.
inline void trace_tcp_send_reset(const Stack& st, std::uint32_t saddr, std::uint32_t daddr,
                                 std::uint16_t sport, std::uint16_t dport) {
  SP_TRACE_CALL(tcp_send_reset, tcp_send_reset_nosk(st, saddr, daddr, sport, dport));
}
inline void trace_tcp_receive_reset(Sock* sk) {
  SP_TRACE_CALL(tcp_receive_reset, tcp_sock_event(trace::Ev::tcp_receive_reset, sk));
}
inline void trace_tcp_destroy_sock(Sock* sk) {
  SP_TRACE_CALL(tcp_destroy_sock, tcp_sock_event(trace::Ev::tcp_destroy_sock, sk));
}
inline void trace_tcp_rcv_space_adjust(Sock* sk) {
  SP_TRACE_CALL(tcp_rcv_space_adjust, tcp_rcv_space_adjust(sk));
}
inline void trace_tcp_cong_state_set(Sock* sk, std::uint8_t ca_state) {
  SP_TRACE_CALL(tcp_cong_state_set, tcp_cong_state_set(sk, ca_state));
}
inline void trace_inet_sock_set_state(Sock* sk, int oldstate, int newstate) {
  SP_TRACE_CALL(inet_sock_set_state, inet_sock_set_state(sk, oldstate, newstate));
}
// kind: "send" (sk_wmem_schedule / sndbuf) or "receive" (rcvbuf).
inline void trace_sock_exceed_buf_limit(Sock* sk, std::string_view kind, int size) {
  SP_TRACE_CALL(sock_exceed_buf_limit, sock_exceed_buf_limit(sk, kind, size));
}
// skb:kfree_skb with the drop reason's name ("TCP_CSUM"); call before freeing.
inline void trace_kfree_skb(const Stack& st, const SkBuff* skb, std::string_view reason) {
  SP_TRACE_CALL(kfree_skb, kfree_skb(st, skb, reason));
}
inline void trace_net_dev_xmit(const SkBuff* skb, const NetDevice* dev, int rc, std::uint32_t len) {
  SP_TRACE_CALL(net_dev_xmit, net_dev(trace::Ev::net_dev_xmit, skb, dev, rc, len));
}
// len: the packet from its network header (after eth_type_trans), as Linux.
inline void trace_netif_receive_skb(const SkBuff* skb, const NetDevice* dev, std::uint32_t len) {
  SP_TRACE_CALL(netif_receive_skb, net_dev(trace::Ev::netif_receive_skb, skb, dev, 0, len));
}

// --- the send chain ---------------------------------------------------------------
inline void trace_sock_sendmsg(Sock* sk, std::uint64_t size, std::uint32_t flags) {
  SP_TRACE_CALL(sock_sendmsg, sendmsg(trace::Ev::sock_sendmsg, sk, size, flags));
}
inline void trace_inet_sendmsg(Sock* sk, std::uint64_t size, std::uint32_t flags) {
  SP_TRACE_CALL(inet_sendmsg, sendmsg(trace::Ev::inet_sendmsg, sk, size, flags));
}
inline void trace_tcp_sendmsg(Sock* sk, std::uint64_t size, std::uint32_t flags) {
  SP_TRACE_CALL(tcp_sendmsg, sendmsg(trace::Ev::tcp_sendmsg, sk, size, flags));
}
inline void trace_tcp_skb_entail(Sock* sk, const SkBuff* skb) {
  SP_TRACE_CALL(tcp_skb_entail,
                skb_step(trace::Ev::tcp_skb_entail, nullptr, sk, skb, "write", 0, false, 0, 0));
}
inline void trace_tcp_skb_append(Sock* sk, const SkBuff* skb, std::uint32_t copy, bool paged) {
  SP_TRACE_CALL(tcp_skb_append,
                skb_step(trace::Ev::tcp_skb_append, nullptr, sk, skb, "write", copy, paged, 0, 0));
}
inline void trace_tcp_push(Sock* sk, std::uint32_t mss_now, int nonagle) {
  SP_TRACE_CALL(tcp_push, tcp_push(sk, mss_now, nonagle));
}
inline void trace_tcp_write_xmit(Sock* sk, std::uint32_t sent, std::uint32_t sent_segs,
                                 std::string_view stop) {
  SP_TRACE_CALL(tcp_write_xmit, tcp_write_xmit(sk, sent, sent_segs, stop));
}
// The clone, after the TCP header went on (pushed = header bytes).
inline void trace_tcp_transmit_skb(Sock* sk, const SkBuff* skb, std::uint32_t pushed) {
  SP_TRACE_CALL(tcp_transmit_skb, skb_step(trace::Ev::tcp_transmit_skb, nullptr, sk, skb, "none", 0,
                                           false, pushed, 0));
}
inline void trace_tcp_event_new_data_sent(Sock* sk, const SkBuff* skb) {
  SP_TRACE_CALL(tcp_event_new_data_sent, skb_step(trace::Ev::tcp_event_new_data_sent, nullptr, sk,
                                                  skb, "rtx", 0, false, 0, 0));
}
// Below TCP the socket comes from skb->sk (null for socketless replies) and
// the stack is passed in.
inline void trace_ip_queue_xmit(const Stack* st, const SkBuff* skb, std::uint32_t pushed) {
  SP_TRACE_CALL(ip_queue_xmit,
                skb_step(trace::Ev::ip_queue_xmit, st, nullptr, skb, "none", 0, false, pushed, 0));
}
// Fired before the skb is cut into segs segments.
inline void trace_skb_gso_segment(const Stack* st, const SkBuff* skb, std::uint32_t segs) {
  SP_TRACE_CALL(skb_gso_segment,
                skb_step(trace::Ev::skb_gso_segment, st, nullptr, skb, "none", 0, false, 0, segs));
}
inline void trace_neigh_output(const Stack* st, const SkBuff* skb, std::uint32_t pushed) {
  SP_TRACE_CALL(neigh_output,
                skb_step(trace::Ev::neigh_output, st, nullptr, skb, "none", 0, false, pushed, 0));
}
inline void trace_dev_queue_xmit(const Stack* st, const SkBuff* skb) {
  SP_TRACE_CALL(dev_queue_xmit,
                skb_step(trace::Ev::dev_queue_xmit, st, nullptr, skb, "device", 0, false, 0, 0));
}
// An acknowledged skb leaves the retransmit queue.
inline void trace_tcp_clean_rtx_queue(Sock* sk, const SkBuff* skb) {
  SP_TRACE_CALL(tcp_clean_rtx_queue,
                skb_step(trace::Ev::tcp_clean_rtx_queue, nullptr, sk, skb, "none", 0, false, 0, 0));
}
// kind: "fast_retransmit", "rack", "tlp", "rto", "undo".
inline void trace_tcp_recovery_event(Sock* sk, std::string_view kind, std::uint32_t seq) {
  SP_TRACE_CALL(tcp_recovery_event, tcp_recovery_event(sk, kind, seq));
}

#undef SP_TRACE_CALL

}  // namespace sp
