// struct sock, struct socket, struct proto and struct proto_ops, after
// include/net/sock.h and include/linux/net.h: the protocol-independent half
// of a socket, its memory accounting against sk_sndbuf/sk_rcvbuf, and the
// dispatch tables through which a call reaches TCP
// (sock_sendmsg -> inet_sendmsg -> tcp_sendmsg).
//
// Lifetime: a Sock is reference counted (sock_hold/sock_put). The user's
// Socket holds one reference, the hash tables one each, a child on an accept
// queue one. When the count reaches zero the sock is destroyed from the
// stack's deferred work (never re-entrantly inside the call that dropped the
// last reference), so a function may safely drop a reference to the sock it
// is working on.
#pragma once
#include <sys/socket.h>

#include <bitset>
#include <climits>
#include <cstdint>
#include <functional>

#include "core/clock.hpp"
#include "core/jiffies.hpp"
#include "core/stack.hpp"
#include "fs/file.hpp"
#include "skb/skb_queue.hpp"
#include "skb/skbuff.hpp"

namespace sp {

struct Sock;
struct Socket;
struct Proto;
struct ProtoOps;

// Jiffies of the stack's clock (HZ and the conversions: core/jiffies.hpp).
// Fields that Linux keeps in jiffies (icsk_rto, icsk_timeout, lsndtime, ...)
// keep that unit here so the kernel's arithmetic carries over.
inline std::uint64_t jiffies_of(const Stack& st) {
  return nsecs_to_jiffies(st.now());
}
// time_between32(t, l, h): l <= t <= h on 32-bit jiffies (wrap safe).
constexpr bool time_between32(std::uint32_t t, std::uint32_t l, std::uint32_t h) {
  return t - l <= h - l;
}
// time_after(a, b) on 32-bit jiffies: a is later than b (wrap safe).
constexpr bool time_after32(std::uint32_t a, std::uint32_t b) {
  return static_cast<std::int32_t>(b - a) < 0;
}

// sk->sk_shutdown bits.
constexpr std::uint8_t RCV_SHUTDOWN = 1;
constexpr std::uint8_t SEND_SHUTDOWN = 2;
constexpr std::uint8_t SHUTDOWN_MASK = 3;

// sk->sk_userlocks bits. <linux/socket.h> defines two of them as macros
// with the same values; the typed constants below replace them.
#undef SOCK_SNDBUF_LOCK
#undef SOCK_RCVBUF_LOCK
constexpr std::uint8_t SOCK_SNDBUF_LOCK = 1;
constexpr std::uint8_t SOCK_RCVBUF_LOCK = 2;
constexpr std::uint8_t SOCK_BINDADDR_LOCK = 4;
constexpr std::uint8_t SOCK_BINDPORT_LOCK = 8;

// sock_flag() bits (enum sock_flags), plus SOCK_NOSPACE which Linux keeps in
// socket->flags.
enum SockFlag : int {
  SOCK_DEAD,
  SOCK_DONE,
  SOCK_URGINLINE,
  SOCK_KEEPOPEN,
  SOCK_LINGER,
  SOCK_DESTROY,
  SOCK_QUEUE_SHRUNK,
  SOCK_NOSPACE,
  SOCK_RCVTSTAMP,
  SOCK_ZAPPED,
  SOCK_ZEROCOPY,  // SO_ZEROCOPY: MSG_ZEROCOPY sends pin user pages
  // Options whose only effect in Linux lies outside a TCP socket's data
  // path (datagram sockets, unix credentials, Wi-Fi, raw FCS, the
  // capability-checked debug flag): kept and reported, as Linux does for TCP.
  SOCK_DBG,
  SOCK_BROADCAST,
  SOCK_RCVMARK,
  SOCK_RXQ_OVFL,
  SOCK_WIFI_STATUS,
  SOCK_NOFCS,
  SOCK_SELECT_ERR_QUEUE,
  SOCK_TXTIME,
  SOCK_PASSCRED,  // Linux keeps these three in socket->flags
  SOCK_PASSSEC,
  SOCK_PASSPIDFD,
  SOCK_FLAG_COUNT
};

// sk->sk_pacing_status.
enum SkPacing : std::uint8_t { SK_PACING_NONE = 0, SK_PACING_NEEDED = 1, SK_PACING_FQ = 2 };

// Memory is charged to sk_forward_alloc in whole pages (sk_mem_pages), and
// the pages to the stack's TCP total, which net.ipv4.tcp_mem bounds
// (__sk_mem_raise_allocated). The per-socket limits are sk_sndbuf, checked by
// sk_stream_memory_free before a new skb is queued, and sk_rcvbuf.
constexpr int SK_MEM_QUANTUM = 4096;  // PAGE_SIZE
constexpr int SK_MEM_SEND = 0;
constexpr int SK_MEM_RECV = 1;
// SOCK_MIN_SNDBUF / SOCK_MIN_RCVBUF: 2 * (2048 + sizeof(sk_buff)) rounded, as
// Linux's TCP_SKB_MIN_TRUESIZE-based minimums.
constexpr int SOCK_MIN_SNDBUF = 4608;
constexpr int SOCK_MIN_RCVBUF = 2304;

// sk_wq: in sendpath a blocked call is a Stack::wait_until whose condition is
// re-evaluated as the world moves, so a wait queue only has to record that a
// wake-up happened (tests and poll() use the counters).
struct WaitQueue {
  std::uint64_t wakeups = 0;        // wake_up_interruptible* calls
  std::uint64_t write_wakeups = 0;  // sk_write_space wakeups that found room
};

// struct sock (include/net/sock.h), the fields sendpath uses.
struct Sock {
  Sock(Stack& st, Proto* prot);
  virtual ~Sock();
  Sock(const Sock&) = delete;
  Sock& operator=(const Sock&) = delete;

  Stack* stack;  // sock_net(sk): the stack this socket lives in
  // The stack's TCP tables; nullptr once the stack is being torn down.
  TcpStackState* sk_tcp;

  // --- identity and state ---------------------------------------------------
  std::uint16_t sk_family = AF_INET;
  std::uint16_t sk_type = SOCK_STREAM;
  std::uint16_t sk_protocol = 6;
  volatile std::uint8_t sk_state = 7;  // TCP_CLOSE
  std::uint8_t sk_reuse = 0;           // SO_REUSEADDR
  std::uint8_t sk_reuseport = 0;
  std::uint8_t sk_shutdown = 0;   // RCV_SHUTDOWN | SEND_SHUTDOWN
  std::uint8_t sk_userlocks = 0;  // SOCK_*_LOCK
  int sk_bound_dev_if = 0;
  int sk_err = 0;       // pending error (positive errno), reported once
  int sk_err_soft = 0;  // soft error (e.g. ICMP while connecting)
  std::bitset<SOCK_FLAG_COUNT> sk_flags;
  std::uint32_t sk_mark = 0;
  std::uint32_t sk_priority = 0;
  std::uint32_t sk_txhash = 0;
  std::uint8_t sk_no_check_tx = 0;  // SO_NO_CHECK (UDP's; kept for TCP as Linux)
  std::uint8_t sk_txrehash = 1;     // SO_TXREHASH; net.core.txrehash = 1
  int sk_incoming_cpu = -1;         // SO_INCOMING_CPU
  // Busy polling (SO_BUSY_POLL*): sendpath's devices have no NAPI to poll,
  // so these only hold what the caller set, as on a Linux device without it.
  std::uint32_t sk_ll_usec = 0;
  std::uint16_t sk_busy_poll_budget = 0;
  std::uint8_t sk_prefer_busy_poll = 0;
  // SO_TXTIME: the clock and flags of per-packet transmit times, which only
  // the ETF qdisc reads; TCP keeps its own departure times.
  std::int32_t sk_clockid = 0;
  std::uint8_t sk_txtime_deadline_mode = 0;
  std::uint8_t sk_txtime_report_errors = 0;
  // sock_gen_cookie(sk): a process-wide unique id, as the kernel's socket
  // cookie; tracepoints and `ss`-style dumps name the socket by it.
  std::uint64_t sk_cookie = 0;

  // --- send-side memory (sk_stream_*) --------------------------------------
  int sk_sndbuf = 0;               // bytes; SO_SNDBUF stores 2x the request
  int sk_wmem_queued = 0;          // truesize of skbs on the write + rtx queues
  int sk_forward_alloc = 0;        // pre-charged bytes not yet used by an skb
  int sk_wmem_alloc = 1;           // truesize of skbs in the device (TSQ); 1 = alive bias
  std::uint32_t sk_tsq_flags = 0;  // TSQF_* (tcp_output)
  SkbQueue sk_write_queue;         // unsent skbs, in sequence order; head = send head
  PageFrag sk_frag;                // sk_page_frag(): the socket's page-frag cursor
  std::uint64_t sk_pacing_rate = ~std::uint64_t{0};      // bytes/s; ~0 = unlimited
  std::uint64_t sk_max_pacing_rate = ~std::uint64_t{0};  // SO_MAX_PACING_RATE
  std::uint8_t sk_pacing_status = SK_PACING_NONE;
  std::uint8_t sk_pacing_shift = 10;  // TSQ budget: ~1 ms (2^-10 s) at pacing rate
  std::uint64_t sk_route_caps = 0;    // NETIF_F_* of the route's device
  std::uint32_t sk_gso_max_size = 0;  // 0 until a route is known
  std::uint16_t sk_gso_max_segs = 0;
  std::uint32_t sk_gso_type = 0;
  std::uint32_t sk_dst_mtu =
      0;                   // dst_mtu(__sk_dst_get(sk)): path MTU of the cached route; 0 = none
  int sk_dst_ifindex = 0;  // device of the cached route
  std::uint32_t sk_dst_genid = 0;  // Stack::route_genid() when the route was cached

  // --- receive-side memory ---------------------------------------------------
  int sk_rcvbuf = 0;
  int sk_rmem_alloc = 0;  // truesize of skbs on the receive + ofo queues
  int sk_rcvlowat = 1;
  SkbQueue sk_receive_queue;

  // --- error queue (MSG_ERRQUEUE: zerocopy completions, tx timestamps) -----
  SkbQueue sk_error_queue;
  int sk_omem_alloc = 0;         // option memory: zerocopy notifications (optmem_max)
  std::uint32_t sk_zckey = 0;    // id of the next MSG_ZEROCOPY send
  std::uint32_t sk_tsflags = 0;  // SOF_TIMESTAMPING_* (SO_TIMESTAMPING)
  std::uint32_t sk_tskey = 0;    // OPT_ID: sequence number that reports as key 0

  // --- timeouts (jiffies; MAX_SCHEDULE_TIMEOUT = forever) -------------------
  static constexpr std::int64_t MAX_SCHEDULE_TIMEOUT = INT64_MAX;
  std::int64_t sk_sndtimeo = MAX_SCHEDULE_TIMEOUT;
  std::int64_t sk_rcvtimeo = MAX_SCHEDULE_TIMEOUT;
  std::int64_t sk_lingertime = 0;  // jiffies, SO_LINGER

  // --- listen ---------------------------------------------------------------
  std::uint32_t sk_ack_backlog = 0;
  std::uint32_t sk_max_ack_backlog = 0;

  // --- wiring ---------------------------------------------------------------
  Proto* sk_prot;
  Socket* sk_socket = nullptr;  // nullptr once orphaned (sock_orphan)
  WaitQueue sk_wq;
  Timer sk_timer;  // keepalive / SYN-ACK / FIN_WAIT2 timer (inet_csk_reset_keepalive_timer)

  // Callbacks (sk_state_change, sk_data_ready, sk_write_space,
  // sk_error_report). Defaults wake the wait queue; tests may hook them.
  void (*sk_state_change)(Sock* sk);
  void (*sk_data_ready)(Sock* sk);
  void (*sk_write_space)(Sock* sk);
  void (*sk_error_report)(Sock* sk);

  // --- lifetime -------------------------------------------------------------
  int sk_refcnt = 1;  // the creator's reference
};

inline bool sock_flag(const Sock* sk, SockFlag f) {
  return sk->sk_flags.test(f);
}
inline void sock_set_flag(Sock* sk, SockFlag f) {
  sk->sk_flags.set(f);
}
inline void sock_reset_flag(Sock* sk, SockFlag f) {
  sk->sk_flags.reset(f);
}
inline void sock_valbool_flag(Sock* sk, SockFlag f, bool v) {
  sk->sk_flags.set(f, v);
}

// Socket options' user memory (copy_from_sockptr / copy_to_sockptr): a null
// pointer faults, so the caller returns EFAULT where Linux would.
bool copy_from_optval(void* dst, const void* optval, std::size_t n);
bool copy_to_optval(void* optval, const void* src, std::size_t n);
// The end of a getsockopt: at most lv bytes of v (as many as *optlen
// allows), and the length written back; -EFAULT on a null optval.
int put_opt(void* optval, socklen_t* optlen, const void* v, int lv);
int put_int(void* optval, socklen_t* optlen, int val);

// sk_dst_reset: forget the cached route; the next transmit looks it up
// again (as after a routing table change, __sk_dst_check).
inline void sk_dst_reset(Sock* sk) {
  if (sk->sk_dst_ifindex) sk->sk_dst_genid = sk->stack->route_genid() - 1;
}

void sock_hold(Sock* sk);
// Drops a reference; at zero the sock is destroyed from deferred work.
void sock_put(Sock* sk);
// An in-device skb's destructor returned its memory (sk_wmem_alloc went
// down): free a sock whose last reference is already gone once idle.
void sock_wfree_done(Sock* sk);
// sock_orphan: the user let go (close); the socket no longer reaches a Socket.
void sock_orphan(Sock* sk);
// sock_error: returns and clears sk_err as a negative errno (0 if none).
int sock_error(Sock* sk);

// Default callbacks (sock_def_*).
void sock_def_wakeup(Sock* sk);
void sock_def_readable(Sock* sk);
void sk_stream_write_space(Sock* sk);
void sock_def_error_report(Sock* sk);

// --- memory accounting (include/net/sock.h, proto_memory.h, net/core/stream.c)
inline int sk_mem_pages(int amt) {
  return (amt + SK_MEM_QUANTUM - 1) / SK_MEM_QUANTUM;
}
// sk_memory_allocated: the stack's TCP pages as the global counter reads
// (the per-cpu reserve not included), never negative.
long sk_memory_allocated(const Sock* sk);
// sk_prot_mem_limits: net.ipv4.tcp_mem[index], in pages.
long sk_prot_mem_limits(const Sock* sk, int index);
// sk_under_memory_pressure (tcp_under_memory_pressure): the stack is
// between tcp_mem's "pressure" crossing and falling back under "low".
bool sk_under_memory_pressure(const Sock* sk);
// __sk_mem_schedule: charge sk_mem_pages(size) pages to sk_forward_alloc
// and to the stack's total, if tcp_mem (and fairness under pressure) allow.
bool __sk_mem_schedule(Sock* sk, int size, int kind);
// sk_wmem_schedule / sk_rmem_schedule: make sure `size` bytes are in
// sk_forward_alloc, scheduling the missing pages; false when refused.
bool sk_wmem_schedule(Sock* sk, int size);
bool sk_rmem_schedule(Sock* sk, SkBuff* skb, int size);
// sk_forced_mem_schedule: charge the pages whatever the limits say (the
// first skb of a queue, a FIN, a split: progress must stay possible).
void sk_forced_mem_schedule(Sock* sk, int size);
inline void sk_mem_charge(Sock* sk, int size) {
  sk->sk_forward_alloc -= size;
}
// Return whole pages of unused sk_forward_alloc to the stack (sk_mem_reclaim).
void sk_mem_reclaim(Sock* sk);
// Uncharging returns whole pages at once (Linux 6.x sk_mem_uncharge calls
// sk_mem_reclaim), so an idle socket keeps less than one page reserved.
inline void sk_mem_uncharge(Sock* sk, int size) {
  sk->sk_forward_alloc += size;
  if (sk->sk_forward_alloc >= SK_MEM_QUANTUM) sk_mem_reclaim(sk);
}
// sk_stream_moderate_sndbuf: under memory trouble shrink sk_sndbuf to half
// of what is queued (not below SOCK_MIN_SNDBUF), unless SO_SNDBUF fixed it.
void sk_stream_moderate_sndbuf(Sock* sk);
// Free an skb charged to the write queue: sk_wmem_queued and forward_alloc.
void sk_wmem_free_skb(Sock* sk, SkbPtr skb);

inline int sk_stream_min_wspace(const Sock* sk) {
  return sk->sk_wmem_queued >> 1;
}
inline int sk_stream_wspace(const Sock* sk) {
  return sk->sk_sndbuf - sk->sk_wmem_queued;
}
// sk_stream_memory_free: room below sk_sndbuf and, for TCP, below
// TCP_NOTSENT_LOWAT (sk_prot->stream_memory_free).
bool sk_stream_memory_free(const Sock* sk);
bool sk_stream_is_writeable(const Sock* sk);

// --- waiting (net/core/stream.c, sock.c) -----------------------------------
// Absolute deadline in stack time for a timeout in jiffies (or no deadline).
Nanos sk_timeo_deadline(const Sock* sk, std::int64_t timeo);
inline std::int64_t sock_sndtimeo(const Sock* sk, bool noblock) {
  return noblock ? 0 : sk->sk_sndtimeo;
}
inline std::int64_t sock_rcvtimeo(const Sock* sk, bool noblock) {
  return noblock ? 0 : sk->sk_rcvtimeo;
}
// sk_wait_event: run the stack's wait driver until cond() or *timeo expires.
// A world that can no longer change (nothing pending) counts as expiry.
// Decrements *timeo by the time waited (jiffies). Returns cond().
bool sk_wait_event(Sock* sk, std::int64_t* timeo, const std::function<bool()>& cond);
// Wait until the send buffer has room: 0, or -EAGAIN (timeo 0 / expired),
// -EPIPE (shut down for writing or error).
int sk_stream_wait_memory(Sock* sk, std::int64_t* timeo);
// Wait for a connect in progress (SYN_SENT/SYN_RECV): 0, or -EPIPE,
// -EAGAIN, or the socket's error.
int sk_stream_wait_connect(Sock* sk, std::int64_t* timeo);
// sk_stream_error: -EPIPE becomes the pending sk_err if any (MSG_NOSIGNAL is
// implicit: sendpath never raises SIGPIPE).
int sk_stream_error(Sock* sk, int flags, int err);

// --- dispatch tables --------------------------------------------------------
// struct proto: the protocol half (tcp_prot).
struct Proto {
  const char* name;
  void (*close)(Sock* sk, std::int64_t timeout);
  int (*pre_connect)(Sock* sk, const sockaddr* uaddr, int addr_len);
  int (*connect)(Sock* sk, const sockaddr* uaddr, int addr_len);
  int (*disconnect)(Sock* sk, int flags);
  Sock* (*accept)(Sock* sk, int flags, int* err);
  int (*ioctl)(Sock* sk, int cmd, int* karg);
  int (*init)(Sock* sk);
  void (*destroy)(Sock* sk);
  void (*shutdown)(Sock* sk, int how);
  int (*setsockopt)(Sock* sk, int level, int optname, const void* optval, socklen_t optlen);
  int (*getsockopt)(Sock* sk, int level, int optname, void* optval, socklen_t* optlen);
  int (*sendmsg)(Sock* sk, const msghdr* msg, std::size_t size);
  int (*recvmsg)(Sock* sk, msghdr* msg, std::size_t len, int flags, int* addr_len);
  int (*backlog_rcv)(Sock* sk, SkbPtr skb);
  int (*hash)(Sock* sk);
  void (*unhash)(Sock* sk);
  int (*get_port)(Sock* sk, unsigned short snum);
  bool (*stream_memory_free)(const Sock* sk, int wake);
  // Creates the protocol's sock object (sk_alloc with the proto's obj_size).
  Sock* (*alloc)(Stack& st);
};

// socket->state (SS_*).
enum SocketState : int {
  SS_FREE = 0,
  SS_UNCONNECTED,
  SS_CONNECTING,
  SS_CONNECTED,
  SS_DISCONNECTING
};

// struct proto_ops: the file-facing half (inet_stream_ops).
struct ProtoOps {
  int family;
  int (*release)(Socket* sock);
  int (*bind)(Socket* sock, const sockaddr* uaddr, int addr_len);
  int (*connect)(Socket* sock, const sockaddr* uaddr, int addr_len, int flags);
  int (*accept)(Socket* sock, Socket* newsock, int flags);
  int (*getname)(Socket* sock, sockaddr* uaddr, int peer);
  unsigned (*poll)(Socket* sock);
  int (*ioctl)(Socket* sock, unsigned cmd, unsigned long arg);
  int (*listen)(Socket* sock, int len);
  int (*shutdown)(Socket* sock, int flags);
  int (*setsockopt)(Socket* sock, int level, int optname, const void* optval, socklen_t optlen);
  int (*getsockopt)(Socket* sock, int level, int optname, void* optval, socklen_t* optlen);
  int (*sendmsg)(Socket* sock, const msghdr* m, std::size_t total_len);
  int (*recvmsg)(Socket* sock, msghdr* m, std::size_t total_len, int flags);
};

// struct socket: what an fd refers to. Its File::wq is socket->wq.wait,
// which the sock's wake-ups (sock_def_readable ...) wake.
struct Socket final : File {
  Socket() : File(Kind::kSocket) {}
  SocketState state = SS_UNCONNECTED;
  short type = SOCK_STREAM;
  int file_flags = 0;  // O_NONBLOCK (file->f_flags)
  Sock* sk = nullptr;  // holds one reference
  const ProtoOps* ops = nullptr;
};

// net/socket.c entry points: dispatch through the tables (visible in traces).
int sock_sendmsg(Socket* sock, const msghdr* msg);
int sock_recvmsg(Socket* sock, msghdr* msg, int flags);

// The most one read or write call moves (include/linux/fs.h): INT_MAX
// rounded down to a page, so byte counts fit an int.
constexpr long MAX_RW_COUNT = INT_MAX & ~4095L;
// The bytes an iovec array describes, at most MAX_RW_COUNT; -EINVAL for a
// length negative as an ssize_t.
long iov_length(const iovec* iov, std::size_t n);

}  // namespace sp
