// The socket error queue: MSG_ZEROCOPY completions and transmit timestamps
// (net/core/skbuff.c, net/core/sock.c, net/ipv4/ip_sockglue.c).
#include "sock/sock_errqueue.hpp"

#include <cerrno>
#include <climits>
#include <cstring>
#include <new>

#include "sock/sock.hpp"
#include "tcp/tcp.hpp"

namespace sp {

namespace {

// sock_ofree: a notification skb gives its option memory back.
void sock_ofree(SkBuff* skb) {
  static_cast<Sock*>(skb->sk)->sk_omem_alloc -= static_cast<int>(skb->truesize);
}

// sock_rmem_free: a timestamp report gives its receive memory back.
void sock_rmem_free(SkBuff* skb) {
  static_cast<Sock*>(skb->sk)->sk_rmem_alloc -= static_cast<int>(skb->truesize);
}

// sock_omalloc: an skb charged to the socket's option memory, bounded by
// net.core.optmem_max.
SkbPtr sock_omalloc(Sock* sk, std::uint32_t size) {
  if (sk->sk_omem_alloc + static_cast<int>(SKB_TRUESIZE(size)) > sk->stack->sysctl().optmem_max)
    return nullptr;
  SkbPtr skb = alloc_skb(size);
  if (!skb) return nullptr;
  sk->sk_omem_alloc += static_cast<int>(skb->truesize);
  skb->sk = sk;
  skb->destructor = sock_ofree;
  return skb;
}

SkBuff* skb_from_uarg(UbufInfoMsgzc* uarg) {
  return reinterpret_cast<SkBuff*>(reinterpret_cast<std::uint8_t*>(uarg) - offsetof(SkBuff, cb));
}

void msg_zerocopy_complete(SkBuff* skb, UbufInfo* uarg, bool success);
const UbufOps msg_zerocopy_ubuf_ops = {.complete = msg_zerocopy_complete};

UbufInfo* msg_zerocopy_alloc(Sock* sk, std::size_t size) {
  SkbPtr skb = sock_omalloc(sk, 0);
  if (!skb) return nullptr;
  auto* uarg = new (skb->cb) UbufInfoMsgzc{};
  uarg->ubuf.ops = &msg_zerocopy_ubuf_ops;
  uarg->ubuf.flags = SKBFL_ZEROCOPY_FRAG | SKBFL_DONT_ORPHAN;
  uarg->ubuf.refcnt = 1;
  uarg->id = sk->sk_zckey++;
  uarg->len = 1;
  uarg->bytelen = static_cast<std::uint32_t>(size);
  uarg->zerocopy = 1;
  sock_hold(sk);
  // The skb is owned by the range from now on: it is queued or freed when the
  // last reference goes (__msg_zerocopy_callback).
  skb.release();
  return &uarg->ubuf;
}

// skb_zerocopy_notify_extend: a completion right after the tail's range
// widens it instead of queueing another report (ee_data grows).
bool skb_zerocopy_notify_extend(SkBuff* tail, std::uint32_t lo, std::uint16_t len) {
  SockExterrSkb* serr = SKB_EXT_ERR(tail);
  const std::uint32_t old_lo = serr->ee.ee_info;
  const std::uint32_t old_hi = serr->ee.ee_data;
  const std::uint64_t sum_len = std::uint64_t{old_hi} - old_lo + 1 + len;
  if (sum_len >= (1ull << 32)) return false;
  if (lo != old_hi + 1) return false;
  serr->ee.ee_data += len;
  return true;
}

// __msg_zerocopy_callback: the last reference is gone; report ids
// [id, id + len - 1] on the error queue (merged into the tail report when
// contiguous), unless the range is empty or the socket is closed.
void msg_zerocopy_callback(UbufInfoMsgzc* uarg) {
  SkbPtr skb(skb_from_uarg(uarg));
  auto* sk = static_cast<Sock*>(skb->sk);
  if (uarg->len && !sock_flag(sk, SOCK_DEAD)) {
    const std::uint16_t len = uarg->len;
    const std::uint32_t lo = uarg->id;
    const std::uint32_t hi = uarg->id + len - 1;
    const bool is_zerocopy = uarg->zerocopy;
    SockExterrSkb* serr = SKB_EXT_ERR(skb.get());
    std::memset(serr, 0, sizeof(*serr));
    serr->ee.ee_errno = 0;
    serr->ee.ee_origin = SO_EE_ORIGIN_ZEROCOPY;
    serr->ee.ee_data = hi;
    serr->ee.ee_info = lo;
    if (!is_zerocopy) serr->ee.ee_code |= SO_EE_CODE_ZEROCOPY_COPIED;
    SkBuff* tail = sk->sk_error_queue.peek_tail();
    if (!tail || SKB_EXT_ERR(tail)->ee.ee_origin != SO_EE_ORIGIN_ZEROCOPY ||
        !skb_zerocopy_notify_extend(tail, lo, len)) {
      sk->sk_error_queue.queue_tail(std::move(skb));
    }
    sk->sk_error_report(sk);
  }
  consume_skb(std::move(skb));
  sock_put(sk);
}

void msg_zerocopy_complete(SkBuff* skb, UbufInfo* uarg, bool success) {
  (void)skb;
  UbufInfoMsgzc* zc = uarg_to_msgzc(uarg);
  zc->zerocopy = zc->zerocopy & (success ? 1 : 0);
  if (--uarg->refcnt == 0) msg_zerocopy_callback(zc);
}

}  // namespace

bool is_msg_zerocopy(const UbufInfo* uarg) {
  return uarg && uarg->ops == &msg_zerocopy_ubuf_ops;
}

UbufInfo* msg_zerocopy_realloc(Sock* sk, std::size_t size, UbufInfo* uarg) {
  if (uarg) {
    // A few TSO packets' worth per range, and the ids must stay contiguous.
    constexpr std::uint32_t byte_limit = 1u << 19;
    if (!is_msg_zerocopy(uarg)) return nullptr;
    UbufInfoMsgzc* zc = uarg_to_msgzc(uarg);
    const std::uint64_t bytelen = std::uint64_t{zc->bytelen} + size;
    // Past the limits TCP starts a new range on a new skb.
    if (zc->len != USHRT_MAX - 1 && bytelen <= byte_limit &&
        static_cast<std::uint32_t>(zc->id + zc->len) == sk->sk_zckey) {
      zc->len++;
      zc->bytelen = static_cast<std::uint32_t>(bytelen);
      sk->sk_zckey++;
      net_zcopy_get(uarg);
      return uarg;
    }
  }
  return msg_zerocopy_alloc(sk, size);
}

void msg_zerocopy_put_abort(UbufInfo* uarg, bool have_uref) {
  auto* sk = static_cast<Sock*>(skb_from_uarg(uarg_to_msgzc(uarg))->sk);
  sk->sk_zckey--;
  uarg_to_msgzc(uarg)->len--;
  if (have_uref) msg_zerocopy_complete(nullptr, uarg, true);
}

// --- the queue ----------------------------------------------------------------

int sock_queue_err_skb(Sock* sk, SkbPtr skb) {
  if (sk->sk_rmem_alloc + static_cast<int>(skb->truesize) >= sk->sk_rcvbuf) {
    kfree_skb(std::move(skb));
    return -ENOMEM;
  }
  skb_orphan(skb.get());
  skb->sk = sk;
  skb->destructor = sock_rmem_free;
  sk->sk_rmem_alloc += static_cast<int>(skb->truesize);
  sk->sk_error_queue.queue_tail(std::move(skb));
  if (!sock_flag(sk, SOCK_DEAD)) sk->sk_error_report(sk);
  return 0;
}

SkbPtr sock_dequeue_err_skb(Sock* sk) {
  SkbPtr skb = sk->sk_error_queue.dequeue();
  // ICMP errors (which also set sk_err) never reach this queue in sendpath:
  // only zerocopy and timestamp reports do.
  if (skb && !sk->sk_error_queue.empty()) sk->sk_error_report(sk);
  return skb;
}

// --- timestamps -----------------------------------------------------------------

std::uint8_t sock_tx_timestamp_flags(std::uint32_t tsflags) {
  std::uint8_t flags = 0;
  if (tsflags & SOF_TIMESTAMPING_TX_SOFTWARE) flags |= SKBTX_SW_TSTAMP;
  if (tsflags & SOF_TIMESTAMPING_TX_SCHED) flags |= SKBTX_SCHED_TSTAMP;
  return flags;
}

int sock_set_timestamping(Sock* sk, std::uint32_t val) {
  if (val & ~kSofTimestampingMask) return -EINVAL;
  if ((val & kSofTimestampingOptIdTcp) && !(val & SOF_TIMESTAMPING_OPT_ID)) return -EINVAL;
  if ((val & SOF_TIMESTAMPING_OPT_ID) && !(sk->sk_tsflags & SOF_TIMESTAMPING_OPT_ID)) {
    // Keys count bytes from here: the first unacknowledged one, or with
    // OPT_ID_TCP the next one written.
    if ((1u << sk->sk_state) & (TCPF_CLOSE | TCPF_LISTEN)) return -EINVAL;
    const TcpSock* tp = tcp_sk(sk);
    sk->sk_tskey = (val & kSofTimestampingOptIdTcp) ? tp->write_seq : tp->snd_una;
  }
  if ((val & SOF_TIMESTAMPING_OPT_STATS) && !(val & SOF_TIMESTAMPING_OPT_TSONLY)) return -EINVAL;
  // SOF_TIMESTAMPING_BIND_PHC needs a socket bound to a device
  // (sock_timestamping_bind_phc), and then a hardware clock: none here.
  if (val & SOF_TIMESTAMPING_BIND_PHC) return sk->sk_bound_dev_if ? -EINVAL : -EOPNOTSUPP;
  sk->sk_tsflags = val;
  return 0;
}

void __skb_tstamp_tx(SkBuff* orig_skb, Sock* sk, int tstype) {
  if (!sk) return;
  const std::uint32_t tsflags = sk->sk_tsflags;
  const bool tsonly = tsflags & SOF_TIMESTAMPING_OPT_TSONLY;
  const bool opt_stats = tsonly && (tsflags & SOF_TIMESTAMPING_OPT_STATS);
  SkbPtr skb = opt_stats ? tcp_get_timestamping_opt_stats(sk, orig_skb)
               : tsonly  ? alloc_skb(0)
                         : skb_clone(orig_skb);
  if (!skb) return;
  if (tsonly) {
    skb_shinfo(skb.get())->tx_flags |= skb_shinfo(orig_skb)->tx_flags & SKBTX_ANY_TSTAMP;
    skb_shinfo(skb.get())->tskey = skb_shinfo(orig_skb)->tskey;
  } else {
    skb->sk = nullptr;
    skb->destructor = nullptr;
    // The report hands the payload to the user, who reads a copy of it.
    skb_orphan_frags_rx(skb.get());
  }
  skb->tstamp = sk->stack->now();  // __net_timestamp, on the stack's clock
  SockExterrSkb* serr = SKB_EXT_ERR(skb.get());
  std::memset(serr, 0, sizeof(*serr));
  serr->ee.ee_errno = ENOMSG;
  serr->ee.ee_origin = SO_EE_ORIGIN_TIMESTAMPING;
  serr->ee.ee_info = static_cast<std::uint32_t>(tstype);
  serr->opt_stats = opt_stats ? 1 : 0;
  if (tsflags & SOF_TIMESTAMPING_OPT_ID) {
    // TCP keys are byte offsets from the sequence number OPT_ID recorded.
    serr->ee.ee_data = skb_shinfo(skb.get())->tskey - sk->sk_tskey;
  }
  sock_queue_err_skb(sk, std::move(skb));
}

void skb_tstamp_sched(SkBuff* skb) {
  if (skb_shinfo(skb)->tx_flags & SKBTX_SCHED_TSTAMP)
    __skb_tstamp_tx(skb, static_cast<Sock*>(skb->sk), SCM_TSTAMP_SCHED);
}

void skb_tx_timestamp(SkBuff* skb) {
  if (skb_shinfo(skb)->tx_flags & SKBTX_SW_TSTAMP)
    __skb_tstamp_tx(skb, static_cast<Sock*>(skb->sk), SCM_TSTAMP_SND);
}

// --- sendmsg control messages -------------------------------------------------------

SockcmCookie sockcm_init(const Sock* sk) {
  return SockcmCookie{.tsflags = sk->sk_tsflags, .mark = sk->sk_mark};
}

namespace {
int __sock_cmsg_send(const cmsghdr* cmsg, SockcmCookie* sockc) {
  std::uint32_t v = 0;
  switch (cmsg->cmsg_type) {
    case SO_MARK:  // sendpath runs with CAP_NET_ADMIN's rights
      if (cmsg->cmsg_len != CMSG_LEN(sizeof v)) return -EINVAL;
      std::memcpy(&v, CMSG_DATA(cmsg), sizeof v);
      sockc->mark = v;
      return 0;
    case SO_TIMESTAMPING_OLD:
    case SO_TIMESTAMPING_NEW:
      if (cmsg->cmsg_len != CMSG_LEN(sizeof v)) return -EINVAL;
      std::memcpy(&v, CMSG_DATA(cmsg), sizeof v);
      // Only which stamps to take may change per call, not how to report.
      if (v & ~static_cast<std::uint32_t>(SOF_TIMESTAMPING_TX_RECORD_MASK)) return -EINVAL;
      sockc->tsflags &= ~static_cast<std::uint32_t>(SOF_TIMESTAMPING_TX_RECORD_MASK);
      sockc->tsflags |= v;
      return 0;
    case SCM_RIGHTS:  // semantically SOL_UNIX: ignored
    case SCM_CREDENTIALS:
      return 0;
    default:  // SCM_TXTIME too: SO_TXTIME is not supported
      return -EINVAL;
  }
}
}  // namespace

int sock_cmsg_send(Sock* sk, const msghdr* msg, SockcmCookie* sockc) {
  (void)sk;
  auto* m = const_cast<msghdr*>(msg);  // the CMSG_* walkers take a mutable msghdr
  for (cmsghdr* c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
    // CMSG_OK: the header is whole and its length stays inside the buffer.
    const std::size_t at = static_cast<std::size_t>(reinterpret_cast<std::uint8_t*>(c) -
                                                    static_cast<std::uint8_t*>(m->msg_control));
    if (c->cmsg_len < sizeof(cmsghdr) || c->cmsg_len > m->msg_controllen - at) return -EINVAL;
    if (c->cmsg_level != SOL_SOCKET) continue;
    if (const int err = __sock_cmsg_send(c, sockc)) return err;
  }
  return 0;
}

// --- recvmsg(MSG_ERRQUEUE) ---------------------------------------------------------

void put_cmsg(msghdr* msg, int level, int type, std::size_t len, const void* data) {
  if (!msg->msg_control || msg->msg_controllen < sizeof(cmsghdr)) {
    msg->msg_flags |= MSG_CTRUNC;
    return;
  }
  std::size_t cmlen = CMSG_LEN(len);
  if (msg->msg_controllen < cmlen) {
    msg->msg_flags |= MSG_CTRUNC;
    cmlen = msg->msg_controllen;
  }
  auto* cm = static_cast<cmsghdr*>(msg->msg_control);
  cm->cmsg_level = level;
  cm->cmsg_type = type;
  cm->cmsg_len = cmlen;
  std::memcpy(CMSG_DATA(cm), data, cmlen - CMSG_LEN(0));
  const std::size_t used = std::min<std::size_t>(CMSG_SPACE(len), msg->msg_controllen);
  msg->msg_control = static_cast<std::uint8_t*>(msg->msg_control) + used;
  msg->msg_controllen -= used;
}

namespace {
// sock_recv_timestamp for an error-queue skb: the software stamp in ts[0].
void sock_recv_timestamp(msghdr* msg, const Sock* sk, const SkBuff* skb) {
  if (!(sk->sk_tsflags & SOF_TIMESTAMPING_SOFTWARE) || !skb->tstamp) return;
  scm_timestamping tss{};
  tss.ts[0].tv_sec = static_cast<time_t>(skb->tstamp / kNsPerSec);
  tss.ts[0].tv_nsec = static_cast<long>(skb->tstamp % kNsPerSec);
  put_cmsg(msg, SOL_SOCKET, SCM_TIMESTAMPING, sizeof tss, &tss);
  // With OPT_STATS the report's bytes are the TCP_NLA_* attributes.
  if (skb->len && SKB_EXT_ERR(const_cast<SkBuff*>(skb))->opt_stats)
    put_cmsg(msg, SOL_SOCKET, SCM_TIMESTAMPING_OPT_STATS, skb->len, skb->data);
}

// skb_copy_datagram_msg: the report's bytes into the iovec.
void copy_to_iov(const SkBuff* skb, msghdr* msg, std::uint32_t len) {
  std::uint32_t off = 0;
  for (std::size_t i = 0; i < msg->msg_iovlen && off < len; ++i) {
    const auto n =
        static_cast<std::uint32_t>(std::min<std::size_t>(msg->msg_iov[i].iov_len, len - off));
    skb_copy_bits(skb, off, msg->msg_iov[i].iov_base, n);
    off += n;
  }
}
}  // namespace

int ip_recv_error(Sock* sk, msghdr* msg, std::size_t len) {
  SkbPtr skb = sock_dequeue_err_skb(sk);
  if (!skb) return -EAGAIN;
  std::uint32_t copied = skb->len;
  if (copied > len) {
    msg->msg_flags |= MSG_TRUNC;
    copied = static_cast<std::uint32_t>(len);
  }
  copy_to_iov(skb.get(), msg, copied);
  sock_recv_timestamp(msg, sk, skb.get());
  // The report as ip_recv_error lays it out: the error and the offender's
  // address, which for local reports (zerocopy, timestamps) stays zero.
  struct {
    sock_extended_err ee;
    sockaddr_in offender;
  } errhdr{};
  errhdr.ee = SKB_EXT_ERR(skb.get())->ee;
  put_cmsg(msg, SOL_IP, IP_RECVERR, sizeof errhdr, &errhdr);
  msg->msg_flags |= MSG_ERRQUEUE;
  consume_skb(std::move(skb));
  return static_cast<int>(copied);
}

}  // namespace sp
