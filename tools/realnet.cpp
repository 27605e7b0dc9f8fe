#include "realnet.hpp"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstring>

#include "dev/tap.hpp"
#include "ip/arp.hpp"

namespace sp::tools {

void add_realnet_options(CLI::App& app, RealNetOptions& o) {
  app.add_option("--dev", o.dev, "tap/tun interface to attach to (created if missing)")
      ->capture_default_str();
  app.add_flag("--tun", o.tun, "use a tun device (raw IP, no Ethernet/ARP) instead of a tap");
  app.add_option("--netns", o.netns,
                 "open the device inside this network namespace (see scripts/netns-lab)");
  app.add_option("--addr", o.addr, "our address/prefix on the link")->capture_default_str();
  app.add_option("--gw", o.gw, "default gateway");
  app.add_option("--mac", o.mac, "our MAC address (tap; random when omitted)");
  app.add_option("--pcap", o.pcap, "write every frame crossing the device to this pcap file");
  app.add_flag("--no-tso", o.no_tso, "do not negotiate TSO with the kernel (software GSO)");
  app.add_flag("--no-csum", o.no_csum, "no checksum offload either (implies --no-tso)");
  app.add_flag("--up", o.bring_up, "set the kernel end of the device up");
  app.add_option("--mtu", o.mtu, "link MTU")->capture_default_str();
  app.add_option("--cc", o.cc, "congestion control for our sockets (TCP_CONGESTION)");
  app.add_option("--sysctl", o.sysctls, "stack sysctl name=value (repeatable)");
  app.add_option("--trace", o.trace, "write trace events to this file (- for stdout)");
  app.add_option("--trace-format", o.trace_format, "json (one object per line, default) or text")
      ->check(CLI::IsMember({"json", "text"}));
  app.add_option("--trace-events", o.trace_events,
                 "events for --trace: names, systems or all (default: tcp,sock,skb,net,"
                 "sendpath:tcp_write_xmit,sendpath:tcp_recovery_event)");
}

bool parse_prefix(const std::string& s, be32* addr, int* prefix) {
  const auto slash = s.find('/');
  const std::string a = s.substr(0, slash);
  *prefix = 24;
  if (slash != std::string::npos) {
    try {
      *prefix = std::stoi(s.substr(slash + 1));
    } catch (...) {
      return false;
    }
    if (*prefix < 0 || *prefix > 32) return false;
  }
  in_addr in{};
  if (::inet_pton(AF_INET, a.c_str(), &in) != 1) return false;
  *addr = in.s_addr;
  return true;
}

bool parse_host_port(const std::string& s, be32* addr, std::uint16_t* port) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  in_addr in{};
  if (::inet_pton(AF_INET, s.substr(0, colon).c_str(), &in) != 1) return false;
  int p = 0;
  try {
    p = std::stoi(s.substr(colon + 1));
  } catch (...) {
    return false;
  }
  if (p <= 0 || p > 65535) return false;
  *addr = in.s_addr;
  *port = static_cast<std::uint16_t>(p);
  return true;
}

RealNet::RealNet(const RealNetOptions& o) {
  stack_ = std::make_unique<Stack>(clock_);
  stack_->set_name(o.name);
  if (!o.trace.empty()) {
    error_ = trace_.open(o.trace, o.trace_events, o.trace_format);
    if (!error_.empty()) {
      error_ = "--trace: " + error_;
      return;
    }
  }
  for (const auto& kv : o.sysctls) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos) {
      error_ = "--sysctl wants name=value: " + kv;
      return;
    }
    std::string e = stack_->sysctl().set(kv.substr(0, eq), kv.substr(eq + 1));
    if (!e.empty()) {
      error_ = e;
      return;
    }
  }
  if (!o.cc.empty()) stack_->sysctl().tcp_congestion_control = o.cc;
  TunConfig cfg;
  cfg.name = o.dev;
  cfg.netns = o.netns;
  cfg.csum = !o.no_csum;
  cfg.tso = !o.no_tso && !o.no_csum;
  cfg.bring_up = o.bring_up;
  cfg.mtu = o.mtu;
  std::unique_ptr<TunFdDevice> dev;
  if (o.tun) {
    dev = TunDevice::open(cfg, &error_);
  } else {
    std::optional<std::array<std::uint8_t, 6>> mac;
    if (!o.mac.empty()) {
      mac = parse_mac(o.mac);
      if (!mac) {
        error_ = "bad --mac: " + o.mac;
        return;
      }
    }
    dev = TapDevice::open(cfg, &error_, mac);
  }
  if (!dev) return;
  if (!o.pcap.empty()) {
    error_ = dev->open_pcap(o.pcap);
    if (!error_.empty()) return;
  }
  dev_ = dev.get();
  const int ifindex = stack_->register_netdev(std::move(dev));
  int prefix = 0;
  if (!parse_prefix(o.addr, &local_, &prefix)) {
    error_ = "bad --addr: " + o.addr;
    return;
  }
  stack_->add_address(ifindex, local_, prefix);
  if (!o.gw.empty()) {
    in_addr gw{};
    if (::inet_pton(AF_INET, o.gw.c_str(), &gw) != 1) {
      error_ = "bad --gw: " + o.gw;
      return;
    }
    stack_->add_route(0, 0, gw.s_addr, ifindex);
  }
  loop_ = std::make_unique<RealtimeLoop>(*stack_);
  loop_->install_wait_driver();
  // The device is up and addressed: tell the link (RFC 5227 announcement).
  arp_announce(*stack_, ifindex);
}

RealNet::~RealNet() {
  if (dev_) dev_->close_pcap();
}

std::uint64_t PayloadStream::next() {
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void PayloadStream::fill(std::uint8_t* p, std::size_t n) {
  while (n > 0 && left_ > 0) {
    *p++ = static_cast<std::uint8_t>(word_);
    word_ >>= 8;
    --left_;
    --n;
  }
  while (n >= 8) {
    const std::uint64_t w = next();
    std::memcpy(p, &w, 8);
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    word_ = next();
    left_ = 8;
    while (n > 0) {
      *p++ = static_cast<std::uint8_t>(word_);
      word_ >>= 8;
      --left_;
      --n;
    }
  }
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr);
}
Sha256::~Sha256() {
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
}
void Sha256::update(const void* p, std::size_t n) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), p, n);
}
std::string Sha256::hex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &len);
  std::string s;
  char b[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(b, sizeof(b), "%02x", md[i]);
    s += b;
  }
  return s;
}

double cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace sp::tools
