// sk_buff operations, after net/core/skbuff.c and include/linux/skbuff.h.
#include "skb/skbuff.hpp"

#include <execinfo.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "skb/pool.hpp"

namespace sp {
namespace {

// SkBuff::pool_class: where the struct's memory came from, hence where it
// goes back (Linux's skb->fclone, SKB_FCLONE_UNAVAILABLE/ORIG/CLONE).
constexpr std::uint8_t kStructFromPool = 1;  // a single struct
constexpr std::uint8_t kFcloneOrig = 2;      // first struct of an fclone block
constexpr std::uint8_t kFcloneClone = 3;     // second struct: the companion clone

// An fclone block is raw storage: [orig SkBuff][companion SkBuff][FcloneRef].
// We step through it in bytes: either struct may be dead while the other
// lives, so there is no array of SkBuff to do pointer arithmetic in.
std::uint8_t* fclone_block_of(const SkBuff* skb, std::uint8_t cls) {
  auto* p = reinterpret_cast<std::uint8_t*>(const_cast<SkBuff*>(skb));
  return cls == kFcloneClone ? p - sizeof(SkBuff) : p;
}
skb_pool::FcloneRef* fclone_ref(std::uint8_t* block) {
  return std::launder(reinterpret_cast<skb_pool::FcloneRef*>(block + 2 * sizeof(SkBuff)));
}
void* fclone_companion_storage(std::uint8_t* block) {
  return block + sizeof(SkBuff);
}

// Like __alloc_skb, clear only the fields before frags: frags[i] means
// something only for i < nr_frags, and zeroing all 17 per allocation would be
// the largest single cost of alloc_skb. (SkbSharedInfo is an aggregate, an
// implicit-lifetime type, so the head's storage already holds one.)
void init_shinfo(SkBuff* skb) {
  SkbSharedInfo* sh = skb_shinfo(skb);
  sh->nr_frags = 0;
  sh->gso_size = 0;
  sh->gso_segs = 0;
  sh->gso_type = SKB_GSO_NONE;
  sh->dataref = 1;
  sh->flags = 0;
  sh->tx_flags = 0;
  sh->tskey = 0;
  sh->destructor_arg = nullptr;
}

// The part of a shared info that is in use: the fixed fields and nr_frags frags.
std::size_t shinfo_used_bytes(const SkbSharedInfo* sh) {
  return offsetof(SkbSharedInfo, frags) + sh->nr_frags * sizeof(SkbFrag);
}

// Heads above this are refused like a kmalloc beyond KMALLOC_MAX_SIZE; it
// also keeps the size arithmetic far from 32-bit overflow.
constexpr std::uint32_t kMaxHeadSize = 1u << 30;

// A fresh sk_buff struct (single, or the first of an fclone pair) around a
// fresh head of at least `size` bytes. Everything is zero except the four
// pointers and truesize.
SkBuff* __alloc_skb(std::uint32_t size, bool fclone) {
  if (size > kMaxHeadSize) {
    ++skb_pool::stats().alloc_failures;
    return nullptr;
  }
  void* mem = fclone ? skb_pool::alloc_fclone_block() : skb_pool::alloc_skb_struct();
  if (!mem) return nullptr;
  const std::uint32_t cap = skb_pool::head_capacity(size);
  std::uint8_t* head = skb_pool::alloc_head(cap);
  if (!head) {
    if (fclone) {
      skb_pool::note_skb_free();
      skb_pool::free_fclone_block(mem);
    } else {
      skb_pool::free_skb_struct(mem);
    }
    return nullptr;
  }
  auto* skb = new (mem) SkBuff;
  skb->pool_class = fclone ? kFcloneOrig : kStructFromPool;
  if (fclone) {
    new (fclone_ref(static_cast<std::uint8_t*>(mem))) skb_pool::FcloneRef{1, false};
  }
  skb->head = skb->data = skb->tail = head;
  skb->end = head + cap;
  // Linux charges the whole kmalloc bucket, not the request: the rounding up
  // is memory the socket really holds.
  skb->truesize = SKB_TRUESIZE(cap);
  init_shinfo(skb);
  return skb;
}

// skb_release_data: drop this skb's reference to the buffer; the last one
// releases the frag pages and the head. A never-cloned skb owns it alone.
void skb_release_data(SkBuff* skb) {
  SkbSharedInfo* sh = skb_shinfo(skb);
  if (skb->cloned) {
    // A payload-only owner holds one reference in each half of dataref.
    const std::uint32_t bias = skb->nohdr ? (1u << SKB_DATAREF_SHIFT) + 1 : 1;
    sh->dataref -= bias;
    if (sh->dataref != 0) return;
  }
  if (skb_zcopy(skb)) skb_zcopy_clear(skb, true);
  for (int i = 0; i < sh->nr_frags; ++i) put_page(sh->frags[i].page);
  const std::uint32_t cap = skb_end_offset(skb);
  skb_pool::free_head(skb->head, cap);
}

// kfree_skbmem: the struct back to its pool. An fclone block goes back when
// the last of its pair is freed, whichever one that is.
void kfree_skbmem(SkBuff* skb) {
  const std::uint8_t cls = skb->pool_class;
  skb->~SkBuff();
  if (cls != kFcloneOrig && cls != kFcloneClone) {
    skb_pool::free_skb_struct(skb);
    return;
  }
  std::uint8_t* block = fclone_block_of(skb, cls);
  skb_pool::FcloneRef* ref = fclone_ref(block);
  if (cls == kFcloneClone) ref->clone_busy = false;
  skb_pool::note_skb_free();
  if (--ref->ref == 0) skb_pool::free_fclone_block(block);
}

// __kfree_skb: the owner's destructor runs first (it may still look at the
// data, as tcp_wfree and sock_wfree do), then the buffer and the struct go.
void __kfree_skb(SkBuff* skb) {
  // Freeing an skb a queue still links would leave the queue pointing at a
  // recycled struct: stop here, where the culprit is on the stack.
  if (skb->list_hook.is_linked() || skb->rb_hook.is_linked()) {
    std::fprintf(stderr, "kfree_skb: skb %p is still on a %s (len:%u)\n", static_cast<void*>(skb),
                 skb->list_hook.is_linked() ? "queue" : "tree", skb->len);
    std::abort();
  }
  if (skb->destructor) skb->destructor(skb);
  skb_release_data(skb);
  kfree_skbmem(skb);
}

// __copy_skb_header: the metadata a copy or clone keeps. Header offsets are
// relative to head, valid in the copy when the headroom is the same.
void copy_skb_header(SkBuff* n, const SkBuff* old) {
  n->reserved_tailroom = old->reserved_tailroom;
  n->mac_header = old->mac_header;
  n->network_header = old->network_header;
  n->transport_header = old->transport_header;
  n->ip_summed = old->ip_summed;
  n->csum_start = old->csum_start;
  n->csum_offset = old->csum_offset;
  n->csum = old->csum;
  n->protocol = old->protocol;
  n->tstamp = old->tstamp;
  n->mark = old->mark;
  n->ifindex = old->ifindex;
  std::memcpy(n->cb, old->cb, sizeof(n->cb));
}

// skb_copy_header: header fields plus the GSO description in shared info.
void skb_copy_header(SkBuff* n, const SkBuff* old) {
  copy_skb_header(n, old);
  SkbSharedInfo* ns = skb_shinfo(n);
  const SkbSharedInfo* os = skb_shinfo(old);
  ns->gso_size = os->gso_size;
  ns->gso_segs = os->gso_segs;
  ns->gso_type = os->gso_type;
}

SkbPtr adopt(SkBuff* skb) {
  return SkbPtr(skb);
}

void print_panic(const char* msg, const SkBuff* skb, std::uint32_t len, const char* where) {
  std::fprintf(stderr,
               "%s: text:%s len:%u put:%u head:%p data:%ld tail:%ld end:%ld data_len:%u "
               "dev:%d\n",
               msg, where ? where : "?", skb->len, len, static_cast<const void*>(skb->head),
               static_cast<long>(skb->data - skb->head), static_cast<long>(skb->tail - skb->head),
               static_cast<long>(skb->end - skb->head), skb->data_len, skb->ifindex);
  // Like BUG()'s report, show who called: `where` names the skb operation,
  // the trace names the caller (addr2line turns its offsets into lines).
  void* frames[16];
  const int n = backtrace(frames, 16);
  std::fprintf(stderr, "call trace:\n");
  std::fflush(stderr);
  backtrace_symbols_fd(frames, n, 2);
}

}  // namespace

void SkbDeleter::operator()(SkBuff* skb) const noexcept {
  if (skb) __kfree_skb(skb);
}

// --- allocation ----------------------------------------------------------

SkbPtr alloc_skb(std::uint32_t size) {
  return adopt(__alloc_skb(size, false));
}

SkbPtr alloc_skb_fclone(std::uint32_t size) {
  return adopt(__alloc_skb(size, true));
}

bool skb_fclone_busy(const void* sk, const SkBuff* skb) {
  if (skb->pool_class != kFcloneOrig) return false;
  std::uint8_t* block = fclone_block_of(skb, kFcloneOrig);
  if (!fclone_ref(block)->clone_busy) return false;
  // Alive while clone_busy: the companion is an SkBuff object then.
  return std::launder(static_cast<SkBuff*>(fclone_companion_storage(block)))->sk == sk;
}

SkbPtr alloc_skb_with_headroom(std::uint32_t headroom, std::uint32_t size) {
  if (size > kMaxHeadSize || headroom > kMaxHeadSize - size) {
    ++skb_pool::stats().alloc_failures;
    return nullptr;
  }
  SkbPtr skb = alloc_skb(headroom + size);
  if (skb) skb_reserve(skb.get(), headroom);
  return skb;
}

void kfree_skb(SkbPtr skb) {
  if (!skb) return;
  ++skb_pool::stats().skb_dropped;
  skb.reset();
}

void consume_skb(SkbPtr skb) {
  if (!skb) return;
  ++skb_pool::stats().skb_consumed;
  skb.reset();
}

// --- the four pointers -----------------------------------------------------

void skb_over_panic(const SkBuff* skb, std::uint32_t len, const char* where) {
  print_panic("skb_over_panic", skb, len, where);
  std::abort();
}

void skb_under_panic(const SkBuff* skb, std::uint32_t len, const char* where) {
  print_panic("skb_under_panic", skb, len, where);
  std::abort();
}

void skb_reserve(SkBuff* skb, std::uint32_t len) {
  if (len > static_cast<std::uint32_t>(skb->end - skb->tail))
    skb_over_panic(skb, len, "skb_reserve");
  skb->data += len;
  skb->tail += len;
}

std::uint8_t* skb_put(SkBuff* skb, std::uint32_t len) {
  // Checked before moving tail: a pointer past end is already undefined.
  if (len > static_cast<std::uint32_t>(skb->end - skb->tail)) skb_over_panic(skb, len, "skb_put");
  std::uint8_t* tmp = skb->tail;
  skb->tail += len;
  skb->len += len;
  return tmp;
}

std::uint8_t* skb_push(SkBuff* skb, std::uint32_t len) {
  if (len > skb_headroom(skb)) skb_under_panic(skb, len, "skb_push");
  skb->data -= len;
  skb->len += len;
  return skb->data;
}

std::uint8_t* skb_pull(SkBuff* skb, std::uint32_t len) {
  // Pulling into paged data would need __pskb_pull_tail; refuse instead.
  if (len > skb_headlen(skb)) return nullptr;
  skb->len -= len;
  skb->data += len;
  return skb->data;
}

void skb_trim(SkBuff* skb, std::uint32_t len) {
  // Linux warns and does nothing on a paged skb: that needs pskb_trim.
  if (skb->len <= len || skb->data_len) return;
  skb->len = len;
  skb->tail = skb->data + len;
}

int pskb_trim(SkBuff* skb, std::uint32_t len) {
  if (len >= skb->len) return 0;
  if (!skb->data_len) {
    skb_trim(skb, len);
    return 0;
  }
  // ___pskb_trim: frag sizes live in the shared info, so a clone must stop
  // sharing it before we shrink them under the other skb's feet.
  if (skb_cloned(skb)) {
    int err = pskb_expand_head(skb, 0, 0);
    if (err) return err;
  }
  SkbSharedInfo* sh = skb_shinfo(skb);
  const std::uint32_t headlen = skb_headlen(skb);
  std::uint32_t offset = headlen;
  int keep = 0;
  if (len > headlen) {
    for (; keep < sh->nr_frags; ++keep) {
      const std::uint32_t frag_end = offset + sh->frags[keep].size;
      if (frag_end >= len) {
        sh->frags[keep].size = len - offset;
        ++keep;
        break;
      }
      offset = frag_end;
    }
  }
  for (int i = keep; i < sh->nr_frags; ++i) {
    put_page(sh->frags[i].page);
    sh->frags[i] = SkbFrag{};
  }
  sh->nr_frags = static_cast<std::uint8_t>(keep);
  if (len > headlen) {
    skb->data_len = len - headlen;
  } else {
    skb->data_len = 0;
    skb->tail = skb->data + len;
  }
  skb->len = len;
  return 0;
}

// --- clones and copies -------------------------------------------------------

SkbPtr skb_clone(SkBuff* skb) {
  SkBuff* n = nullptr;
  std::uint8_t* block =
      skb->pool_class == kFcloneOrig ? fclone_block_of(skb, kFcloneOrig) : nullptr;
  if (block && !fclone_ref(block)->clone_busy) {
    // The companion was set aside for exactly this clone.
    skb_pool::FcloneRef* ref = fclone_ref(block);
    ref->clone_busy = true;
    ++ref->ref;
    skb_pool::note_skb_alloc();
    n = new (fclone_companion_storage(block)) SkBuff;
    n->pool_class = kFcloneClone;
  } else {
    void* mem = skb_pool::alloc_skb_struct();
    if (!mem) return nullptr;
    n = new (mem) SkBuff;
    n->pool_class = kStructFromPool;
  }
  // __skb_clone: same buffer and pointers; the clone has no owner socket and
  // no destructor, so freeing it does not uncharge the socket twice.
  n->head = skb->head;
  n->data = skb->data;
  n->tail = skb->tail;
  n->end = skb->end;
  n->len = skb->len;
  n->data_len = skb->data_len;
  n->truesize = skb->truesize;
  copy_skb_header(n, skb);
  n->cloned = true;  // and n->nohdr stays false: the clone is a full reference
  skb->cloned = true;
  ++skb_shinfo(skb)->dataref;
  return adopt(n);
}

void __skb_header_release(SkBuff* skb) {
  skb->nohdr = true;
  skb_shinfo(skb)->dataref = 1 + (1u << SKB_DATAREF_SHIFT);
}

bool skb_header_cloned(const SkBuff* skb) {
  // All references minus the payload-only ones: if that leaves only us, no
  // one else reads the header area and we may write it in place.
  if (!skb->cloned) return false;
  const std::uint32_t dataref = skb_shinfo(skb)->dataref;
  return (dataref & SKB_DATAREF_MASK) - (dataref >> SKB_DATAREF_SHIFT) != 1;
}

int skb_cow_head(SkBuff* skb, std::uint32_t headroom) {
  std::uint32_t delta = 0;
  if (headroom > skb_headroom(skb)) delta = headroom - skb_headroom(skb);
  if (delta || skb_header_cloned(skb)) {
    const std::uint32_t pad = (delta + NET_SKB_PAD - 1) / NET_SKB_PAD * NET_SKB_PAD;
    return pskb_expand_head(skb, pad, 0);
  }
  return 0;
}

int pskb_expand_head(SkBuff* skb, std::uint32_t nhead, std::uint32_t ntail) {
  const std::uint32_t old_cap = skb_end_offset(skb);
  const std::uint64_t want = std::uint64_t{nhead} + old_cap + ntail;
  if (want > 0xffffffffu - 2 * SMP_CACHE_BYTES) return -ENOMEM;
  const std::uint32_t cap = skb_pool::head_capacity(SKB_DATA_ALIGN(want));
  std::uint8_t* data = skb_pool::alloc_head(cap);
  if (!data) return -ENOMEM;

  const std::size_t data_off = static_cast<std::size_t>(skb->data - skb->head);
  const std::size_t tail_off = static_cast<std::size_t>(skb->tail - skb->head);
  // The headroom and the linear data move; whatever lies after tail does not.
  std::memcpy(data + nhead, skb->head, tail_off);
  auto* nsh = reinterpret_cast<SkbSharedInfo*>(data + cap);
  std::memcpy(nsh, skb_shinfo(skb), shinfo_used_bytes(skb_shinfo(skb)));
  nsh->dataref = 1;

  if (skb_cloned(skb)) {
    // The old buffer stays with the other clones: we need our own page refs
    // before giving up our share of it.
    for (int i = 0; i < nsh->nr_frags; ++i) get_page(nsh->frags[i].page);
    if (skb_zcopy(skb)) net_zcopy_get(nsh->destructor_arg);
    skb_release_data(skb);
  } else {
    // Sole owner: the frag references move to the new shared info as they are.
    skb_pool::free_head(skb->head, old_cap);
  }
  skb->head = data;
  skb->end = data + cap;
  skb->data = data + nhead + data_off;
  skb->tail = data + nhead + tail_off;
  // Header offsets are from head: they move by what was added in front.
  if (skb->mac_header != 0xffff)
    skb->mac_header = static_cast<std::uint16_t>(skb->mac_header + nhead);
  if (skb->network_header != 0xffff)
    skb->network_header = static_cast<std::uint16_t>(skb->network_header + nhead);
  if (skb->transport_header != 0xffff)
    skb->transport_header = static_cast<std::uint16_t>(skb->transport_header + nhead);
  if (skb->ip_summed == IpSummed::CHECKSUM_PARTIAL)
    skb->csum_start = static_cast<std::uint16_t>(skb->csum_start + nhead);
  skb->cloned = false;
  skb->nohdr = false;
  // Linux only grows truesize of skbs that no socket has charged: changing a
  // charged skb's truesize would unbalance the socket's accounting.
  if (!skb->sk) skb->truesize += cap - old_cap;
  return 0;
}

SkbPtr pskb_copy(SkBuff* skb) {
  const std::uint32_t headroom = skb_headroom(skb);
  SkbPtr n = alloc_skb(headroom + skb_headlen(skb));
  if (!n) return nullptr;
  skb_reserve(n.get(), headroom);
  std::memcpy(skb_put(n.get(), skb_headlen(skb)), skb->data, skb_headlen(skb));
  SkbSharedInfo* ns = skb_shinfo(n.get());
  const SkbSharedInfo* os = skb_shinfo(skb);
  for (int i = 0; i < os->nr_frags; ++i) {
    ns->frags[i] = os->frags[i];
    get_page(ns->frags[i].page);
  }
  ns->nr_frags = os->nr_frags;
  skb_zerocopy_clone(n.get(), skb);
  n->data_len = skb->data_len;
  n->len = skb->len;
  n->truesize += skb->data_len;
  skb_copy_header(n.get(), skb);
  return n;
}

SkbPtr skb_copy(const SkBuff* skb) {
  const std::uint32_t headroom = skb_headroom(skb);
  SkbPtr n = alloc_skb(skb_end_offset(skb) + skb->data_len);
  if (!n) return nullptr;
  skb_reserve(n.get(), headroom);
  skb_put(n.get(), skb->len);
  std::memcpy(n->head, skb->head, headroom);
  if (skb_copy_bits(skb, 0, n->data, skb->len) != 0) return nullptr;
  skb_copy_header(n.get(), skb);
  return n;
}

int skb_copy_bits(const SkBuff* skb, std::uint32_t offset, void* to, std::uint32_t len) {
  if (offset > skb->len || len > skb->len - offset) return -EFAULT;
  if (len == 0) return 0;  // `to` may be null then
  auto* out = static_cast<std::uint8_t*>(to);
  const std::uint32_t headlen = skb_headlen(skb);
  if (offset < headlen) {
    const std::uint32_t n = len < headlen - offset ? len : headlen - offset;
    std::memcpy(out, skb->data + offset, n);
    out += n;
    offset += n;
    len -= n;
  }
  std::uint32_t start = headlen;
  const SkbSharedInfo* sh = skb_shinfo(skb);
  for (int i = 0; len && i < sh->nr_frags; ++i) {
    const SkbFrag& f = sh->frags[i];
    const std::uint32_t end = start + f.size;
    if (offset < end) {
      const std::uint32_t in = offset - start;
      const std::uint32_t n = len < f.size - in ? len : f.size - in;
      std::memcpy(out, f.page->addr + f.offset + in, n);
      out += n;
      offset += n;
      len -= n;
    }
    start = end;
  }
  return len ? -EFAULT : 0;
}

int skb_unclone(SkBuff* skb) {
  return skb_cloned(skb) ? pskb_expand_head(skb, 0, 0) : 0;
}

const std::uint8_t* skb_header_pointer(const SkBuff* skb, std::uint32_t offset, std::uint32_t len,
                                       void* buffer) {
  const std::uint32_t headlen = skb_headlen(skb);
  if (offset <= headlen && len <= headlen - offset) return skb->data + offset;
  if (skb_copy_bits(skb, offset, buffer, len) != 0) return nullptr;
  return static_cast<const std::uint8_t*>(buffer);
}

std::uint8_t* __pskb_pull_tail(SkBuff* skb, std::uint32_t delta) {
  if (delta > skb->data_len) return nullptr;
  const std::uint32_t room = static_cast<std::uint32_t>(skb->end - skb->tail);
  // Like Linux, ask for 128 bytes more than needed when growing, so that a
  // following pull of the next header does not reallocate again; and never
  // write into a head another clone still reads.
  if (delta > room || skb_cloned(skb)) {
    const std::uint32_t ntail = delta > room ? delta - room + 128 : 0;
    if (pskb_expand_head(skb, 0, ntail) != 0) return nullptr;
  }
  const std::uint32_t headlen = skb_headlen(skb);
  if (skb_copy_bits(skb, headlen, skb->tail, delta) != 0) return nullptr;

  // Drop the pulled bytes from the front of the frags.
  SkbSharedInfo* sh = skb_shinfo(skb);
  std::uint32_t eat = delta;
  int k = 0;
  for (int i = 0; i < sh->nr_frags; ++i) {
    SkbFrag f = sh->frags[i];
    if (f.size <= eat) {
      put_page(f.page);
      eat -= f.size;
      continue;
    }
    f.offset += eat;
    f.size -= eat;
    eat = 0;
    sh->frags[k++] = f;
  }
  sh->nr_frags = static_cast<std::uint8_t>(k);
  skb->tail += delta;
  skb->data_len -= delta;
  return skb->tail;
}

bool pskb_may_pull(SkBuff* skb, std::uint32_t len) {
  const std::uint32_t headlen = skb_headlen(skb);
  if (len <= headlen) return true;
  if (len > skb->len) return false;
  return __pskb_pull_tail(skb, len - headlen) != nullptr;
}

int skb_linearize(SkBuff* skb) {
  if (!skb_is_nonlinear(skb)) return 0;
  return __pskb_pull_tail(skb, skb->data_len) ? 0 : -ENOMEM;
}

void skb_split(SkBuff* skb, SkBuff* skb1, std::uint32_t len) {
  if (skb_cloned(skb) || skb->len < len || skb1->len || skb_shinfo(skb1)->nr_frags) {
    std::fprintf(stderr,
                 "skb_split: skb %p (len %u, cloned %d) cannot be split at %u into skb %p "
                 "(len %u)\n",
                 static_cast<void*>(skb), skb->len, skb_cloned(skb), len, static_cast<void*>(skb1),
                 skb1->len);
    std::abort();
  }
  SkbSharedInfo* sh = skb_shinfo(skb);
  SkbSharedInfo* sh1 = skb_shinfo(skb1);
  skb_zerocopy_clone(skb1, skb);
  std::uint32_t pos = skb_headlen(skb);
  if (len < pos) {
    // The cut is in the linear part: its tail is copied, all frags move.
    std::memcpy(skb_put(skb1, pos - len), skb->data + len, pos - len);
    for (int i = 0; i < sh->nr_frags; ++i) sh1->frags[i] = sh->frags[i];
    sh1->nr_frags = sh->nr_frags;
    sh->nr_frags = 0;
    skb1->data_len = skb->data_len;
    skb1->len += skb->data_len;
    skb->data_len = 0;
    skb->len = len;
    skb->tail = skb->data + len;
    return;
  }
  // The cut is in the paged part: whole frags after it move; the one it
  // falls inside is shared, each side keeping its half.
  const int nfrags = sh->nr_frags;
  int k = 0;
  sh->nr_frags = 0;
  skb1->len = skb1->data_len = skb->len - len;
  skb->data_len = len - pos;
  skb->len = len;
  for (int i = 0; i < nfrags; ++i) {
    const std::uint32_t size = sh->frags[i].size;
    if (pos + size > len) {
      sh1->frags[k] = sh->frags[i];
      if (pos < len) {
        get_page(sh->frags[i].page);
        sh1->frags[k].offset += len - pos;
        sh1->frags[k].size -= len - pos;
        sh->frags[i].size = len - pos;
        ++sh->nr_frags;
      }
      ++k;
    } else {
      ++sh->nr_frags;
    }
    pos += size;
  }
  sh1->nr_frags = static_cast<std::uint8_t>(k);
}

std::uint8_t* skb_put_data(SkBuff* skb, const void* data, std::uint32_t len) {
  std::uint8_t* p = skb_put(skb, len);
  if (len) std::memcpy(p, data, len);
  return p;
}

std::uint8_t* skb_put_zero(SkBuff* skb, std::uint32_t len) {
  std::uint8_t* p = skb_put(skb, len);
  std::memset(p, 0, len);
  return p;
}

// --- paged data --------------------------------------------------------------

void skb_fill_page_desc(SkBuff* skb, int i, Page* page, std::uint32_t off, std::uint32_t size) {
  if (i < 0 || i >= MAX_SKB_FRAGS) {
    std::fprintf(stderr, "skb_fill_page_desc: frag %d out of range (MAX_SKB_FRAGS %d), skb %p\n", i,
                 MAX_SKB_FRAGS, static_cast<void*>(skb));
    std::abort();
  }
  SkbSharedInfo* sh = skb_shinfo(skb);
  sh->frags[i] = SkbFrag{page, off, size};
  sh->nr_frags = static_cast<std::uint8_t>(i + 1);
}

bool skb_can_coalesce(const SkBuff* skb, int i, const Page* page, std::uint32_t off) {
  if (i <= 0) return false;
  const SkbFrag& f = skb_shinfo(skb)->frags[i - 1];
  return page == f.page && off == f.offset + f.size;
}

std::uint32_t skb_shift(SkBuff* tgt, SkBuff* skb, std::uint32_t shiftlen) {
  if (shiftlen == 0 || shiftlen > skb->len || skb_headlen(skb)) return 0;
  if (skb_zcopy(tgt) || skb_zcopy(skb)) return 0;
  // Plan first (frag 0 may extend tgt's last frag; every other frag touched
  // needs a slot), so that nothing changes unless everything fits.
  const SkbSharedInfo* plan = skb_shinfo(skb);
  const bool merge =
      skb_can_coalesce(tgt, skb_shinfo(tgt)->nr_frags, plan->frags[0].page, plan->frags[0].offset);
  std::uint32_t todo = shiftlen;
  int i = 0;
  int slots = 0;
  if (merge) todo -= std::min(todo, plan->frags[i++].size);
  while (todo > 0) {
    if (i >= plan->nr_frags) return 0;
    todo -= std::min(todo, plan->frags[i++].size);
    slots++;
  }
  if (skb_shinfo(tgt)->nr_frags + slots > MAX_SKB_FRAGS) return 0;
  // Both shared infos are about to change: clones in a device keep theirs.
  if (skb_unclone(skb) || skb_unclone(tgt)) return 0;
  SkbSharedInfo* from_si = skb_shinfo(skb);
  SkbSharedInfo* to_si = skb_shinfo(tgt);
  int from = 0;
  int to = to_si->nr_frags;
  todo = shiftlen;
  while (todo > 0) {
    SkbFrag* f = &from_si->frags[from];
    const std::uint32_t n = std::min(todo, f->size);
    const bool whole = n == f->size;
    if (from == 0 && merge) {
      to_si->frags[to - 1].size += n;
      if (whole) put_page(f->page);  // tgt's frag already holds the page
    } else {
      to_si->frags[to++] = SkbFrag{f->page, f->offset, n};
      if (!whole) get_page(f->page);  // the page is now in both skbs
    }
    if (whole) {
      from++;
    } else {
      f->offset += n;
      f->size -= n;
    }
    todo -= n;
  }
  to_si->nr_frags = static_cast<std::uint8_t>(to);
  int left = 0;
  for (int k = from; k < from_si->nr_frags; k++) from_si->frags[left++] = from_si->frags[k];
  for (int k = left; k < from_si->nr_frags; k++) from_si->frags[k] = SkbFrag{};
  from_si->nr_frags = static_cast<std::uint8_t>(left);
  skb->len -= shiftlen;
  skb->data_len -= shiftlen;
  skb->truesize -= shiftlen;
  tgt->len += shiftlen;
  tgt->data_len += shiftlen;
  tgt->truesize += shiftlen;
  skb->ip_summed = IpSummed::CHECKSUM_PARTIAL;
  tgt->ip_summed = IpSummed::CHECKSUM_PARTIAL;
  return shiftlen;
}

// --- zerocopy ------------------------------------------------------------------

void skb_zcopy_set(SkBuff* skb, UbufInfo* uarg) {
  if (!skb || !uarg || skb_zcopy(skb)) return;
  net_zcopy_get(uarg);
  skb_shinfo(skb)->destructor_arg = uarg;
  skb_shinfo(skb)->flags |= uarg->flags;
}

void skb_zcopy_clear(SkBuff* skb, bool zerocopy_success) {
  UbufInfo* uarg = skb_zcopy(skb);
  if (!uarg) return;
  SkbSharedInfo* sh = skb_shinfo(skb);
  sh->destructor_arg = nullptr;
  sh->flags &= static_cast<std::uint8_t>(~SKBFL_ALL_ZEROCOPY);
  uarg->ops->complete(skb, uarg, zerocopy_success);
}

void skb_zerocopy_clone(SkBuff* nskb, const SkBuff* orig) {
  if (UbufInfo* uarg = skb_zcopy(orig)) skb_zcopy_set(nskb, uarg);
}

void skb_orphan_frags_rx(SkBuff* skb) {
  if (UbufInfo* uarg = skb_zcopy(skb)) {
    // complete(false) with a reference of our own: the send is marked
    // copied, and the skb keeps its uarg for the write queue's bookkeeping.
    net_zcopy_get(uarg);
    uarg->ops->complete(skb, uarg, false);
  }
}

Page* user_page_get(std::uint8_t* addr, std::uint32_t size, UbufInfo* uarg) {
  auto* pg = new (std::nothrow) Page;
  if (!pg) return nullptr;
  pg->addr = addr;
  pg->size = size;
  pg->refcount = 1;
  pg->user_ubuf = uarg;
  net_zcopy_get(uarg);
  return pg;
}

PageFrag::~PageFrag() {
  if (page) put_page(page);
}

bool skb_page_frag_refill(std::uint32_t sz, PageFrag* pfrag) {
  if (pfrag->page) {
    // Nobody else holds the page (every skb that pointed into it is gone):
    // start over at its beginning instead of taking a new one.
    if (pfrag->page->refcount == 1) {
      pfrag->offset = 0;
      return true;
    }
    if (pfrag->offset + sz <= pfrag->size) return true;
    put_page(pfrag->page);
    pfrag->page = nullptr;
  }
  pfrag->offset = 0;
  pfrag->size = 0;
  // A 32 KiB page first (fewer frags per skb); fall back to a single page.
  pfrag->page = alloc_pages(SKB_FRAG_PAGE_ORDER);
  if (!pfrag->page) pfrag->page = alloc_pages(0);
  if (!pfrag->page) return false;
  pfrag->size = pfrag->page->size;
  return true;
}

}  // namespace sp
