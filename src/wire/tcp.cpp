#include "wire/tcp.hpp"

#include <cstring>

#include "wire/checksum.hpp"

namespace sp {
namespace {

// Keep the first problem; later ones are usually its consequence.
void note(WireError* first, WireError e) {
  if (*first == WireError::kOk) *first = e;
}

bool valid_fastopen_len(std::size_t n) {
  return n == 0 || (n >= TCP_FASTOPEN_COOKIE_MIN && n <= TCP_FASTOPEN_COOKIE_MAX && n % 2 == 0);
}

void take_fastopen(const std::uint8_t* cookie, std::size_t n, bool exp, TcpOptions* out,
                   WireError* first) {
  if (!valid_fastopen_len(n)) {
    note(first, WireError::kTcpBadFastOpenLength);
    return;
  }
  // A later option replaces an earlier one whole: no bytes of a longer
  // earlier cookie may survive past the new length.
  out->fastopen = true;
  out->fastopen_exp = exp;
  out->fastopen_len = static_cast<std::uint8_t>(n);
  std::memset(out->fastopen_cookie, 0, sizeof out->fastopen_cookie);
  std::memcpy(out->fastopen_cookie, cookie, n);
}

}  // namespace

WireError tcp_parse_options(std::span<const std::uint8_t> opts, TcpOptions* out) {
  *out = TcpOptions{};
  WireError first = WireError::kOk;
  const std::uint8_t* p = opts.data();
  std::size_t left = opts.size();
  while (left > 0) {
    std::uint8_t kind = *p;
    if (kind == TCPOPT_EOL) break;
    if (kind == TCPOPT_NOP) {
      ++p;
      --left;
      continue;
    }
    if (left < 2) {
      note(&first, WireError::kTcpOptionPastHeader);
      break;
    }
    std::uint8_t optlen = p[1];
    if (optlen < 2) {
      note(&first, WireError::kTcpOptionBadLength);
      break;
    }
    if (optlen > left) {
      note(&first, WireError::kTcpOptionPastHeader);
      break;
    }
    const std::uint8_t* v = p + 2;
    switch (kind) {
      case TCPOPT_MSS:
        if (optlen == TCPOLEN_MSS)
          out->mss = load_be16(v);
        else
          note(&first, WireError::kTcpBadMssLength);
        break;
      case TCPOPT_WINDOW:
        if (optlen == TCPOLEN_WINDOW) {
          out->wscale_ok = true;
          out->wscale = v[0];
        } else {
          note(&first, WireError::kTcpBadWscaleLength);
        }
        break;
      case TCPOPT_SACK_PERM:
        if (optlen == TCPOLEN_SACK_PERM)
          out->sack_ok = true;
        else
          note(&first, WireError::kTcpBadSackPermLength);
        break;
      case TCPOPT_TIMESTAMP:
        if (optlen == TCPOLEN_TIMESTAMP) {
          out->saw_tstamp = true;
          out->ts_val = load_be32(v);
          out->ts_ecr = load_be32(v + 4);
        } else {
          note(&first, WireError::kTcpBadTimestampLength);
        }
        break;
      case TCPOPT_SACK: {
        // 2 + 8n; n <= 4 follows from the 40-byte option space.
        std::size_t body = optlen - TCPOLEN_SACK_BASE;
        if (body == 0 || body % TCPOLEN_SACK_PERBLOCK != 0) {
          note(&first, WireError::kTcpBadSackLength);
          break;
        }
        std::size_t n = body / TCPOLEN_SACK_PERBLOCK;
        // As with Fast Open, a second SACK option replaces the first whole.
        for (auto& blk : out->sacks) blk = TcpSackBlock{};
        for (std::size_t i = 0; i < n && i < TCP_NUM_SACKS; ++i) {
          out->sacks[i].start_seq = load_be32(v + 8 * i);
          out->sacks[i].end_seq = load_be32(v + 8 * i + 4);
        }
        out->num_sacks = static_cast<std::uint8_t>(n < TCP_NUM_SACKS ? n : TCP_NUM_SACKS);
        break;
      }
      case TCPOPT_MD5SIG:
        if (optlen == TCPOLEN_MD5SIG)
          out->saw_md5 = true;
        else
          note(&first, WireError::kTcpBadMd5Length);
        break;
      case TCPOPT_FASTOPEN:
        take_fastopen(v, optlen - TCPOLEN_FASTOPEN_BASE, false, out, &first);
        break;
      case TCPOPT_EXP:
        if (optlen >= TCPOLEN_EXP_FASTOPEN_BASE && load_be16(v) == TCPOPT_FASTOPEN_MAGIC)
          take_fastopen(v + 2, optlen - TCPOLEN_EXP_FASTOPEN_BASE, true, out, &first);
        else
          out->saw_unknown = true;
        break;
      default:
        out->saw_unknown = true;
        break;
    }
    p += optlen;
    left -= optlen;
  }
  return first;
}

static unsigned fastopen_size(const TcpOptions& o) {
  unsigned need =
      (o.fastopen_exp ? TCPOLEN_EXP_FASTOPEN_BASE : TCPOLEN_FASTOPEN_BASE) + o.fastopen_len;
  return (need + 3) & ~3u;
}

unsigned tcp_options_size(const TcpOptions& o) {
  unsigned size = 0;
  if (o.mss) size += TCPOLEN_MSS_ALIGNED;
  if (o.saw_tstamp)
    size += TCPOLEN_TSTAMP_ALIGNED;
  else if (o.sack_ok)
    size += TCPOLEN_SACKPERM_ALIGNED;
  if (o.wscale_ok) size += TCPOLEN_WSCALE_ALIGNED;
  if (o.num_sacks) size += TCPOLEN_SACK_BASE_ALIGNED + o.num_sacks * TCPOLEN_SACK_PERBLOCK;
  if (o.fastopen) size += fastopen_size(o);
  return size;
}

unsigned tcp_options_write(std::uint8_t* p, const TcpOptions& o) {
  std::uint8_t* const start = p;
  if (o.mss) {
    p[0] = TCPOPT_MSS;
    p[1] = TCPOLEN_MSS;
    store_be16(p + 2, o.mss);
    p += 4;
  }
  if (o.saw_tstamp) {
    // SACK-permitted takes the two bytes the NOPs would pad, saving a word.
    if (o.sack_ok) {
      p[0] = TCPOPT_SACK_PERM;
      p[1] = TCPOLEN_SACK_PERM;
    } else {
      p[0] = TCPOPT_NOP;
      p[1] = TCPOPT_NOP;
    }
    p[2] = TCPOPT_TIMESTAMP;
    p[3] = TCPOLEN_TIMESTAMP;
    store_be32(p + 4, o.ts_val);
    store_be32(p + 8, o.ts_ecr);
    p += 12;
  } else if (o.sack_ok) {
    p[0] = TCPOPT_NOP;
    p[1] = TCPOPT_NOP;
    p[2] = TCPOPT_SACK_PERM;
    p[3] = TCPOLEN_SACK_PERM;
    p += 4;
  }
  if (o.wscale_ok) {
    p[0] = TCPOPT_NOP;
    p[1] = TCPOPT_WINDOW;
    p[2] = TCPOLEN_WINDOW;
    p[3] = o.wscale;
    p += 4;
  }
  if (o.num_sacks) {
    p[0] = TCPOPT_NOP;
    p[1] = TCPOPT_NOP;
    p[2] = TCPOPT_SACK;
    p[3] = static_cast<std::uint8_t>(TCPOLEN_SACK_BASE + o.num_sacks * TCPOLEN_SACK_PERBLOCK);
    p += 4;
    for (int i = 0; i < o.num_sacks; ++i) {
      store_be32(p, o.sacks[i].start_seq);
      store_be32(p + 4, o.sacks[i].end_seq);
      p += 8;
    }
  }
  if (o.fastopen) {
    unsigned len;
    if (o.fastopen_exp) {
      len = TCPOLEN_EXP_FASTOPEN_BASE + o.fastopen_len;
      p[0] = TCPOPT_EXP;
      p[1] = static_cast<std::uint8_t>(len);
      store_be16(p + 2, TCPOPT_FASTOPEN_MAGIC);
      std::memcpy(p + 4, o.fastopen_cookie, o.fastopen_len);
    } else {
      len = TCPOLEN_FASTOPEN_BASE + o.fastopen_len;
      p[0] = TCPOPT_FASTOPEN;
      p[1] = static_cast<std::uint8_t>(len);
      std::memcpy(p + 2, o.fastopen_cookie, o.fastopen_len);
    }
    // Cookie lengths are even, so the option ends on a word or 2 short of one.
    unsigned padded = fastopen_size(o);
    for (unsigned i = len; i < padded; ++i) p[i] = TCPOPT_NOP;
    p += padded;
  }
  return static_cast<unsigned>(p - start);
}

WireResult<TcpView> TcpView::parse(std::span<const std::uint8_t> segment) {
  if (segment.size() < kTcpMinHeaderLen) return WireError::kTruncated;
  TcpView v(segment.data(), segment.size());
  if (v.doff() < 5) return WireError::kTcpBadDataOffset;
  if (v.header_len() > segment.size()) return WireError::kTcpHeaderPastBuffer;
  return v;
}

bool TcpView::verify_checksum(Ipv4Addr saddr, Ipv4Addr daddr) const {
  Wsum s = csum_partial(p_, len_, 0);
  return csum_tcpudp_magic(saddr, daddr, static_cast<std::uint32_t>(len_), IPPROTO_TCP_, s) == 0;
}

void tcp_header_write(std::uint8_t* th, const TcpHeader& h, std::uint8_t doff) {
  store_be16(th, h.source);
  store_be16(th + 2, h.dest);
  store_be32(th + 4, h.seq);
  store_be32(th + 8, h.ack_seq);
  th[12] = static_cast<std::uint8_t>(doff << 4);
  th[13] = h.flags;
  store_be16(th + 14, h.window);
  store_be16(th + 16, 0);
  store_be16(th + 18, h.urg_ptr);
}

WireResult<TcpRepr> TcpRepr::parse(std::span<const std::uint8_t> segment) {
  auto v = TcpView::parse(segment);
  if (!v) return v.error();
  TcpRepr r;
  r.hdr = TcpHeader{v->source(), v->dest(),   v->seq(),    v->ack_seq(),
                    v->flags(),  v->window(), v->urg_ptr()};
  if (WireError e = tcp_parse_options(v->options(), &r.opts); e != WireError::kOk) return e;
  return r;
}

void TcpRepr::emit(std::uint8_t* th) const {
  unsigned hl = header_len();
  tcp_header_write(th, hdr, static_cast<std::uint8_t>(hl / 4));
  tcp_options_write(th + kTcpMinHeaderLen, opts);
}

void TcpRepr::emit_with_checksum(std::uint8_t* th, std::size_t payload_len, Ipv4Addr saddr,
                                 Ipv4Addr daddr) const {
  emit(th);
  std::size_t len = header_len() + payload_len;
  Wsum s = csum_partial(th, len, 0);
  store_be16(th + kTcpCheckOffset, tcp_v4_check(static_cast<std::uint32_t>(len), saddr, daddr, s));
}

}  // namespace sp
