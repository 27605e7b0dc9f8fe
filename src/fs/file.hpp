// What a descriptor names (struct file, include/linux/fs.h) and the wait
// queues through which a file tells its watchers that something happened
// (include/linux/wait.h). A file is a socket or an epoll instance; epoll is
// the only watcher that hooks a wait queue, since a blocked call in sendpath
// re-evaluates its condition as the world moves instead of sleeping.
#pragma once
#include <cstddef>
#include <vector>

namespace sp {

struct EpItem;

// wait_queue_entry_t. func runs on every wake-up of the queue it is on, with
// the poll mask the waker passed (0: "anything may have changed"); it returns
// nonzero when it took the wake-up, which is what an exclusive waiter counts.
struct WaitQueueEntry {
  int (*func)(WaitQueueEntry* wait, unsigned key) = nullptr;
  void* priv = nullptr;    // the waiter (an epoll item)
  bool exclusive = false;  // WQ_FLAG_EXCLUSIVE
};

// wait_queue_head_t: non-exclusive entries first, exclusive ones at the tail,
// as add_wait_queue / add_wait_queue_exclusive order them.
struct WaitQueueHead {
  std::vector<WaitQueueEntry*> entries;
};

void add_wait_queue(WaitQueueHead* wq_head, WaitQueueEntry* wait);
void add_wait_queue_exclusive(WaitQueueHead* wq_head, WaitQueueEntry* wait);
void remove_wait_queue(WaitQueueHead* wq_head, WaitQueueEntry* wait);
// __wake_up: run every non-exclusive entry, and exclusive ones until
// nr_exclusive of them took the wake-up (0: all of them).
void wake_up_poll_nr(WaitQueueHead* wq_head, int nr_exclusive, unsigned key);
// wake_up_interruptible_poll / _sync_poll: one exclusive waiter at most.
inline void wake_up_interruptible_poll(WaitQueueHead* wq_head, unsigned key) {
  wake_up_poll_nr(wq_head, 1, key);
}
// wake_up_interruptible_all: every waiter, no mask.
inline void wake_up_interruptible_all(WaitQueueHead* wq_head) {
  wake_up_poll_nr(wq_head, 0, 0);
}

// struct file, reduced to what epoll needs: its kind (f_op), the wait queue
// its poll registers on, and the epoll items watching it (f_ep), which are
// removed when the file goes away (eventpoll_release).
struct File {
  enum class Kind { kSocket, kEventPoll };
  explicit File(Kind k) : f_kind(k) {}
  virtual ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  const Kind f_kind;
  WaitQueueHead wq;           // socket->wq.wait, or an epoll's poll_wait
  std::vector<EpItem*> f_ep;  // epoll items watching this file
};

// vfs_poll: the file's current readiness (EPOLL* bits). depth counts nested
// epoll instances on the way here (ep_item_poll).
unsigned vfs_poll(File* file, int depth = 0);

}  // namespace sp
