// Every TCP socket of a Stack as iproute2's `ss -tia` lists it (misc/ss.c):
// the state / Recv-Q / Send-Q / Local / Peer line, then the indented
// TCP_INFO line with ss's labels, units and rounding (tcp_show_info and
// tcp_stats_print), computed from tcp_get_info_612 as ss computes them
// from the kernel's struct tcp_info.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sendpath/api.hpp"

namespace sp {

class Stack;

// One row of the listing: what inet_diag reports for a socket.
struct SsEntry {
  std::uint8_t state = 0;              // TCP_ESTABLISHED .. TCP_CLOSING (Linux's numbers)
  std::uint32_t src = 0, dst = 0;      // local and peer address, network order
  std::uint16_t sport = 0, dport = 0;  // host order; 0 prints as "*"
  // idiag_rqueue / idiag_wqueue: unread and unacknowledged bytes, or for a
  // listener its accept queue and backlog.
  std::uint32_t rqueue = 0, wqueue = 0;
  std::string cong;       // INET_DIAG_CONG (full sockets only)
  bool has_info = false;  // time-wait and request socks carry no tcp_info
  tcp_info_612 info{};
};

struct SsOptions {
  // -n: rates as whole bits per second ("send 1289000000bps"); otherwise
  // ss's short form ("send 1.29Gbps").
  bool numeric = false;
};

// Every socket ss -ta would list: listeners, then full sockets, request
// socks (SYN-RECV) and time-wait socks in order of local then peer
// address and port. Closed, unhashed sockets are not listed (ss cannot see
// them either).
std::vector<SsEntry> ss_collect(Stack& st);

// ss's state name: ESTAB, SYN-SENT, ..., LISTEN, CLOSING.
const char* ss_state_name(std::uint8_t state);

// A rate in bit/s as ss's sprint_bw prints it: "%.3gG" and so on.
std::string ss_sprint_bw(double bps, bool numeric);

// The TCP_INFO part of the second line, starting with a space
// (" cubic wscale:7,7 rto:204 ..."); empty without tcp_info.
std::string ss_tcp_info_text(const SsEntry& e, const SsOptions& opt = {});

// The whole listing: header, then per socket its line and "\t" + info line,
// columns sized as ss sizes them when stdout is not a terminal (each column
// as wide as its widest cell). Trailing blanks are trimmed.
std::string ss_text(const std::vector<SsEntry>& entries, const SsOptions& opt = {});

// A JSON array, one object per socket: state, addresses, queues,
// congestion control and the raw tcp_info fields under their tcpi_ names.
std::string ss_json(const std::vector<SsEntry>& entries);

}  // namespace sp
