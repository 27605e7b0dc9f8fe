// The wire's side of a report: a pcap (ours or tcpdump's) read with libpcap,
// its busiest TCP connection picked, and the direction carrying the most
// payload turned into what tcptrace's time-sequence graph draws, in
// sequence numbers relative to that direction's ISN.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sp::report {

// One TCP/IPv4 segment of a capture (headers only; the payload's length
// comes from the IP header, so a snaplen-limited capture is enough).
struct TcpRecord {
  double t_ns = 0;
  std::uint32_t saddr = 0, daddr = 0;  // host order
  std::uint16_t sport = 0, dport = 0;
  std::uint32_t seq = 0, ack = 0;
  std::uint16_t win = 0;
  std::uint8_t flags = 0;  // FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10
  std::uint32_t payload = 0;
  int wscale = -1;  // the window-scale option, SYN only
  std::uint16_t mss = 0;
  std::uint8_t nsack = 0;
  std::uint32_t sack[4][2] = {};
};

// Reads every TCP/IPv4 segment of path (Ethernet, raw IP, Linux cooked v1
// and v2, BSD loopback; VLAN tags skipped). Returns "" or what went wrong.
std::string read_pcap(const std::string& path, std::vector<TcpRecord>& out);

// An item of the time-sequence graph: at time t (ns), from lo to hi in
// relative sequence space; k carries flag bits (see kMark*).
struct SeqItem {
  double t_ns;
  double lo, hi;
  std::uint8_t k = 0;
};
constexpr std::uint8_t kMarkSyn = 1, kMarkFin = 2, kMarkRst = 4, kMarkPsh = 8;

struct CaptureView {
  bool found = false;
  std::string flow;                                // "10.0.0.1:40000 -> 10.0.0.2:5001"
  double first_ns = 0, last_ns = 0;                // of the connection's packets
  std::vector<SeqItem> segments;                   // new data: I-beams seq..end_seq
  std::vector<SeqItem> retransmits;                // data at or below the highest sent
  std::vector<SeqItem> acks;                       // lo = hi = ack
  std::vector<SeqItem> rwnd;                       // lo = hi = ack + (win << wscale)
  std::vector<SeqItem> sacks;                      // one per SACK block
  std::vector<SeqItem> dupacks;                    // lo = hi = ack
  std::vector<SeqItem> marks;                      // SYN/FIN/RST/PSH, k says which
  std::vector<std::pair<double, double>> goodput;  // (t ns, Mbit/s) at each ACK
  std::vector<std::pair<std::string, std::string>> summary;
};

// Picks the connection with the most payload and, in it, the direction
// carrying the most payload.
CaptureView analyze_capture(const std::vector<TcpRecord>& recs);

}  // namespace sp::report
