// Per-stack TCP state (the kernel's tcp_hashinfo plus per-netns TCP data):
// the established, listening, bind, request and time-wait tables, the ISN
// and timestamp-offset secrets, and the sockets waiting to be freed.
//
// Keys follow __inet_lookup_*: the remote address/port as on the wire
// (network order) and the local port in host order (hnum).
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/siphash.hpp"
#include "tcp/drop_reason.hpp"
#include "tcp/tcp_sock.hpp"

namespace sp {

class Stack;

// One connection's 4-tuple as seen from this host.
struct InetTuple {
  be32 saddr = 0;           // remote address (packet's source)
  be32 daddr = 0;           // local address (packet's destination)
  std::uint16_t sport = 0;  // remote port, network order
  std::uint16_t hnum = 0;   // local port, host order
  bool operator==(const InetTuple&) const = default;
};
struct InetTupleHash {
  std::size_t operator()(const InetTuple& t) const noexcept;
};

class TcpStackState {
 public:
  // Registers IPPROTO_TCP (tcp_v4_rcv / tcp_v4_err) with the stack.
  explicit TcpStackState(Stack& stack);
  ~TcpStackState();
  TcpStackState(const TcpStackState&) = delete;
  TcpStackState& operator=(const TcpStackState&) = delete;

  Stack& stack() { return stack_; }

  // --- established table (inet_ehash_*) -----------------------------------------
  // Hash a connected sock by its 4-tuple; takes a reference. false if taken.
  bool inet_ehash_insert(Sock* sk);
  // Remove sk from the established table (drops the table's reference).
  void inet_ehash_remove(Sock* sk);
  Sock* lookup_established(be32 saddr, std::uint16_t sport, be32 daddr, std::uint16_t hnum) const;
  std::size_t established_count() const { return ehash_.size(); }

  // --- listening table --------------------------------------------------------------
  // inet_hash for a LISTEN sock; takes a reference.
  void inet_listen_hash(Sock* sk);
  void inet_listen_unhash(Sock* sk);
  // Best listener for daddr:hnum (exact address beats INADDR_ANY), or nullptr.
  // Among SO_REUSEPORT listeners on the same address and port (a reuseport
  // group, in listen order) the peer's address and port choose one, by a
  // hash of the four-tuple as reuseport_select_sock does, so that every
  // segment of a handshake reaches the same listener. saddr and sport
  // (network order) are the peer's.
  Sock* lookup_listener(be32 daddr, std::uint16_t hnum, be32 saddr, std::uint16_t sport) const;

  // --- bind table (inet_csk_get_port) ---------------------------------------------
  // Bind sk to snum (0 = pick an ephemeral port). 0, or -EADDRINUSE.
  // Sets inet_num/inet_sport and icsk_bind_hash.
  int inet_csk_get_port(Sock* sk, std::uint16_t snum);
  // inet_put_port: release the port.
  void inet_put_port(Sock* sk);
  // __inet_inherit_port: an accepted child shares its listener's port.
  void inet_inherit_port(const Sock* listener, Sock* child);
  // An ephemeral port for a connect to daddr:dport from saddr such that the
  // 4-tuple is unused (__inet_hash_connect); 0 when none is free.
  std::uint16_t inet_hash_connect_port(be32 saddr, be32 daddr, std::uint16_t dport) const;
  bool port_in_use(std::uint16_t hnum) const { return bhash_.count(hnum) != 0; }

  // --- request socks (SYN queue entries; Linux keeps them in ehash) ----------------
  RequestSock* reqsk_insert(const InetTuple& key, std::unique_ptr<RequestSock> req);
  RequestSock* lookup_reqsk(const InetTuple& key) const;
  std::unique_ptr<RequestSock> reqsk_remove(const InetTuple& key);
  // Forget every request sock of a listener that stops listening.
  void reqsk_purge_listener(const Sock* listener);

  // --- time-wait socks ---------------------------------------------------------------
  TcpTimewaitSock* tw_insert(const InetTuple& key, std::unique_ptr<TcpTimewaitSock> tw);
  TcpTimewaitSock* lookup_tw(const InetTuple& key) const;
  std::unique_ptr<TcpTimewaitSock> tw_remove(const InetTuple& key);
  std::size_t tw_count() const { return twhash_.size(); }

  // --- secrets (RFC 6528 ISN, timestamp offsets) ------------------------------------
  const std::array<std::uint8_t, 16>& isn_secret() const { return isn_secret_; }
  const std::array<std::uint8_t, 16>& ts_secret() const { return ts_secret_; }
  // The two SipHash keys behind SYN cookies (syncookie_secret[2]): one for
  // the tuple's hash, one for the hash that also takes the minute counter.
  const SipKey& syncookie_secret(int c) const { return syncookie_secret_[c]; }
  // Make the secrets (and so ISNs) repeatable: simulation runs from a seed.
  void set_secrets_from_seed(std::uint64_t seed);

  // --- ephemeral ports (net.ipv4.ip_local_port_range) --------------------------------
  std::uint16_t port_range_low = 32768;
  std::uint16_t port_range_high = 60999;

  // --- every sock of this stack (for teardown, ss-like listing, leak checks) ---------
  void register_sock(Sock* sk) { all_socks_.insert(sk); }
  void unregister_sock(Sock* sk) { all_socks_.erase(sk); }
  std::size_t sock_count() const { return all_socks_.size(); }
  template <typename F>
  void for_each_sock(F&& f) const {
    for (Sock* sk : all_socks_) f(sk);
  }
  // The SYN-queue entries and time-wait socks, which inet_diag (and so ss)
  // lists beside the full sockets.
  template <typename F>
  void for_each_reqsk(F&& f) const {
    for (const auto& [key, req] : reqhash_) f(key, *req);
  }
  template <typename F>
  void for_each_tw(F&& f) const {
    for (const auto& [key, tw] : twhash_) f(*tw);
  }
  // sock_put reached zero: destroy sk from deferred work.
  void schedule_free(Sock* sk);
  // Destroy what schedule_free queued (also run by the stack's deferred work).
  void free_pending();

  // TSQ: sockets whose tcp_tsq_handler should run at the end of this poll.
  std::vector<Sock*> tsq_pending;

  // RFC 5961 challenge ACK budget (net->ipv4.tcp_challenge_timestamp and
  // tcp_challenge_count): the second (jiffies / HZ) it was last refilled in,
  // and what is left of it (tcp_challenge_ack_allowed).
  std::uint32_t challenge_timestamp = ~0u;  // no second yet: the first challenge refills
  std::uint32_t challenge_count = 0;

  // Inbound drops by reason (tcp_drop_reason; added by tcp-recv).
  DropCounters drops;

  // --- TCP memory (tcp_prot's memory_allocated, per_cpu_fw_alloc,
  // tcp_memory_pressure, tcp_sockets_allocated) --------------------------------------
  // Pages charged by every TCP socket of the stack, as the global counter
  // reads (sk_memory_allocated); compared with net.ipv4.tcp_mem.
  long memory_allocated = 0;
  // The one "cpu"'s reserve not yet folded into memory_allocated (Linux's
  // per-cpu per_cpu_fw_alloc, drained at +-net.core.mem_pcpu_rsv pages).
  int per_cpu_fw_alloc = 0;
  // tcp_memory_pressure: 0, or the jiffies at which pressure began (never 0).
  std::uint32_t memory_pressure = 0;
  // tcp_sockets_allocated: TCP socks initialised and not yet destroyed.
  long sockets_allocated = 0;
  // The pages really charged: what memory_allocated will read once drained.
  long memory_charged() const { return memory_allocated + per_cpu_fw_alloc; }

 private:
  Stack& stack_;
  std::unordered_map<InetTuple, Sock*, InetTupleHash> ehash_;
  std::unordered_map<std::uint16_t, std::vector<Sock*>> lhash_;
  std::unordered_map<std::uint16_t, std::vector<Sock*>> bhash_;
  std::unordered_map<InetTuple, std::unique_ptr<RequestSock>, InetTupleHash> reqhash_;
  std::unordered_map<InetTuple, std::unique_ptr<TcpTimewaitSock>, InetTupleHash> twhash_;
  std::unordered_set<Sock*> all_socks_;
  std::vector<Sock*> graveyard_;
  bool free_scheduled_ = false;
  std::array<std::uint8_t, 16> isn_secret_{};
  std::array<std::uint8_t, 16> ts_secret_{};
  std::array<SipKey, 2> syncookie_secret_{};
  mutable std::uint32_t port_offset_ = 0;
};

// The tuple under which sk is (or would be) hashed.
InetTuple inet_tuple_of(const Sock* sk);

}  // namespace sp
