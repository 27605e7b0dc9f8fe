// MSG_ZEROCOPY, SO_TIMESTAMPING and TCP_INQ as a user sees them: where the
// bytes of a zerocopy send live, the completions and timestamps that come
// back on the error queue (recvmsg(MSG_ERRQUEUE) and its control messages),
// POLLERR while reports wait, and the bytes-left hint on reads.
#include <linux/tcp.h>
#include <poll.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>

#include "sock/sock_errqueue.hpp"
#include "tcp_send_fixture.hpp"

namespace sp::send_test {
namespace {

struct ErrReport {
  ssize_t ret = 0;
  int err = 0;  // errno when ret < 0
  int msg_flags = 0;
  bool has_ee = false;
  sock_extended_err ee{};
  bool has_ts = false;
  Nanos ts = 0;  // SCM_TIMESTAMPING ts[0]
  int ncmsg = 0;
};

class ErrqueueTest : public TcpSendTest {
 protected:
  explicit ErrqueueTest(std::uint64_t features = NETIF_F_SG | NETIF_F_HW_CSUM | NETIF_F_TSO)
      : TcpSendTest(features) {}

  ~ErrqueueTest() override {
    // Close first: a closing socket may still send (read) zerocopy bytes,
    // and these live in user_bufs_ until the sockets are gone.
    for (int fd : fds_) sp::close(fd);
    fds_.clear();
  }

  // Memory a zerocopy send may point into until its completion, as the
  // API's contract asks: it outlives the sockets.
  std::vector<std::uint8_t>& user_buf(std::size_t n, std::uint8_t fill = 0) {
    return user_bufs_.emplace_back(n, fill);
  }
  std::deque<std::vector<std::uint8_t>> user_bufs_;

  int zerocopy_socket() {
    int fd = connected_socket();
    const int one = 1;
    EXPECT_EQ(sp::setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one), 0);
    return fd;
  }

  ErrReport read_err(int fd, std::size_t controllen = 256) {
    ErrReport r;
    alignas(cmsghdr) std::uint8_t ctl[256] = {};
    msghdr m{};
    m.msg_control = controllen ? ctl : nullptr;
    m.msg_controllen = controllen;
    r.ret = sp::recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT);
    r.err = r.ret < 0 ? errno : 0;
    r.msg_flags = m.msg_flags;
    if (r.ret < 0 || !controllen) return r;
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
      ++r.ncmsg;
      if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) {
        EXPECT_EQ(c->cmsg_len, CMSG_LEN(sizeof(sock_extended_err) + sizeof(sockaddr_in)));
        std::memcpy(&r.ee, CMSG_DATA(c), sizeof r.ee);
        r.has_ee = true;
      } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING) {
        scm_timestamping tss{};
        std::memcpy(&tss, CMSG_DATA(c), sizeof tss);
        r.ts = static_cast<Nanos>(tss.ts[0].tv_sec) * kNsPerSec +
               static_cast<Nanos>(tss.ts[0].tv_nsec);
        r.has_ts = true;
      }
    }
    return r;
  }

  short revents(int fd) {
    pollfd p{fd, POLLIN | POLLOUT, 0};
    EXPECT_EQ(sp::poll(&p, 1, 0), 1);
    return p.revents;
  }

  ssize_t send_zc(int fd, const void* buf, std::size_t n) {
    return sp::send(fd, buf, n, MSG_ZEROCOPY);
  }

  // The user memory a frag points at, or nullptr for a kernel page.
  static const std::uint8_t* frag_user_addr(const SkBuff* skb, int i) {
    const SkbFrag& f = skb_shinfo(skb)->frags[i];
    return f.page->user_ubuf ? skb_frag_address(&f) : nullptr;
  }
};

TEST_F(ErrqueueTest, zerocopy_send_frags_point_at_the_callers_memory) {
  int fd = zerocopy_socket();
  freeze(fd);
  std::vector<std::uint8_t>& buf = user_buf(10000);
  for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<std::uint8_t>(i * 7);
  ASSERT_EQ(send_zc(fd, buf.data(), buf.size()), 10000);
  auto q = write_queue(fd);
  ASSERT_EQ(q.size(), 1u);
  SkBuff* skb = q[0];
  EXPECT_EQ(skb->len, 10000u);
  EXPECT_EQ(skb_headlen(skb), 0u);
  ASSERT_GE(skb_shinfo(skb)->nr_frags, 3);
  // No copy: the first frag starts at the buffer, the rest follow it.
  EXPECT_EQ(frag_user_addr(skb, 0), buf.data());
  std::size_t off = 0;
  for (int i = 0; i < skb_shinfo(skb)->nr_frags; ++i) {
    EXPECT_EQ(frag_user_addr(skb, i), buf.data() + off) << "frag " << i;
    off += skb_shinfo(skb)->frags[i].size;
  }
  EXPECT_EQ(off, buf.size());
  EXPECT_NE(skb_zcopy(skb), nullptr);
}

TEST_F(ErrqueueTest, zerocopy_send_puts_the_callers_bytes_on_the_wire) {
  int fd = zerocopy_socket();
  std::vector<std::uint8_t>& buf = user_buf(3000);
  for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<std::uint8_t>(i % 251);
  ASSERT_EQ(send_zc(fd, buf.data(), buf.size()), 3000);
  std::vector<std::uint8_t> wire;
  for (std::size_t i = 0; i < sent_count(); ++i) {
    const auto& bytes = dev_->seg_bytes[i];
    wire.insert(wire.end(), bytes.end() - sent(i).payload_len, bytes.end());
  }
  EXPECT_EQ(wire, buf);
}

TEST_F(ErrqueueTest, completion_waits_for_the_ack_and_reports_the_send_id) {
  int fd = zerocopy_socket();
  std::vector<std::uint8_t>& buf = user_buf(2000, 'z');
  ASSERT_EQ(send_zc(fd, buf.data(), buf.size()), 2000);
  // Sent but unacknowledged: the stack still reads the pages.
  ErrReport none = read_err(fd);
  EXPECT_EQ(none.ret, -1);
  EXPECT_EQ(none.err, EAGAIN);
  EXPECT_FALSE(revents(fd) & POLLERR);

  ack(tp_of(fd)->snd_nxt);
  EXPECT_TRUE(revents(fd) & POLLERR) << "a completion waits on the error queue";
  ErrReport r = read_err(fd);
  EXPECT_EQ(r.ret, 0);
  EXPECT_EQ(r.msg_flags, MSG_ERRQUEUE);
  ASSERT_TRUE(r.has_ee);
  EXPECT_FALSE(r.has_ts);
  EXPECT_EQ(r.ee.ee_errno, 0u);
  EXPECT_EQ(r.ee.ee_origin, SO_EE_ORIGIN_ZEROCOPY);
  EXPECT_EQ(r.ee.ee_code, 0) << "the fake NIC read the user pages: no copy";
  EXPECT_EQ(r.ee.ee_info, 0u);
  EXPECT_EQ(r.ee.ee_data, 0u);
  EXPECT_FALSE(revents(fd) & POLLERR);
}

TEST_F(ErrqueueTest, completions_of_consecutive_sends_coalesce_into_one_range) {
  int fd = zerocopy_socket();
  auto& a = user_buf(1000, 'a');
  auto& b = user_buf(1000, 'b');
  auto& c = user_buf(1000, 'c');
  ASSERT_EQ(send_zc(fd, a.data(), a.size()), 1000);
  ack(tp_of(fd)->snd_nxt);
  ASSERT_EQ(send_zc(fd, b.data(), b.size()), 1000);
  ack(tp_of(fd)->snd_nxt);
  ASSERT_EQ(send_zc(fd, c.data(), c.size()), 1000);
  ack(tp_of(fd)->snd_nxt);
  ErrReport r = read_err(fd);
  ASSERT_TRUE(r.has_ee);
  EXPECT_EQ(r.ee.ee_info, 0u);
  EXPECT_EQ(r.ee.ee_data, 2u) << "ids 0..2 in one report";
  EXPECT_EQ(read_err(fd).err, EAGAIN);
  EXPECT_EQ(sk_of(fd)->sk_omem_alloc, 0) << "the merged reports gave their option memory back";
}

TEST_F(ErrqueueTest, sends_appended_to_one_skb_share_one_range) {
  int fd = zerocopy_socket();
  freeze(fd);
  auto& a = user_buf(100, 'a');
  auto& b = user_buf(100, 'b');
  ASSERT_EQ(send_zc(fd, a.data(), a.size()), 100);
  ASSERT_EQ(send_zc(fd, b.data(), b.size()), 100);
  auto q = write_queue(fd);
  ASSERT_EQ(q.size(), 1u);
  auto* zc = uarg_to_msgzc(skb_zcopy(q[0]));
  EXPECT_EQ(zc->id, 0u);
  EXPECT_EQ(zc->len, 2u);
  // One frag per user page touched: a buffer that crosses a page boundary
  // takes two.
  std::vector<const std::uint8_t*> starts;
  for (int i = 0; i < skb_shinfo(q[0])->nr_frags; ++i) starts.push_back(frag_user_addr(q[0], i));
  ASSERT_FALSE(starts.empty());
  EXPECT_EQ(starts.front(), a.data());
  EXPECT_NE(std::find(starts.begin(), starts.end(), b.data()), starts.end());
}

TEST_F(ErrqueueTest, each_iovec_becomes_a_frag_and_a_full_skb_spills) {
  int fd = zerocopy_socket();
  set_sndbuf(fd, 2000000);
  freeze(fd);
  // Separate buffers (not contiguous): one frag each, MAX_SKB_FRAGS per skb.
  std::vector<std::vector<std::uint8_t>*> bufs;
  for (int i = 0; i < 18; ++i) bufs.push_back(&user_buf(64, 'x'));
  std::vector<iovec> iov;
  for (auto* b : bufs) iov.push_back({b->data(), 1});
  msghdr m{};
  m.msg_iov = iov.data();
  m.msg_iovlen = iov.size();
  ASSERT_EQ(sp::sendmsg(fd, &m, MSG_ZEROCOPY), 18);
  auto q = write_queue(fd);
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0]->len, 17u);
  EXPECT_EQ(skb_shinfo(q[0])->nr_frags, MAX_SKB_FRAGS);
  EXPECT_TRUE(TCP_SKB_CB(q[0])->tcp_flags & TCPHDR_PSH) << "out of frags: pushed";
  EXPECT_EQ(q[1]->len, 1u);
  // Pinned pages are charged whole.
  EXPECT_GE(q[0]->truesize, 17 * PAGE_SIZE);
  EXPECT_EQ(skb_zcopy(q[0]), skb_zcopy(q[1])) << "one send, one range";
}

TEST_F(ErrqueueTest, msg_zerocopy_without_so_zerocopy_is_a_plain_copy) {
  int fd = connected_socket();
  freeze(fd);
  std::vector<std::uint8_t>& buf = user_buf(500, 'q');
  ASSERT_EQ(sp::send(fd, buf.data(), buf.size(), MSG_ZEROCOPY), 500);
  auto q = write_queue(fd);
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(skb_zcopy(q[0]), nullptr);
  EXPECT_EQ(frag_user_addr(q[0], 0), nullptr);
  tcp_snd_cwnd_set(tp_of(fd), 10);
  tcp_push_pending_frames(sk_of(fd));
  ack(tp_of(fd)->snd_nxt);
  EXPECT_EQ(read_err(fd).err, EAGAIN) << "no completion for a copying send";
}

TEST_F(ErrqueueTest, failed_zerocopy_send_gives_its_id_back) {
  int fd = sp::socket(st_, AF_INET, SOCK_STREAM, 0);
  fds_.push_back(fd);
  const int one = 1;
  ASSERT_EQ(sp::setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one), 0);
  std::vector<std::uint8_t>& buf = user_buf(100);
  EXPECT_EQ(send_zc(fd, buf.data(), buf.size()), -1);
  EXPECT_EQ(errno, EPIPE);
  EXPECT_EQ(sk_of(fd)->sk_zckey, 0u);
  EXPECT_EQ(read_err(fd).err, EAGAIN) << "an aborted send reports nothing";
  EXPECT_EQ(sk_of(fd)->sk_omem_alloc, 0);
}

TEST_F(ErrqueueTest, zerocopy_beyond_optmem_max_fails_with_enobufs) {
  int fd = zerocopy_socket();
  st_.sysctl().optmem_max = 0;
  std::vector<std::uint8_t>& buf = user_buf(100);
  EXPECT_EQ(send_zc(fd, buf.data(), buf.size()), -1);
  EXPECT_EQ(errno, ENOBUFS);
  EXPECT_EQ(tp_of(fd)->write_seq, tp_of(fd)->snd_una) << "nothing queued";
}

TEST_F(ErrqueueTest, so_zerocopy_reads_back_and_rejects_values_above_one) {
  int fd = connected_socket();
  int v = 2;
  EXPECT_EQ(sp::setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &v, sizeof v), -1);
  EXPECT_EQ(errno, EINVAL);
  v = 1;
  ASSERT_EQ(sp::setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &v, sizeof v), 0);
  int got = 0;
  socklen_t len = sizeof got;
  ASSERT_EQ(sp::getsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &got, &len), 0);
  EXPECT_EQ(got, 1);
}

TEST_F(ErrqueueTest, control_buffer_too_small_sets_msg_ctrunc) {
  int fd = zerocopy_socket();
  std::vector<std::uint8_t>& buf = user_buf(100);
  ASSERT_EQ(send_zc(fd, buf.data(), buf.size()), 100);
  ack(tp_of(fd)->snd_nxt);
  ErrReport r = read_err(fd, 0);
  EXPECT_EQ(r.ret, 0);
  EXPECT_EQ(r.msg_flags, MSG_ERRQUEUE | MSG_CTRUNC);
}

// --- timestamps --------------------------------------------------------------------

constexpr std::uint32_t kTsFlags = SOF_TIMESTAMPING_TX_SCHED | SOF_TIMESTAMPING_TX_SOFTWARE |
                                   SOF_TIMESTAMPING_TX_ACK | SOF_TIMESTAMPING_SOFTWARE |
                                   SOF_TIMESTAMPING_OPT_ID;

TEST_F(ErrqueueTest, tx_timestamps_report_sched_snd_and_ack_of_the_last_byte) {
  int fd = connected_socket();
  const int flags = static_cast<int>(kTsFlags);
  ASSERT_EQ(sp::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof flags), 0);
  const Nanos t_send = clock_.now_ns();
  ASSERT_EQ(write_n(fd, 3000), 3000);
  advance_ms(10);
  const Nanos t_ack = clock_.now_ns();
  ack(tp_of(fd)->snd_nxt);

  const std::uint32_t types[] = {SCM_TSTAMP_SCHED, SCM_TSTAMP_SND, SCM_TSTAMP_ACK};
  const Nanos when[] = {t_send, t_send, t_ack};
  for (int i = 0; i < 3; ++i) {
    ErrReport r = read_err(fd);
    ASSERT_EQ(r.ret, 0) << i;
    EXPECT_EQ(r.msg_flags, MSG_ERRQUEUE | MSG_TRUNC) << "the report carries the data skb";
    EXPECT_EQ(r.ncmsg, 2);
    ASSERT_TRUE(r.has_ts && r.has_ee);
    EXPECT_EQ(r.ee.ee_errno, static_cast<std::uint32_t>(ENOMSG));
    EXPECT_EQ(r.ee.ee_origin, SO_EE_ORIGIN_TIMESTAMPING);
    EXPECT_EQ(r.ee.ee_info, types[i]);
    EXPECT_EQ(r.ee.ee_data, 2999u) << "key: the last byte, counted from OPT_ID";
    EXPECT_EQ(r.ts, when[i]);
  }
  EXPECT_EQ(read_err(fd).err, EAGAIN);
  EXPECT_EQ(sk_of(fd)->sk_rmem_alloc, 0);
}

TEST_F(ErrqueueTest, opt_tsonly_reports_carry_no_data) {
  int fd = connected_socket();
  const int flags = static_cast<int>(SOF_TIMESTAMPING_TX_ACK | SOF_TIMESTAMPING_SOFTWARE |
                                     SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY);
  ASSERT_EQ(sp::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof flags), 0);
  ASSERT_EQ(write_n(fd, 100), 100);
  ack(tp_of(fd)->snd_nxt);
  ASSERT_EQ(write_n(fd, 50), 50);
  ack(tp_of(fd)->snd_nxt);
  ErrReport r = read_err(fd);
  ASSERT_EQ(r.ret, 0);
  EXPECT_EQ(r.msg_flags, MSG_ERRQUEUE);
  EXPECT_EQ(r.ee.ee_info, static_cast<std::uint32_t>(SCM_TSTAMP_ACK));
  EXPECT_EQ(r.ee.ee_data, 99u);
  r = read_err(fd);
  EXPECT_EQ(r.ee.ee_data, 149u) << "one report per write";
}

TEST_F(ErrqueueTest, opt_stats_reports_carry_the_connection_state_as_netlink_attributes) {
  int fd = connected_socket();
  const int flags = static_cast<int>(SOF_TIMESTAMPING_TX_ACK | SOF_TIMESTAMPING_SOFTWARE |
                                     SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY |
                                     SOF_TIMESTAMPING_OPT_STATS);
  ASSERT_EQ(sp::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof flags), 0);
  ASSERT_EQ(write_n(fd, 3000), 3000);
  ack(tp_of(fd)->snd_nxt);

  alignas(cmsghdr) std::uint8_t ctl[1024] = {};
  msghdr m{};
  m.msg_control = ctl;
  m.msg_controllen = sizeof ctl;
  ASSERT_EQ(sp::recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT), 0);
  EXPECT_EQ(m.msg_flags, MSG_ERRQUEUE | MSG_TRUNC) << "the attributes are the report's bytes";
  std::vector<int> types;
  std::map<int, std::uint64_t> attr;
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    types.push_back(c->cmsg_type);
    if (c->cmsg_type != SCM_TIMESTAMPING_OPT_STATS) continue;
    const std::uint8_t* p = CMSG_DATA(c);
    const std::size_t n = c->cmsg_len - CMSG_LEN(0);
    for (std::size_t off = 0; off + 4 <= n;) {
      std::uint16_t len = 0, type = 0;
      std::memcpy(&len, p + off, 2);
      std::memcpy(&type, p + off + 2, 2);
      ASSERT_GE(len, 4);
      std::uint64_t v = 0;
      std::memcpy(&v, p + off + 4, std::min<std::size_t>(len - 4u, sizeof v));
      attr[type] = v;
      off += (len + 3u) & ~3u;
    }
  }
  EXPECT_EQ(types, (std::vector<int>{SCM_TIMESTAMPING, SCM_TIMESTAMPING_OPT_STATS, IP_RECVERR}));
  EXPECT_EQ(attr[TCP_NLA_BYTES_SENT], 3000u);
  EXPECT_EQ(attr[TCP_NLA_DATA_SEGS_OUT], 3u) << "3000 bytes at MSS 1460";
  EXPECT_EQ(attr[TCP_NLA_SND_CWND], tcp_snd_cwnd(tp_of(fd)));
  EXPECT_EQ(attr[TCP_NLA_SNDQ_SIZE], 0u) << "acked";
  EXPECT_EQ(attr[TCP_NLA_TOTAL_RETRANS], 0u);
  EXPECT_EQ(attr.count(TCP_NLA_TTL), 0u);
  EXPECT_EQ(attr.size(), 26u) << "every TCP_NLA_* but PAD and TTL";
}

TEST_F(ErrqueueTest, so_timestamping_opt_id_needs_a_connection_and_stats_need_tsonly) {
  int fd = sp::socket(st_, AF_INET, SOCK_STREAM, 0);
  fds_.push_back(fd);
  int flags = static_cast<int>(SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_TX_ACK);
  EXPECT_EQ(sp::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof flags), -1);
  EXPECT_EQ(errno, EINVAL);
  int cfd = connected_socket();
  flags = static_cast<int>(SOF_TIMESTAMPING_OPT_STATS | SOF_TIMESTAMPING_TX_ACK);
  EXPECT_EQ(sp::setsockopt(cfd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof flags), -1);
  EXPECT_EQ(errno, EINVAL);
  flags = static_cast<int>(SOF_TIMESTAMPING_TX_ACK | SOF_TIMESTAMPING_OPT_ID);
  ASSERT_EQ(sp::setsockopt(cfd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof flags), 0);
  so_timestamping got{};
  socklen_t len = sizeof got;
  ASSERT_EQ(sp::getsockopt(cfd, SOL_SOCKET, SO_TIMESTAMPING, &got, &len), 0);
  EXPECT_EQ(got.flags, flags);
}

ssize_t send_with_cmsg(int fd, std::size_t n, int level, int type, std::uint32_t value) {
  std::vector<std::uint8_t> buf(n, 'c');
  iovec iov{buf.data(), n};
  alignas(cmsghdr) std::uint8_t ctl[CMSG_SPACE(sizeof(std::uint32_t))] = {};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = ctl;
  m.msg_controllen = sizeof ctl;
  cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = level;
  c->cmsg_type = type;
  c->cmsg_len = CMSG_LEN(sizeof value);
  std::memcpy(CMSG_DATA(c), &value, sizeof value);
  return sp::sendmsg(fd, &m, 0);
}

TEST_F(ErrqueueTest, so_timestamping_cmsg_asks_a_stamp_for_one_write) {
  int fd = connected_socket();
  const int flags = static_cast<int>(SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_ID);
  ASSERT_EQ(sp::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof flags), 0);
  ASSERT_EQ(write_n(fd, 100), 100);
  ack(tp_of(fd)->snd_nxt);
  ASSERT_EQ(send_with_cmsg(fd, 40, SOL_SOCKET, SO_TIMESTAMPING, SOF_TIMESTAMPING_TX_ACK), 40);
  ack(tp_of(fd)->snd_nxt);
  ASSERT_EQ(write_n(fd, 10), 10);
  ack(tp_of(fd)->snd_nxt);
  ErrReport r = read_err(fd);
  ASSERT_EQ(r.ret, 0);
  EXPECT_EQ(r.ee.ee_info, static_cast<std::uint32_t>(SCM_TSTAMP_ACK));
  EXPECT_EQ(r.ee.ee_data, 139u) << "only the write that asked";
  EXPECT_EQ(read_err(fd).err, EAGAIN);
}

TEST_F(ErrqueueTest, bad_sendmsg_cmsgs_fail_with_einval) {
  int fd = connected_socket();
  // Reporting options cannot change per call.
  EXPECT_EQ(send_with_cmsg(fd, 10, SOL_SOCKET, SO_TIMESTAMPING, SOF_TIMESTAMPING_OPT_ID), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(send_with_cmsg(fd, 10, SOL_SOCKET, SO_PRIORITY, 1), -1);
  EXPECT_EQ(errno, EINVAL);
  // Other levels are not the socket layer's business.
  EXPECT_EQ(send_with_cmsg(fd, 10, IPPROTO_IP, IP_TOS, 1), 10);
  msghdr m{};
  m.msg_controllen = 16;
  EXPECT_EQ(sp::sendmsg(fd, &m, 0), -1);
  EXPECT_EQ(errno, EFAULT);
}

// --- TCP_INQ --------------------------------------------------------------------------

TEST_F(ErrqueueTest, tcp_inq_reports_the_bytes_left_after_each_read) {
  int fd = connected_socket();
  const int one = 1;
  ASSERT_EQ(sp::setsockopt(fd, IPPROTO_TCP, TCP_INQ, &one, sizeof one), 0);
  int got = 0;
  socklen_t len = sizeof got;
  ASSERT_EQ(sp::getsockopt(fd, IPPROTO_TCP, TCP_INQ, &got, &len), 0);
  EXPECT_EQ(got, 1);
  std::vector<std::uint8_t> data(1000, 'd');
  inject(".", kPeerIsn + 1, tp_of(fd)->snd_nxt, 0xffff, {}, data);

  auto read_inq = [&](std::size_t n, int* inq) {
    std::vector<std::uint8_t> buf(n);
    iovec iov{buf.data(), n};
    alignas(cmsghdr) std::uint8_t ctl[CMSG_SPACE(sizeof(int))] = {};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = sizeof ctl;
    const ssize_t r = sp::recvmsg(fd, &m, MSG_DONTWAIT);
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    EXPECT_NE(c, nullptr);
    if (c) {
      EXPECT_EQ(c->cmsg_level, IPPROTO_TCP);
      EXPECT_EQ(c->cmsg_type, TCP_CM_INQ);
      std::memcpy(inq, CMSG_DATA(c), sizeof *inq);
    }
    EXPECT_EQ(m.msg_controllen, CMSG_SPACE(sizeof(int)));
    return r;
  };
  int inq = -1;
  EXPECT_EQ(read_inq(300, &inq), 300);
  EXPECT_EQ(inq, 700);
  EXPECT_EQ(read_inq(700, &inq), 700);
  EXPECT_EQ(inq, 0);
  inject("F.", kPeerIsn + 1 + 1000, tp_of(fd)->snd_nxt, 0xffff);
  EXPECT_EQ(read_inq(100, &inq), 0);
  EXPECT_EQ(inq, 1) << "after the FIN: come back for end of file";
}

TEST_F(ErrqueueTest, tcp_inq_rejects_values_above_one) {
  int fd = connected_socket();
  const int two = 2;
  EXPECT_EQ(sp::setsockopt(fd, IPPROTO_TCP, TCP_INQ, &two, sizeof two), -1);
  EXPECT_EQ(errno, EINVAL);
}

// Without scatter-gather the payload must be copied into the skb: the
// completion says so.
class ErrqueueNoSgTest : public ErrqueueTest {
 protected:
  ErrqueueNoSgTest() : ErrqueueTest(NETIF_F_HW_CSUM) {}
};

TEST_F(ErrqueueNoSgTest, zerocopy_on_a_route_without_sg_reports_copied) {
  int fd = zerocopy_socket();
  std::vector<std::uint8_t>& buf = user_buf(800, 'n');
  ASSERT_EQ(send_zc(fd, buf.data(), buf.size()), 800);
  ack(tp_of(fd)->snd_nxt);
  ErrReport r = read_err(fd);
  ASSERT_TRUE(r.has_ee);
  EXPECT_EQ(r.ee.ee_origin, SO_EE_ORIGIN_ZEROCOPY);
  EXPECT_EQ(r.ee.ee_code, SO_EE_CODE_ZEROCOPY_COPIED);
  EXPECT_EQ(r.ee.ee_info, 0u);
  EXPECT_EQ(r.ee.ee_data, 0u);
}

}  // namespace
}  // namespace sp::send_test
