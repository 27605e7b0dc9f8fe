// Parse errors of the wire formats. A parser never reads past its buffer: it
// returns one of these instead, naming what is wrong with the bytes.
#pragma once
#include <cstdint>
#include <utility>

namespace sp {

enum class WireError : std::uint8_t {
  kOk = 0,
  kTruncated,  // buffer shorter than the fixed header

  // ARP (RFC 826), Ethernet/IPv4 only
  kArpBadHardware,   // htype != 1 or hlen != 6
  kArpBadProtocol,   // ptype != 0x0800 or plen != 4
  kArpBadOperation,  // op not request (1) or reply (2)

  // IPv4 (RFC 791)
  kIpBadVersion,         // version != 4
  kIpBadIhl,             // ihl < 5
  kIpHeaderPastBuffer,   // ihl * 4 > bytes available
  kIpTotLenBelowHeader,  // tot_len < ihl * 4
  kIpTotLenPastBuffer,   // tot_len > bytes available
  kIpOptionBadLength,    // an option's length is 0 or 1
  kIpOptionPastHeader,   // an option runs past ihl * 4
  kIpBadChecksum,        // header checksum does not verify

  // ICMP (RFC 792)
  kIcmpBadChecksum,
  kIcmpQuotedTooShort,   // error message quotes less than an IPv4 header + 8 bytes
  kIcmpQuotedBadHeader,  // the quoted header is not IPv4 or has a bad IHL

  // TCP (RFC 9293 and the option RFCs)
  kTcpBadDataOffset,       // doff < 5
  kTcpHeaderPastBuffer,    // doff * 4 > bytes available
  kTcpOptionBadLength,     // an option's length byte is 0 or 1
  kTcpOptionPastHeader,    // an option (or its length byte) runs past doff * 4
  kTcpBadMssLength,        // MSS option length != 4
  kTcpBadWscaleLength,     // window scale option length != 3
  kTcpBadSackPermLength,   // SACK-permitted option length != 2
  kTcpBadTimestampLength,  // timestamp option length != 10
  kTcpBadSackLength,       // SACK option length not 2 + 8n with n >= 1
  kTcpBadMd5Length,        // MD5 signature option length != 18
  kTcpBadFastOpenLength,   // Fast Open cookie length not 0 or even 4..16
  kTcpBadChecksum,
};

const char* to_string(WireError e);

// A parsed value or the error that stopped the parse.
template <class T>
class WireResult {
 public:
  WireResult(T v) : value_(std::move(v)), err_(WireError::kOk) {}  // NOLINT: implicit on purpose
  WireResult(WireError e) : value_(), err_(e) {}                   // NOLINT
  bool ok() const { return err_ == WireError::kOk; }
  explicit operator bool() const { return ok(); }
  WireError error() const { return err_; }
  const T& value() const { return value_; }
  T& value() { return value_; }
  const T* operator->() const { return &value_; }
  T* operator->() { return &value_; }
  const T& operator*() const { return value_; }

 private:
  T value_;
  WireError err_;
};

}  // namespace sp
