// The socket error queue and what feeds it, after net/core/skbuff.c
// (msg_zerocopy_*, __skb_tstamp_tx, sock_queue_err_skb), net/core/sock.c
// (sock_recv_timestamp, SO_TIMESTAMPING) and net/ipv4/ip_sockglue.c
// (ip_recv_error): MSG_ZEROCOPY completions and transmit timestamps wait on
// sk_error_queue as skbs with a struct sock_exterr_skb in their cb, and
// recvmsg(MSG_ERRQUEUE) hands each one out as control messages.
#pragma once
#include <ctime>  // struct timespec, before linux/errqueue.h uses it
// clang-format off
#include <linux/errqueue.h>
// clang-format on
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

#include "skb/skbuff.hpp"

namespace sp {

struct Sock;

// Linux 6.12's SO_TIMESTAMPING flags beyond what the system headers know.
constexpr std::uint32_t kSofTimestampingOptIdTcp = 1u << 16;     // SOF_TIMESTAMPING_OPT_ID_TCP
constexpr std::uint32_t kSofTimestampingOptRxFilter = 1u << 17;  // SOF_TIMESTAMPING_OPT_RX_FILTER
constexpr std::uint32_t kSofTimestampingMask = (kSofTimestampingOptRxFilter << 1) - 1;

// struct sock_exterr_skb: what an error-queue skb reports (skb->cb).
struct SockExterrSkb {
  sock_extended_err ee;
  std::uint16_t addr_offset;
  std::uint16_t port;
  std::uint8_t opt_stats;
};
static_assert(sizeof(SockExterrSkb) <= sizeof(SkBuff::cb), "sock_exterr_skb must fit in skb->cb");
inline SockExterrSkb* SKB_EXT_ERR(SkBuff* skb) {
  return reinterpret_cast<SockExterrSkb*>(skb->cb);
}

// struct ubuf_info_msgzc: one MSG_ZEROCOPY completion range. It lives in the
// cb of the skb that later carries the notification, as in Linux, so that
// reporting the completion allocates nothing.
struct UbufInfoMsgzc {
  UbufInfo ubuf;
  std::uint32_t id;       // first send id of the range
  std::uint16_t len;      // sends in the range (ids id .. id + len - 1)
  std::uint8_t zerocopy;  // 0 once a device had to copy the bytes
  std::uint32_t bytelen;  // bytes pinned by the range
};
static_assert(sizeof(UbufInfoMsgzc) <= sizeof(SkBuff::cb), "ubuf_info_msgzc must fit in skb->cb");

// msg_zerocopy_realloc: the range a MSG_ZEROCOPY send of size bytes joins.
// uarg is the write queue tail's (skb_zcopy): when it ends with the previous
// send it is extended (ids coalesce, a reference is taken for the caller),
// else a new range starts. nullptr: optmem exhausted (-ENOBUFS).
UbufInfo* msg_zerocopy_realloc(Sock* sk, std::size_t size, UbufInfo* uarg);
// The send failed before queueing anything: give its id back and drop the
// caller's reference (the range reports nothing if it held only this send).
void msg_zerocopy_put_abort(UbufInfo* uarg, bool have_uref);
inline UbufInfoMsgzc* uarg_to_msgzc(UbufInfo* uarg) {
  return reinterpret_cast<UbufInfoMsgzc*>(uarg);
}
bool is_msg_zerocopy(const UbufInfo* uarg);

// sock_queue_err_skb: charge skb to sk_rmem_alloc and queue it; -ENOMEM
// when the receive buffer is full (the caller frees the skb).
int sock_queue_err_skb(Sock* sk, SkbPtr skb);
// sock_dequeue_err_skb: the oldest report, and a wakeup if more remain.
SkbPtr sock_dequeue_err_skb(Sock* sk);

// __skb_tstamp_tx: report a transmit timestamp of orig_skb's tskey (taken
// now, on the stack's clock) on sk's error queue: a clone of orig_skb, or an
// empty skb with SOF_TIMESTAMPING_OPT_TSONLY.
void __skb_tstamp_tx(SkBuff* orig_skb, Sock* sk, int tstype);
// The device queue and the driver's stamps (__dev_queue_xmit,
// skb_tx_timestamp) for an skb a socket asked stamps for.
void skb_tstamp_sched(SkBuff* skb);
void skb_tx_timestamp(SkBuff* skb);

// sock_tx_timestamp: the SKBTX_* flags an skb gets for tsflags.
std::uint8_t sock_tx_timestamp_flags(std::uint32_t tsflags);
// SO_TIMESTAMPING (sock_set_timestamping): 0 or -EINVAL.
int sock_set_timestamping(Sock* sk, std::uint32_t val);

// struct sockcm_cookie: per-call socket options a sendmsg may carry as
// SOL_SOCKET control messages (sockcm_init fills in the socket's own).
struct SockcmCookie {
  std::uint32_t tsflags = 0;
  std::uint32_t mark = 0;
};
SockcmCookie sockcm_init(const Sock* sk);
// sock_cmsg_send: apply msg's SOL_SOCKET control messages (SO_MARK,
// SO_TIMESTAMPING with TX_* record flags only); -EINVAL for a malformed or
// unknown one.
int sock_cmsg_send(Sock* sk, const msghdr* msg, SockcmCookie* sockc);

// put_cmsg: append a control message to msg (advancing msg_control and
// shrinking msg_controllen, which the syscall layer turns back into the
// length used); MSG_CTRUNC when it does not fit.
void put_cmsg(msghdr* msg, int level, int type, std::size_t len, const void* data);

// ip_recv_error: recvmsg(MSG_ERRQUEUE) for an IPv4 socket: copies up to len
// bytes of the oldest report, then SCM_TIMESTAMPING (if it carries a stamp
// and SOF_TIMESTAMPING_SOFTWARE is on) and IP_RECVERR control messages.
// -EAGAIN when the queue is empty.
int ip_recv_error(Sock* sk, msghdr* msg, std::size_t len);

}  // namespace sp
