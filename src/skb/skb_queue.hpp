// The kernel's two skb containers, as owning intrusive containers:
//   SkbQueue   - struct sk_buff_head: a doubly linked list with a length
//                (sk_write_queue, receive queues, device queues).
//   SkbRbTree  - the rb_root of tcp_rtx_queue and out_of_order_queue, ordered
//                by sequence number (Linux since 4.15, so that ACK and SACK
//                processing find an skb in O(log n) of the window).
// Both own their skbs: what goes in is an SkbPtr, what comes out is an
// SkbPtr, and destroying the container frees what is still on it.
#pragma once
#include <boost/intrusive/list.hpp>
#include <boost/intrusive/set.hpp>
#include <cstdint>
#include <cstring>

#include "skb/skbuff.hpp"

namespace sp {

// ---------------------------------------------------------------------------
// SkbQueue: struct sk_buff_head.

class SkbQueue {
  using List =
      bi::list<SkBuff, bi::member_hook<SkBuff, decltype(SkBuff::list_hook), &SkBuff::list_hook>,
               bi::constant_time_size<true>>;

 public:
  using iterator = List::iterator;
  using const_iterator = List::const_iterator;

  SkbQueue() = default;
  SkbQueue(const SkbQueue&) = delete;
  SkbQueue& operator=(const SkbQueue&) = delete;
  SkbQueue(SkbQueue&& o) noexcept { list_.swap(o.list_); }
  SkbQueue& operator=(SkbQueue&& o) noexcept {
    if (this != &o) {
      purge();
      list_.swap(o.list_);
    }
    return *this;
  }
  ~SkbQueue() { purge(); }

  bool empty() const { return list_.empty(); }
  std::uint32_t qlen() const { return static_cast<std::uint32_t>(list_.size()); }

  // skb_peek / skb_peek_tail: nullptr when empty.
  SkBuff* peek() { return list_.empty() ? nullptr : &list_.front(); }
  SkBuff* peek_tail() { return list_.empty() ? nullptr : &list_.back(); }
  const SkBuff* peek() const { return list_.empty() ? nullptr : &list_.front(); }
  const SkBuff* peek_tail() const { return list_.empty() ? nullptr : &list_.back(); }

  // skb_queue_next / skb_queue_prev, with nullptr at the ends instead of the
  // list head (skb_queue_is_last is then a nullptr test).
  SkBuff* next(SkBuff* skb) {
    auto it = std::next(list_.iterator_to(*skb));
    return it == list_.end() ? nullptr : &*it;
  }
  SkBuff* prev(SkBuff* skb) {
    auto it = list_.iterator_to(*skb);
    return it == list_.begin() ? nullptr : &*std::prev(it);
  }

  void queue_tail(SkbPtr skb) { list_.push_back(*skb.release()); }
  void queue_head(SkbPtr skb) { list_.push_front(*skb.release()); }
  // __skb_queue_after / __skb_queue_before: pos must be on this queue.
  void insert_after(SkBuff* pos, SkbPtr skb) {
    list_.insert(std::next(list_.iterator_to(*pos)), *skb.release());
  }
  void insert_before(SkBuff* pos, SkbPtr skb) {
    list_.insert(list_.iterator_to(*pos), *skb.release());
  }

  // skb_dequeue / skb_dequeue_tail: nullptr when empty.
  SkbPtr dequeue() {
    if (list_.empty()) return nullptr;
    SkBuff& s = list_.front();
    list_.pop_front();
    return SkbPtr(&s);
  }
  SkbPtr dequeue_tail() {
    if (list_.empty()) return nullptr;
    SkBuff& s = list_.back();
    list_.pop_back();
    return SkbPtr(&s);
  }
  // skb_unlink: skb must be on this queue; ownership goes to the caller.
  SkbPtr unlink(SkBuff* skb) {
    list_.erase(list_.iterator_to(*skb));
    return SkbPtr(skb);
  }
  // skb_queue_purge: free everything on the queue (kfree_skb each).
  void purge() {
    while (SkbPtr s = dequeue()) kfree_skb(std::move(s));
  }

  iterator begin() { return list_.begin(); }
  iterator end() { return list_.end(); }
  const_iterator begin() const { return list_.begin(); }
  const_iterator end() const { return list_.end(); }

 private:
  List list_;
};

// ---------------------------------------------------------------------------
// SkbRbTree: skbs ordered by the sequence number in their control block.
//
// Control block layout this tree relies on (TCP_SKB_CB, defined by tcp/):
//   cb[0..4)  u32 seq      - first sequence number of the skb (the key)
//   cb[4..8)  u32 end_seq  - seq + payload + SYN + FIN
// both in host byte order. TcpSkbCb must keep `seq` at offset 0 and
// `end_seq` at offset 4.
//
// The order is sequence-space order, which is a total order only over keys
// that span less than 2^31: true of any TCP window (at most 2^30 with window
// scaling), which is what the tree holds.

constexpr std::size_t kSkbCbSeqOffset = 0;
constexpr std::size_t kSkbCbEndSeqOffset = 4;

inline std::uint32_t skb_cb_seq(const SkBuff* skb) {
  std::uint32_t v;
  std::memcpy(&v, skb->cb + kSkbCbSeqOffset, sizeof v);
  return v;
}
inline std::uint32_t skb_cb_end_seq(const SkBuff* skb) {
  std::uint32_t v;
  std::memcpy(&v, skb->cb + kSkbCbEndSeqOffset, sizeof v);
  return v;
}

// Sequence space comparison (RFC 793 / 9293 section 3.4): a is before b when
// b - a, taken modulo 2^32, is below 2^31. Holds across the wrap.
inline bool seq_before(std::uint32_t a, std::uint32_t b) {
  return static_cast<std::int32_t>(a - b) < 0;
}

class SkbRbTree {
  struct SeqLess {
    bool operator()(const SkBuff& a, const SkBuff& b) const {
      return seq_before(skb_cb_seq(&a), skb_cb_seq(&b));
    }
  };
  struct KeyLess {
    bool operator()(std::uint32_t k, const SkBuff& s) const {
      return seq_before(k, skb_cb_seq(&s));
    }
    bool operator()(const SkBuff& s, std::uint32_t k) const {
      return seq_before(skb_cb_seq(&s), k);
    }
  };
  // A multiset: like tcp_rbtree_insert, an equal key is not refused (it goes
  // after the existing one); keeping keys distinct is the caller's job.
  using Tree =
      bi::multiset<SkBuff, bi::member_hook<SkBuff, decltype(SkBuff::rb_hook), &SkBuff::rb_hook>,
                   bi::compare<SeqLess>, bi::constant_time_size<true>>;

 public:
  using iterator = Tree::iterator;
  using const_iterator = Tree::const_iterator;

  SkbRbTree() = default;
  SkbRbTree(const SkbRbTree&) = delete;
  SkbRbTree& operator=(const SkbRbTree&) = delete;
  ~SkbRbTree() { purge(); }

  bool empty() const { return tree_.empty(); }
  std::size_t size() const { return tree_.size(); }

  void insert(SkbPtr skb) { tree_.insert(*skb.release()); }

  // skb_rb_first / skb_rb_last / skb_rb_next / skb_rb_prev: nullptr past the ends.
  SkBuff* first() { return tree_.empty() ? nullptr : &*tree_.begin(); }
  SkBuff* last() { return tree_.empty() ? nullptr : &*tree_.rbegin(); }
  SkBuff* next(SkBuff* skb) {
    auto it = std::next(tree_.iterator_to(*skb));
    return it == tree_.end() ? nullptr : &*it;
  }
  SkBuff* prev(SkBuff* skb) {
    auto it = tree_.iterator_to(*skb);
    return it == tree_.begin() ? nullptr : &*std::prev(it);
  }

  // The skb whose seq is exactly `seq`, or nullptr.
  SkBuff* find(std::uint32_t seq) {
    auto it = tree_.find(seq, KeyLess{});
    return it == tree_.end() ? nullptr : &*it;
  }
  // The skb with seq <= key < end_seq (tcp_sacktag_bsearch / the rtx lookup
  // of a partially acked skb), or nullptr.
  SkBuff* find_containing(std::uint32_t key) {
    auto it = tree_.upper_bound(key, KeyLess{});  // first with seq > key
    if (it == tree_.begin()) return nullptr;
    SkBuff& s = *std::prev(it);
    return seq_before(key, skb_cb_end_seq(&s)) ? &s : nullptr;
  }

  // rb_erase: skb must be in this tree; ownership goes to the caller.
  SkbPtr erase(SkBuff* skb) {
    tree_.erase(tree_.iterator_to(*skb));
    return SkbPtr(skb);
  }
  // skb_rbtree_purge
  void purge() {
    while (!tree_.empty()) {
      SkBuff& s = *tree_.begin();
      tree_.erase(tree_.begin());
      kfree_skb(SkbPtr(&s));
    }
  }

  iterator begin() { return tree_.begin(); }
  iterator end() { return tree_.end(); }
  const_iterator begin() const { return tree_.begin(); }
  const_iterator end() const { return tree_.end(); }

 private:
  Tree tree_;
};

}  // namespace sp
