// struct sk_buff, after include/linux/skbuff.h: one data buffer head..end with
// data..tail in use, skb_shared_info at end, paged fragments, clones sharing
// the buffer through dataref. Names and contracts are the kernel's.
//
// CONTRACT: the declarations in this header are shared by every layer. The
// implementation (skbuff.cpp, pools, pages) may change; a signature change
// must update all callers in the same commit.
#pragma once
#include <boost/intrusive/list_hook.hpp>
#include <boost/intrusive/set_hook.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace sp {

namespace bi = boost::intrusive;

constexpr int MAX_SKB_FRAGS = 17;
constexpr std::uint32_t PAGE_SIZE = 4096;
constexpr std::uint32_t SKB_FRAG_PAGE_ORDER = 3;  // 32 KiB pages for sk_page_frag
constexpr std::uint32_t GSO_MAX_SIZE = 65536;

struct UbufInfo;

// A refcounted page (struct page): 4 KiB << order bytes from the page pool,
// or, for MSG_ZEROCOPY, one page of the caller's memory (a pinned user page).
struct Page {
  std::uint8_t* addr = nullptr;  // page_address()
  std::uint32_t size = 0;        // bytes: PAGE_SIZE << order
  std::uint32_t refcount = 0;    // page_ref_count(); freed to the pool at 0
  std::uint32_t order = 0;
  // Set on a user page: the zerocopy send that pinned it. The page holds a
  // reference on it, so the send cannot complete (and the caller reuse the
  // memory) while any frag still points here. At refcount 0 a user page only
  // drops that reference: the memory is the caller's.
  UbufInfo* user_ubuf = nullptr;
};

Page* alloc_pages(std::uint32_t order);  // nullptr when the pool is exhausted
void get_page(Page* p);
void put_page(Page* p);

// skb_frag_t: a slice of a page.
struct SkbFrag {
  Page* page = nullptr;
  std::uint32_t offset = 0;
  std::uint32_t size = 0;
};

enum GsoType : std::uint32_t { SKB_GSO_NONE = 0, SKB_GSO_TCPV4 = 1u << 0 };

// skb_shinfo(skb)->tx_flags (include/linux/skbuff.h).
constexpr std::uint8_t SKBTX_SW_TSTAMP = 1u << 1;     // software timestamp when the driver sends
constexpr std::uint8_t SKBTX_SCHED_TSTAMP = 1u << 6;  // timestamp when entering the device queue
constexpr std::uint8_t SKBTX_ANY_TSTAMP = SKBTX_SW_TSTAMP | SKBTX_SCHED_TSTAMP;
// skb_shinfo(skb)->flags.
constexpr std::uint8_t SKBFL_ZEROCOPY_ENABLE = 1u << 0;  // destructor_arg is a UbufInfo
constexpr std::uint8_t SKBFL_DONT_ORPHAN = 1u << 3;
constexpr std::uint8_t SKBFL_ZEROCOPY_FRAG = SKBFL_ZEROCOPY_ENABLE;
// sendpath has no global memory pressure, so user frags are charged to the
// socket like any other and Linux's SKBFL_PURE_ZEROCOPY is not needed.
constexpr std::uint8_t SKBFL_ALL_ZEROCOPY = SKBFL_ZEROCOPY_FRAG | SKBFL_DONT_ORPHAN;

struct SkBuff;
// struct ubuf_info: the completion state of a zerocopy send, shared by every
// skb whose frags point at its user pages. refcnt counts those skbs' shared
// infos, the user pages and the sender while it appends; complete() runs on
// each release and, on the last, reports the send done.
struct UbufOps {
  void (*complete)(SkBuff* skb, UbufInfo* uarg, bool zerocopy_success);
};
struct UbufInfo {
  const UbufOps* ops = nullptr;
  std::uint32_t refcnt = 0;
  std::uint8_t flags = 0;  // SKBFL_* the skbs that carry it get
};

// Lives at skb->end, shared by all clones of one buffer.
struct SkbSharedInfo {
  std::uint8_t nr_frags = 0;
  std::uint16_t gso_size = 0;  // MSS of each segment of a GSO skb
  std::uint16_t gso_segs = 0;
  std::uint32_t gso_type = SKB_GSO_NONE;
  // How many skbs share this buffer, split as in Linux: the low 16 bits count
  // all references, the high 16 those that promised not to touch the header
  // area (__skb_header_release). skb_header_cloned() subtracts the latter.
  std::uint32_t dataref = 1;
  std::uint8_t flags = 0;     // SKBFL_*
  std::uint8_t tx_flags = 0;  // SKBTX_*: transmit timestamps asked for
  std::uint32_t tskey = 0;    // sequence number of the byte a timestamp reports
  // The zerocopy send whose pages the frags point at (skb_zcopy); holds one
  // reference on it, dropped when the last clone lets go of the buffer.
  UbufInfo* destructor_arg = nullptr;
  SkbFrag frags[MAX_SKB_FRAGS];
};

// skb->ip_summed
enum class IpSummed : std::uint8_t {
  CHECKSUM_NONE,         // no checksum computed yet / not verified
  CHECKSUM_UNNECESSARY,  // rx: device verified it
  CHECKSUM_COMPLETE,     // rx: skb->csum holds the sum of the packet
  CHECKSUM_PARTIAL,      // tx: device fills the checksum at csum_start+csum_offset
};

using SkbDestructor = void (*)(SkBuff*);

struct SkBuff {
  // Queue linkage: an skb is on at most one list and at most one tree.
  bi::list_member_hook<bi::link_mode<bi::safe_link>> list_hook;
  bi::set_member_hook<bi::link_mode<bi::safe_link>> rb_hook;

  std::uint8_t* head = nullptr;  // buffer start
  std::uint8_t* data = nullptr;  // first byte in use
  std::uint8_t* tail = nullptr;  // end of bytes in use (linear part)
  std::uint8_t* end = nullptr;   // buffer end; skb_shared_info lives here

  std::uint32_t len = 0;       // linear + paged bytes
  std::uint32_t data_len = 0;  // paged bytes (frags)
  std::uint32_t truesize = 0;  // memory charged for this skb
  std::uint32_t reserved_tailroom = 0;

  // Header offsets from head (skb_reset_*_header / skb_*_header).
  std::uint16_t mac_header = 0xffff;
  std::uint16_t network_header = 0xffff;
  std::uint16_t transport_header = 0xffff;

  IpSummed ip_summed = IpSummed::CHECKSUM_NONE;
  std::uint16_t csum_start = 0;   // offset from head where checksumming starts
  std::uint16_t csum_offset = 0;  // from csum_start: where the checksum goes
  std::uint32_t csum = 0;

  bool cloned = false;         // the buffer may be shared with another skb
  bool nohdr = false;          // payload-only reference (__skb_header_release)
  std::uint16_t protocol = 0;  // ETH_P_* in host order
  std::uint64_t tstamp = 0;    // ns: departure or arrival time
  std::uint32_t mark = 0;
  int ifindex = 0;  // device the skb came in on / goes out of

  void* sk = nullptr;                  // owning socket (struct sock*), for destructor
  SkbDestructor destructor = nullptr;  // run when the skb is freed (tcp_wfree)

  alignas(8) std::uint8_t cb[48] = {};  // control block: TCP_SKB_CB lives here

  // Which pool this sk_buff struct came from: single or either half of an
  // fclone pair (skb->fclone in Linux). Internal to skbuff.cpp.
  std::uint8_t pool_class = 0;
};

struct SkbDeleter {
  void operator()(SkBuff* skb) const noexcept;  // kfree_skb
};
// An skb owned by exactly one caller or queue. Sharing is skb_clone.
using SkbPtr = std::unique_ptr<SkBuff, SkbDeleter>;

// Cache-line rounding of the head and of skb_shared_info (SKB_DATA_ALIGN,
// SMP_CACHE_BYTES = 64 on x86-64) and the memory an skb charges to its owner
// for X bytes of linear buffer (SKB_TRUESIZE): buffer + shared info + struct.
constexpr std::uint32_t SMP_CACHE_BYTES = 64;
constexpr std::uint32_t SKB_DATA_ALIGN(std::uint64_t x) {
  return static_cast<std::uint32_t>((x + SMP_CACHE_BYTES - 1) &
                                    ~std::uint64_t{SMP_CACHE_BYTES - 1});
}
constexpr std::uint32_t SKB_TRUESIZE(std::uint32_t x) {
  return x + SKB_DATA_ALIGN(sizeof(SkBuff)) + SKB_DATA_ALIGN(sizeof(SkbSharedInfo));
}
// Headroom pskb_expand_head adds on top of what skb_cow_head asked for, so a
// second header push does not reallocate again (max(32, L1_CACHE_BYTES)).
constexpr std::uint32_t NET_SKB_PAD = 64;

// --- allocation ----------------------------------------------------------
// alloc_skb: linear buffer of at least `size` bytes (rounded up to the head
// pool's size class), head = data = tail, end = head + size. nullptr when the
// pools are exhausted (the caller handles it, like GFP_ATOMIC failure).
SkbPtr alloc_skb(std::uint32_t size);
// alloc_skb plus skb_reserve(headroom).
SkbPtr alloc_skb_with_headroom(std::uint32_t headroom, std::uint32_t size);
// alloc_skb_fclone: alloc_skb whose sk_buff comes paired with a companion
// reserved for its first clone (struct sk_buff_fclones), as
// tcp_stream_alloc_skb allocates write-queue skbs: the clone
// tcp_transmit_skb makes then needs no struct allocation, and
// skb_fclone_busy can tell whether that clone is still in flight.
SkbPtr alloc_skb_fclone(std::uint32_t size);
// skb_fclone_busy: skb's companion clone is alive and owned by sk (it sits in
// a device or qdisc queue), so retransmitting skb now would put a second
// copy behind the first (skb_still_in_host_queue, TCPSpuriousRtxHostQueues).
bool skb_fclone_busy(const void* sk, const SkBuff* skb);
void kfree_skb(SkbPtr skb);    // free after a drop
void consume_skb(SkbPtr skb);  // free after successful use

// --- the four pointers -----------------------------------------------------
inline SkbSharedInfo* skb_shinfo(const SkBuff* skb) {
  return reinterpret_cast<SkbSharedInfo*>(skb->end);
}
inline std::uint32_t skb_headlen(const SkBuff* skb) {
  return skb->len - skb->data_len;
}
inline bool skb_is_nonlinear(const SkBuff* skb) {
  return skb->data_len != 0;
}
inline std::uint32_t skb_headroom(const SkBuff* skb) {
  return static_cast<std::uint32_t>(skb->data - skb->head);
}
// 0 for a paged skb, as in Linux: appends go to frags once frags exist.
inline std::uint32_t skb_tailroom(const SkBuff* skb) {
  return skb_is_nonlinear(skb) ? 0 : static_cast<std::uint32_t>(skb->end - skb->tail);
}
inline std::uint32_t skb_availroom(const SkBuff* skb) {
  if (skb_is_nonlinear(skb)) return 0;
  std::uint32_t room = static_cast<std::uint32_t>(skb->end - skb->tail);
  return room > skb->reserved_tailroom ? room - skb->reserved_tailroom : 0;
}
inline std::uint32_t skb_end_offset(const SkBuff* skb) {
  return static_cast<std::uint32_t>(skb->end - skb->head);
}

void skb_reserve(SkBuff* skb, std::uint32_t len);        // data, tail += len (empty skb only)
std::uint8_t* skb_put(SkBuff* skb, std::uint32_t len);   // tail += len; past end: skb_over_panic
std::uint8_t* skb_push(SkBuff* skb, std::uint32_t len);  // data -= len; below head: skb_under_panic
std::uint8_t* skb_pull(SkBuff* skb, std::uint32_t len);  // data += len; nullptr if len > headlen
void skb_trim(SkBuff* skb, std::uint32_t len);           // linear skbs: tail = data + len
// Trims paged skbs too (drops/shrinks frags). 0 on success.
int pskb_trim(SkBuff* skb, std::uint32_t len);

[[noreturn]] void skb_over_panic(const SkBuff* skb, std::uint32_t len, const char* where);
[[noreturn]] void skb_under_panic(const SkBuff* skb, std::uint32_t len, const char* where);

// --- header offsets ----------------------------------------------------------
inline void skb_reset_mac_header(SkBuff* s) {
  s->mac_header = static_cast<std::uint16_t>(s->data - s->head);
}
inline void skb_reset_network_header(SkBuff* s) {
  s->network_header = static_cast<std::uint16_t>(s->data - s->head);
}
inline void skb_reset_transport_header(SkBuff* s) {
  s->transport_header = static_cast<std::uint16_t>(s->data - s->head);
}
inline std::uint8_t* skb_mac_header(const SkBuff* s) {
  return s->head + s->mac_header;
}
inline std::uint8_t* skb_network_header(const SkBuff* s) {
  return s->head + s->network_header;
}
inline std::uint8_t* skb_transport_header(const SkBuff* s) {
  return s->head + s->transport_header;
}
// skb_set_*_header: the header starts `offset` bytes after data.
inline void skb_set_mac_header(SkBuff* s, int offset) {
  s->mac_header = static_cast<std::uint16_t>(s->data - s->head + offset);
}
inline void skb_set_network_header(SkBuff* s, int offset) {
  s->network_header = static_cast<std::uint16_t>(s->data - s->head + offset);
}
inline void skb_set_transport_header(SkBuff* s, int offset) {
  s->transport_header = static_cast<std::uint16_t>(s->data - s->head + offset);
}
inline bool skb_mac_header_was_set(const SkBuff* s) {
  return s->mac_header != 0xffff;
}
inline bool skb_transport_header_was_set(const SkBuff* s) {
  return s->transport_header != 0xffff;
}
// Offsets of the headers from data (negative once data has moved past them).
inline int skb_network_offset(const SkBuff* s) {
  return static_cast<int>(skb_network_header(s) - s->data);
}
inline int skb_transport_offset(const SkBuff* s) {
  return static_cast<int>(skb_transport_header(s) - s->data);
}

// --- clones and copies -------------------------------------------------------
SkbPtr skb_clone(SkBuff* skb);  // shares head and frags; dataref++; both marked cloned
constexpr std::uint32_t SKB_DATAREF_SHIFT = 16;
constexpr std::uint32_t SKB_DATAREF_MASK = (1u << SKB_DATAREF_SHIFT) - 1;
inline bool skb_cloned(const SkBuff* skb) {
  return skb->cloned && (skb_shinfo(skb)->dataref & SKB_DATAREF_MASK) != 1;
}
bool skb_header_cloned(const SkBuff* skb);  // the header area is shared with a clone
// __skb_header_release: the owner of a not-yet-cloned skb (TCP, for its write
// queue) promises never to write its header area again, so that the clone it
// sends down the stack may push headers into the shared headroom without
// skb_cow_head copying it. Call after skb_reserve, before the first clone.
void __skb_header_release(SkBuff* skb);
// Make headroom writable and at least `headroom` bytes: 0 or -ENOMEM.
int skb_cow_head(SkBuff* skb, std::uint32_t headroom);
// Reallocate the head with nhead/ntail more bytes, unsharing it: 0 or -ENOMEM.
int pskb_expand_head(SkBuff* skb, std::uint32_t nhead, std::uint32_t ntail);
SkbPtr pskb_copy(SkBuff* skb);       // private copy of the header, frags shared
SkbPtr skb_copy(const SkBuff* skb);  // full private, linear copy
// Copy len bytes starting at offset (linear then frags) into to: 0 or -EFAULT.
int skb_copy_bits(const SkBuff* skb, std::uint32_t offset, void* to, std::uint32_t len);
// skb_unclone: give a cloned skb a private head (pskb_expand_head(skb, 0, 0))
// before changing its shared info or its bytes: 0 or -ENOMEM.
int skb_unclone(SkBuff* skb);
// skb_header_pointer: len bytes at offset, in place when they are in the
// linear part, else copied into buffer; nullptr if past skb->len.
const std::uint8_t* skb_header_pointer(const SkBuff* skb, std::uint32_t offset, std::uint32_t len,
                                       void* buffer);
// __pskb_pull_tail: move delta bytes from the frags to the end of the linear
// part (reallocating the head when it lacks room or is shared); returns the
// new tail, or nullptr on -ENOMEM or when the skb has fewer paged bytes.
std::uint8_t* __pskb_pull_tail(SkBuff* skb, std::uint32_t delta);
// pskb_may_pull: make the first len bytes linear; false if the skb is shorter
// or memory ran out. Receive paths call it before reading a header.
bool pskb_may_pull(SkBuff* skb, std::uint32_t len);
// skb_linearize: pull all paged bytes into the linear part (a device without
// scatter-gather): 0 or -ENOMEM.
int skb_linearize(SkBuff* skb);
// skb_orphan: run the owner's destructor now and detach the skb from its
// socket (a device that keeps skbs longer than TSQ should count them).
inline void skb_orphan(SkBuff* skb) {
  if (skb->destructor) {
    skb->destructor(skb);
    skb->destructor = nullptr;
  }
  skb->sk = nullptr;
}
// skb_split: move everything after the first len bytes of skb into skb1, a
// fresh skb (linear room for headlen - len bytes when len < headlen). A frag
// straddling len is shared: each side keeps its part with a page reference.
// skb must not be cloned (tcp_fragment unclones it first). truesize is left
// to the caller, as in Linux.
void skb_split(SkBuff* skb, SkBuff* skb1, std::uint32_t len);
// skb_put_data / skb_put_zero: skb_put and fill.
std::uint8_t* skb_put_data(SkBuff* skb, const void* data, std::uint32_t len);
std::uint8_t* skb_put_zero(SkBuff* skb, std::uint32_t len);

// --- paged data --------------------------------------------------------------
// skb_shift: move the first shiftlen bytes of skb (all in frags: skb has no
// linear data) to the end of tgt's frags, merging with tgt's last frag when
// the page continues it. All or nothing: returns shiftlen, or 0 when skb has
// linear data, either side is zerocopy, or tgt lacks frag slots. truesize
// moves with the bytes.
std::uint32_t skb_shift(SkBuff* tgt, SkBuff* skb, std::uint32_t shiftlen);
// Set frag i (takes the caller's page reference) and nr_frags = i + 1; the
// caller adds size to len, data_len and truesize.
void skb_fill_page_desc(SkBuff* skb, int i, Page* page, std::uint32_t off, std::uint32_t size);
// Can a write of data at page+off extend frag i-1 (same page, contiguous)?
bool skb_can_coalesce(const SkBuff* skb, int i, const Page* page, std::uint32_t off);
inline void skb_frag_ref(SkBuff* skb, int i) {
  get_page(skb_shinfo(skb)->frags[i].page);
}
inline void skb_frag_unref(SkBuff* skb, int i) {
  put_page(skb_shinfo(skb)->frags[i].page);
}
inline std::uint8_t* skb_frag_address(const SkbFrag* f) {
  return f->page->addr + f->offset;
}

// --- zerocopy (include/linux/skbuff.h skb_zcopy_*) ------------------------------
inline UbufInfo* skb_zcopy(const SkBuff* skb) {
  return skb && (skb_shinfo(skb)->flags & SKBFL_ZEROCOPY_ENABLE) ? skb_shinfo(skb)->destructor_arg
                                                                 : nullptr;
}
inline void net_zcopy_get(UbufInfo* uarg) {
  ++uarg->refcnt;
}
// net_zcopy_put: drop one reference (a successful completion as far as the
// releaser knows).
inline void net_zcopy_put(UbufInfo* uarg) {
  if (uarg) uarg->ops->complete(nullptr, uarg, true);
}
// skb_zcopy_set: attach uarg to skb (taking a reference) unless it already
// carries one.
void skb_zcopy_set(SkBuff* skb, UbufInfo* uarg);
// skb_zcopy_clear: detach the skb's uarg, reporting whether the device
// managed without copying the user pages.
void skb_zcopy_clear(SkBuff* skb, bool zerocopy_success);
// skb_zerocopy_clone: nskb shares orig's frags, so it shares its uarg too.
void skb_zerocopy_clone(SkBuff* nskb, const SkBuff* orig);
// skb_orphan_frags_rx: a device that hands the bytes on to a receiver (a
// local stack, a tun reader) copies them; the send is then reported as
// SO_EE_CODE_ZEROCOPY_COPIED. The frags keep pointing at user memory, which
// stays pinned by the write queue's skb until it is acknowledged.
void skb_orphan_frags_rx(SkBuff* skb);
// A user page wrapping [addr, addr + size) of the caller's memory, pinned for
// uarg (which it references): nullptr when out of memory.
Page* user_page_get(std::uint8_t* addr, std::uint32_t size, UbufInfo* uarg);

// struct page_frag + skb_page_frag_refill: a per-owner (per-socket) cursor
// into a 32 KiB page, so consecutive small appends land contiguously.
struct PageFrag {
  Page* page = nullptr;
  std::uint32_t offset = 0;
  std::uint32_t size = 0;
  PageFrag() = default;
  PageFrag(const PageFrag&) = delete;
  PageFrag& operator=(const PageFrag&) = delete;
  ~PageFrag();  // drops the page reference
};
// Ensure pfrag has at least sz bytes free (a fresh page if the current one is
// full or shared); false when no page can be had.
bool skb_page_frag_refill(std::uint32_t sz, PageFrag* pfrag);

// --- pools -------------------------------------------------------------------
// Pools are per thread (one stack is one thread). Limits turn exhaustion into
// allocation failure; stats let tests prove reuse. An object freed on another
// thread joins (and is counted by) that thread's pools; one freed after its
// thread has exited goes back to the heap. A thread's limits are checked
// against the objects the whole process holds, so a program thread that
// allocates what a stack thread frees does not run into them.
struct SkbPoolStats {
  // skb_in_use counts sk_buff structs held: an fclone pair holds two from
  // alloc_skb_fclone until both are freed. *_fresh: taken from the heap
  // because the free list was empty (flat in a steady state).
  std::uint64_t skb_allocs = 0, skb_frees = 0, skb_in_use = 0;
  std::uint64_t head_allocs = 0, head_frees = 0, head_in_use = 0, head_fresh = 0;
  std::uint64_t page_allocs = 0, page_frees = 0, page_in_use = 0, page_fresh = 0;
  std::uint64_t alloc_failures = 0;
  std::uint64_t head_bytes_in_use = 0;  // head blocks incl. shared info (max_head_bytes)
  std::uint64_t page_4k_in_use = 0;     // pages in use in 4 KiB units (max_pages)
  std::uint64_t skb_dropped = 0;        // freed by kfree_skb (a drop)
  std::uint64_t skb_consumed = 0;       // freed by consume_skb (normal end of life)
  std::uint64_t cached_bytes = 0;       // held on free lists for reuse (capped per list)
};
struct SkbPoolLimits {
  std::uint64_t max_skbs = 1u << 22;          // sk_buff structs in use (clones count)
  std::uint64_t max_head_bytes = 4ull << 30;  // head blocks in use, shared info included
  std::uint64_t max_pages = 1u << 20;         // in 4 KiB units: an order-3 page is 8
};
const SkbPoolStats& skb_pool_stats();
// What the limits are checked against: objects the whole process holds.
struct SkbPoolUsage {
  std::uint64_t skbs = 0, head_bytes = 0, pages_4k = 0;
};
SkbPoolUsage skb_pool_process_usage();
void skb_pool_set_limits(const SkbPoolLimits& limits);
SkbPoolLimits skb_pool_limits();

}  // namespace sp
