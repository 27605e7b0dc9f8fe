// The per-stack TCP tables (net/ipv4/inet_hashtables.c, inet_connection_sock.c
// for the bind table) and the secrets behind ISNs and timestamp offsets.
#include "tcp/tcp_stack_state.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "core/stack.hpp"
#include "tcp/tcp.hpp"

namespace sp {

std::size_t InetTupleHash::operator()(const InetTuple& t) const noexcept {
  // Mix the four fields (splitmix64 finaliser): the table is keyed by values
  // an attacker partly controls, but the table is per stack and bounded by
  // the connections it accepts, so a keyed hash is not needed here.
  std::uint64_t x = (std::uint64_t{t.saddr} << 32) ^ t.daddr;
  x ^= (std::uint64_t{t.sport} << 16 | t.hnum) * 0x9e3779b97f4a7c15ull;
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return static_cast<std::size_t>(x);
}

InetTuple inet_tuple_of(const Sock* sk) {
  const InetSock* inet = inet_sk(sk);
  return InetTuple{inet->inet_daddr, inet->inet_rcv_saddr, inet->inet_dport, inet->inet_num};
}

TcpStackState::TcpStackState(Stack& stack) : stack_(stack) {
  std::random_device rd;
  for (auto& b : isn_secret_) b = static_cast<std::uint8_t>(rd());
  for (auto& b : ts_secret_) b = static_cast<std::uint8_t>(rd());
  port_offset_ = rd();
  for (SipKey& k : syncookie_secret_) {
    k.k0 = (static_cast<std::uint64_t>(rd()) << 32) | rd();
    k.k1 = (static_cast<std::uint64_t>(rd()) << 32) | rd();
  }
  Stack* st = &stack_;
  stack_.register_protocol(
      6, [st](SkbPtr skb) { tcp_v4_rcv(*st, std::move(skb)); },
      [st](const SkBuff* quoted, int type, int code, std::uint32_t info) {
        tcp_v4_err(*st, quoted, type, code, info);
      });
}

TcpStackState::~TcpStackState() {
  // Tables first (they hold references), then every sock still alive.
  ehash_.clear();
  lhash_.clear();
  bhash_.clear();
  reqhash_.clear();
  twhash_.clear();
  tsq_pending.clear();
  std::vector<Sock*> socks(all_socks_.begin(), all_socks_.end());
  all_socks_.clear();
  for (Sock* sk : graveyard_) {
    if (std::find(socks.begin(), socks.end(), sk) == socks.end()) socks.push_back(sk);
  }
  graveyard_.clear();
  for (Sock* sk : socks) {
    sk->sk_tcp = nullptr;
    inet_csk(sk)->icsk_bind_hash = false;
  }
  for (Sock* sk : socks) {
    if (sk->sk_prot && sk->sk_prot->destroy) sk->sk_prot->destroy(sk);
  }
  for (Sock* sk : socks) delete sk;
}

// --- established ----------------------------------------------------------------

bool TcpStackState::inet_ehash_insert(Sock* sk) {
  auto [it, inserted] = ehash_.emplace(inet_tuple_of(sk), sk);
  if (!inserted) return it->second == sk;
  sock_hold(sk);
  return true;
}

void TcpStackState::inet_ehash_remove(Sock* sk) {
  auto it = ehash_.find(inet_tuple_of(sk));
  if (it == ehash_.end() || it->second != sk) return;
  ehash_.erase(it);
  sock_put(sk);
}

Sock* TcpStackState::lookup_established(be32 saddr, std::uint16_t sport, be32 daddr,
                                        std::uint16_t hnum) const {
  auto it = ehash_.find(InetTuple{saddr, daddr, sport, hnum});
  return it == ehash_.end() ? nullptr : it->second;
}

// --- listening ----------------------------------------------------------------------

void TcpStackState::inet_listen_hash(Sock* sk) {
  auto& v = lhash_[inet_sk(sk)->inet_num];
  for (Sock* s : v)
    if (s == sk) return;
  v.push_back(sk);
  sock_hold(sk);
}

void TcpStackState::inet_listen_unhash(Sock* sk) {
  auto it = lhash_.find(inet_sk(sk)->inet_num);
  if (it == lhash_.end()) return;
  auto& v = it->second;
  for (auto i = v.begin(); i != v.end(); ++i) {
    if (*i == sk) {
      v.erase(i);
      if (v.empty()) lhash_.erase(it);
      sock_put(sk);
      return;
    }
  }
}

Sock* TcpStackState::lookup_listener(be32 daddr, std::uint16_t hnum, be32 saddr,
                                     std::uint16_t sport) const {
  auto it = lhash_.find(hnum);
  if (it == lhash_.end()) return nullptr;
  Sock* exact = nullptr;
  Sock* wildcard = nullptr;
  for (Sock* sk : it->second) {
    if (sk->sk_state != TCP_LISTEN) continue;
    be32 bound = inet_sk(sk)->inet_rcv_saddr;
    if (bound == daddr && !exact) exact = sk;
    if (bound == 0 && !wildcard) wildcard = sk;
  }
  Sock* best = exact ? exact : wildcard;
  if (!best || !best->sk_reuseport) return best;
  // The group: every reuseport listener bound as best is.
  const be32 bound = inet_sk(best)->inet_rcv_saddr;
  std::uint32_t n = 0;
  for (Sock* sk : it->second)
    if (sk->sk_state == TCP_LISTEN && sk->sk_reuseport && inet_sk(sk)->inet_rcv_saddr == bound) ++n;
  if (n < 2) return best;
  // A 32-bit mix of the four-tuple (the kernel's is a keyed jhash), scaled
  // to the group's size as reciprocal_scale does.
  std::uint64_t h = (static_cast<std::uint64_t>(saddr) << 32 | daddr) ^
                    (static_cast<std::uint64_t>(sport) << 16 | hnum) * 0x9e3779b97f4a7c15ull;
  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 29;
  std::uint32_t pick = static_cast<std::uint32_t>(
      (static_cast<std::uint64_t>(static_cast<std::uint32_t>(h)) * n) >> 32);
  for (Sock* sk : it->second) {
    if (sk->sk_state != TCP_LISTEN || !sk->sk_reuseport || inet_sk(sk)->inet_rcv_saddr != bound)
      continue;
    if (pick-- == 0) return sk;
  }
  return best;
}

// --- bind -----------------------------------------------------------------------------

namespace {
// Two socks may share a port when their bound addresses differ and neither
// is the wildcard, when both set SO_REUSEADDR and the other does not
// listen, or when both set SO_REUSEPORT (inet_bind_conflict; every socket
// here has the same owner, so the kernel's uid check always passes).
bool bind_conflict(const Sock* a, const Sock* b) {
  be32 aa = inet_sk(a)->inet_rcv_saddr, ba = inet_sk(b)->inet_rcv_saddr;
  if (aa && ba && aa != ba) return false;
  if (a->sk_reuse && b->sk_reuse && b->sk_state != TCP_LISTEN) return false;
  if (a->sk_reuseport && b->sk_reuseport) return false;
  return true;
}
}  // namespace

int TcpStackState::inet_csk_get_port(Sock* sk, std::uint16_t snum) {
  InetSock* inet = inet_sk(sk);
  auto conflicts = [&](std::uint16_t port) {
    auto it = bhash_.find(port);
    if (it == bhash_.end()) return false;
    for (Sock* o : it->second)
      if (o != sk && bind_conflict(sk, o)) return true;
    return false;
  };
  if (inet_csk(sk)->icsk_bind_hash) {
    // Already bound (listen after bind): keep the port.
    return snum == 0 || snum == inet->inet_num ? 0 : -EINVAL;
  }
  if (snum == 0) {
    const std::uint32_t range = port_range_high - port_range_low + 1u;
    std::uint32_t start = port_offset_++ % range;
    for (std::uint32_t i = 0; i < range; ++i) {
      auto port = static_cast<std::uint16_t>(port_range_low + (start + i) % range);
      if (bhash_.count(port) == 0) {
        snum = port;
        break;
      }
    }
    if (snum == 0) return -EADDRINUSE;
  } else if (conflicts(snum)) {
    return -EADDRINUSE;
  }
  bhash_[snum].push_back(sk);
  inet->inet_num = snum;
  inet->inet_sport = htons(snum);
  inet_csk(sk)->icsk_bind_hash = true;
  return 0;
}

void TcpStackState::inet_put_port(Sock* sk) {
  InetConnectionSock* icsk = inet_csk(sk);
  if (!icsk->icsk_bind_hash) return;
  auto it = bhash_.find(icsk->inet_num);
  if (it != bhash_.end()) {
    auto& v = it->second;
    v.erase(std::remove(v.begin(), v.end(), sk), v.end());
    if (v.empty()) bhash_.erase(it);
  }
  icsk->icsk_bind_hash = false;
  // inet_num goes; inet_sport stays so that a RST sent while closing still
  // names the connection's port (as __inet_put_port leaves it).
  if (!(sk->sk_userlocks & SOCK_BINDPORT_LOCK)) icsk->inet_num = 0;
}

void TcpStackState::inet_inherit_port(const Sock* listener, Sock* child) {
  const std::uint16_t port = inet_sk(listener)->inet_num;
  bhash_[port].push_back(child);
  inet_sk(child)->inet_num = port;
  inet_csk(child)->icsk_bind_hash = true;
}

std::uint16_t TcpStackState::inet_hash_connect_port(be32 saddr, be32 daddr,
                                                    std::uint16_t dport) const {
  const std::uint32_t range = port_range_high - port_range_low + 1u;
  std::uint32_t start = port_offset_++ % range;
  for (std::uint32_t i = 0; i < range; ++i) {
    auto port = static_cast<std::uint16_t>(port_range_low + (start + i) % range);
    if (bhash_.count(port)) continue;
    InetTuple key{daddr, saddr, dport, port};
    if (ehash_.count(key) || twhash_.count(key)) continue;
    return port;
  }
  return 0;
}

// --- request socks ------------------------------------------------------------------------

RequestSock* TcpStackState::reqsk_insert(const InetTuple& key, std::unique_ptr<RequestSock> req) {
  auto [it, inserted] = reqhash_.emplace(key, std::move(req));
  return inserted ? it->second.get() : nullptr;
}

RequestSock* TcpStackState::lookup_reqsk(const InetTuple& key) const {
  auto it = reqhash_.find(key);
  return it == reqhash_.end() ? nullptr : it->second.get();
}

std::unique_ptr<RequestSock> TcpStackState::reqsk_remove(const InetTuple& key) {
  auto it = reqhash_.find(key);
  if (it == reqhash_.end()) return nullptr;
  auto req = std::move(it->second);
  reqhash_.erase(it);
  return req;
}

void TcpStackState::reqsk_purge_listener(const Sock* listener) {
  for (auto it = reqhash_.begin(); it != reqhash_.end();) {
    if (it->second->rsk_listener == listener)
      it = reqhash_.erase(it);
    else
      ++it;
  }
}

// --- time-wait ------------------------------------------------------------------------------

TcpTimewaitSock* TcpStackState::tw_insert(const InetTuple& key,
                                          std::unique_ptr<TcpTimewaitSock> tw) {
  auto& slot = twhash_[key];
  slot = std::move(tw);
  return slot.get();
}

TcpTimewaitSock* TcpStackState::lookup_tw(const InetTuple& key) const {
  auto it = twhash_.find(key);
  return it == twhash_.end() ? nullptr : it->second.get();
}

std::unique_ptr<TcpTimewaitSock> TcpStackState::tw_remove(const InetTuple& key) {
  auto it = twhash_.find(key);
  if (it == twhash_.end()) return nullptr;
  auto tw = std::move(it->second);
  twhash_.erase(it);
  return tw;
}

// --- secrets ------------------------------------------------------------------------------------

void TcpStackState::set_secrets_from_seed(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (std::size_t i = 0; i < isn_secret_.size(); i += 8) {
    std::uint64_t v = rng();
    std::memcpy(isn_secret_.data() + i, &v, 8);
  }
  for (std::size_t i = 0; i < ts_secret_.size(); i += 8) {
    std::uint64_t v = rng();
    std::memcpy(ts_secret_.data() + i, &v, 8);
  }
  port_offset_ = static_cast<std::uint32_t>(rng());
  // Drawn last, so the seeds above keep giving the ISNs they always gave.
  for (SipKey& k : syncookie_secret_) {
    k.k0 = rng();
    k.k1 = rng();
  }
}

// --- freeing
// --------------------------------------------------------------------------------------

void TcpStackState::schedule_free(Sock* sk) {
  graveyard_.push_back(sk);
  if (free_scheduled_) return;
  free_scheduled_ = true;
  stack_.defer([this] { free_pending(); });
}

void TcpStackState::free_pending() {
  free_scheduled_ = false;
  std::vector<Sock*> dead;
  dead.swap(graveyard_);
  for (Sock* sk : dead) {
    all_socks_.erase(sk);
    if (sk->sk_prot && sk->sk_prot->destroy) sk->sk_prot->destroy(sk);
    delete sk;
  }
}

}  // namespace sp
