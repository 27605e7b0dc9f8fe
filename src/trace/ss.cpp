// ss's socket listing of a Stack (see ss.hpp). The rules -- which field is
// printed when, in what unit and with what rounding -- are those of
// iproute2's misc/ss.c (tcp_show_info, tcp_stats_print, sprint_bw and the
// column renderer), restated here against tcp_info_612.
#include "trace/ss.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdarg>
#include <cstdio>
#include <tuple>

#include "core/stack.hpp"
#include "tcp/tcp.hpp"
#include "tcp/tcp_sock.hpp"
#include "tcp/tcp_stack_state.hpp"

namespace sp {

namespace {

// printf-style append: ss's output is defined by printf formats ("%g",
// "%.1f%%"), so they are kept rather than re-derived.
__attribute__((format(printf, 2, 3))) void appendf(std::string& out, const char* fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) out.append(buf, static_cast<std::size_t>(std::min<int>(n, sizeof buf - 1)));
}

std::string addr_text(std::uint32_t be_addr) {
  char a[INET_ADDRSTRLEN] = {};
  in_addr in{};
  in.s_addr = be_addr;
  ::inet_ntop(AF_INET, &in, a, sizeof a);
  return a;
}

SsEntry full_sock_entry(Sock* sk) {
  SsEntry e;
  const InetSock* inet = inet_sk(sk);
  const TcpSock* tp = tcp_sk(sk);
  e.state = sk->sk_state;
  e.src = inet->inet_rcv_saddr ? inet->inet_rcv_saddr : inet->inet_saddr;
  e.dst = inet->inet_daddr;
  e.sport = ntohs(inet->inet_sport);
  e.dport = ntohs(inet->inet_dport);
  // tcp_diag_get_info: a listener's queues are its accept queue and backlog.
  if (sk->sk_state == TCP_LISTEN) {
    e.rqueue = sk->sk_ack_backlog;
    e.wqueue = sk->sk_max_ack_backlog;
  } else {
    e.rqueue = static_cast<std::uint32_t>(
        std::max<std::int32_t>(static_cast<std::int32_t>(tp->rcv_nxt - tp->copied_seq), 0));
    e.wqueue = tp->write_seq - tp->snd_una;
  }
  const InetConnectionSock* icsk = inet_csk(sk);
  if (icsk->icsk_ca_ops) e.cong = icsk->icsk_ca_ops->name;
  tcp_get_info_612(sk, &e.info);
  e.has_info = true;
  return e;
}

}  // namespace

std::vector<SsEntry> ss_collect(Stack& st) {
  std::vector<SsEntry> listeners, conns;
  TcpStackState& tcp = st.tcp();
  tcp.for_each_sock([&](Sock* sk) {
    // A closed socket is in no hash table, so inet_diag never reports it.
    if (sk->sk_state == TCP_CLOSE) return;
    (sk->sk_state == TCP_LISTEN ? listeners : conns).push_back(full_sock_entry(sk));
  });
  tcp.for_each_reqsk([&](const InetTuple&, const RequestSock& req) {
    SsEntry e;
    e.state = TCP_SYN_RECV;  // inet_req_diag_fill
    e.src = req.ir_loc_addr;
    e.dst = req.ir_rmt_addr;
    e.sport = req.ir_num;
    e.dport = ntohs(req.ir_rmt_port);
    conns.push_back(e);
  });
  tcp.for_each_tw([&](const TcpTimewaitSock& tw) {
    SsEntry e;
    e.state = tw.tw_substate;  // inet_twsk_diag_fill: TIME-WAIT or FIN-WAIT-2
    e.src = tw.tw_rcv_saddr;
    e.dst = tw.tw_daddr;
    e.sport = tw.tw_num;
    e.dport = ntohs(tw.tw_dport);
    conns.push_back(e);
  });
  // inet_diag walks the listening hash, then the established hash; hash
  // order means nothing to a reader, so each part is sorted by address.
  auto key = [](const SsEntry& e) {
    return std::make_tuple(ntohl(e.src), e.sport, ntohl(e.dst), e.dport, e.state);
  };
  auto by_addr = [&](const SsEntry& a, const SsEntry& b) { return key(a) < key(b); };
  std::sort(listeners.begin(), listeners.end(), by_addr);
  std::sort(conns.begin(), conns.end(), by_addr);
  listeners.insert(listeners.end(), conns.begin(), conns.end());
  return listeners;
}

const char* ss_state_name(std::uint8_t state) {
  switch (state) {
    case TCP_ESTABLISHED:
      return "ESTAB";
    case TCP_SYN_SENT:
      return "SYN-SENT";
    case TCP_SYN_RECV:
      return "SYN-RECV";
    case TCP_FIN_WAIT1:
      return "FIN-WAIT-1";
    case TCP_FIN_WAIT2:
      return "FIN-WAIT-2";
    case TCP_TIME_WAIT:
      return "TIME-WAIT";
    case TCP_CLOSE:
      return "UNCONN";
    case TCP_CLOSE_WAIT:
      return "CLOSE-WAIT";
    case TCP_LAST_ACK:
      return "LAST-ACK";
    case TCP_LISTEN:
      return "LISTEN";
    case TCP_CLOSING:
      return "CLOSING";
    default:
      return "UNKNOWN";
  }
}

std::string ss_sprint_bw(double bps, bool numeric) {
  std::string s;
  if (numeric)
    appendf(s, "%.0f", bps);
  else if (bps >= 1e12)
    appendf(s, "%.3gT", bps / 1e12);
  else if (bps >= 1e9)
    appendf(s, "%.3gG", bps / 1e9);
  else if (bps >= 1e6)
    appendf(s, "%.3gM", bps / 1e6);
  else if (bps >= 1e3)
    appendf(s, "%.3gk", bps / 1e3);
  else
    appendf(s, "%g", bps);
  return s;
}

std::string ss_tcp_info_text(const SsEntry& e, const SsOptions& opt) {
  std::string out;
  if (!e.has_info) return out;
  const ::tcp_info& i = e.info.v;
  using ull = unsigned long long;
  // ss -i without -o leaves out the ts/sack/ecn option words.
  if (!e.cong.empty()) appendf(out, " %s", e.cong.c_str());
  if (i.tcpi_options & TCPI_OPT_WSCALE)
    appendf(out, " wscale:%d,%d", i.tcpi_snd_wscale, i.tcpi_rcv_wscale);
  // 3 s was the initial RTO of old kernels: ss hides it as "nothing measured".
  if (i.tcpi_rto && i.tcpi_rto != 3000000) appendf(out, " rto:%g", i.tcpi_rto / 1000.0);
  if (i.tcpi_backoff) appendf(out, " backoff:%u", i.tcpi_backoff);
  if (i.tcpi_rtt) appendf(out, " rtt:%g/%g", i.tcpi_rtt / 1000.0, i.tcpi_rttvar / 1000.0);
  if (i.tcpi_ato) appendf(out, " ato:%g", i.tcpi_ato / 1000.0);
  if (i.tcpi_snd_mss) appendf(out, " mss:%d", static_cast<int>(i.tcpi_snd_mss));
  if (i.tcpi_pmtu) appendf(out, " pmtu:%u", i.tcpi_pmtu);
  if (i.tcpi_rcv_mss) appendf(out, " rcvmss:%d", static_cast<int>(i.tcpi_rcv_mss));
  if (i.tcpi_advmss) appendf(out, " advmss:%d", static_cast<int>(i.tcpi_advmss));
  if (i.tcpi_snd_cwnd) appendf(out, " cwnd:%u", i.tcpi_snd_cwnd);
  // An ssthresh of 0xFFFF or more is TCP_INFINITE_SSTHRESH: not set yet.
  if (i.tcpi_snd_ssthresh && i.tcpi_snd_ssthresh < 0xFFFF)
    appendf(out, " ssthresh:%d", static_cast<int>(i.tcpi_snd_ssthresh));
  if (i.tcpi_bytes_sent) appendf(out, " bytes_sent:%llu", static_cast<ull>(i.tcpi_bytes_sent));
  if (i.tcpi_bytes_retrans)
    appendf(out, " bytes_retrans:%llu", static_cast<ull>(i.tcpi_bytes_retrans));
  if (i.tcpi_bytes_acked) appendf(out, " bytes_acked:%llu", static_cast<ull>(i.tcpi_bytes_acked));
  if (i.tcpi_bytes_received)
    appendf(out, " bytes_received:%llu", static_cast<ull>(i.tcpi_bytes_received));
  if (i.tcpi_segs_out) appendf(out, " segs_out:%u", i.tcpi_segs_out);
  if (i.tcpi_segs_in) appendf(out, " segs_in:%u", i.tcpi_segs_in);
  if (i.tcpi_data_segs_out) appendf(out, " data_segs_out:%u", i.tcpi_data_segs_out);
  if (i.tcpi_data_segs_in) appendf(out, " data_segs_in:%u", i.tcpi_data_segs_in);
  // "send": what cwnd allows per RTT, cwnd * mss * 8 / srtt.
  if (i.tcpi_rtt && i.tcpi_snd_mss && i.tcpi_snd_cwnd) {
    const double bps = static_cast<double>(i.tcpi_snd_cwnd) * static_cast<double>(i.tcpi_snd_mss) *
                       8000000.0 / static_cast<double>(i.tcpi_rtt);
    appendf(out, " send %sbps", ss_sprint_bw(bps, opt.numeric).c_str());
  }
  if (i.tcpi_last_data_sent) appendf(out, " lastsnd:%u", i.tcpi_last_data_sent);
  if (i.tcpi_last_data_recv) appendf(out, " lastrcv:%u", i.tcpi_last_data_recv);
  if (i.tcpi_last_ack_recv) appendf(out, " lastack:%u", i.tcpi_last_ack_recv);
  // ~0 is "no pacing limit" (sk_pacing_rate / SO_MAX_PACING_RATE unset).
  constexpr std::uint64_t kUnlimited = ~std::uint64_t{0};
  if (i.tcpi_pacing_rate && i.tcpi_pacing_rate != kUnlimited) {
    appendf(out, " pacing_rate %sbps",
            ss_sprint_bw(static_cast<double>(i.tcpi_pacing_rate) * 8.0, opt.numeric).c_str());
    if (i.tcpi_max_pacing_rate && i.tcpi_max_pacing_rate != kUnlimited)
      appendf(out, "/%sbps",
              ss_sprint_bw(static_cast<double>(i.tcpi_max_pacing_rate) * 8.0, opt.numeric).c_str());
  }
  if (i.tcpi_delivery_rate)
    appendf(out, " delivery_rate %sbps",
            ss_sprint_bw(static_cast<double>(i.tcpi_delivery_rate) * 8.0, opt.numeric).c_str());
  if (i.tcpi_delivered) appendf(out, " delivered:%u", i.tcpi_delivered);
  if (i.tcpi_delivered_ce) appendf(out, " delivered_ce:%u", i.tcpi_delivered_ce);
  if (i.tcpi_delivery_rate_app_limited) out += " app_limited";
  // Chronographs: whole milliseconds (truncated), shares of busy time.
  if (i.tcpi_busy_time) {
    appendf(out, " busy:%llums", static_cast<ull>(i.tcpi_busy_time / 1000));
    if (i.tcpi_rwnd_limited)
      appendf(
          out, " rwnd_limited:%llums(%.1f%%)", static_cast<ull>(i.tcpi_rwnd_limited / 1000),
          100.0 * static_cast<double>(i.tcpi_rwnd_limited) / static_cast<double>(i.tcpi_busy_time));
    if (i.tcpi_sndbuf_limited)
      appendf(out, " sndbuf_limited:%llums(%.1f%%)", static_cast<ull>(i.tcpi_sndbuf_limited / 1000),
              100.0 * static_cast<double>(i.tcpi_sndbuf_limited) /
                  static_cast<double>(i.tcpi_busy_time));
  }
  if (i.tcpi_unacked) appendf(out, " unacked:%u", i.tcpi_unacked);
  if (i.tcpi_retrans || i.tcpi_total_retrans)
    appendf(out, " retrans:%u/%u", i.tcpi_retrans, i.tcpi_total_retrans);
  if (i.tcpi_lost) appendf(out, " lost:%u", i.tcpi_lost);
  // A listener's tcpi_sacked is its backlog limit, not SACKed segments.
  if (i.tcpi_sacked && e.state != TCP_LISTEN) appendf(out, " sacked:%u", i.tcpi_sacked);
  if (i.tcpi_dsack_dups) appendf(out, " dsack_dups:%u", i.tcpi_dsack_dups);
  if (i.tcpi_fackets) appendf(out, " fackets:%u", i.tcpi_fackets);
  // 3 is the default (net.ipv4.tcp_reordering): shown only when it moved.
  if (i.tcpi_reordering != 3) appendf(out, " reordering:%d", static_cast<int>(i.tcpi_reordering));
  if (i.tcpi_reord_seen) appendf(out, " reord_seen:%d", static_cast<int>(i.tcpi_reord_seen));
  if (i.tcpi_rcv_rtt) appendf(out, " rcv_rtt:%g", i.tcpi_rcv_rtt / 1000.0);
  if (i.tcpi_rcv_space) appendf(out, " rcv_space:%d", static_cast<int>(i.tcpi_rcv_space));
  if (i.tcpi_rcv_ssthresh) appendf(out, " rcv_ssthresh:%u", i.tcpi_rcv_ssthresh);
  if (i.tcpi_notsent_bytes) appendf(out, " notsent:%u", i.tcpi_notsent_bytes);
  if (i.tcpi_min_rtt && i.tcpi_min_rtt != ~0u) appendf(out, " minrtt:%g", i.tcpi_min_rtt / 1000.0);
  if (i.tcpi_rcv_ooopack) appendf(out, " rcv_ooopack:%u", i.tcpi_rcv_ooopack);
  if (i.tcpi_snd_wnd) appendf(out, " snd_wnd:%u", i.tcpi_snd_wnd);
  if (e.info.tcpi_rcv_wnd) appendf(out, " rcv_wnd:%u", e.info.tcpi_rcv_wnd);
  if (e.info.tcpi_rehash) appendf(out, " rehash:%u", e.info.tcpi_rehash);
  return out;
}

namespace {

// ss's columns (Netid is off under -t): header, alignment, left delimiter.
struct Column {
  const char* header;
  bool right;
  const char* ldelim;
};
constexpr std::array<Column, 8> kColumns = {{{"State", false, " "},
                                             {"Recv-Q", false, " "},
                                             {"Send-Q", false, " "},
                                             {"Local Address:", true, " "},
                                             {"Port", false, ""},
                                             {"Peer Address:", true, " "},
                                             {"Port", false, ""},
                                             {"Process", false, ""}}};
using Row = std::array<std::string, kColumns.size()>;

Row row_of(const SsEntry& e) {
  Row r;
  r[0] = ss_state_name(e.state);
  appendf(r[1], "%-6u", e.rqueue);
  appendf(r[2], "%-6u", e.wqueue);
  r[3] = addr_text(e.src) + ":";
  r[4] = e.sport ? std::to_string(e.sport) : "*";
  r[5] = addr_text(e.dst) + ":";
  r[6] = e.dport ? std::to_string(e.dport) : "*";
  return r;
}

void rtrim_blanks(std::string& s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
}

// struct tcp_info's fields in their order (a macro, not member pointers,
// because some are bitfields).
// clang-format off
#define SP_TCP_INFO_FIELDS(X)                                                                \
  X(tcpi_state) X(tcpi_ca_state) X(tcpi_retransmits) X(tcpi_probes) X(tcpi_backoff)          \
  X(tcpi_options) X(tcpi_snd_wscale) X(tcpi_rcv_wscale) X(tcpi_delivery_rate_app_limited)    \
  X(tcpi_fastopen_client_fail) X(tcpi_rto) X(tcpi_ato) X(tcpi_snd_mss) X(tcpi_rcv_mss)       \
  X(tcpi_unacked) X(tcpi_sacked) X(tcpi_lost) X(tcpi_retrans) X(tcpi_fackets)                \
  X(tcpi_last_data_sent) X(tcpi_last_ack_sent) X(tcpi_last_data_recv) X(tcpi_last_ack_recv)  \
  X(tcpi_pmtu) X(tcpi_rcv_ssthresh) X(tcpi_rtt) X(tcpi_rttvar) X(tcpi_snd_ssthresh)          \
  X(tcpi_snd_cwnd) X(tcpi_advmss) X(tcpi_reordering) X(tcpi_rcv_rtt) X(tcpi_rcv_space)       \
  X(tcpi_total_retrans) X(tcpi_pacing_rate) X(tcpi_max_pacing_rate) X(tcpi_bytes_acked)      \
  X(tcpi_bytes_received) X(tcpi_segs_out) X(tcpi_segs_in) X(tcpi_notsent_bytes)              \
  X(tcpi_min_rtt) X(tcpi_data_segs_in) X(tcpi_data_segs_out) X(tcpi_delivery_rate)           \
  X(tcpi_busy_time) X(tcpi_rwnd_limited) X(tcpi_sndbuf_limited) X(tcpi_delivered)            \
  X(tcpi_delivered_ce) X(tcpi_bytes_sent) X(tcpi_bytes_retrans) X(tcpi_dsack_dups)           \
  X(tcpi_reord_seen) X(tcpi_rcv_ooopack) X(tcpi_snd_wnd)
// clang-format on

// {"tcpi_state":1,...}: every field of tcp_info_612 under its kernel name.
std::string tcp_info_json(const tcp_info_612& ext) {
  const ::tcp_info& i = ext.v;
  std::string out = "{";
  auto field = [&out](const char* name, std::uint64_t v) {
    out += fmt::format("{}\"{}\":{}", out.size() > 1 ? "," : "", name, v);
  };
#define SP_TCPI_JSON(n) field(#n, static_cast<std::uint64_t>(i.n));
  SP_TCP_INFO_FIELDS(SP_TCPI_JSON)
#undef SP_TCPI_JSON
  field("tcpi_rcv_wnd", ext.tcpi_rcv_wnd);
  field("tcpi_rehash", ext.tcpi_rehash);
  field("tcpi_total_rto", ext.tcpi_total_rto);
  field("tcpi_total_rto_recoveries", ext.tcpi_total_rto_recoveries);
  field("tcpi_total_rto_time", ext.tcpi_total_rto_time);
  return out + "}";
}

}  // namespace

std::string ss_text(const std::vector<SsEntry>& entries, const SsOptions& opt) {
  std::vector<Row> rows;
  Row header;
  for (std::size_t c = 0; c < kColumns.size(); ++c) header[c] = kColumns[c].header;
  rows.push_back(header);
  for (const SsEntry& e : entries) rows.push_back(row_of(e));
  // render_calc_width without a terminal: each column is as wide as its
  // widest cell, plus its delimiter unless it opens the line.
  std::array<std::size_t, kColumns.size()> width{};
  for (const Row& r : rows)
    for (std::size_t c = 0; c < kColumns.size(); ++c) width[c] = std::max(width[c], r[c].size());
  for (std::size_t c = 1; c < kColumns.size(); ++c)
    if (width[c]) width[c] += std::string_view(kColumns[c].ldelim).size();

  std::string out;
  for (std::size_t n = 0; n < rows.size(); ++n) {
    std::string line;
    for (std::size_t c = 0; c < kColumns.size(); ++c) {
      const std::string& cell = rows[n][c];
      std::size_t printed = 0;
      if (c > 0) {
        line += kColumns[c].ldelim;
        printed = std::string_view(kColumns[c].ldelim).size();
      }
      if (kColumns[c].right && width[c] > cell.size() + printed) {
        const std::size_t pad = width[c] - cell.size() - printed;
        line.append(pad, ' ');
        printed += pad;
      }
      line += cell;
      printed += cell.size();
      if (!kColumns[c].right && width[c] > printed) line.append(width[c] - printed, ' ');
    }
    rtrim_blanks(line);
    out += line;
    out += '\n';
    if (n > 0) {
      out += '\t';
      out += ss_tcp_info_text(entries[n - 1], opt);
      out += '\n';
    }
  }
  return out;
}

std::string ss_json(const std::vector<SsEntry>& entries) {
  std::string out = "[";
  bool first = true;
  for (const SsEntry& e : entries) {
    out += fmt::format(
        "{}{{\"state\":\"{}\",\"local\":\"{}:{}\",\"peer\":\"{}:{}\",\"recv_q\":{},\"send_q\":{}",
        first ? "" : ",", ss_state_name(e.state), addr_text(e.src), e.sport, addr_text(e.dst),
        e.dport, e.rqueue, e.wqueue);
    first = false;
    if (e.has_info) {
      out += fmt::format(",\"cong\":\"{}\",\"tcp_info\":", e.cong);
      out += tcp_info_json(e.info);
    }
    out += "}";
  }
  out += "]";
  return out;
}

}  // namespace sp
