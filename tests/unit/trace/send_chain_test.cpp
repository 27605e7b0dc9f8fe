// The send chain's tracepoints, from one real write (trace_one_write): the
// order of the steps, the skb's pointers as each header is pushed, the
// queues it sits on, and why tcp_write_xmit stopped.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "trace/one_write.hpp"
#include "trace/sinks.hpp"

namespace sp::trace {
namespace {

std::vector<Ev> ids(const OneWrite& w) {
  std::vector<Ev> v;
  for (const auto& e : w.events) v.push_back(header_of(e).id);
  return v;
}

template <class T>
std::vector<T> all(const OneWrite& w, Ev id) {
  std::vector<T> out;
  for (const auto& e : w.events)
    if (const T* t = std::get_if<T>(&e); t && t->id == id) out.push_back(*t);
  return out;
}

OneWrite write_of(std::uint32_t size, bool sg = true, bool tso = true) {
  OneWriteOptions o;
  o.size = size;
  o.mss = 1000;
  o.sg = sg;
  o.tso = tso;
  OneWrite w = trace_one_write(o);
  EXPECT_TRUE(w.ok) << w.error;
  return w;
}

TEST(SendChainTrace, one_write_walks_the_chain_in_the_kernels_order) {
  const OneWrite w = write_of(3000);
  const std::vector<Ev> v = ids(w);
  const std::vector<Ev> chain = {
      Ev::sock_sendmsg,   Ev::inet_sendmsg,   Ev::tcp_sendmsg,      Ev::tcp_skb_entail,
      Ev::tcp_skb_append, Ev::tcp_push,       Ev::tcp_transmit_skb, Ev::ip_queue_xmit,
      Ev::neigh_output,   Ev::dev_queue_xmit, Ev::net_dev_xmit,     Ev::tcp_event_new_data_sent,
      Ev::tcp_write_xmit};
  // The chain appears as a subsequence, in this order.
  auto it = v.begin();
  for (Ev e : chain) {
    it = std::find(it, v.end(), e);
    ASSERT_NE(it, v.end()) << "missing or out of order: " << event_full_name(e);
    ++it;
  }
  const auto calls = all<SendmsgEvent>(w, Ev::sock_sendmsg);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].size, 3000u);
}

TEST(SendChainTrace, each_layer_pushes_its_header_into_the_headroom_of_the_clone) {
  const OneWrite w = write_of(3000);
  const auto entail = all<SkbStep>(w, Ev::tcp_skb_entail).at(0);
  const auto tx = all<SkbStep>(w, Ev::tcp_transmit_skb).at(0);
  const auto ipx = all<SkbStep>(w, Ev::ip_queue_xmit).at(0);
  const auto neigh = all<SkbStep>(w, Ev::neigh_output).at(0);
  // The clone is a different sk_buff over the same buffer.
  EXPECT_NE(tx.skb.skbaddr.v, entail.skb.skbaddr.v);
  EXPECT_EQ(tx.skb.head.v, entail.skb.head.v);
  EXPECT_TRUE(tx.skb.cloned);
  // TCP with timestamps 32, IPv4 20, Ethernet 14, each out of the headroom.
  EXPECT_EQ(tx.pushed, 32u);
  EXPECT_EQ(tx.skb.data_off, entail.skb.data_off - 32);
  EXPECT_EQ(ipx.skb.data_off, tx.skb.data_off - 20);
  EXPECT_EQ(neigh.skb.data_off, ipx.skb.data_off - 14);
  EXPECT_EQ(neigh.skb.headroom, neigh.skb.data_off);
  // Payload in page frags: the linear part holds only the headers.
  EXPECT_EQ(neigh.skb.tail_off - neigh.skb.data_off, 66u);
  EXPECT_EQ(neigh.skb.data_len, 3000u);
  EXPECT_GE(neigh.skb.nr_frags, 1);
  // Below TCP the sequence numbers come from the header: the same range.
  EXPECT_EQ(ipx.skb.seq, tx.skb.seq);
  EXPECT_EQ(neigh.skb.end_seq - neigh.skb.seq, 3000u);
  // One 3066-byte TSO frame left the device.
  const auto xmit = all<NetDevEvent>(w, Ev::net_dev_xmit);
  ASSERT_EQ(xmit.size(), 1u);
  EXPECT_EQ(xmit[0].len, 3066u);
  EXPECT_EQ(xmit[0].rc, 0);
}

TEST(SendChainTrace, the_queued_original_moves_from_the_write_queue_to_the_retransmit_queue) {
  const OneWrite w = write_of(3000);
  const auto entail = all<SkbStep>(w, Ev::tcp_skb_entail).at(0);
  const auto sent = all<SkbStep>(w, Ev::tcp_event_new_data_sent).at(0);
  EXPECT_EQ(entail.queue, "write");
  EXPECT_EQ(sent.queue, "rtx");
  EXPECT_EQ(sent.skb.skbaddr.v, entail.skb.skbaddr.v);
  EXPECT_EQ(sent.skb.end_seq - sent.skb.seq, 3000u);
  const auto appends = all<SkbStep>(w, Ev::tcp_skb_append);
  std::uint32_t copied = 0;
  for (const auto& a : appends) {
    copied += a.copy;
    EXPECT_TRUE(a.paged);
  }
  EXPECT_EQ(copied, 3000u);
}

TEST(SendChainTrace, without_tso_software_gso_makes_one_frame_per_segment) {
  const OneWrite w = write_of(3000, true, false);
  const auto gso = all<SkbStep>(w, Ev::skb_gso_segment);
  ASSERT_EQ(gso.size(), 1u);
  EXPECT_EQ(gso[0].segs, 4u);  // 3000 B at MSS 988 (1000 less 12 B of timestamps)
  EXPECT_EQ(all<NetDevEvent>(w, Ev::net_dev_xmit).size(), 4u);
  EXPECT_EQ(w.frames, 4u);
}

TEST(SendChainTrace, without_scatter_gather_the_payload_goes_into_the_linear_part) {
  const OneWrite w = write_of(900, false, false);
  const auto appends = all<SkbStep>(w, Ev::tcp_skb_append);
  ASSERT_FALSE(appends.empty());
  EXPECT_FALSE(appends[0].paged);
  EXPECT_EQ(appends[0].skb.nr_frags, 0);
  EXPECT_EQ(appends[0].skb.tail_off - appends[0].skb.data_off, 900u);
}

TEST(SendChainTrace, write_xmit_says_it_stopped_on_the_congestion_window) {
  const OneWrite w = write_of(200000);
  const auto x = all<TcpWriteXmit>(w, Ev::tcp_write_xmit);
  ASSERT_FALSE(x.empty());
  // tcp_sendmsg pushes the first full skb alone (tcp_push_one), then the
  // rest of the initial window goes until cwnd (10 segments) is full.
  EXPECT_EQ(x[0].stop, "push_one");
  const auto full =
      std::find_if(x.begin(), x.end(), [](const TcpWriteXmit& e) { return e.stop == "cwnd"; });
  ASSERT_NE(full, x.end());
  EXPECT_EQ(full->snd_cwnd, 10u);
  EXPECT_EQ(full->in_flight, 10u);
  std::uint32_t segs = 0;
  for (auto it = x.begin(); it <= full; ++it) segs += it->sent_segs;
  EXPECT_EQ(segs, 10u);
  // Once the whole write is out, the last call found nothing left.
  EXPECT_EQ(x.back().stop, "empty");
}

TEST(TraceRegistry, event_lists_parse_names_systems_and_all) {
  std::uint64_t m = 0;
  std::string bad;
  ASSERT_TRUE(parse_event_list("tcp:tcp_probe,net_dev_xmit", &m, &bad));
  EXPECT_EQ(m, ev_bit(Ev::tcp_probe) | ev_bit(Ev::net_dev_xmit));
  ASSERT_TRUE(parse_event_list("skb", &m, &bad));
  EXPECT_EQ(m, ev_bit(Ev::kfree_skb));
  ASSERT_TRUE(parse_event_list("all", &m, &bad));
  EXPECT_EQ(m, kAllEvents);
  EXPECT_FALSE(parse_event_list("tcp:tcp_probe,tcp:no_such_event", &m, &bad));
  EXPECT_EQ(bad, "tcp:no_such_event");
  EXPECT_EQ(event_full_name(Ev::kfree_skb), "skb:kfree_skb");
}

TEST(TraceRegistry, nothing_is_enabled_without_a_listener_and_a_detached_sink_hears_nothing) {
  EXPECT_EQ(g_enabled.load(), 0u);
  std::size_t heard = 0;
  {
    CallbackSink s(ev_bit(Ev::net_dev_xmit), [&](const AnyEvent&) { ++heard; });
    EXPECT_TRUE(enabled(Ev::net_dev_xmit));
    EXPECT_FALSE(enabled(Ev::tcp_probe));
  }
  EXPECT_EQ(g_enabled.load(), 0u);
  const OneWrite w = write_of(1000);  // its own sink only
  EXPECT_EQ(heard, 0u);
  EXPECT_FALSE(w.events.empty());
}

TEST(TraceSinks, json_lines_are_flat_objects_with_the_header_first) {
  TcpWriteXmit x{};
  x.id = Ev::tcp_write_xmit;
  x.t_ns = 1500;
  x.sk.sock_cookie.v = 0x2a;
  x.sk.saddr.be = htonl(0x0a000001);
  x.sk.sport = 40000;
  x.sk.state = "TCP_ESTABLISHED";
  x.sent = 2;
  x.stop = "cwnd";
  const std::string j = format_json(x);
  EXPECT_EQ(j.rfind("{\"t_ns\":1500,\"stack\":\"-\",\"event\":\"sendpath:tcp_write_xmit\",", 0), 0u)
      << j;
  EXPECT_NE(j.find("\"sock_cookie\":\"0x2a\",\"saddr\":\"10.0.0.1\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"stop\":\"cwnd\""), std::string::npos) << j;
  EXPECT_EQ(j.back(), '}');
  const std::string t = format_text(x);
  EXPECT_NE(t.find("sendpath:tcp_write_xmit: sock_cookie=0x2a saddr=10.0.0.1"), std::string::npos)
      << t;
}

}  // namespace
}  // namespace sp::trace
