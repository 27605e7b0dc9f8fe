// `sendpath skb`: walk one skb through the header pushes of a send, the way
// tcp_sendmsg -> tcp_transmit_skb -> ip_queue_xmit -> neigh_output build it,
// and show the four pointers after every step.
//
// Headroom: tcp_stream_alloc_skb() reserves MAX_TCP_HEADER, defined in
// include/net/tcp.h as L1_CACHE_ALIGN(128 + MAX_HEADER): 128 bytes for the
// largest TCP plus IPv4 headers (60 + 60, rounded), plus MAX_HEADER for the
// link layer. MAX_HEADER (include/linux/netdevice.h) is LL_MAX_HEADER, 128
// on a kernel built with WLAN mesh or Hyper-V netvsc, plus 48 when IP
// tunnels are built: 304 on a distribution kernel, cache-aligned to 320.
// A minimal kernel (LL_MAX_HEADER 32, no tunnels) gets L1_CACHE_ALIGN(160)
// = 192. We use the distribution figure, 320. Every header of the frame
// below (Ethernet 14 + IPv4 20 + TCP with timestamps 32 = 66) comes out of
// that headroom, so no header push ever has to reallocate the head.
//
// As tcp_stream_alloc_skb does, the skb comes from alloc_skb_fclone, and
// tcp_transmit_skb's clone (its fclone companion) is the one that gets the
// headers: the queued original gave up its header area with
// __skb_header_release, so the pushes write into the shared headroom.
//
// Linux 6.x puts the payload of tcp_sendmsg in page frags (the linear part
// holds only headers); --paged shows that layout, the default puts the
// payload in the linear part with skb_put as the classic path does.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "command.hpp"
#include "skb/skbuff.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace {

using namespace sp;

constexpr std::uint32_t kMaxTcpHeader = 320;  // MAX_TCP_HEADER, see above
constexpr std::uint8_t kIpProtoTcp = 6;

struct Step {
  std::string name;
  std::uint32_t data, tail, end, len, data_len, headroom, tailroom, truesize;
};

Step snapshot(std::string name, const SkBuff* skb) {
  return Step{std::move(name),
              static_cast<std::uint32_t>(skb->data - skb->head),
              static_cast<std::uint32_t>(skb->tail - skb->head),
              skb_end_offset(skb),
              skb->len,
              skb->data_len,
              skb_headroom(skb),
              skb_tailroom(skb),
              skb->truesize};
}

struct Options {
  bool json = false;
  bool paged = false;
  std::uint32_t payload = 1000;
};

std::uint8_t payload_byte(std::uint32_t i) {
  return static_cast<std::uint8_t>('a' + i % 26);
}

// The payload into page frags through a page_frag cursor, as
// tcp_sendmsg_locked() does with sk_page_frag() and skb_copy_to_page_nocache().
bool put_paged_payload(SkBuff* skb, PageFrag* pfrag, std::uint32_t n) {
  std::uint32_t done = 0;
  while (done < n) {
    if (!skb_page_frag_refill(1, pfrag)) return false;
    const std::uint32_t copy = std::min(n - done, pfrag->size - pfrag->offset);
    for (std::uint32_t k = 0; k < copy; ++k) {
      pfrag->page->addr[pfrag->offset + k] = payload_byte(done + k);
    }
    const int i = skb_shinfo(skb)->nr_frags;
    if (skb_can_coalesce(skb, i, pfrag->page, pfrag->offset)) {
      skb_shinfo(skb)->frags[i - 1].size += copy;
    } else {
      if (i >= MAX_SKB_FRAGS) return false;
      get_page(pfrag->page);
      skb_fill_page_desc(skb, i, pfrag->page, pfrag->offset, copy);
    }
    skb->len += copy;
    skb->data_len += copy;
    skb->truesize += copy;
    pfrag->offset += copy;
    done += copy;
  }
  return true;
}

// Read the finished frame back with the wire parsers: every header parses,
// both checksums verify, the options carry the timestamp, and the payload
// is what was written. Returns an empty string or what is wrong.
std::string verify_frame(const SkBuff* skb, std::uint32_t payload_len, std::uint32_t tsval) {
  std::vector<std::uint8_t> frame(skb->len);
  if (skb_copy_bits(skb, 0, frame.data(), skb->len) != 0) return "skb_copy_bits failed";
  auto eth = EthernetView::parse(frame);
  if (!eth) return fmt::format("ethernet: {}", to_string(eth.error()));
  if (eth->ethertype() != ETH_P_IP) return "ethernet: not IPv4";
  auto ip = Ipv4View::parse(eth->payload());
  if (!ip) return fmt::format("ipv4: {}", to_string(ip.error()));
  if (!ip->verify_checksum()) return "ipv4: bad header checksum";
  auto tcp = TcpView::parse(ip->payload());
  if (!tcp) return fmt::format("tcp: {}", to_string(tcp.error()));
  if (!tcp->verify_checksum(ip->saddr(), ip->daddr())) return "tcp: bad checksum";
  TcpOptions opts;
  if (WireError e = tcp_parse_options(tcp->options(), &opts); e != WireError::kOk) {
    return fmt::format("tcp options: {}", to_string(e));
  }
  if (!opts.saw_tstamp || opts.ts_val != tsval) return "tcp options: timestamp missing";
  auto pl = tcp->payload();
  if (pl.size() != payload_len) return "payload length differs";
  for (std::uint32_t i = 0; i < payload_len; ++i) {
    if (pl[i] != payload_byte(i)) return fmt::format("payload byte {} differs", i);
  }
  return {};
}

// The original left on the write queue is as it was: same pointers, same
// payload, and it shares its head with the clone that carried the headers.
std::string verify_queued(const SkBuff* qskb, const SkBuff* skb, std::uint32_t payload_len) {
  if (qskb->len != payload_len || skb_headroom(qskb) != kMaxTcpHeader) {
    return "the queued skb changed";
  }
  std::vector<std::uint8_t> bytes(qskb->len);
  if (skb_copy_bits(qskb, 0, bytes.data(), qskb->len) != 0) return "skb_copy_bits failed";
  for (std::uint32_t i = 0; i < payload_len; ++i) {
    if (bytes[i] != payload_byte(i)) return "the queued skb's payload changed";
  }
  if (skb->head != qskb->head) return "the clone's head was copied";
  return {};
}

void print_text(const std::vector<Step>& steps, const Options& o, const std::string& verdict) {
  fmt::print("one skb through a send: {} bytes of payload ({}), MAX_TCP_HEADER {}\n", o.payload,
             o.paged ? "in page frags" : "linear", kMaxTcpHeader);
  fmt::print("offsets are from skb->head; end is where skb_shared_info starts.\n");
  fmt::print("From skb_clone on, the rows show the clone: it pushes its headers into the\n");
  fmt::print("headroom it shares with the skb left on the write queue (no copy).\n\n");
  fmt::print("{:<28} {:>5} {:>6} {:>6} {:>6} {:>6} {:>8} {:>9} {:>9} {:>9}\n", "step", "head",
             "data", "tail", "end", "len", "data_len", "headroom", "tailroom", "truesize");
  for (const Step& s : steps) {
    fmt::print("{:<28} {:>5} {:>6} {:>6} {:>6} {:>6} {:>8} {:>9} {:>9} {:>9}\n", s.name, 0, s.data,
               s.tail, s.end, s.len, s.data_len, s.headroom, s.tailroom, s.truesize);
  }
  fmt::print(
      "\nframe check (parse Ethernet/IPv4/TCP, verify checksums and payload; queued skb "
      "unchanged, head shared): {}\n",
      verdict.empty() ? "ok" : verdict);
}

void print_json(const std::vector<Step>& steps, const Options& o, const std::string& verdict) {
  fmt::print("{{\"payload\":{},\"paged\":{},\"max_tcp_header\":{},\"steps\":[", o.payload,
             o.paged ? "true" : "false", kMaxTcpHeader);
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    fmt::print(
        "{}{{\"step\":\"{}\",\"head\":0,\"data\":{},\"tail\":{},\"end\":{},\"len\":{},"
        "\"data_len\":{},\"headroom\":{},\"tailroom\":{},\"truesize\":{}}}",
        i ? "," : "", s.name, s.data, s.tail, s.end, s.len, s.data_len, s.headroom, s.tailroom,
        s.truesize);
  }
  fmt::print("],\"frame_ok\":{}}}\n", verdict.empty() ? "true" : "false");
}

int run_skb_walk(const Options& o) {
  if (o.payload > GSO_MAX_SIZE - kMaxTcpHeader) {
    std::fprintf(stderr, "sendpath skb: --payload must be at most %u\n",
                 GSO_MAX_SIZE - kMaxTcpHeader);
    return 2;
  }
  std::vector<Step> steps;
  const std::uint32_t linear = o.paged ? 0 : o.payload;

  SkbPtr qskb = alloc_skb_fclone(kMaxTcpHeader + linear);
  if (!qskb) {
    std::fprintf(stderr, "sendpath skb: alloc_skb_fclone failed\n");
    return 1;
  }
  steps.push_back(
      snapshot(fmt::format("alloc_skb_fclone({})", kMaxTcpHeader + linear), qskb.get()));

  skb_reserve(qskb.get(), kMaxTcpHeader);
  steps.push_back(snapshot(fmt::format("skb_reserve({})", kMaxTcpHeader), qskb.get()));

  PageFrag pfrag;
  if (o.paged) {
    if (!put_paged_payload(qskb.get(), &pfrag, o.payload)) {
      std::fprintf(stderr, "sendpath skb: no page for the payload\n");
      return 1;
    }
    steps.push_back(snapshot(fmt::format("page frag payload {}", o.payload), qskb.get()));
  } else {
    std::uint8_t* p = skb_put(qskb.get(), o.payload);
    for (std::uint32_t i = 0; i < o.payload; ++i) p[i] = payload_byte(i);
    steps.push_back(snapshot(fmt::format("skb_put({}) payload", o.payload), qskb.get()));
  }

  // tcp_skb_entail gives up the queued skb's header area; tcp_transmit_skb
  // then sends a clone down the stack and keeps the original for
  // retransmission. The clone is the fclone companion, and it pushes its
  // headers into the shared headroom: nothing is copied.
  __skb_header_release(qskb.get());
  SkbPtr skb = skb_clone(qskb.get());
  if (!skb) {
    std::fprintf(stderr, "sendpath skb: skb_clone failed\n");
    return 1;
  }
  steps.push_back(snapshot("skb_clone (tcp_transmit_skb)", skb.get()));

  // tcp_transmit_skb: header + options (timestamps: NOP NOP TS = 12 bytes).
  const Ipv4Addr saddr = ipv4_addr(10, 0, 0, 1), daddr = ipv4_addr(10, 0, 0, 2);
  TcpRepr tcp;
  tcp.hdr.source = 40000;
  tcp.hdr.dest = 5201;
  tcp.hdr.seq = 1000001;
  tcp.hdr.ack_seq = 2000001;
  tcp.hdr.flags = TCPHDR_ACK | TCPHDR_PSH;
  tcp.hdr.window = 502;
  tcp.opts.saw_tstamp = true;
  tcp.opts.ts_val = 123456;
  tcp.opts.ts_ecr = 654321;
  const unsigned th_len = tcp.header_len();
  std::uint8_t* th = skb_push(skb.get(), th_len);
  skb_reset_transport_header(skb.get());
  if (o.paged) {
    // The payload is not behind the header in memory: checksum a linear copy
    // of the segment (what skb_checksum_help does for a device without
    // checksum offload) and keep its header.
    std::vector<std::uint8_t> seg(skb->len);
    tcp.emit(seg.data());
    skb_copy_bits(skb.get(), th_len, seg.data() + th_len, skb->len - th_len);
    tcp.emit_with_checksum(seg.data(), skb->len - th_len, saddr, daddr);
    std::memcpy(th, seg.data(), th_len);
  } else {
    tcp.emit_with_checksum(th, skb->len - th_len, saddr, daddr);
  }
  steps.push_back(snapshot(fmt::format("skb_push({}) tcp+ts", th_len), skb.get()));

  // ip_queue_xmit
  Ipv4Repr ip;
  ip.id = 1;
  ip.protocol = kIpProtoTcp;
  ip.saddr = saddr;
  ip.daddr = daddr;
  ip.payload_len = static_cast<std::uint16_t>(skb->len);
  ip.emit(skb_push(skb.get(), static_cast<std::uint32_t>(Ipv4Repr::header_len())));
  skb_reset_network_header(skb.get());
  skb->protocol = ETH_P_IP;
  steps.push_back(snapshot(fmt::format("skb_push({}) ipv4", Ipv4Repr::header_len()), skb.get()));

  // neigh_output -> eth_header
  EthernetRepr eth;
  eth.dst = {0x02, 0, 0, 0, 0, 2};
  eth.src = {0x02, 0, 0, 0, 0, 1};
  eth.ethertype = ETH_P_IP;
  eth.emit(skb_push(skb.get(), ETH_HLEN));
  skb_reset_mac_header(skb.get());
  steps.push_back(snapshot(fmt::format("skb_push({}) ethernet", ETH_HLEN), skb.get()));

  std::string verdict = verify_frame(skb.get(), o.payload, tcp.opts.ts_val);
  if (verdict.empty()) verdict = verify_queued(qskb.get(), skb.get(), o.payload);
  consume_skb(std::move(skb));
  consume_skb(std::move(qskb));
  if (o.json) {
    print_json(steps, o, verdict);
  } else {
    print_text(steps, o, verdict);
  }
  return verdict.empty() ? 0 : 1;
}

sp::tools::Command cmd_skb(
    "skb", "walk one skb through the header pushes of a send", [](CLI::App& sub) {
      auto o = std::make_shared<Options>();
      sub.add_flag("--json", o->json, "print one JSON object");
      sub.add_option("--payload", o->payload, "payload bytes (default 1000)");
      sub.add_flag("--paged", o->paged, "payload in page frags, as Linux 6.x tcp_sendmsg");
      return [o] { return run_skb_walk(*o); };
    });

}  // namespace
