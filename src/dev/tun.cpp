// The fd side of tun and tap: virtio_net_hdr in and out, writev of TSO skbs,
// batched reads into skbs with page frags. Semantics follow
// drivers/net/tun.c (tun_get_user / tun_put_user) and
// include/linux/virtio_net.h (virtio_net_hdr_from_skb / _to_skb).
#include "dev/tun.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <vector>

namespace sp {

namespace {

constexpr std::uint32_t kRxPageOrder = SKB_FRAG_PAGE_ORDER;  // 32 KiB pages

// RFC 1071 sum of a byte range, for completing partial checksums in the
// capture copy only (the data path never computes them here).
std::uint32_t ones_sum(const std::uint8_t* p, std::size_t n, std::uint32_t sum) {
  std::uint64_t acc = sum;
  while (n >= 2) {
    acc += static_cast<std::uint32_t>(p[0]) << 8 | p[1];
    p += 2;
    n -= 2;
  }
  if (n) acc += static_cast<std::uint32_t>(p[0]) << 8;
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<std::uint32_t>(acc);
}

// Byte offset of the TCP payload in a frame, from the skb's transport
// header when it is set; 0 when unknown.
std::uint32_t tcp_headers_len(const SkBuff* skb) {
  if (skb->transport_header == 0xffff) return 0;
  const std::uint32_t thoff = static_cast<std::uint32_t>(skb->transport_header) - skb_headroom(skb);
  if (thoff + 20 > skb_headlen(skb)) return 0;
  const std::uint32_t doff = (skb->data[thoff + 12] >> 4) * 4u;
  if (doff < 20 || thoff + doff > skb_headlen(skb)) return 0;
  return thoff + doff;
}

}  // namespace

TunFdDevice::TunFdDevice(int fd, LinkType link, bool vnet_hdr, std::uint64_t feats)
    : fd_(fd), vnet_hdr_(vnet_hdr) {
  type = link;
  hard_header_len = link == LinkType::kEthernet ? 14 : 0;
  // Without the vnet header there is nowhere to say "checksum pending" or
  // "segment me", so no offload can be honoured.
  features = vnet_hdr ? feats : 0;
  const int fl = fcntl(fd_, F_GETFL);
  if (fl >= 0) fcntl(fd_, F_SETFL, fl | O_NONBLOCK);
}

TunFdDevice::~TunFdDevice() {
  close_pcap();
  for (Page*& p : rx_pages_) {
    if (p) put_page(p);
    p = nullptr;
  }
  if (fd_ >= 0) ::close(fd_);
}

NetdevTx TunFdDevice::xmit(SkbPtr skb) {
  VirtioNetHdr vh;
  const SkbSharedInfo* sh = skb_shinfo(skb.get());
  if (sh->gso_size) {
    std::uint32_t hlen = tcp_headers_len(skb.get());
    if (hlen == 0) hlen = skb_headlen(skb.get());
    // A GSO skb that fits one segment goes out as a plain frame.
    if (skb->len > hlen + sh->gso_size) {
      if (!(features & NETIF_F_TSO) || !(sh->gso_type & SKB_GSO_TCPV4)) {
        // The IP layer segments for devices without TSO; getting here is a
        // bug upstream, and the kernel would reject the frame anyway.
        stats.tx_dropped++;
        kfree_skb(std::move(skb));
        return NETDEV_TX_OK;
      }
      vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
      vh.gso_size = sh->gso_size;
      // tun uses hdr_len as a hint for how much to make linear.
      vh.hdr_len = static_cast<std::uint16_t>(std::min(hlen, skb_headlen(skb.get())));
    }
  }
  if (skb->ip_summed == IpSummed::CHECKSUM_PARTIAL) {
    if (!vnet_hdr_) {
      stats.tx_dropped++;
      kfree_skb(std::move(skb));
      return NETDEV_TX_OK;
    }
    vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    vh.csum_start = static_cast<std::uint16_t>(skb->csum_start - skb_headroom(skb.get()));
    vh.csum_offset = skb->csum_offset;
  }

  iovec iov[2 + MAX_SKB_FRAGS];
  int n = 0;
  if (vnet_hdr_) iov[n++] = {&vh, sizeof(vh)};
  if (skb_headlen(skb.get())) iov[n++] = {skb->data, skb_headlen(skb.get())};
  for (int i = 0; i < sh->nr_frags; ++i) {
    iov[n++] = {skb_frag_address(&sh->frags[i]), sh->frags[i].size};
  }

  std::size_t want = 0;
  for (int i = 0; i < n; ++i) want += iov[i].iov_len;
  if (gone_) {
    stats.tx_dropped++;
    kfree_skb(std::move(skb));
    return NETDEV_TX_OK;
  }
  const ssize_t w = do_writev(iov, n);
  if (w < 0 || static_cast<std::size_t>(w) != want) {
    const int err = w < 0 ? errno : 0;
    stats.tx_errors++;
    stats.tx_dropped++;
    tun_stats_.tx_write_errors++;
    kfree_skb(std::move(skb));
    if (w >= 0) {
      // The kernel took a truncated frame (tun never does this; a device
      // that did would put a runt on the wire): the frame is lost, and TCP
      // repairs it as any other loss.
      tun_stats_.tx_short_writes++;
      return NETDEV_TX_OK;
    }
    switch (err) {
      case EAGAIN:
      case ENOBUFS:
      case ENOMEM:
      case EINTR:
        // The kernel could not take the frame now: a full queue, as a
        // driver's NETDEV_TX_BUSY or a qdisc's drop. The caller hears
        // -ENOBUFS, which TCP treats as local congestion (CWR) and sends
        // the data again later; nothing went on the wire.
        tun_stats_.tx_busy++;
        return NETDEV_TX_BUSY;
      case EIO:
        // tun_get_user refuses frames while the interface is down: the
        // link has no carrier and the frame is lost on it.
        tun_stats_.tx_carrier_errors++;
        set_carrier(false);
        return NETDEV_TX_OK;
      case EBADFD:
      case EBADF:
      case ENODEV:
      case ENXIO:
      case EPIPE:
        lost_device();
        return NETDEV_TX_OK;
      default:
        // EINVAL, EFAULT: the kernel rejected this frame; later ones may pass.
        return NETDEV_TX_OK;
    }
  }
  set_carrier(true);
  if (pcap_) capture(skb.get(), nullptr);
  stats.tx_packets++;
  stats.tx_bytes += skb->len;
  if (vh.gso_type != VIRTIO_NET_HDR_GSO_NONE) tun_stats_.tx_gso_frames++;
  if (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) tun_stats_.tx_csum_partial++;
  consume_skb(std::move(skb));
  return NETDEV_TX_OK;
}

bool TunFdDevice::refill_rx_pages() {
  for (Page*& p : rx_pages_) {
    if (!p) p = alloc_pages(kRxPageOrder);
    if (!p) return false;
  }
  return true;
}

SkbPtr TunFdDevice::read_one(bool* again) {
  *again = false;
  SkbPtr skb = alloc_skb_with_headroom(kRxHeadroom, kRxLinear);
  if (!skb || !refill_rx_pages()) {
    // Out of memory: leave the frame in the kernel's queue for a later poll.
    stats.rx_dropped++;
    *again = true;
    return nullptr;
  }
  VirtioNetHdr vh;
  iovec iov[2 + kRxPages];
  int n = 0;
  if (vnet_hdr_) iov[n++] = {&vh, sizeof(vh)};
  const std::uint32_t linear = skb_tailroom(skb.get());
  iov[n++] = {skb->data, linear};
  for (Page* p : rx_pages_) iov[n++] = {p->addr, p->size};

  const ssize_t r = do_readv(iov, n);
  if (r < 0 || r == 0) {
    const int err = r < 0 ? errno : 0;
    *again = true;
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) return nullptr;
    // EBADFD: the interface was deleted (with its namespace, say); a read of
    // nothing at all means the fd's other end is closed. Either way no frame
    // will ever come again.
    if (err == 0 || err == EBADFD || err == EBADF || err == ENODEV || err == ENXIO ||
        err == EPIPE) {
      lost_device();
    } else {
      stats.rx_errors++;
    }
    return nullptr;
  }
  const std::uint32_t hdr = vnet_hdr_ ? sizeof(vh) : 0;
  if (static_cast<std::uint32_t>(r) <= hdr) {
    stats.rx_errors++;
    return nullptr;
  }
  std::uint32_t len = static_cast<std::uint32_t>(r) - hdr;
  const std::uint32_t in_linear = std::min(len, linear);
  skb_put(skb.get(), in_linear);
  std::uint32_t rest = len - in_linear;
  for (int i = 0; rest > 0 && i < kRxPages; ++i) {
    Page* p = rx_pages_[i];
    const std::uint32_t take = std::min(rest, p->size);
    skb_fill_page_desc(skb.get(), i, p, 0, take);  // the skb takes our reference
    rx_pages_[i] = nullptr;
    skb->len += take;
    skb->data_len += take;
    skb->truesize += p->size;
    rest -= take;
  }

  if (vnet_hdr_) {
    if (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
      if (static_cast<std::uint32_t>(vh.csum_start) + vh.csum_offset + 2 > len) {
        tun_stats_.rx_bad_header++;
        stats.rx_errors++;
        return nullptr;
      }
      // The frame came from the host's memory and only the checksum field is
      // unfilled: the kernel treats such an skb as verified, and with no
      // forwarding here nobody needs the partial state, so it is recorded as
      // CHECKSUM_UNNECESSARY, which every layer of ours honours.
      skb->ip_summed = IpSummed::CHECKSUM_UNNECESSARY;
      skb->csum_start = static_cast<std::uint16_t>(skb_headroom(skb.get()) + vh.csum_start);
      skb->csum_offset = vh.csum_offset;
      tun_stats_.rx_csum_partial++;
    } else if (vh.flags & VIRTIO_NET_HDR_F_DATA_VALID) {
      skb->ip_summed = IpSummed::CHECKSUM_UNNECESSARY;
      tun_stats_.rx_csum_valid++;
    }
    if (vh.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
      if ((vh.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_TCPV4 || vh.gso_size == 0) {
        // We only negotiated TSO4; anything else is a header we cannot honour.
        tun_stats_.rx_bad_header++;
        stats.rx_errors++;
        return nullptr;
      }
      SkbSharedInfo* sh = skb_shinfo(skb.get());
      sh->gso_type = SKB_GSO_TCPV4;
      sh->gso_size = vh.gso_size;
      const std::uint32_t payload = vh.hdr_len < len ? len - vh.hdr_len : len;
      sh->gso_segs = static_cast<std::uint16_t>((payload + vh.gso_size - 1) / vh.gso_size);
      tun_stats_.rx_gso_frames++;
    }
  }
  if (pcap_) capture(skb.get(), vnet_hdr_ ? &vh : nullptr);
  return skb;
}

ssize_t TunFdDevice::do_writev(const iovec* iov, int n) {
  return ops_.writev ? ops_.writev(fd_, iov, n) : ::writev(fd_, iov, n);
}

ssize_t TunFdDevice::do_readv(const iovec* iov, int n) {
  return ops_.readv ? ops_.readv(fd_, iov, n) : ::readv(fd_, iov, n);
}

void TunFdDevice::set_carrier(bool on) {
  if (carrier_ == on) return;
  carrier_ = on;
  tun_stats_.carrier_changes++;
}

void TunFdDevice::lost_device() {
  if (gone_) return;
  set_carrier(false);
  gone_ = true;
}

int TunFdDevice::poll(int budget) {
  if (gone_) return 0;
  int done = 0;
  while (done < budget) {
    bool again = false;
    SkbPtr skb = read_one(&again);
    if (again) break;
    if (!skb) continue;  // a bad frame was counted and dropped
    skb->ifindex = ifindex;
    stats.rx_packets++;
    stats.rx_bytes += skb->len;
    if (type == LinkType::kRawIp) {
      // No link header to say what this is: tun frames we accept are IPv4.
      skb->protocol = 0x0800;
      skb_reset_network_header(skb.get());
    }
    skb_reset_mac_header(skb.get());
    ++done;
    if (rx_handler) {
      rx_handler(std::move(skb));
    } else {
      kfree_skb(std::move(skb));
    }
  }
  if (done) {
    tun_stats_.rx_polls++;
    tun_stats_.rx_max_batch = std::max<std::uint64_t>(tun_stats_.rx_max_batch, done);
  }
  return done;
}

std::string TunFdDevice::open_pcap(const std::string& path) {
  close_pcap();
  pcap_ = pcap_open_dead(type == LinkType::kEthernet ? DLT_EN10MB : DLT_RAW, 262144);
  if (!pcap_) return "pcap_open_dead failed";
  dumper_ = pcap_dump_open(pcap_, path.c_str());
  if (!dumper_) {
    std::string e = pcap_geterr(pcap_);
    pcap_close(pcap_);
    pcap_ = nullptr;
    return e;
  }
  return {};
}

void TunFdDevice::close_pcap() {
  if (dumper_) {
    pcap_dump_flush(dumper_);
    pcap_dump_close(dumper_);
  }
  if (pcap_) pcap_close(pcap_);
  dumper_ = nullptr;
  pcap_ = nullptr;
}

void TunFdDevice::capture(const SkBuff* skb, const VirtioNetHdr* vh) {
  static thread_local std::vector<std::uint8_t> buf;
  buf.resize(skb->len);
  if (skb_copy_bits(skb, 0, buf.data(), skb->len) != 0) return;
  // Complete a pending checksum: the field holds the pseudo-header sum, the
  // device (here: the capture) sums from csum_start to the end and stores
  // the complement, as virtio's NEEDS_CSUM asks.
  std::uint32_t start = 0, off = 0;
  bool partial = false;
  if (vh && (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
    start = vh->csum_start;
    off = vh->csum_offset;
    partial = true;
  } else if (!vh && skb->ip_summed == IpSummed::CHECKSUM_PARTIAL) {
    start = skb->csum_start - skb_headroom(skb);
    off = skb->csum_offset;
    partial = true;
  }
  if (partial && start + off + 2 <= buf.size()) {
    const std::uint32_t s = ones_sum(buf.data() + start, buf.size() - start, 0);
    const std::uint16_t c = static_cast<std::uint16_t>(~s & 0xffff);
    buf[start + off] = static_cast<std::uint8_t>(c >> 8);
    buf[start + off + 1] = static_cast<std::uint8_t>(c & 0xff);
  }
  pcap_pkthdr h{};
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  h.ts.tv_sec = ts.tv_sec;
  h.ts.tv_usec = ts.tv_nsec / 1000;
  h.caplen = h.len = static_cast<bpf_u_int32>(buf.size());
  pcap_dump(reinterpret_cast<u_char*>(dumper_), &h, buf.data());
}

// --- opening ------------------------------------------------------------------

std::uint64_t tun_features(const TunConfig& cfg) {
  if (!cfg.vnet_hdr) return 0;
  std::uint64_t f = NETIF_F_SG;
  if (cfg.csum) f |= NETIF_F_HW_CSUM | NETIF_F_RXCSUM;
  if (cfg.csum && cfg.tso) f |= NETIF_F_TSO;
  return f;
}

namespace {

// Runs fn with this thread in the named network namespace, then returns to
// the original one. A tun fd remembers the namespace it was opened in, so
// this is how a process outside a namespace owns a device inside it.
int in_netns(const std::string& netns, std::string* err, const std::function<int()>& fn) {
  if (netns.empty()) return fn();
  const int orig = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  const std::string path = "/var/run/netns/" + netns;
  const int target = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (orig < 0 || target < 0 || ::setns(target, CLONE_NEWNET) != 0) {
    const int e = errno;
    if (err) *err = "entering network namespace " + netns + ": " + std::strerror(e);
    if (orig >= 0) ::close(orig);
    if (target >= 0) ::close(target);
    return -e;
  }
  const int r = fn();
  const int back = ::setns(orig, CLONE_NEWNET);
  ::close(orig);
  ::close(target);
  if (back != 0) {
    // Stuck in the other namespace: nothing sane can follow.
    std::perror("setns back to the original network namespace");
    std::abort();
  }
  return r;
}

int tun_open_fd_here(const TunConfig& cfg, short type_flags, std::string* actual_name,
                     std::string* err);

}  // namespace

int tun_open_fd(const TunConfig& cfg, short type_flags, std::string* actual_name,
                std::string* err) {
  return in_netns(cfg.netns, err,
                  [&] { return tun_open_fd_here(cfg, type_flags, actual_name, err); });
}

namespace {

int tun_open_fd_here(const TunConfig& cfg, short type_flags, std::string* actual_name,
                     std::string* err) {
  auto fail = [&](const char* what, int e) {
    if (err) *err = std::string(what) + ": " + std::strerror(e);
    return -e;
  };
  const int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return fail("open /dev/net/tun", errno);
  ifreq ifr{};
  ifr.ifr_flags = static_cast<short>(type_flags | IFF_NO_PI | (cfg.vnet_hdr ? IFF_VNET_HDR : 0));
  if (cfg.name.size() >= IFNAMSIZ) {
    ::close(fd);
    return fail("interface name", ENAMETOOLONG);
  }
  std::memcpy(ifr.ifr_name, cfg.name.data(), cfg.name.size());
  if (::ioctl(fd, TUNSETIFF, &ifr) < 0) {
    const int e = errno;
    ::close(fd);
    return fail("TUNSETIFF", e);
  }
  if (cfg.vnet_hdr) {
    int sz = sizeof(VirtioNetHdr);
    if (::ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) {
      const int e = errno;
      ::close(fd);
      return fail("TUNSETVNETHDRSZ", e);
    }
    unsigned off = 0;
    if (cfg.csum) off |= TUN_F_CSUM;
    if (cfg.csum && cfg.tso) off |= TUN_F_TSO4;
    if (::ioctl(fd, TUNSETOFFLOAD, off) < 0) {
      const int e = errno;
      ::close(fd);
      return fail("TUNSETOFFLOAD", e);
    }
  }
  if (actual_name) *actual_name = ifr.ifr_name;
  if (cfg.bring_up) {
    std::string e = tun_bring_up(ifr.ifr_name, cfg.mtu);
    if (!e.empty()) {
      ::close(fd);
      if (err) *err = e;
      return -EIO;
    }
  }
  return fd;
}

}  // namespace

std::string tun_bring_up(const std::string& ifname, std::uint32_t mtu) {
  const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return std::string("socket: ") + std::strerror(errno);
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, ifname.data(), std::min<std::size_t>(ifname.size(), IFNAMSIZ - 1));
  std::string err;
  ifr.ifr_mtu = static_cast<int>(mtu);
  if (::ioctl(s, SIOCSIFMTU, &ifr) < 0) err = std::string("SIOCSIFMTU: ") + std::strerror(errno);
  if (err.empty() && ::ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
    err = std::string("SIOCGIFFLAGS: ") + std::strerror(errno);
  if (err.empty()) {
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    if (::ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
      err = std::string("SIOCSIFFLAGS: ") + std::strerror(errno);
  }
  ::close(s);
  return err;
}

TunDevice::TunDevice(int fd, const TunConfig& cfg, std::string ifname)
    : TunFdDevice(fd, LinkType::kRawIp, cfg.vnet_hdr, tun_features(cfg)) {
  name = std::move(ifname);
  mtu = cfg.mtu;
}

std::unique_ptr<TunDevice> TunDevice::open(const TunConfig& cfg, std::string* err) {
  std::string ifname;
  const int fd = tun_open_fd(cfg, IFF_TUN, &ifname, err);
  if (fd < 0) return nullptr;
  return std::make_unique<TunDevice>(fd, cfg, std::move(ifname));
}

}  // namespace sp
