#include "wire/error.hpp"

#include <cstdio>

#include "wire/bytes.hpp"

namespace sp {

const char* to_string(WireError e) {
  switch (e) {
    case WireError::kOk:
      return "ok";
    case WireError::kTruncated:
      return "too short";
    case WireError::kArpBadHardware:
      return "ARP hardware type/length is not Ethernet";
    case WireError::kArpBadProtocol:
      return "ARP protocol type/length is not IPv4";
    case WireError::kArpBadOperation:
      return "ARP operation is not request or reply";
    case WireError::kIpBadVersion:
      return "IPv4 bad version";
    case WireError::kIpBadIhl:
      return "IPv4 bad IHL (below 5)";
    case WireError::kIpHeaderPastBuffer:
      return "IPv4 header length past buffer";
    case WireError::kIpTotLenBelowHeader:
      return "IPv4 total length below header length";
    case WireError::kIpTotLenPastBuffer:
      return "IPv4 total length past buffer";
    case WireError::kIpOptionBadLength:
      return "IPv4 option length 0 or 1";
    case WireError::kIpOptionPastHeader:
      return "IPv4 option past header";
    case WireError::kIpBadChecksum:
      return "IPv4 bad header checksum";
    case WireError::kIcmpBadChecksum:
      return "ICMP bad checksum";
    case WireError::kIcmpQuotedTooShort:
      return "ICMP error quotes less than IP header + 8 bytes";
    case WireError::kIcmpQuotedBadHeader:
      return "ICMP error quotes a malformed IPv4 header";
    case WireError::kTcpBadDataOffset:
      return "TCP bad data offset (below 5)";
    case WireError::kTcpHeaderPastBuffer:
      return "TCP data offset past buffer";
    case WireError::kTcpOptionBadLength:
      return "TCP option length 0 or 1";
    case WireError::kTcpOptionPastHeader:
      return "TCP option past header";
    case WireError::kTcpBadMssLength:
      return "TCP MSS option length not 4";
    case WireError::kTcpBadWscaleLength:
      return "TCP window scale option length not 3";
    case WireError::kTcpBadSackPermLength:
      return "TCP SACK-permitted option length not 2";
    case WireError::kTcpBadTimestampLength:
      return "TCP timestamp option length not 10";
    case WireError::kTcpBadSackLength:
      return "TCP SACK option length not 2 + 8n (odd block count)";
    case WireError::kTcpBadMd5Length:
      return "TCP MD5 option length not 18";
    case WireError::kTcpBadFastOpenLength:
      return "TCP Fast Open cookie length invalid";
    case WireError::kTcpBadChecksum:
      return "TCP bad checksum";
  }
  return "unknown wire error";
}

std::string ipv4_to_string(Ipv4Addr a) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff,
                a & 0xff);
  return buf;
}

std::string mac_to_string(const MacAddr& m) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
                m[5]);
  return buf;
}

}  // namespace sp
