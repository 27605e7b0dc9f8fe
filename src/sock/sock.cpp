// struct sock lifetime, memory accounting and stream waits
// (net/core/sock.c, net/core/stream.c).
#include "sock/sock.hpp"

#include <sys/epoll.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>

#include "tcp/tcp.hpp"
#include "tcp/tcp_stack_state.hpp"
#include "trace/events.hpp"

namespace sp {

Sock::Sock(Stack& st, Proto* prot)
    : stack(&st),
      sk_tcp(&st.tcp()),
      sk_sndbuf(st.sysctl().wmem_default),
      sk_rcvbuf(st.sysctl().rmem_default),
      sk_prot(prot),
      sk_state_change(sock_def_wakeup),
      sk_data_ready(sock_def_readable),
      sk_write_space(sk_stream_write_space),
      sk_error_report(sock_def_error_report) {
  static std::atomic<std::uint64_t> next_cookie{1};
  sk_cookie = next_cookie.fetch_add(1, std::memory_order_relaxed);
  st.tcp().register_sock(this);
}

Sock::~Sock() {
  // Reports still queued give their memory back to this sock: free them
  // while it is whole.
  sk_error_queue.purge();
  // A descriptor that still names this sock (its stack is being torn down)
  // sees a socket with no sock rather than a dangling one.
  if (sk_socket) sk_socket->sk = nullptr;
  if (sk_tcp) sk_tcp->unregister_sock(this);
}

void sock_hold(Sock* sk) {
  ++sk->sk_refcnt;
}

namespace {
// __sk_free: the last reference and the last in-device skb are gone.
void sk_destruct_when_idle(Sock* sk) {
  // During stack teardown (sk_tcp cleared) the tables free every sock.
  if (sk->sk_wmem_alloc == 0 && sk->sk_tcp) sk->sk_tcp->schedule_free(sk);
}
}  // namespace

void sock_put(Sock* sk) {
  if (--sk->sk_refcnt > 0) return;
  // sk_free: drop the "alive" bias of sk_wmem_alloc. Skbs still in a device
  // keep the memory (and the sock) until their destructor runs, as Linux's
  // sk_wmem_alloc does.
  sk->sk_wmem_alloc -= 1;
  sk_destruct_when_idle(sk);
}

void sock_wfree_done(Sock* sk) {
  if (sk->sk_refcnt <= 0) sk_destruct_when_idle(sk);
}

void sock_orphan(Sock* sk) {
  sock_set_flag(sk, SOCK_DEAD);
  sk->sk_socket = nullptr;
}

int sock_error(Sock* sk) {
  int err = sk->sk_err;
  if (!err) return 0;
  sk->sk_err = 0;
  return -err;
}

// The wake-ups reach the user's socket (socket->wq) with the poll bits that
// may have changed, which is what an edge-triggered epoll item reports on;
// an orphaned sock has no socket left to wake.
void sock_def_wakeup(Sock* sk) {
  ++sk->sk_wq.wakeups;
  if (sk->sk_socket) wake_up_interruptible_all(&sk->sk_socket->wq);
}
void sock_def_readable(Sock* sk) {
  ++sk->sk_wq.wakeups;
  if (sk->sk_socket)
    wake_up_interruptible_poll(&sk->sk_socket->wq, EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND);
}
void sock_def_error_report(Sock* sk) {
  ++sk->sk_wq.wakeups;
  if (sk->sk_socket) wake_up_interruptible_poll(&sk->sk_socket->wq, EPOLLERR);
}

// Wake a writer only when a third of the buffer is free again
// (__sk_stream_is_writeable with wake = 1), so a blocked sender resumes with
// room for a useful amount rather than a byte at a time.
void sk_stream_write_space(Sock* sk) {
  bool writeable = sk_stream_wspace(sk) >= sk_stream_min_wspace(sk) &&
                   (!sk->sk_prot->stream_memory_free || sk->sk_prot->stream_memory_free(sk, 1));
  if (writeable && sk->sk_socket) {
    sock_reset_flag(sk, SOCK_NOSPACE);
    ++sk->sk_wq.wakeups;
    ++sk->sk_wq.write_wakeups;
    wake_up_interruptible_poll(&sk->sk_socket->wq, EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND);
  }
}

// --- memory -------------------------------------------------------------------

namespace {

// The stack's TCP memory state, or nullptr while the stack is torn down
// (then nothing is accounted any more).
TcpStackState* mem_of(const Sock* sk) {
  return sk->sk_tcp;
}

// sk_memory_allocated_add / _sub: the one "cpu" keeps a reserve of pages
// and folds it into the global counter once it reaches net.core.mem_pcpu_rsv
// either way (proto_memory_pcpu_drain), so the global counter is read
// cheaply and lags the truth by less than that reserve.
void sk_memory_allocated_add(TcpStackState* m, const Sock* sk, int pages) {
  m->per_cpu_fw_alloc += pages;
  if (m->per_cpu_fw_alloc >= sk->stack->sysctl().mem_pcpu_rsv) {
    m->memory_allocated += m->per_cpu_fw_alloc;
    m->per_cpu_fw_alloc = 0;
  }
}

void sk_memory_allocated_sub(TcpStackState* m, const Sock* sk, int pages) {
  m->per_cpu_fw_alloc -= pages;
  if (m->per_cpu_fw_alloc <= -sk->stack->sysctl().mem_pcpu_rsv) {
    m->memory_allocated += m->per_cpu_fw_alloc;
    m->per_cpu_fw_alloc = 0;
  }
}

// sk_enter_memory_pressure / sk_leave_memory_pressure: TCP's hooks
// (tcp_enter_memory_pressure / tcp_leave_memory_pressure) are the only ones.
void sk_enter_memory_pressure(Sock* sk) {
  tcp_enter_memory_pressure(sk);
}
void sk_leave_memory_pressure(Sock* sk) {
  tcp_leave_memory_pressure(sk);
}

// __sk_mem_raise_allocated: may `pages` more pages (for `size` bytes) be
// charged? Under "low" always; past "pressure" the stack enters memory
// pressure; past "high" never, except that a stream socket already at its
// (moderated) sndbuf is let through, since it cannot queue more anyway and
// the caller cannot fail. Between the two, a socket still under its
// tcp_rmem[0] / tcp_wmem[0] minimum, or using less than its fair share of
// "high", may grow.
bool __sk_mem_raise_allocated(Sock* sk, TcpStackState* m, int size, int pages, int kind) {
  sk_memory_allocated_add(m, sk, pages);
  const long allocated = sk_memory_allocated(sk);
  const Sysctl& sc = sk->stack->sysctl();
  if (allocated <= sc.tcp_mem[0]) {
    sk_leave_memory_pressure(sk);
    return true;
  }
  if (allocated > sc.tcp_mem[1]) sk_enter_memory_pressure(sk);
  if (allocated <= sc.tcp_mem[2]) {
    if (kind == SK_MEM_RECV) {
      if (sk->sk_rmem_alloc < sc.tcp_rmem[0]) return true;
    } else if (sk->sk_wmem_queued < sc.tcp_wmem[0]) {
      return true;
    }
    if (!m->memory_pressure) return true;
    const long socks = std::max<long>(m->sockets_allocated, 0);
    const long used = sk_mem_pages(sk->sk_wmem_queued + sk->sk_rmem_alloc + sk->sk_forward_alloc);
    if (sc.tcp_mem[2] > socks * used) return true;
  }
  // suppress_allocation:
  if (kind == SK_MEM_SEND && sk->sk_type == SOCK_STREAM) {
    sk_stream_moderate_sndbuf(sk);
    if (sk->sk_wmem_queued + size >= sk->sk_sndbuf) return true;
  }
  trace_sock_exceed_buf_limit(sk, kind == SK_MEM_SEND ? "send" : "receive", size);
  sk_memory_allocated_sub(m, sk, pages);
  return false;
}

// __sk_mem_reduce_allocated: give pages back; leaving pressure once the
// total is under "low" again.
void __sk_mem_reduce_allocated(Sock* sk, TcpStackState* m, int pages) {
  sk_memory_allocated_sub(m, sk, pages);
  if (m->memory_pressure && sk_memory_allocated(sk) < sk->stack->sysctl().tcp_mem[0])
    sk_leave_memory_pressure(sk);
}

}  // namespace

long sk_memory_allocated(const Sock* sk) {
  const TcpStackState* m = mem_of(sk);
  return m ? std::max<long>(m->memory_allocated, 0) : 0;
}

long sk_prot_mem_limits(const Sock* sk, int index) {
  return sk->stack->sysctl().tcp_mem[index];
}

bool sk_under_memory_pressure(const Sock* sk) {
  const TcpStackState* m = mem_of(sk);
  return m && m->memory_pressure;
}

bool __sk_mem_schedule(Sock* sk, int size, int kind) {
  TcpStackState* m = mem_of(sk);
  const int pages = sk_mem_pages(size);
  if (!m) {
    sk->sk_forward_alloc += pages * SK_MEM_QUANTUM;
    return true;
  }
  sk->sk_forward_alloc += pages * SK_MEM_QUANTUM;
  if (__sk_mem_raise_allocated(sk, m, size, pages, kind)) return true;
  sk->sk_forward_alloc -= pages * SK_MEM_QUANTUM;
  return false;
}

bool sk_wmem_schedule(Sock* sk, int size) {
  const int delta = size - sk->sk_forward_alloc;
  return delta <= 0 || __sk_mem_schedule(sk, delta, SK_MEM_SEND);
}

bool sk_rmem_schedule(Sock* sk, SkBuff* skb, int size) {
  (void)skb;  // no pfmemalloc skbs: every receive charge may be refused
  const int delta = size - sk->sk_forward_alloc;
  return delta <= 0 || __sk_mem_schedule(sk, delta, SK_MEM_RECV);
}

void sk_forced_mem_schedule(Sock* sk, int size) {
  const int delta = size - sk->sk_forward_alloc;
  if (delta <= 0) return;
  const int pages = sk_mem_pages(delta);
  sk->sk_forward_alloc += pages * SK_MEM_QUANTUM;
  if (TcpStackState* m = mem_of(sk)) sk_memory_allocated_add(m, sk, pages);
}

void sk_mem_reclaim(Sock* sk) {
  if (sk->sk_forward_alloc < SK_MEM_QUANTUM) return;
  const int pages = sk->sk_forward_alloc / SK_MEM_QUANTUM;
  sk->sk_forward_alloc -= pages * SK_MEM_QUANTUM;
  if (TcpStackState* m = mem_of(sk)) __sk_mem_reduce_allocated(sk, m, pages);
}

void sk_stream_moderate_sndbuf(Sock* sk) {
  if (sk->sk_userlocks & SOCK_SNDBUF_LOCK) return;
  const int val = std::min(sk->sk_sndbuf, sk->sk_wmem_queued >> 1);
  sk->sk_sndbuf = std::max(val, SOCK_MIN_SNDBUF);
}

void sk_wmem_free_skb(Sock* sk, SkbPtr skb) {
  int truesize = static_cast<int>(skb->truesize);
  sk->sk_wmem_queued -= truesize;
  sk_mem_uncharge(sk, truesize);
  sock_set_flag(sk, SOCK_QUEUE_SHRUNK);
  consume_skb(std::move(skb));
}

bool sk_stream_memory_free(const Sock* sk) {
  if (sk->sk_wmem_queued >= sk->sk_sndbuf) return false;
  return !sk->sk_prot->stream_memory_free || sk->sk_prot->stream_memory_free(sk, 0);
}

bool sk_stream_is_writeable(const Sock* sk) {
  return sk_stream_wspace(sk) >= sk_stream_min_wspace(sk) && sk_stream_memory_free(sk);
}

// --- waiting ---------------------------------------------------------------------

Nanos sk_timeo_deadline(const Sock* sk, std::int64_t timeo) {
  if (timeo == Sock::MAX_SCHEDULE_TIMEOUT) return Stack::kNoTimer;
  if (timeo <= 0) return sk->stack->now();
  return sk->stack->now() + jiffies_to_nsecs(static_cast<std::uint64_t>(timeo));
}

bool sk_wait_event(Sock* sk, std::int64_t* timeo, const std::function<bool()>& cond) {
  if (cond()) return true;
  if (*timeo <= 0) return false;
  Nanos start = sk->stack->now();
  bool ok = sk->stack->wait_until(cond, sk_timeo_deadline(sk, *timeo));
  if (!ok) {
    // The timeout passed, or the world can no longer change (a simulated
    // world with nothing pending): either way there is nothing to wait for.
    *timeo = 0;
    return false;
  }
  if (*timeo != Sock::MAX_SCHEDULE_TIMEOUT) {
    auto waited = static_cast<std::int64_t>(nsecs_to_jiffies(sk->stack->now() - start));
    *timeo = waited >= *timeo ? 0 : *timeo - waited;
    if (*timeo == 0) *timeo = 1;  // cond() holds: the caller proceeds
  }
  return true;
}

int sk_stream_wait_memory(Sock* sk, std::int64_t* timeo) {
  const auto stopped = [sk] { return sk->sk_err || (sk->sk_shutdown & SEND_SHUTDOWN); };
  // Called with room in the buffer: the caller could not allocate (the skb
  // pools' limits, memory pressure). As Linux, it then waits a short random
  // while, 2 to HZ/5 + 1 jiffies, before it tries again (a non-blocking call
  // fails with EAGAIN), rather than going straight back to a failing
  // allocation.
  std::int64_t vm_wait = sk_stream_memory_free(sk) ? 2 + sk->stack->random_u32_below(HZ / 5) : 0;
  for (;;) {
    if (stopped()) return -EPIPE;
    if (*timeo == 0) return -EAGAIN;
    if (sk_stream_memory_free(sk) && !vm_wait) return 0;
    sock_set_flag(sk, SOCK_NOSPACE);
    if (vm_wait) {
      const std::int64_t t = std::min(vm_wait, *timeo);
      const Nanos start = sk->stack->now();
      sk->stack->wait_until(stopped, sk_timeo_deadline(sk, t));
      const Nanos waited = sk->stack->now() - start;
      // A simulated world with nothing pending cannot free memory: nothing
      // to wait for (the convention of sk_wait_event).
      if (waited == 0 && !stopped()) return -EAGAIN;
      if (*timeo != Sock::MAX_SCHEDULE_TIMEOUT) {
        const auto j = static_cast<std::int64_t>(nsecs_to_jiffies(waited));
        *timeo = j >= *timeo ? 0 : *timeo - j;
      }
      vm_wait = 0;
      continue;
    }
    // The writer sleeps until something wakes the socket's wait queue
    // (sk_write_space only does so once a third of the buffer is free), and
    // only then looks at the room: freed memory alone does not wake it.
    sk_wait_event(sk, timeo, [sk, seen = sk->sk_wq.wakeups]() mutable {
      if (sk->sk_err || (sk->sk_shutdown & SEND_SHUTDOWN)) return true;
      if (sk->sk_wq.wakeups == seen) return false;
      seen = sk->sk_wq.wakeups;
      return sk_stream_memory_free(sk);
    });
    if (!sk_stream_memory_free(sk) && *timeo == 0 && !sk->sk_err &&
        !(sk->sk_shutdown & SEND_SHUTDOWN))
      return -EAGAIN;
  }
}

int sk_stream_wait_connect(Sock* sk, std::int64_t* timeo) {
  for (;;) {
    if (sk->sk_err) return sock_error(sk);
    if (!((1u << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV))) return -EPIPE;
    if (*timeo == 0) return -EAGAIN;
    bool done = sk_wait_event(sk, timeo, [sk] {
      return sk->sk_err || !((1u << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV));
    });
    if (!done && *timeo == 0) return -EAGAIN;
  }
}

int sk_stream_error(Sock* sk, int flags, int err) {
  (void)flags;
  if (err == -EPIPE) {
    int e = sock_error(sk);
    err = e ? e : -EPIPE;
  }
  return err;
}

// --- net/socket.c -----------------------------------------------------------------

// import_iovec: a length that is negative as an ssize_t is EINVAL; the
// total is cut at MAX_RW_COUNT, so one call never moves more than an int
// can count (the rest of the vector is simply not looked at).
long iov_length(const iovec* iov, std::size_t n) {
  long total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (iov[i].iov_len > static_cast<std::size_t>(LONG_MAX)) return -EINVAL;
    total += static_cast<long>(
        std::min<std::size_t>(iov[i].iov_len, static_cast<std::size_t>(MAX_RW_COUNT - total)));
  }
  return total;
}

int sock_sendmsg(Socket* sock, const msghdr* msg) {
  long total = iov_length(msg->msg_iov, msg->msg_iovlen);
  if (total < 0) return static_cast<int>(total);
  trace_sock_sendmsg(sock->sk, static_cast<std::uint64_t>(total),
                     static_cast<std::uint32_t>(msg->msg_flags));
  return sock->ops->sendmsg(sock, msg, static_cast<std::size_t>(total));
}

int sock_recvmsg(Socket* sock, msghdr* msg, int flags) {
  long total = iov_length(msg->msg_iov, msg->msg_iovlen);
  if (total < 0) return static_cast<int>(total);
  return sock->ops->recvmsg(sock, msg, static_cast<std::size_t>(total), flags);
}

}  // namespace sp
