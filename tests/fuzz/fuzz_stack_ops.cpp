// Whole-stack stateful fuzzing: the input is a program that drives two
// stacks, A (10.0.0.1) and B (10.0.0.2), from both sides at once. The
// application side makes sockets on either stack and calls socket, bind,
// listen, connect, accept, send (sizes, MSG_MORE, MSG_ZEROCOPY), recv (and
// MSG_PEEK), setsockopt, shutdown and close on them, all non-blocking. The
// network side holds every frame a stack sends in a per-direction wire queue
// and delivers, drops, duplicates or reorders them as told, injects crafted
// segments (fuzzed flags, sequence and ack numbers near the flow's, window,
// raw options, payload) into either stack, advances virtual time so that
// timers fire, and arms allocation failure injection (FailAlloc).
//
// After each operation every TCP socket of both stacks is checked:
//   - write queue and retransmit tree ordered by sequence, not overlapping,
//     the write queue after the tree; the out-of-order tree ordered;
//   - sk_wmem_queued = truesize of the skbs on the write queue and tree,
//     sk_rmem_alloc = truesize of the receive and out-of-order queues,
//     sk_forward_alloc >= 0 (sendpath keeps no per-socket total of the
//     quanta it reserved yet, so forward_alloc + the charges cannot be
//     checked against it);
//   - snd_una <= snd_nxt <= write_seq once synchronised;
//   - packets_out, lost_out, retrans_out (and sacked_out with SACK) equal
//     the sums over the retransmit tree (retrans_out: see check_sock for
//     the excess Linux allows after an undo); sacked_out + lost_out <= packets_out
//     (tcp_verify_left_out).
// Every byte an application reads must be the byte its peer wrote: payload
// is a function of the flow's ports and the byte's absolute sequence number,
// for the applications' writes and crafted segments alike, so the reader
// checks what it gets against the sequence number it reads at. At the end
// the sockets close, the network runs dry, the stacks go and every skb,
// head and page must be back (skb_pool_process_usage).
//
// Input: a sequence of [op, a, b, c] records (missing bytes read as 0), at
// most kMaxOps. A fresh pair of stacks per input keeps every finding
// reproducible from its file alone.
#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <list>
#include <memory>
#include <vector>

#include "api/fd_table.hpp"
#include "core/stack.hpp"
#include "fuzz_common.hpp"
#include "sendpath/api.hpp"
#include "skb/fail_alloc.hpp"
#include "sock/sock.hpp"
#include "tcp/tcp.hpp"
#include "tcp/tcp_sock.hpp"
#include "tcp/tcp_stack_state.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

#define INVARIANT(cond, ...)                                                            \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant broken: %s: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                                \
      std::fprintf(stderr, "\n");                                                       \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

namespace {

using sp::SkBuff;
using sp::TCP_SKB_CB;

constexpr std::size_t kMaxOps = 256;
constexpr std::size_t kMaxSlots = 8;
constexpr std::size_t kMaxWireFrames = 256;
constexpr std::uint16_t kPortBase = 8000;

const sp::MacAddr kMac[2] = {{0x02, 0, 0, 0, 0, 0x01}, {0x02, 0, 0, 0, 0, 0x02}};
const sp::Ipv4Addr kIp[2] = {sp::ipv4_addr(10, 0, 0, 1), sp::ipv4_addr(10, 0, 0, 2)};

// What the inputs reached, printed at exit when FUZZ_STACK_OPS_STATS is set
// (the replay binary run over a corpus shows what it covers).
struct Reach {
  std::uint32_t states = 0;  // 1 << sk_state of every sock checked
  bool time_wait = false, request = false;
  std::uint64_t inputs = 0, checks = 0, bytes_checked = 0, injected = 0, delivered = 0;
  std::uint64_t alloc_failed = 0;
  ~Reach() {
    if (!std::getenv("FUZZ_STACK_OPS_STATS")) return;
    std::fprintf(
        stderr,
        "reach: %llu inputs, %llu socket checks, %llu bytes read and checked, %llu "
        "frames delivered, %llu crafted, %llu allocations failed; states",
        static_cast<unsigned long long>(inputs), static_cast<unsigned long long>(checks),
        static_cast<unsigned long long>(bytes_checked), static_cast<unsigned long long>(delivered),
        static_cast<unsigned long long>(injected), static_cast<unsigned long long>(alloc_failed));
    static const char* const kNames[] = {"?",          "ESTABLISHED", "SYN_SENT",  "SYN_RECV",
                                         "FIN_WAIT1",  "FIN_WAIT2",   "TIME_WAIT", "CLOSE",
                                         "CLOSE_WAIT", "LAST_ACK",    "LISTEN",    "CLOSING"};
    for (int s = 1; s < 12; ++s)
      if (states & (1u << s)) std::fprintf(stderr, " %s", kNames[s]);
    std::fprintf(stderr, "%s%s\n", time_wait ? " +timewait-sock" : "",
                 request ? " +request-sock" : "");
  }
} g_reach;

// The payload byte at absolute sequence number seq of the flow sport -> dport.
std::uint8_t stream_byte(std::uint16_t sport, std::uint16_t dport, std::uint32_t seq) {
  std::uint32_t h = seq * 2654435761u ^ (std::uint32_t{sport} << 16 | dport);
  h ^= h >> 15;
  h *= 0x2c1b3c6du;
  h ^= h >> 12;
  return static_cast<std::uint8_t>(h);
}

// What a stack sends, held as bytes for the fuzzer to deliver or not.
class Wire final : public sp::NetDevice {
 public:
  explicit Wire(int side) {
    name = side ? "fuzzb" : "fuzza";
    dev_addr = kMac[side];
  }
  sp::NetdevTx xmit(sp::SkbPtr skb) override {
    if (queue.size() < kMaxWireFrames) {
      std::vector<std::uint8_t> f(skb->len);
      if (sp::skb_copy_bits(skb.get(), 0, f.data(), skb->len) == 0) {
        note(f);
        queue.push_back(std::move(f));
      }
    }
    sp::consume_skb(std::move(skb));
    return sp::NETDEV_TX_OK;
  }
  int poll(int) override { return 0; }

  std::deque<std::vector<std::uint8_t>> queue;
  // The last TCP segment sent: the crafted segments aim near it.
  std::uint16_t sport = kPortBase, dport = kPortBase;
  std::uint32_t seq = 0, ack = 0;

 private:
  void note(const std::vector<std::uint8_t>& f) {
    auto eth = sp::EthernetView::parse(f);
    if (!eth || eth->ethertype() != sp::ETH_P_IP) return;
    auto ip = sp::Ipv4View::parse(eth->payload());
    if (!ip || ip->protocol() != sp::IPPROTO_TCP_) return;
    auto tcp = sp::TcpView::parse(ip->payload());
    if (!tcp) return;
    sport = tcp->source();
    dport = tcp->dest();
    seq = tcp->seq();
    ack = tcp->ack_seq();
  }
};

struct Slot {
  int side = -1;  // -1: free
  int fd = -1;
  bool zerocopy = false;
  // The flow the socket last had: bytes left on its receive queue after a
  // reset stay readable when a bind() clears its ports (as in Linux).
  std::uint16_t peer_port = 0, local_port = 0;
  void clear() { *this = Slot{-1, -1, false, 0, 0}; }
};

class Program {
 public:
  Program() {
    for (int s = 0; s < 2; ++s) {
      stack[s] = std::make_unique<sp::Stack>(clock);
      auto w = std::make_unique<Wire>(s);
      wire[s] = w.get();
      ifindex[s] = stack[s]->register_netdev(std::move(w));
      stack[s]->add_address(ifindex[s], htonl(kIp[s]), 24);
      stack[s]->neigh_add(ifindex[s], htonl(kIp[1 - s]), kMac[1 - s]);
    }
  }

  ~Program() {
    sp::fail_alloc_set({});
    for (Slot& sl : slots)
      if (sl.side >= 0) sp::close(sl.fd);
  }

  void run(const std::uint8_t* data, std::size_t size) {
    for (std::size_t i = 0, n = 0; i < size && n < kMaxOps; i += 4, ++n) {
      std::uint8_t r[4] = {};
      std::memcpy(r, data + i, std::min<std::size_t>(4, size - i));
      if (std::getenv("FUZZ_STACK_OPS_TRACE"))
        std::fprintf(stderr, "op %zu: %u %u %u %u\n", n, r[0] % 20, r[1], r[2], r[3]);
      step(r[0], r[1], r[2], r[3]);
      for (auto& st : stack) st->poll();
      check_all();
      note_flows();
    }
    finish();
  }

 private:
  void step(std::uint8_t op, std::uint8_t a, std::uint8_t b, std::uint8_t c) {
    Slot& sl = slots[a % kMaxSlots];
    const std::uint16_t arg = static_cast<std::uint16_t>(b << 8 | c);
    switch (op % 20) {
      case 0:  // socket on side b&1
        if (sl.side >= 0) sp::close(sl.fd);
        sl.clear();
        if (int fd = sp::socket(*stack[b & 1], AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0); fd >= 0)
          sl = Slot{b & 1, fd, false, 0, 0};
        break;
      case 1: {  // bind
        if (sl.side < 0) break;
        sockaddr_in sin =
            addr(sl.side, (b & 4) ? 0 : static_cast<std::uint16_t>(kPortBase + b % 4));
        if (b & 8) sin.sin_addr.s_addr = 0;
        sp::bind(sl.fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
        break;
      }
      case 2:  // listen
        if (sl.side >= 0) sp::listen(sl.fd, b % 8);
        break;
      case 3: {  // connect to the other side
        if (sl.side < 0) break;
        sockaddr_in sin = addr(1 - sl.side, static_cast<std::uint16_t>(kPortBase + b % 4));
        sp::connect(sl.fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
        break;
      }
      case 4: {  // accept into slot c
        if (sl.side < 0) break;
        int fd = sp::accept4(sl.fd, nullptr, nullptr, SOCK_NONBLOCK);
        if (fd < 0) break;
        Slot& to = slots[c % kMaxSlots];
        if (to.side >= 0) sp::close(to.fd);
        to = Slot{sl.side, fd, false, 0, 0};
        break;
      }
      case 5:
        app_send(sl, arg % 70000u, a);
        break;
      case 6:
        app_recv(sl, arg % 70000u, (a & 0x80) != 0);
        break;
      case 7:
        app_setsockopt(sl, b, c);
        break;
      case 8:  // shutdown
        if (sl.side >= 0) sp::shutdown(sl.fd, b % 3);
        break;
      case 9:  // close
        if (sl.side >= 0) sp::close(sl.fd);
        sl.clear();
        break;
      case 10:
      case 11:  // deliver the frame at b (0: the oldest) of direction a&1
        deliver(a & 1, b, true, false);
        break;
      case 12:  // drop it
        deliver(a & 1, b, false, false);
        break;
      case 13:  // duplicate it (deliver a copy, keep it queued)
        deliver(a & 1, b, true, true);
        break;
      case 14:
      case 15:  // deliver every queued frame of direction a&1, up to b + 1
        for (int k = 0; k <= b && !wire[a & 1]->queue.empty(); ++k) deliver(a & 1, 0, true, false);
        break;
      case 16: {  // reorder: swap two queued frames
        auto& q = wire[a & 1]->queue;
        if (q.size() >= 2) std::swap(q[b % q.size()], q[c % q.size()]);
        break;
      }
      case 17:  // inject a crafted segment
        inject(a, b, c);
        break;
      case 18:  // let time pass: 1 ms << (b % 18), up to ~131 s
        advance(sp::kNsPerMs << (b % 18));
        break;
      case 19: {  // allocation failure injection: b&7 kinds, one in (c + 2); b==0 disarms
        g_reach.alloc_failed += sp::fail_alloc_stats().total_failed() - failed_seen;
        failed_seen = 0;
        sp::FailAlloc f;
        f.kinds = b & sp::kFailAll;
        f.every_n = c + 2u;
        f.seed = a;
        sp::fail_alloc_set(f);
        break;
      }
    }
  }

  static sockaddr_in addr(int side, std::uint16_t port) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(kIp[side]);
    return sin;
  }

  static sp::TcpSock* tcp_of(int fd) {
    sp::Socket* s = sp::sockfd_lookup(fd);
    return s && s->sk ? sp::tcp_sk(s->sk) : nullptr;
  }

  void app_send(Slot& sl, std::size_t len, std::uint8_t a) {
    if (sl.side < 0) return;
    sp::TcpSock* tp = tcp_of(sl.fd);
    if (!tp) return;
    // The bytes go where write_seq says: each is the flow's byte at its
    // sequence number (the peer checks). A send that takes fewer takes a
    // prefix.
    const std::uint16_t sport = ntohs(tp->inet_sport), dport = ntohs(tp->inet_dport);
    const std::uint32_t seq = tp->write_seq;
    int flags = MSG_DONTWAIT | MSG_NOSIGNAL;
    if (a & 0x10) flags |= MSG_MORE;
    const bool zc = sl.zerocopy && (a & 0x20);
    if (zc) flags |= MSG_ZEROCOPY;
    // A zerocopy send's pages are read until the stack is done with them:
    // such buffers live as long as the program.
    std::vector<std::uint8_t>& buf = zc ? zc_buffers.emplace_back(len) : scratch;
    buf.resize(len);
    for (std::size_t i = 0; i < len; ++i)
      buf[i] = stream_byte(sport, dport, seq + static_cast<std::uint32_t>(i));
    sp::send(sl.fd, buf.data(), len, flags);
    if (zc) drain_errqueue(sl);
  }

  void drain_errqueue(Slot& sl) {
    std::uint8_t ctl[256];
    for (int i = 0; i < 8; ++i) {
      msghdr m{};
      m.msg_control = ctl;
      m.msg_controllen = sizeof ctl;
      if (sp::recvmsg(sl.fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) break;
    }
  }

  void app_recv(Slot& sl, std::size_t len, bool peek) {
    if (sl.side < 0 || !len) return;
    sp::TcpSock* tp = tcp_of(sl.fd);
    if (!tp || tp->sk_state == sp::TCP_LISTEN) return;
    const std::uint32_t seq = tp->copied_seq;
    note_flow(sl);
    const std::uint16_t sport = sl.peer_port, dport = sl.local_port;
    scratch.resize(len);
    const ssize_t n = sp::recv(sl.fd, scratch.data(), len, MSG_DONTWAIT | (peek ? MSG_PEEK : 0));
    for (ssize_t i = 0; i < n; ++i) {
      const std::uint32_t s = seq + static_cast<std::uint32_t>(i);
      ++g_reach.bytes_checked;
      INVARIANT(scratch[i] == stream_byte(sport, dport, s),
                "byte %u of flow %u -> %u read as %02x, sent as %02x", s, sport, dport, scratch[i],
                stream_byte(sport, dport, s));
    }
    if (sl.zerocopy) drain_errqueue(sl);
  }

  void note_flow(Slot& sl) {
    if (sl.side < 0) return;
    if (const sp::TcpSock* tp = tcp_of(sl.fd); tp && tp->inet_dport) {
      sl.peer_port = ntohs(tp->inet_dport);
      sl.local_port = ntohs(tp->inet_sport);
    }
  }
  void note_flows() {
    for (Slot& sl : slots) note_flow(sl);
  }

  void app_setsockopt(Slot& sl, std::uint8_t which, std::uint8_t v) {
    if (sl.side < 0) return;
    int iv = v;
    auto set = [&](int level, int name, const void* p, socklen_t l) {
      sp::setsockopt(sl.fd, level, name, p, l);
    };
    switch (which % 14) {
      case 0:
        iv = v & 1;
        set(IPPROTO_TCP, TCP_NODELAY, &iv, sizeof iv);
        break;
      case 1:
        iv = v & 1;
        set(IPPROTO_TCP, TCP_CORK, &iv, sizeof iv);
        break;
      case 2:
        iv = v * 1024;
        set(SOL_SOCKET, SO_SNDBUF, &iv, sizeof iv);
        break;
      case 3:
        iv = v * 1024;
        set(SOL_SOCKET, SO_RCVBUF, &iv, sizeof iv);
        break;
      case 4:
        iv = v ? 64 + v * 8 : 0;
        set(IPPROTO_TCP, TCP_MAXSEG, &iv, sizeof iv);
        break;
      case 5: {
        linger l{v & 1, (v >> 1) % 3};
        set(SOL_SOCKET, SO_LINGER, &l, sizeof l);
        break;
      }
      case 6:
        iv = v & 1;
        set(SOL_SOCKET, SO_ZEROCOPY, &iv, sizeof iv);
        if (iv) sl.zerocopy = true;  // sends made with it stay zerocopy-safe
        break;
      case 7:
        iv = v & 1;
        set(SOL_SOCKET, SO_KEEPALIVE, &iv, sizeof iv);
        break;
      case 8:
        iv = 1 + v % 8;
        set(IPPROTO_TCP, TCP_KEEPIDLE, &iv, sizeof iv);
        break;
      case 9:
        iv = v * 100;
        set(IPPROTO_TCP, TCP_USER_TIMEOUT, &iv, sizeof iv);
        break;
      case 10:
        iv = v & 1;
        set(IPPROTO_TCP, TCP_QUICKACK, &iv, sizeof iv);
        break;
      case 11:
        iv = v * 256;
        set(IPPROTO_TCP, TCP_NOTSENT_LOWAT, &iv, sizeof iv);
        break;
      case 12:
        iv = 1 + v % 8;
        set(IPPROTO_TCP, TCP_KEEPINTVL, &iv, sizeof iv);
        break;
      case 13: {
        const char* cc = (v & 1) ? "reno" : "cubic";
        set(IPPROTO_TCP, TCP_CONGESTION, cc, static_cast<socklen_t>(std::strlen(cc)));
        break;
      }
    }
  }

  void receive(int side, const std::uint8_t* f, std::size_t len) {
    sp::SkbPtr skb = sp::alloc_skb_with_headroom(64, static_cast<std::uint32_t>(len));
    if (!skb) return;  // the driver could not allocate: a drop
    std::memcpy(sp::skb_put(skb.get(), static_cast<std::uint32_t>(len)), f, len);
    skb->ifindex = ifindex[side];
    stack[side]->netif_receive_skb(std::move(skb));
  }

  // The frame at index idx of direction dir (0: A -> B) goes to the other
  // side, or away; with dup it stays queued as well.
  void deliver(int dir, std::size_t idx, bool to_peer, bool dup) {
    auto& q = wire[dir]->queue;
    if (q.empty()) return;
    idx %= q.size();
    std::vector<std::uint8_t> f = dup ? q[idx] : std::move(q[idx]);
    if (!dup) q.erase(q.begin() + static_cast<std::ptrdiff_t>(idx));
    if (to_peer) {
      ++g_reach.delivered;
      receive(1 - dir, f.data(), f.size());
    }
  }

  // A segment to side a&1 as if from the other side, aimed at the last
  // segment the target sent: its ports mirrored, seq near its ack, ack near
  // its seq, or taken from the fuzzer's bytes.
  void inject(std::uint8_t a, std::uint8_t b, std::uint8_t c) {
    const int to = a & 1, from = 1 - to;
    const Wire* w = wire[to];
    std::uint16_t sport = w->dport, dport = w->sport;
    if (a & 2) dport = static_cast<std::uint16_t>(kPortBase + (c & 3));
    const auto delta = [](std::uint8_t x) {
      // small offsets both ways, or a window or two away
      const int k = static_cast<std::int8_t>(x);
      return static_cast<std::uint32_t>((k & 1) ? k * 1460 : k);
    };
    const std::uint32_t seq = w->ack + delta(c);
    const std::uint32_t ack = w->seq + delta(static_cast<std::uint8_t>(c * 37 + a));
    const std::uint8_t flags = b;
    const std::size_t payload = (a & 4) ? static_cast<std::size_t>((a >> 3) & 7) * 300 : 0;
    std::uint8_t opts[12];
    std::size_t optlen = 0;
    switch ((a >> 6) & 3) {
      case 1: {  // SACK of one block near ack
        opts[0] = 1, opts[1] = 1, opts[2] = 5, opts[3] = 10;
        sp::store_be32(opts + 4, ack + 1460);
        sp::store_be32(opts + 8, ack + 2920 + delta(c));
        optlen = 12;
        break;
      }
      case 2: {  // timestamps
        opts[0] = 1, opts[1] = 1, opts[2] = 8, opts[3] = 10;
        sp::store_be32(opts + 4, static_cast<std::uint32_t>(clock.now_ns() / sp::kNsPerMs));
        sp::store_be32(opts + 8, static_cast<std::uint32_t>(clock.now_ns() / sp::kNsPerMs) + c);
        optlen = 12;
        break;
      }
      case 3: {  // MSS + wscale, as on a SYN
        opts[0] = 2, opts[1] = 4;
        sp::store_be16(opts + 2, static_cast<std::uint16_t>(536 + c * 4));
        opts[4] = 1, opts[5] = 3, opts[6] = 3, opts[7] = c % 15;
        optlen = 8;
        break;
      }
      default:
        break;
    }
    const std::size_t thlen = sp::kTcpMinHeaderLen + optlen;
    std::vector<std::uint8_t> f(sp::ETH_HLEN + 20 + thlen + payload);
    sp::EthernetRepr{kMac[to], kMac[from], sp::ETH_P_IP}.emit(f.data());
    std::uint8_t* ip = f.data() + sp::ETH_HLEN;
    ip[0] = 0x45;
    sp::store_be16(ip + 2, static_cast<std::uint16_t>(20 + thlen + payload));
    ip[6] = 0x40;  // DF
    ip[8] = 64;
    ip[9] = sp::IPPROTO_TCP_;
    sp::store_be32(ip + 12, kIp[from]);
    sp::store_be32(ip + 16, kIp[to]);
    sp::ip_send_check(ip);
    std::uint8_t* th = ip + 20;
    sp::store_be16(th, sport);
    sp::store_be16(th + 2, dport);
    sp::store_be32(th + sp::kTcpSeqOffset, seq);
    sp::store_be32(th + sp::kTcpAckOffset, ack);
    th[12] = static_cast<std::uint8_t>((thlen / 4) << 4);
    th[13] = flags;
    sp::store_be16(th + 14, static_cast<std::uint16_t>(c << 8 | 0xff));
    std::memcpy(th + sp::kTcpMinHeaderLen, opts, optlen);
    // Payload as the flow's own bytes at those sequence numbers (a SYN's
    // data starts one after its seq).
    const std::uint32_t data_seq = seq + ((flags & 0x02) ? 1 : 0);
    for (std::size_t i = 0; i < payload; ++i)
      th[thlen + i] = stream_byte(sport, dport, data_seq + static_cast<std::uint32_t>(i));
    const std::uint32_t tlen = static_cast<std::uint32_t>(thlen + payload);
    sp::Wsum s = sp::csum_partial(th, tlen, 0);
    sp::store_be16(th + sp::kTcpCheckOffset,
                   sp::tcp_v4_check(tlen, htonl(kIp[from]), htonl(kIp[to]), s));
    ++g_reach.injected;
    receive(to, f.data(), f.size());
  }

  // Moves time forward by d, stopping at every timer on the way (a bounded
  // number of stops), so that each fires at its own time.
  void advance(sp::Nanos d) {
    const sp::Nanos end = clock.now_ns() + d;
    for (int i = 0; i < 64 && clock.now_ns() < end; ++i) {
      sp::Nanos next = end;
      for (auto& st : stack) next = std::min(next, st->next_timer_expiry());
      clock.advance_to(std::max(next, clock.now_ns() + 1));
      for (auto& st : stack) {
        st->poll();
        check_all();
      }
    }
    clock.advance_to(end);
    for (auto& st : stack) st->poll();
  }

  void check_all() {
    for (auto& st : stack) {
      st->tcp().for_each_sock([](sp::Sock* sk) { check_sock(sk); });
      st->tcp().for_each_tw([](const auto&) { g_reach.time_wait = true; });
      st->tcp().for_each_reqsk([](const auto&, const auto&) { g_reach.request = true; });
    }
    g_reach.alloc_failed += sp::fail_alloc_stats().total_failed() - failed_seen;
    failed_seen = sp::fail_alloc_stats().total_failed();
  }

  static void check_sock(sp::Sock* sk) {
    sp::TcpSock* tp = sp::tcp_sk(sk);
    const int state = sk->sk_state;
    ++g_reach.checks;
    g_reach.states |= 1u << state;
    long wmem = 0;
    std::uint32_t packets = 0, sacked = 0, lost = 0, retrans = 0;
    const SkBuff* prev = nullptr;
    for (SkBuff* s = tp->tcp_rtx_queue.first(); s; s = tp->tcp_rtx_queue.next(s)) {
      const auto* cb = TCP_SKB_CB(s);
      INVARIANT(!sp::after(cb->seq, cb->end_seq), "rtx skb %u..%u backwards", cb->seq, cb->end_seq);
      if (prev)
        INVARIANT(!sp::before(cb->seq, TCP_SKB_CB(prev)->end_seq), "rtx skb %u..%u overlaps %u..%u",
                  cb->seq, cb->end_seq, TCP_SKB_CB(prev)->seq, TCP_SKB_CB(prev)->end_seq);
      prev = s;
      wmem += s->truesize;
      const auto pc = static_cast<std::uint32_t>(sp::tcp_skb_pcount(s));
      packets += pc;
      if (cb->sacked & sp::TCPCB_SACKED_ACKED) sacked += pc;
      if (cb->sacked & sp::TCPCB_LOST) lost += pc;
      if (cb->sacked & sp::TCPCB_SACKED_RETRANS) retrans += pc;
    }
    for (SkBuff* s = sk->sk_write_queue.peek(); s; s = sk->sk_write_queue.next(s)) {
      const auto* cb = TCP_SKB_CB(s);
      INVARIANT(!sp::after(cb->seq, cb->end_seq), "write skb %u..%u backwards", cb->seq,
                cb->end_seq);
      if (prev)
        INVARIANT(!sp::before(cb->seq, TCP_SKB_CB(prev)->end_seq),
                  "write skb %u..%u overlaps %u..%u", cb->seq, cb->end_seq, TCP_SKB_CB(prev)->seq,
                  TCP_SKB_CB(prev)->end_seq);
      prev = s;
      wmem += s->truesize;
    }
    INVARIANT(sk->sk_wmem_queued == wmem, "sk_wmem_queued %d, skbs hold %ld (state %d)",
              sk->sk_wmem_queued, wmem, state);
    long rmem = 0;
    for (SkBuff* s = sk->sk_receive_queue.peek(); s; s = sk->sk_receive_queue.next(s))
      rmem += s->truesize;
    const SkBuff* oprev = nullptr;
    for (SkBuff* s = tp->out_of_order_queue.first(); s; s = tp->out_of_order_queue.next(s)) {
      if (oprev) {
        INVARIANT(sp::after(TCP_SKB_CB(s)->seq, TCP_SKB_CB(oprev)->seq) &&
                      sp::after(TCP_SKB_CB(s)->end_seq, TCP_SKB_CB(oprev)->end_seq),
                  "ofo skb %u..%u after %u..%u", TCP_SKB_CB(s)->seq, TCP_SKB_CB(s)->end_seq,
                  TCP_SKB_CB(oprev)->seq, TCP_SKB_CB(oprev)->end_seq);
      }
      oprev = s;
      rmem += s->truesize;
    }
    INVARIANT(sk->sk_rmem_alloc == rmem, "sk_rmem_alloc %d, skbs hold %ld (state %d)",
              sk->sk_rmem_alloc, rmem, state);
    // Pre-charged memory is never owed: every charge was scheduled first
    // (sk_wmem_schedule / sk_rmem_schedule / the forced variant).
    INVARIANT(sk->sk_forward_alloc >= 0, "sk_forward_alloc %d (state %d)", sk->sk_forward_alloc,
              state);
    if (state == sp::TCP_LISTEN || state == sp::TCP_CLOSE) return;
    INVARIANT(!sp::after(tp->snd_una, tp->snd_nxt) && !sp::after(tp->snd_nxt, tp->write_seq),
              "snd_una %u snd_nxt %u write_seq %u (state %d)", tp->snd_una, tp->snd_nxt,
              tp->write_seq, state);
    INVARIANT(tp->packets_out == packets, "packets_out %u, rtx queue %u (state %d)",
              tp->packets_out, packets, state);
    INVARIANT(tp->lost_out == lost, "lost_out %u, rtx queue %u", tp->lost_out, lost);
    // Linux 6.12 can count one retransmission twice: an undo
    // (tcp_undo_cwnd_reduction) clears TCPCB_LOST but keeps
    // TCPCB_SACKED_RETRANS, the next RTO marks the skb lost without clearing
    // it (tcp_mark_skb_lost) and tcp_retransmit_skb adds its pcount again
    // (its FASTRETRANS_DEBUG "retrans_out leaked"). sendpath does the same,
    // so after an undo retrans_out may exceed the queue's count; never
    // before one, and never fall short of it.
    const sp::Mib& m = sk->stack->mib();
    const bool undone = m.get(sp::MibId::TcpExtTCPLossUndo) + m.get(sp::MibId::TcpExtTCPFullUndo) +
                            m.get(sp::MibId::TcpExtTCPPartialUndo) +
                            m.get(sp::MibId::TcpExtTCPDSACKUndo) >
                        0;
    INVARIANT(undone ? tp->retrans_out >= retrans : tp->retrans_out == retrans,
              "retrans_out %u, rtx queue %u (after an undo: %d)", tp->retrans_out, retrans, undone);
    if (tp->rx_opt.sack_ok)
      INVARIANT(tp->sacked_out == sacked, "sacked_out %u, rtx queue %u", tp->sacked_out, sacked);
    INVARIANT(tp->sacked_out + tp->lost_out <= tp->packets_out,
              "tcp_verify_left_out: sacked %u + lost %u > packets %u", tp->sacked_out, tp->lost_out,
              tp->packets_out);
  }

  // Close everything, let the network and the timers run dry, and check that
  // the stacks gave back every skb, head and page.
  void finish() {
    g_reach.alloc_failed += sp::fail_alloc_stats().total_failed() - failed_seen;
    failed_seen = 0;
    sp::fail_alloc_set({});
    for (Slot& sl : slots) {
      if (sl.side >= 0) sp::close(sl.fd);
      sl.clear();
    }
    for (int round = 0; round < 64; ++round) {
      bool moved = false;
      for (int dir = 0; dir < 2; ++dir) {
        for (int k = 0; k < 64 && !wire[dir]->queue.empty(); ++k) {
          deliver(dir, 0, true, false);
          moved = true;
        }
      }
      check_all();
      if (moved) continue;
      std::size_t left = 0;
      for (auto& st : stack) {
        left += st->tcp().sock_count();
        st->tcp().for_each_tw([&](const auto&) { ++left; });
        st->tcp().for_each_reqsk([&](const auto&, const auto&) { ++left; });
      }
      if (!left) break;
      advance(10 * sp::kNsPerSec);
    }
  }

 public:
  // Before the stacks: a zerocopy skb may still pin these when they go.
  std::list<std::vector<std::uint8_t>> zc_buffers;
  sp::VirtualClock clock{sp::kNsPerSec};
  std::unique_ptr<sp::Stack> stack[2];
  Wire* wire[2] = {};
  int ifindex[2] = {};
  std::vector<Slot> slots = std::vector<Slot>(kMaxSlots);
  std::vector<std::uint8_t> scratch;
  std::uint64_t failed_seen = 0;
};

bool same(const sp::SkbPoolUsage& a, const sp::SkbPoolUsage& b) {
  return a.skbs == b.skbs && a.head_bytes == b.head_bytes && a.pages_4k == b.pages_4k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const sp::SkbPoolUsage before = sp::skb_pool_process_usage();
  ++g_reach.inputs;
  {
    auto p = std::make_unique<Program>();
    p->run(data, size);
    // Descriptors first, then the stacks they point into.
  }
  const sp::SkbPoolUsage after = sp::skb_pool_process_usage();
  INVARIANT(same(before, after),
            "leak: %llu skbs, %llu head bytes, %llu pages before; "
            "%llu, %llu, %llu after the stacks went",
            static_cast<unsigned long long>(before.skbs),
            static_cast<unsigned long long>(before.head_bytes),
            static_cast<unsigned long long>(before.pages_4k),
            static_cast<unsigned long long>(after.skbs),
            static_cast<unsigned long long>(after.head_bytes),
            static_cast<unsigned long long>(after.pages_4k));
  return 0;
}
