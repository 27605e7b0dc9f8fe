// SimLink: queue, wire and impairments of a simulated point-to-point link.
#include "dev/sim_link.hpp"

#include <algorithm>
#include <cstring>

#include "ip/gso.hpp"
#include "ip/ip.hpp"

namespace sp {

namespace {
constexpr std::uint32_t kWireCopyHeadroom = 64;  // NET_SKB_PAD-ish, for the receiver
}  // namespace

// --- the ends -----------------------------------------------------------------------

SimLinkEnd::~SimLinkEnd() {
  if (link_) link_->ends_[side_] = nullptr;
}

NetdevTx SimLinkEnd::xmit(SkbPtr skb) {
  if (!link_) {
    stats.tx_dropped++;
    return NETDEV_TX_BUSY;  // consumed: freed here
  }
  return link_->xmit(side_, std::move(skb));
}

SimLinkEnd::SimLinkEnd(SimLink* link, int side) : link_(link), side_(side) {
  if (link->cfg_.gro) {
    gro_ = std::make_unique<GroList>([this](SkbPtr skb) {
      if (rx_handler) rx_handler(std::move(skb));
    });
  }
}

// One NAPI poll: up to budget frames, through GRO when it is on, whose held
// packets all go up when the poll ends (napi_complete_done with
// gro_flush_timeout 0; sendpath flushes after a full-budget poll too).
int SimLinkEnd::poll(int budget) {
  if (rxq_.empty()) return 0;
  if (link_ && link_->cfg_.rx_coalesce && link_->clock_.now_ns() < irq_at_) return 0;
  int n = 0;
  while (n < budget && !rxq_.empty()) {
    SkbPtr skb = std::move(rxq_.front());
    rxq_.pop_front();
    stats.rx_packets++;
    stats.rx_bytes += skb->len;
    ++n;
    if (gro_)
      gro_->receive(std::move(skb));
    else if (rx_handler)
      rx_handler(std::move(skb));
  }
  if (gro_) gro_->flush();
  if (rxq_.empty()) irq_at_ = ~Nanos{0};
  napi_polls_++;
  return n;
}

// --- the link -----------------------------------------------------------------------

SimLink::SimLink(Clock& clock, const SimLinkConfig& cfg) : clock_(clock), cfg_(cfg) {
  dirs_[0].cfg = cfg.a_to_b;
  dirs_[1].cfg = cfg.b_to_a;
  // Independent streams per direction: traffic one way never shifts the
  // random choices made for the other.
  dirs_[0].rng.seed(SimRng::split(cfg.seed, 0));
  dirs_[1].rng.seed(SimRng::split(cfg.seed, 1));
}

SimLink::~SimLink() {
  flush();
  for (SimLinkEnd* e : ends_)
    if (e) e->link_ = nullptr;
}

std::unique_ptr<SimLinkEnd> SimLink::take_end(int side, const std::array<std::uint8_t, 6>& mac) {
  if (taken_[side]) return nullptr;
  taken_[side] = true;
  std::unique_ptr<SimLinkEnd> e(new SimLinkEnd(this, side));
  e->name = side == 0 ? "sim0" : "sim1";
  e->type = LinkType::kEthernet;
  e->hard_header_len = ETH_HLEN;
  e->mtu = cfg_.mtu;
  e->dev_addr = mac;
  e->features = NETIF_F_RXCSUM;
  if (cfg_.sg) e->features |= NETIF_F_SG;
  if (cfg_.csum_offload) e->features |= NETIF_F_HW_CSUM;
  if (cfg_.tso && cfg_.sg && cfg_.csum_offload) e->features |= NETIF_F_TSO;
  ends_[side] = e.get();
  return e;
}

std::unique_ptr<SimLinkEnd> SimLink::take_end_a(const std::array<std::uint8_t, 6>& mac) {
  return take_end(0, mac);
}
std::unique_ptr<SimLinkEnd> SimLink::take_end_b(const std::array<std::uint8_t, 6>& mac) {
  return take_end(1, mac);
}

Nanos SimLink::serialisation_ns(std::uint64_t wire_bytes, std::uint64_t rate_bps,
                                std::uint64_t* remainder) {
  if (rate_bps == 0) return 0;
  const std::uint64_t num = wire_bytes * 8 * kNsPerSec + *remainder;
  *remainder = num % rate_bps;
  return num / rate_bps;
}

std::uint64_t SimLink::wire_bytes(const SkBuff* skb) const {
  auto one = [](std::uint64_t frame) {
    return std::max<std::uint64_t>(frame, kEthMinFrame) + kEthWireOverhead;
  };
  const SkbSharedInfo* sh = skb_shinfo(skb);
  if (!sh->gso_size || skb->transport_header == 0xffff) return one(skb->len);
  // A super-packet occupies the wire as the segments it stands for.
  const std::uint32_t th = skb->transport_header - skb_headroom(skb);
  if (th + 13 >= skb_headlen(skb)) return one(skb->len);
  const std::uint32_t hdr = th + static_cast<std::uint32_t>(skb->data[th + 12] >> 4) * 4u;
  if (hdr >= skb->len) return one(skb->len);
  const std::uint32_t payload = skb->len - hdr;
  const std::uint32_t n = (payload + sh->gso_size - 1) / sh->gso_size;
  const std::uint32_t last = payload - (n - 1) * sh->gso_size;
  return (n - 1) * one(hdr + sh->gso_size) + one(hdr + last);
}

NetdevTx SimLink::xmit(int side, SkbPtr skb) {
  // The frame goes to another stack, which gets its own copy of the bytes:
  // a zerocopy send through here is reported as copied (as over veth).
  skb_orphan_frags_rx(skb.get());
  Dir& d = dirs_[side];
  SimLinkEnd* from = ends_[side];
  if (skb_shinfo(skb.get())->gso_size && !cfg_.tso_passthrough) {
    // Segment at the link: what crosses the wire are MSS-sized frames.
    std::vector<SkbPtr> segs = skb_gso_segment(skb.get(), NETIF_F_SG | NETIF_F_HW_CSUM);
    if (segs.empty()) {
      if (from) from->stats.tx_dropped++;
      return NETDEV_TX_BUSY;
    }
    d.stats.gso_segmented++;
    skb.reset();
    for (auto& s : segs) enqueue(d, std::move(s));
    return NETDEV_TX_OK;
  }
  enqueue(d, std::move(skb));
  return NETDEV_TX_OK;
}

void SimLink::enqueue(Dir& d, SkbPtr skb) {
  d.stats.frames_in++;
  if (d.txq.size() >= d.cfg.queue_limit) {
    // Drop-tail: the frame is lost as at a full router queue; the sender
    // learns of it only through TCP's loss detection.
    d.stats.queue_drops++;
    return;
  }
  d.txq.push_back(std::move(skb));
  d.stats.max_queue =
      std::max<std::uint32_t>(d.stats.max_queue, static_cast<std::uint32_t>(d.txq.size()));
  if (!d.busy) start_next(d, clock_.now_ns());
}

void SimLink::start_next(Dir& d, Nanos start) {
  d.busy = true;
  d.tx_done = start + serialisation_ns(wire_bytes(d.txq.front().get()), d.cfg.rate_bps, &d.ser_rem);
}

namespace {

// The frame as it appears on the wire: linear, private, checksum complete.
SkbPtr wire_copy(const SkBuff* skb) {
  // Short frames are padded to the Ethernet minimum, as a NIC does; the
  // receiver's IP layer trims them back to tot_len.
  const std::uint32_t frame_len = std::max<std::uint32_t>(skb->len, kEthMinFrame);
  SkbPtr c = alloc_skb_with_headroom(kWireCopyHeadroom, frame_len);
  if (!c) return nullptr;
  std::uint8_t* p = skb_put(c.get(), frame_len);
  if (skb_copy_bits(skb, 0, p, skb->len) != 0) return nullptr;
  std::memset(p + skb->len, 0, frame_len - skb->len);
  if (skb->ip_summed == IpSummed::CHECKSUM_PARTIAL) {
    const std::uint32_t start = skb->csum_start - skb_headroom(skb);
    if (skb->csum_start >= skb_headroom(skb) && start + skb->csum_offset + 2u <= skb->len) {
      const Wsum sum = csum_partial(p + start, skb->len - start, 0);  // not the padding
      store_be16(p + start + skb->csum_offset, csum_fold(sum));
    }
  }
  const SkbSharedInfo* sh = skb_shinfo(skb);
  if (sh->gso_size) {  // a passed-through TSO skb arrives as GRO output
    SkbSharedInfo* csh = skb_shinfo(c.get());
    csh->gso_size = sh->gso_size;
    csh->gso_segs = sh->gso_segs;
    csh->gso_type = sh->gso_type;
  }
  return c;
}

}  // namespace

void SimLink::complete_head(int dir) {
  Dir& d = dirs_[dir];
  const Nanos done = d.tx_done;
  d.busy = false;
  SkbPtr skb = std::move(d.txq.front());
  d.txq.pop_front();
  d.stats.frames_sent++;
  d.stats.bytes_sent += skb->len;
  if (SimLinkEnd* from = ends_[dir]) {
    from->stats.tx_packets++;
    from->stats.tx_bytes += skb->len;
  }
  SkbPtr wire = wire_copy(skb.get());
  skb.reset();  // the last bit has left: the destructor (TSQ) runs now
  if (wire) launch(d, std::move(wire), done);
  // A destructor that sent at once has already started the next frame.
  if (!d.busy && !d.txq.empty()) start_next(d, done);
}

void SimLink::launch(Dir& d, SkbPtr wire, Nanos sent) {
  // The draws are made in a fixed order (loss, jitter, reorder, dup) so the
  // sequence of random numbers depends only on the frames sent.
  if (d.rng.bernoulli(d.cfg.loss)) {
    d.stats.loss_drops++;
    return;
  }
  Nanos at = sent + d.cfg.delay;
  if (d.cfg.jitter) at += d.rng.uniform_int(d.cfg.jitter);
  at = std::max(at, d.last_arrival);  // jitter delays, it does not reorder
  d.last_arrival = at;
  if (d.rng.bernoulli(d.cfg.reorder)) {
    at += d.cfg.reorder_delay;  // held back; later frames overtake it
    d.stats.reordered++;
  }
  if (d.rng.bernoulli(d.cfg.dup)) {
    if (SkbPtr twin = skb_copy(wire.get())) {
      d.stats.duplicated++;
      d.inflight.push_back({at, order_++, twin.release()});
      std::push_heap(d.inflight.begin(), d.inflight.end(), Later{});
    }
  }
  d.inflight.push_back({at, order_++, wire.release()});
  std::push_heap(d.inflight.begin(), d.inflight.end(), Later{});
}

Nanos SimLink::next_event() const {
  Nanos t = ~Nanos{0};
  for (const Dir& d : dirs_) {
    if (d.busy) t = std::min(t, d.tx_done);
    if (!d.inflight.empty()) t = std::min(t, d.inflight.front().at);
  }
  for (const SimLinkEnd* e : ends_)
    if (e && !e->rxq_.empty()) t = std::min(t, e->irq_at_);
  return t;
}

int SimLink::advance() {
  const Nanos now = clock_.now_ns();
  int events = 0;
  bool more = true;
  while (more) {
    more = false;
    for (int dir = 0; dir < 2; ++dir) {
      Dir& d = dirs_[dir];
      while (d.busy && d.tx_done <= now) {
        complete_head(dir);
        ++events;
        more = true;
      }
      while (!d.inflight.empty() && d.inflight.front().at <= now) {
        std::pop_heap(d.inflight.begin(), d.inflight.end(), Later{});
        SkbPtr skb(d.inflight.back().skb);
        d.inflight.pop_back();
        ++events;
        more = true;
        SimLinkEnd* to = ends_[1 - dir];
        if (!to) continue;
        skb->ip_summed =
            cfg_.rx_csum_verified ? IpSummed::CHECKSUM_UNNECESSARY : IpSummed::CHECKSUM_NONE;
        skb->tstamp = now;
        d.stats.delivered++;
        // The first frame on an empty ring raises the (moderated) interrupt.
        if (to->rxq_.empty() && to->irq_at_ == ~Nanos{0}) to->irq_at_ = now + cfg_.rx_coalesce;
        to->rxq_.push_back(std::move(skb));
      }
    }
  }
  return events;
}

void SimLink::flush() {
  for (Dir& d : dirs_) {
    d.txq.clear();
    d.busy = false;
    for (auto& f : d.inflight) SkbPtr(f.skb).reset();
    d.inflight.clear();
  }
  for (SimLinkEnd* e : ends_) {
    if (!e) continue;
    e->rxq_.clear();
    e->irq_at_ = ~Nanos{0};
  }
}

}  // namespace sp
