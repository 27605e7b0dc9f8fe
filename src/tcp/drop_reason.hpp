// Why an inbound skb was dropped: the kernel's enum skb_drop_reason
// (include/net/dropreason-core.h), reduced to the reasons the IPv4/TCP receive
// path can produce. Each drop is counted per stack under its reason (and in
// the matching MIB counter), so a test or a trace can say exactly why a
// segment went nowhere.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sp {

#define SP_SKB_DROP_REASONS(X)                                                                \
  X(NOT_SPECIFIED)            /* no more specific reason */                                   \
  X(NO_SOCKET)                /* no socket (listener, established or time-wait) matched */    \
  X(SOCKET_CLOSE)             /* the socket is closed */                                      \
  X(SOCKET_RCVBUFF)           /* receive buffer full */                                       \
  X(PKT_TOO_SMALL)            /* shorter than a TCP header / doff past the packet */          \
  X(TCP_CSUM)                 /* TCP checksum error */                                        \
  X(OTHERHOST)                /* not addressed to this host (broadcast/multicast) */          \
  X(SOCKET_BACKLOG)           /* socket backlog full */                                       \
  X(TCP_FLAGS)                /* flag combination not acceptable in this state */             \
  X(TCP_ABORT_ON_DATA)        /* data after the application closed: reset sent */             \
  X(TCP_ZEROWINDOW)           /* data while our receive window is zero */                     \
  X(TCP_OLD_DATA)             /* wholly before rcv_nxt (a retransmission): ACKed again */     \
  X(TCP_OVERWINDOW)           /* starts beyond the right edge of our window */                \
  X(TCP_OFOMERGE)             /* out-of-order data already queued */                          \
  X(TCP_RFC7323_PAWS)         /* PAWS: timestamp older than ts_recent */                      \
  X(TCP_OLD_SEQUENCE)         /* sequence number before the window (old duplicate) */         \
  X(TCP_INVALID_SEQUENCE)     /* sequence number outside the receive window */                \
  X(TCP_INVALID_ACK_SEQUENCE) /* ACK field not acceptable (SYN-SENT/SYN-RECV) */              \
  X(TCP_RESET)                /* a valid RST: the segment was consumed by the reset */        \
  X(TCP_INVALID_SYN)          /* SYN in a synchronised state (RFC 5961 4.2) */                \
  X(TCP_CLOSE)                /* segment for a socket in CLOSE */                             \
  X(TCP_OLD_ACK)              /* ACK below snd_una within the old window: ignored */          \
  X(TCP_TOO_OLD_ACK)          /* ACK far below snd_una: challenge ACK */                      \
  X(TCP_ACK_UNSENT_DATA)      /* ACK for data never sent (beyond snd_nxt) */                  \
  X(TCP_OFO_QUEUE_PRUNE)      /* dropped from the out-of-order queue under memory pressure */ \
  X(TCP_OFO_DROP)             /* out-of-order data that does not fit the window or memory */  \
  X(PROTO_MEM)                /* protocol memory limit */                                     \
  X(IP_OUTNOROUTES)           /* no route back to the sender (a cookie's ACK) */              \
  X(NOMEM)                    /* allocation failure */

enum class SkbDropReason : std::uint8_t {
#define SP_DROP_ENUM(n) SKB_DROP_REASON_##n,
  SP_SKB_DROP_REASONS(SP_DROP_ENUM)
#undef SP_DROP_ENUM
      SKB_DROP_REASON_MAX
};

constexpr std::size_t kSkbDropReasonCount =
    static_cast<std::size_t>(SkbDropReason::SKB_DROP_REASON_MAX);

// "TCP_CSUM", "NO_SOCKET", ... as the kernel's drop_reason tracepoint prints.
std::string_view skb_drop_reason_name(SkbDropReason r);

// Per-stack drop counters, indexed by reason.
struct DropCounters {
  std::array<std::uint64_t, kSkbDropReasonCount> v{};
  void inc(SkbDropReason r) { v[static_cast<std::size_t>(r)]++; }
  std::uint64_t get(SkbDropReason r) const { return v[static_cast<std::size_t>(r)]; }
  std::uint64_t total() const {
    std::uint64_t t = 0;
    for (auto x : v) t += x;
    return t;
  }
};

}  // namespace sp
