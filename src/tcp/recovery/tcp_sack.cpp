// The SACK scoreboard (net/ipv4/tcp_input.c, tcp_sacktag_*): RFC 2018 SACK
// blocks and RFC 2883 D-SACK tag the retransmit queue. Each skb carries
// three bits in TCP_SKB_CB(skb)->sacked, counted in tp->sacked_out,
// lost_out and retrans_out:
//   0     in flight               S    delivered (SACKed)
//   L     lost, not resent        L|R  lost, retransmission in flight
//   R     original and resend in flight
//   S|R   delivered, a (spurious) resend still in flight
// tcp_packets_in_flight() = packets_out - (sacked_out + lost_out) + retrans_out
// is RFC 6675's "pipe".
#include <algorithm>

#include "core/stack.hpp"
#include "tcp/recovery/tcp_recovery.hpp"
#include "wire/tcp.hpp"

namespace sp {

namespace {

Mib& mib_of(Sock* sk) {
  return sk->stack->mib();
}

// A D-SACK (RFC 2883) reports a duplicate arrival. Count it unless it is
// implausible: a range wider than any window the peer offered, or more
// duplicates than we ever retransmitted (a receiver lying to inflate cwnd
// through undo). Returns the duplicate segments, 0 for a dubious one.
std::uint32_t tcp_dsack_seen(TcpSock* tp, std::uint32_t start_seq, std::uint32_t end_seq,
                             TcpSacktagState* state) {
  if (!before(start_seq, end_seq)) return 0;
  const std::uint32_t seq_len = end_seq - start_seq;
  if (seq_len > tp->max_window) return 0;
  std::uint32_t dup_segs = 1;
  if (seq_len > tp->mss_cache)
    dup_segs = (seq_len + tp->mss_cache - 1) / tp->mss_cache;
  else if (tp->tlp_high_seq && tp->tlp_high_seq == end_seq)
    state->flag |= FLAG_DSACK_TLP;

  tp->dsack_dups += dup_segs;
  if (tp->dsack_dups > tp->total_retrans) return 0;

  tp->rx_opt.sack_ok |= TCP_DSACK_SEEN;
  // RACK widens its reordering window in rounds that saw DSACKs, but only
  // once reordering was seen and not for a TLP's expected duplicate.
  if (tp->reord_seen && !(state->flag & FLAG_DSACK_TLP)) tp->rack.dsack_seen = true;
  state->flag |= FLAG_DSACKING_ACK;
  state->sack_delivered += dup_segs;  // a spurious retransmission was delivered
  return dup_segs;
}

// RFC 2883 4: the first block is a D-SACK when it lies below the cumulative
// ACK, or inside the second block.
bool tcp_check_dsack(Sock* sk, std::uint32_t ack_seq, const TcpSackBlock* sp, int num_sacks,
                     std::uint32_t prior_snd_una, TcpSacktagState* state) {
  TcpSock* tp = tcp_sk(sk);
  const std::uint32_t start_seq_0 = sp[0].start_seq;
  const std::uint32_t end_seq_0 = sp[0].end_seq;
  if (before(start_seq_0, ack_seq)) {
    mib_of(sk).inc(MibId::TcpExtTCPDSACKRecv);
  } else if (num_sacks > 1) {
    if (after(end_seq_0, sp[1].end_seq) || before(start_seq_0, sp[1].start_seq)) return false;
    mib_of(sk).inc(MibId::TcpExtTCPDSACKOfoRecv);
  } else {
    return false;
  }
  const std::uint32_t dup_segs = tcp_dsack_seen(tp, start_seq_0, end_seq_0, state);
  if (!dup_segs) {
    mib_of(sk).inc(MibId::TcpExtTCPDSACKIgnoredDubious);
    return false;
  }
  mib_of(sk).inc(MibId::TcpExtTCPDSACKRecvSegs, dup_segs);
  // A D-SACK for data already cumulatively ACKed: no skb is left to tag,
  // so count the undone retransmissions here.
  if (tp->undo_marker && tp->undo_retrans > 0 && !after(end_seq_0, prior_snd_una) &&
      after(end_seq_0, tp->undo_marker))
    tp->undo_retrans = std::max(0, tp->undo_retrans - static_cast<int>(dup_segs));
  return true;
}

// A SACK block must lie in (snd_una, snd_nxt]; a D-SACK may reach below
// snd_una down to undo_marker (or a window below it), the last point where
// it can still undo something. Reversed or wrapped blocks are dropped.
bool tcp_is_sackblock_valid(const TcpSock* tp, bool is_dsack, std::uint32_t start_seq,
                            std::uint32_t end_seq) {
  if (after(end_seq, tp->snd_nxt) || !before(start_seq, end_seq)) return false;
  if (!before(start_seq, tp->snd_nxt)) return false;
  if (after(start_seq, tp->snd_una)) return true;
  if (!is_dsack || !tp->undo_marker) return false;
  if (after(end_seq, tp->snd_una)) return false;
  if (!before(start_seq, tp->undo_marker)) return true;
  if (!after(end_seq, tp->undo_marker)) return false;
  return !before(start_seq, end_seq - tp->max_window);
}

// Is skb inside [start_seq, end_seq)? A multi-segment skb partly covered is
// split at an MSS boundary first, so that SACK state stays per skb.
// 1: in, 0: not, < 0: the split failed.
int tcp_match_skb_to_sack(Sock* sk, SkBuff* skb, std::uint32_t start_seq, std::uint32_t end_seq) {
  const TcpSkbCb* scb = TCP_SKB_CB(skb);
  bool in_sack = !after(start_seq, scb->seq) && !before(end_seq, scb->end_seq);
  if (tcp_skb_pcount(skb) > 1 && !in_sack && after(scb->end_seq, start_seq)) {
    const unsigned mss = static_cast<unsigned>(tcp_skb_mss(skb));
    in_sack = !after(start_seq, scb->seq);
    unsigned pkt_len;
    if (!in_sack) {
      pkt_len = start_seq - scb->seq;
      if (pkt_len < mss) pkt_len = mss;
    } else {
      pkt_len = end_seq - scb->seq;
      if (pkt_len < mss) return -EINVAL;
    }
    // Split on whole MSSes so that SACKed parts are full segments.
    if (pkt_len > mss) {
      unsigned new_len = (pkt_len / mss) * mss;
      if (!in_sack && new_len < pkt_len) new_len += mss;
      pkt_len = new_len;
    }
    if (pkt_len >= skb->len && !in_sack) return 0;
    const int err = tcp_fragment(sk, TCP_FRAG_IN_RTX_QUEUE, skb, pkt_len, mss);
    if (err < 0) return err;
  }
  return in_sack ? 1 : 0;
}

// Tag [start_seq, end_seq) (pcount segments, sent at xmit_time) as newly
// SACKed; returns the new tag bits (tcp_sacktag_one).
std::uint8_t tcp_sacktag_one(Sock* sk, TcpSacktagState* state, std::uint8_t sacked,
                             std::uint32_t start_seq, std::uint32_t end_seq, bool dup_sack,
                             int pcount, std::uint64_t xmit_time) {
  TcpSock* tp = tcp_sk(sk);
  const std::uint32_t pc = static_cast<std::uint32_t>(pcount);

  // A D-SACK for a retransmitted segment: one retransmission fewer to undo.
  if (dup_sack && (sacked & TCPCB_RETRANS)) {
    if (tp->undo_marker && tp->undo_retrans > 0 && after(end_seq, tp->undo_marker))
      tp->undo_retrans = std::max(0, tp->undo_retrans - pcount);
    if ((sacked & TCPCB_SACKED_ACKED) && before(start_seq, state->reord)) state->reord = start_seq;
  }
  // Already cumulatively ACKed: about to be freed.
  if (!after(end_seq, tp->snd_una)) return sacked;

  if (!(sacked & TCPCB_SACKED_ACKED)) {
    tcp_rack_advance(tp, sacked, end_seq, xmit_time);
    if (sacked & TCPCB_SACKED_RETRANS) {
      // A retransmission not marked lost is believed still in flight.
      if (sacked & TCPCB_LOST) {
        sacked &= static_cast<std::uint8_t>(~(TCPCB_LOST | TCPCB_SACKED_RETRANS));
        tp->lost_out -= pc;
        tp->retrans_out -= pc;
      }
    } else {
      if (!(sacked & TCPCB_RETRANS)) {
        // A never-retransmitted segment SACKed below the highest SACK
        // filled a hole: reordering.
        if (before(start_seq, tcp_highest_sack_seq(tp)) && before(start_seq, state->reord))
          state->reord = start_seq;
        if (!after(end_seq, tp->high_seq)) state->flag |= FLAG_ORIG_SACK_ACKED;
        if (state->first_sackt == 0) state->first_sackt = xmit_time;
        state->last_sackt = xmit_time;
      }
      if (sacked & TCPCB_LOST) {
        sacked &= static_cast<std::uint8_t>(~TCPCB_LOST);
        tp->lost_out -= pc;
      }
    }
    sacked |= TCPCB_SACKED_ACKED;
    state->flag |= FLAG_DATA_SACKED;
    tp->sacked_out += pc;
    state->sack_delivered += pc;
    // The RFC 6675 lost-marking walk counts SACKed segments past its hint.
    if (tp->lost_skb_hint && before(start_seq, TCP_SKB_CB(tp->lost_skb_hint)->seq))
      tp->lost_cnt_hint += pcount;
  }
  // D-SACK of a retransmission: that resend is no longer in flight.
  if (dup_sack && (sacked & TCPCB_SACKED_RETRANS)) {
    sacked &= static_cast<std::uint8_t>(~TCPCB_SACKED_RETRANS);
    tp->retrans_out -= pc;
  }
  return sacked;
}

void tcp_advance_highest_sack(Sock* sk, SkBuff* skb) {
  tcp_sk(sk)->highest_sack = tcp_sk(sk)->tcp_rtx_queue.next(skb);
}

// tcp_shifted_skb: the first `shifted` bytes (pcount segments) of skb now
// belong to prev, a SACKed skb. Tag them, move the counters; when skb is
// empty, free it (hints pointing at it move to prev). True if skb was freed.
bool tcp_shifted_skb(Sock* sk, SkBuff* prev, SkBuff* skb, TcpSacktagState* state, int pcount,
                     std::uint32_t shifted, int mss, bool dup_sack) {
  TcpSock* tp = tcp_sk(sk);
  TcpSkbCb* pcb = TCP_SKB_CB(prev);
  TcpSkbCb* scb = TCP_SKB_CB(skb);
  const std::uint32_t start_seq = scb->seq;
  // Tag before moving seq: when skb is highest_sack, the move below
  // advances tcp_highest_sack_seq() with it.
  tcp_sacktag_one(sk, state, scb->sacked, start_seq, start_seq + shifted, dup_sack, pcount,
                  tcp_skb_timestamp_us(skb));
  tcp_rate_skb_delivered(sk, skb, state->rate);
  if (skb == tp->lost_skb_hint) tp->lost_cnt_hint += pcount;

  pcb->end_seq += shifted;
  scb->seq += shifted;
  tcp_skb_pcount_add(prev, pcount);
  tcp_skb_pcount_add(skb, -pcount);
  if (!pcb->gso.tcp_gso_size) pcb->gso.tcp_gso_size = static_cast<std::uint16_t>(mss);
  if (tcp_skb_pcount(skb) <= 1) scb->gso.tcp_gso_size = 0;
  // Both are covered by the same cumulative ACK now: keep "ever resent".
  pcb->sacked |= scb->sacked & TCPCB_EVER_RETRANS;

  if (skb->len > 0) {
    mib_of(sk).inc(MibId::TcpExtTCPSackShifted);
    return false;
  }
  // All of skb moved into prev.
  if (skb == tp->retransmit_skb_hint) tp->retransmit_skb_hint = prev;
  if (skb == tp->lost_skb_hint) {
    tp->lost_skb_hint = prev;
    tp->lost_cnt_hint -= tcp_skb_pcount(prev);
  }
  pcb->tcp_flags |= scb->tcp_flags;
  pcb->eor = scb->eor;
  if (scb->tcp_flags & TCPHDR_FIN) pcb->end_seq++;
  if (skb == tp->highest_sack) tcp_advance_highest_sack(sk, skb);
  // A timestamp request on skb's last byte is now prev's.
  if (skb_shinfo(skb)->tx_flags & SKBTX_ANY_TSTAMP) {
    skb_shinfo(prev)->tx_flags |= skb_shinfo(skb)->tx_flags & SKBTX_ANY_TSTAMP;
    skb_shinfo(prev)->tskey = skb_shinfo(skb)->tskey;
    pcb->txstamp_ack |= scb->txstamp_ack;
  }
  // prev was sampled already; its merged bytes must not give another sample.
  pcb->tx_delivered_mstamp = 0;
  sk_wmem_free_skb(sk, tcp_rtx_queue_unlink(sk, skb));
  mib_of(sk).inc(MibId::TcpExtTCPSackMerged);
  return true;
}

// The segment length of skb (tcp_skb_seglen): its MSS, or its length when
// it is one segment.
int tcp_skb_seglen(const SkBuff* skb) {
  return tcp_skb_pcount(skb) == 1 ? static_cast<int>(skb->len) : tcp_skb_mss(skb);
}

// Only paged data can move between skbs (skb_can_shift).
bool skb_can_shift(const SkBuff* skb) {
  return !skb_headlen(skb) && skb_is_nonlinear(skb);
}

// tcp_skb_shift: skb_shift within what gso_segs and TCP_MIN_GSO_SIZE allow.
bool tcp_skb_shift(SkBuff* to, SkBuff* from, int pcount, std::uint32_t shiftlen) {
  constexpr std::uint32_t kMinGsoSize = 8;
  if (to->len + shiftlen >= 65535u * kMinGsoSize) return false;
  if (tcp_skb_pcount(to) + pcount > 65535) return false;
  return skb_shift(to, from, shiftlen) == shiftlen;
}

enum class ShiftResult { kShifted, kNoop, kFallback };

// tcp_shift_skb_data: when [start_seq, end_seq) covers skb's head (whole
// segments) and the skb before it is SACKed, move those bytes into it
// instead of splitting skb, so SACKed data stays in few skbs. *skbp becomes
// the skb the walk continues from (prev when something moved).
ShiftResult tcp_shift_skb_data(Sock* sk, SkBuff** skbp, TcpSacktagState* state,
                               std::uint32_t start_seq, std::uint32_t end_seq, bool dup_sack) {
  TcpSock* tp = tcp_sk(sk);
  SkBuff* skb = *skbp;
  const TcpSkbCb* scb = TCP_SKB_CB(skb);
  auto fallback = [sk] {
    mib_of(sk).inc(MibId::TcpExtTCPSackShiftFallback);
    return ShiftResult::kFallback;
  };
  // A retransmission not marked lost: the plain path tags it.
  if (!dup_sack && (scb->sacked & (TCPCB_LOST | TCPCB_SACKED_RETRANS)) == TCPCB_SACKED_RETRANS)
    return fallback();
  if (!skb_can_shift(skb)) return fallback();
  if (!after(scb->end_seq, tp->snd_una)) return fallback();
  SkBuff* prev = tp->tcp_rtx_queue.prev(skb);
  if (!prev) return fallback();
  if ((TCP_SKB_CB(prev)->sacked & TCPCB_TAGBITS) != TCPCB_SACKED_ACKED) return fallback();
  if (!tcp_skb_can_collapse(prev, skb)) return fallback();

  std::uint32_t len;
  int pcount;
  int mss;
  if (!after(start_seq, scb->seq) && !before(end_seq, scb->end_seq)) {
    len = skb->len;
    pcount = tcp_skb_pcount(skb);
    mss = tcp_skb_seglen(skb);
    if (mss != tcp_skb_seglen(prev)) return fallback();
  } else {
    if (!after(scb->end_seq, start_seq)) return ShiftResult::kNoop;
    if (tcp_skb_pcount(skb) <= 1) return ShiftResult::kNoop;
    // Only a covered head can move back; a covered tail takes the split.
    if (after(start_seq, scb->seq)) return fallback();
    len = end_seq - scb->seq;
    mss = tcp_skb_mss(skb);
    if (mss != tcp_skb_seglen(prev)) return fallback();
    // Whole segments only, or pcount goes wrong.
    if (len < static_cast<std::uint32_t>(mss)) return ShiftResult::kNoop;
    pcount = static_cast<int>(len / static_cast<std::uint32_t>(mss));
    len = static_cast<std::uint32_t>(pcount * mss);
  }
  // tcp_sacktag_one tags nothing below snd_una.
  if (!after(scb->seq + len, tp->snd_una)) return fallback();
  if (!tcp_skb_shift(prev, skb, pcount, len)) return fallback();
  *skbp = prev;
  if (!tcp_shifted_skb(sk, prev, skb, state, pcount, len, mss, dup_sack))
    return ShiftResult::kShifted;

  // The hole is filled: the SACKed skb after it may join prev too.
  SkBuff* next = tp->tcp_rtx_queue.next(prev);
  if (!next || !skb_can_shift(next) ||
      (TCP_SKB_CB(next)->sacked & TCPCB_TAGBITS) != TCPCB_SACKED_ACKED ||
      mss != tcp_skb_seglen(next) || !tcp_skb_can_collapse(prev, next))
    return ShiftResult::kShifted;
  const int next_pcount = tcp_skb_pcount(next);
  const std::uint32_t next_len = next->len;
  if (tcp_skb_shift(prev, next, next_pcount, next_len))
    tcp_shifted_skb(sk, prev, next, state, next_pcount, next_len, mss, false);
  return ShiftResult::kShifted;
}

// Walk from skb over the skbs below end_seq, tagging those the block
// covers (next_dup: a D-SACK block inside this one, tagged as duplicate).
SkBuff* tcp_sacktag_walk(SkBuff* skb, Sock* sk, const TcpSackBlock* next_dup,
                         TcpSacktagState* state, std::uint32_t start_seq, std::uint32_t end_seq,
                         bool dup_sack_in) {
  TcpSock* tp = tcp_sk(sk);
  for (; skb; skb = tp->tcp_rtx_queue.next(skb)) {
    int in_sack = 0;
    bool dup_sack = dup_sack_in;
    if (!before(TCP_SKB_CB(skb)->seq, end_seq)) break;
    if (next_dup && before(TCP_SKB_CB(skb)->seq, next_dup->end_seq)) {
      in_sack = tcp_match_skb_to_sack(sk, skb, next_dup->start_seq, next_dup->end_seq);
      if (in_sack > 0) dup_sack = true;
    }
    if (in_sack <= 0) {
      // Merge into the SACKed skb before this one rather than split.
      SkBuff* cur = skb;
      const ShiftResult r = tcp_shift_skb_data(sk, &cur, state, start_seq, end_seq, dup_sack);
      if (r == ShiftResult::kShifted) {
        skb = cur;  // skb may be freed; go on after prev
        continue;
      }
      if (r == ShiftResult::kNoop)
        in_sack = 0;
      else
        in_sack = tcp_match_skb_to_sack(sk, skb, start_seq, end_seq);
    }
    if (in_sack < 0) break;
    if (in_sack) {
      TcpSkbCb* scb = TCP_SKB_CB(skb);
      scb->sacked = tcp_sacktag_one(sk, state, scb->sacked, scb->seq, scb->end_seq, dup_sack,
                                    tcp_skb_pcount(skb), tcp_skb_timestamp_us(skb));
      tcp_rate_skb_delivered(sk, skb, state->rate);
      if (scb->sacked & TCPCB_SACKED_ACKED) tcp_tsorted_unlink(tp, skb);
      if (!before(scb->seq, tcp_highest_sack_seq(tp))) tcp_advance_highest_sack(sk, skb);
    }
  }
  return skb;
}

// The skb holding seq, found in the tree: O(log n) instead of a walk.
SkBuff* tcp_sacktag_skip(SkBuff* skb, Sock* sk, std::uint32_t skip_to_seq) {
  if (skb && after(TCP_SKB_CB(skb)->seq, skip_to_seq)) return skb;
  return tcp_sk(sk)->tcp_rtx_queue.find_containing(skip_to_seq);
}

SkBuff* tcp_maybe_skipping_dsack(SkBuff* skb, Sock* sk, const TcpSackBlock* next_dup,
                                 TcpSacktagState* state, std::uint32_t skip_to_seq) {
  if (!next_dup) return skb;
  if (before(next_dup->start_seq, skip_to_seq)) {
    skb = tcp_sacktag_skip(skb, sk, next_dup->start_seq);
    skb = tcp_sacktag_walk(skb, sk, nullptr, state, next_dup->start_seq, next_dup->end_seq, true);
  }
  return skb;
}

constexpr int kSackCacheSize = 4;

}  // namespace

void tcp_check_sack_reordering(Sock* sk, std::uint32_t low_seq, int ts) {
  TcpSock* tp = tcp_sk(sk);
  const std::uint32_t mss = tp->mss_cache;
  const std::uint32_t fack = tcp_highest_sack_seq(tp);
  if (!before(low_seq, fack)) return;
  // The reordering degree: how many MSS the late segment was overtaken by.
  const std::uint32_t metric = fack - low_seq;
  if (mss && metric > tp->reordering * mss) {
    tp->reordering =
        std::min<std::uint32_t>((metric + mss - 1) / mss,
                                static_cast<std::uint32_t>(sk->stack->sysctl().tcp_max_reordering));
  }
  tp->reord_seen++;
  mib_of(sk).inc(ts ? MibId::TcpExtTCPTSReorder : MibId::TcpExtTCPSACKReorder);
}

// Called before lost_out/retrans_out change: if every earlier lost skb was
// already resent, this one is the next to retransmit.
static void tcp_verify_retransmit_hint(TcpSock* tp, SkBuff* skb) {
  if ((!tp->retransmit_skb_hint && tp->retrans_out >= tp->lost_out) ||
      (tp->retransmit_skb_hint &&
       before(TCP_SKB_CB(skb)->seq, TCP_SKB_CB(tp->retransmit_skb_hint)->seq)))
    tp->retransmit_skb_hint = skb;
}

void tcp_mark_skb_lost(Sock* sk, SkBuff* skb) {
  TcpSock* tp = tcp_sk(sk);
  TcpSkbCb* scb = TCP_SKB_CB(skb);
  const std::uint8_t sacked = scb->sacked;
  const std::uint32_t pcount = static_cast<std::uint32_t>(tcp_skb_pcount(skb));
  if (sacked & TCPCB_SACKED_ACKED) return;
  tcp_verify_retransmit_hint(tp, skb);
  if (sacked & TCPCB_LOST) {
    if (sacked & TCPCB_SACKED_RETRANS) {
      // The retransmission was lost as well.
      scb->sacked &= static_cast<std::uint8_t>(~TCPCB_SACKED_RETRANS);
      tp->retrans_out -= pcount;
      mib_of(sk).inc(MibId::TcpExtTCPLostRetransmit, pcount);
      tp->lost += pcount;
    }
  } else {
    tp->lost_out += pcount;
    scb->sacked |= TCPCB_LOST;
    tp->lost += pcount;
  }
}

int tcp_sacktag_write_queue(Sock* sk, const SkBuff* ack_skb, const TcpSackBlock* sp_wire,
                            int num_sacks, std::uint32_t prior_snd_una, TcpSacktagState* state) {
  TcpSock* tp = tcp_sk(sk);
  const std::uint32_t ack_seq = TCP_SKB_CB(ack_skb)->ack_seq;
  TcpSackBlock sp[TCP_NUM_SACKS];
  num_sacks = std::min(num_sacks, TCP_NUM_SACKS);

  state->flag = 0;
  state->reord = tp->snd_nxt;
  if (!tp->sacked_out) tcp_highest_sack_reset(sk);

  const bool found_dup_sack =
      tcp_check_dsack(sk, ack_seq, sp_wire, num_sacks, prior_snd_una, state);

  // An ACK from before the window the peer could have seen tells nothing.
  if (before(ack_seq, prior_snd_una - tp->max_window)) return 0;
  if (!tp->packets_out) return state->flag;

  int used_sacks = 0;
  int first_sack_index = 0;
  for (int i = 0; i < num_sacks; i++) {
    const bool dup_sack = !i && found_dup_sack;
    sp[used_sacks] = sp_wire[i];
    if (!tcp_is_sackblock_valid(tp, dup_sack, sp[used_sacks].start_seq, sp[used_sacks].end_seq)) {
      MibId mib;
      if (dup_sack) {
        mib =
            tp->undo_marker ? MibId::TcpExtTCPDSACKIgnoredOld : MibId::TcpExtTCPDSACKIgnoredNoUndo;
      } else {
        // A stale block on an ACK that advanced snd_una is only old news.
        if (ack_seq != tp->snd_una && !after(sp[used_sacks].end_seq, tp->snd_una)) continue;
        mib = MibId::TcpExtTCPSACKDiscard;
      }
      mib_of(sk).inc(mib);
      if (i == 0) first_sack_index = -1;
      continue;
    }
    // Ignore blocks that cover only cumulatively ACKed data.
    if (!after(sp[used_sacks].end_seq, prior_snd_una)) {
      if (i == 0) first_sack_index = -1;
      continue;
    }
    used_sacks++;
  }

  // Sort the blocks by start (at most 4: a bubble sort is enough).
  for (int i = used_sacks - 1; i > 0; i--) {
    for (int j = 0; j < i; j++) {
      if (after(sp[j].start_seq, sp[j + 1].start_seq)) {
        std::swap(sp[j], sp[j + 1]);
        if (j == first_sack_index) first_sack_index = j + 1;
      }
    }
  }

  state->mss_now = tcp_current_mss(sk);
  SkBuff* skb = nullptr;
  int i = 0;

  // The blocks of the previous ACK (recv_sack_cache) were already tagged:
  // only what lies outside them needs a walk.
  int cache = 0;
  if (!tp->sacked_out) {
    cache = kSackCacheSize;
  } else {
    while (cache < kSackCacheSize && !tp->recv_sack_cache[cache].start_seq &&
           !tp->recv_sack_cache[cache].end_seq)
      cache++;
  }

  while (i < used_sacks) {
    const std::uint32_t start_seq = sp[i].start_seq;
    const std::uint32_t end_seq = sp[i].end_seq;
    const bool dup_sack = found_dup_sack && i == first_sack_index;
    const TcpSackBlock* next_dup = nullptr;
    if (found_dup_sack && i + 1 == first_sack_index) next_dup = &sp[i + 1];

    // Skip cached blocks wholly below this one.
    while (cache < kSackCacheSize && !before(start_seq, tp->recv_sack_cache[cache].end_seq))
      cache++;

    bool walk_from_highest = false;
    if (cache < kSackCacheSize && !dup_sack &&
        after(end_seq, tp->recv_sack_cache[cache].start_seq)) {
      const TcpSackBlock& c = tp->recv_sack_cache[cache];
      // Head part, below the cached block.
      if (before(start_seq, c.start_seq)) {
        skb = tcp_sacktag_skip(skb, sk, start_seq);
        skb = tcp_sacktag_walk(skb, sk, next_dup, state, start_seq, c.start_seq, dup_sack);
      }
      // Nothing beyond the cached block.
      if (!after(end_seq, c.end_seq)) {
        i++;
        continue;
      }
      skb = tcp_maybe_skipping_dsack(skb, sk, next_dup, state, c.end_seq);
      // The tail: continue from the highest SACK if that is where it ends.
      if (tcp_highest_sack_seq(tp) == c.end_seq) {
        skb = tp->highest_sack;
        if (!skb) break;
        cache++;
        walk_from_highest = true;
      } else {
        skb = tcp_sacktag_skip(skb, sk, c.end_seq);
        cache++;
        continue;
      }
    }
    if (!walk_from_highest) {
      if (!before(start_seq, tcp_highest_sack_seq(tp))) {
        skb = tp->highest_sack;
        if (!skb) break;
      }
      skb = tcp_sacktag_skip(skb, sk, start_seq);
    }
    skb = tcp_sacktag_walk(skb, sk, next_dup, state, start_seq, end_seq, dup_sack);
    i++;
  }

  // Remember the blocks for the next ACK, right-aligned as Linux keeps them.
  int k = 0;
  for (; k < kSackCacheSize - used_sacks; k++) tp->recv_sack_cache[k] = TcpSackBlock{};
  for (int j = 0; j < used_sacks; j++) tp->recv_sack_cache[k++] = sp[j];

  // In Loss without an undo marker retransmissions cannot be told apart.
  if (inet_csk(sk)->icsk_ca_state != TCP_CA_Loss || tp->undo_marker)
    tcp_check_sack_reordering(sk, state->reord, 0);
  return state->flag;
}

// RFC 6675 IsLost(): mark from the head until `packets` SACKed segments
// were passed (mark_head: the head only). lost_skb_hint/lost_cnt_hint
// resume the walk where the last one stopped.
static void tcp_mark_head_lost(Sock* sk, int packets, int mark_head) {
  TcpSock* tp = tcp_sk(sk);
  const std::uint32_t loss_high = tp->snd_nxt;
  SkBuff* skb = tp->lost_skb_hint;
  int cnt;
  if (skb) {
    if (mark_head && after(TCP_SKB_CB(skb)->seq, tp->snd_una)) return;
    cnt = tp->lost_cnt_hint;
  } else {
    skb = tcp_rtx_queue_head(sk);
    cnt = 0;
  }
  for (; skb; skb = tp->tcp_rtx_queue.next(skb)) {
    tp->lost_skb_hint = skb;
    tp->lost_cnt_hint = cnt;
    if (after(TCP_SKB_CB(skb)->end_seq, loss_high)) break;
    if (TCP_SKB_CB(skb)->sacked & TCPCB_SACKED_ACKED) cnt += tcp_skb_pcount(skb);
    if (cnt > packets) break;
    if (!(TCP_SKB_CB(skb)->sacked & TCPCB_LOST)) tcp_mark_skb_lost(sk, skb);
    if (mark_head) break;
  }
}

void tcp_update_scoreboard(Sock* sk, int fast_rexmit) {
  TcpSock* tp = tcp_sk(sk);
  if (!tcp_is_sack(tp)) return;
  const int sacked_upto = static_cast<int>(tp->sacked_out) - static_cast<int>(tp->reordering);
  if (sacked_upto >= 0)
    tcp_mark_head_lost(sk, sacked_upto, 0);
  else if (fast_rexmit)
    tcp_mark_head_lost(sk, 1, 1);
}

// --- without SACK (RFC 5681 / 6582): duplicate ACKs stand in for SACKs ------------

// Never more "sacked" than the segments that are not holes; if the count
// ran over, the duplicates were reordering, not loss.
bool tcp_limit_reno_sacked(TcpSock* tp) {
  std::uint32_t holes = std::max(tp->lost_out, 1u);
  holes = std::min(holes, tp->packets_out);
  if (tp->sacked_out + holes > tp->packets_out) {
    tp->sacked_out = tp->packets_out - holes;
    return true;
  }
  return false;
}

static void tcp_check_reno_reordering(Sock* sk, int addend) {
  TcpSock* tp = tcp_sk(sk);
  if (!tcp_limit_reno_sacked(tp)) return;
  tp->reordering =
      std::min<std::uint32_t>(tp->packets_out + static_cast<std::uint32_t>(addend),
                              static_cast<std::uint32_t>(sk->stack->sysctl().tcp_max_reordering));
  tp->reord_seen++;
  mib_of(sk).inc(MibId::TcpExtTCPRenoReorder);
}

void tcp_add_reno_sack(Sock* sk, int num_dupack, bool ece_ack) {
  if (!num_dupack) return;
  TcpSock* tp = tcp_sk(sk);
  const std::uint32_t prior_sacked = tp->sacked_out;
  tp->sacked_out += static_cast<std::uint32_t>(num_dupack);
  tcp_check_reno_reordering(sk, 0);
  const std::int32_t delivered = static_cast<std::int32_t>(tp->sacked_out - prior_sacked);
  if (delivered > 0) tcp_count_delivered(tp, static_cast<std::uint32_t>(delivered), ece_ack);
}

// A cumulative ACK for `acked` segments: all but the hole it filled were
// already counted by their duplicate ACKs.
void tcp_remove_reno_sacks(Sock* sk, int acked, bool ece_ack) {
  TcpSock* tp = tcp_sk(sk);
  if (acked > 0) {
    tcp_count_delivered(
        tp, static_cast<std::uint32_t>(std::max(acked - static_cast<int>(tp->sacked_out), 1)),
        ece_ack);
    if (acked - 1 >= static_cast<int>(tp->sacked_out))
      tp->sacked_out = 0;
    else
      tp->sacked_out -= static_cast<std::uint32_t>(acked - 1);
  }
  tcp_check_reno_reordering(sk, acked);
}

void tcp_timeout_mark_lost(Sock* sk) {
  TcpSock* tp = tcp_sk(sk);
  SkBuff* head = tcp_rtx_queue_head(sk);
  // The head SACKed at an RTO: the receiver dropped data it had SACKed.
  const bool is_reneg = head && (TCP_SKB_CB(head)->sacked & TCPCB_SACKED_ACKED);
  if (is_reneg) {
    mib_of(sk).inc(MibId::TcpExtTCPSACKReneging);
    tp->sacked_out = 0;
    tp->is_sack_reneg = true;
  } else if (tcp_is_reno(tp)) {
    tcp_reset_reno_sack(tp);
  }
  for (SkBuff* skb = head; skb; skb = tp->tcp_rtx_queue.next(skb)) {
    if (is_reneg)
      TCP_SKB_CB(skb)->sacked &= static_cast<std::uint8_t>(~TCPCB_SACKED_ACKED);
    else if (tcp_is_rack(sk) && skb != head && tcp_rack_skb_timeout(tp, skb, 0) > 0)
      continue;  // sent too recently to be presumed lost yet
    tcp_mark_skb_lost(sk, skb);
  }
  tcp_clear_all_retrans_hints(tp);
}

}  // namespace sp
