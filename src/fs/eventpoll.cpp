// epoll_create / epoll_ctl / epoll_wait (fs/eventpoll.c) over sendpath's
// descriptor table, and the wait queues they hook into (kernel/sched/wait.c).
#include "fs/eventpoll.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>

#include "api/call_guard.hpp"
#include "api/fd_table.hpp"
#include "core/stack.hpp"
#include "sendpath/api.hpp"
#include "sock/sock.hpp"

namespace sp {

// --- wait queues ------------------------------------------------------------------

void add_wait_queue(WaitQueueHead* wq_head, WaitQueueEntry* wait) {
  wait->exclusive = false;
  wq_head->entries.insert(wq_head->entries.begin(), wait);
}

void add_wait_queue_exclusive(WaitQueueHead* wq_head, WaitQueueEntry* wait) {
  wait->exclusive = true;
  wq_head->entries.push_back(wait);
}

void remove_wait_queue(WaitQueueHead* wq_head, WaitQueueEntry* wait) {
  auto& e = wq_head->entries;
  e.erase(std::remove(e.begin(), e.end(), wait), e.end());
}

void wake_up_poll_nr(WaitQueueHead* wq_head, int nr_exclusive, unsigned key) {
  // A callback may wake other queues (nested epoll) but never edits this
  // one; the index walk still re-reads the size in case it did.
  for (std::size_t i = 0; i < wq_head->entries.size(); ++i) {
    WaitQueueEntry* w = wq_head->entries[i];
    const int ret = w->func(w, key);
    if (ret && w->exclusive && !--nr_exclusive) break;
  }
}

// --- files ------------------------------------------------------------------------

namespace {

EventPoll* ep_of(File* f) {
  return f->f_kind == File::Kind::kEventPoll ? static_cast<EventPoll*>(f) : nullptr;
}

unsigned ep_eventpoll_poll(EventPoll* ep, int depth);

}  // namespace

File::~File() {
  eventpoll_release(this);
}

unsigned vfs_poll(File* file, int depth) {
  if (EventPoll* ep = ep_of(file)) return ep_eventpoll_poll(ep, depth);
  Socket* sock = static_cast<Socket*>(file);
  // The stack that owned the sock is gone: nothing more will ever happen.
  if (!sock->sk) return EPOLLHUP;
  return sock->ops->poll(sock);
}

// --- epoll ------------------------------------------------------------------------

namespace {

// ep_item_poll: the file's readiness, limited to what the item watches.
unsigned ep_item_poll(const EpItem* epi, int depth) {
  return vfs_poll(epi->file, depth) & epi->event.events;
}

void ep_rdllist_add(EpItem* epi) {
  if (epi->on_rdllist) return;
  EventPoll* ep = epi->ep;
  epi->rdllink = ep->rdllist.insert(ep->rdllist.end(), epi);
  epi->on_rdllist = true;
}

void ep_rdllist_del(EpItem* epi) {
  if (!epi->on_rdllist) return;
  epi->ep->rdllist.erase(epi->rdllink);
  epi->on_rdllist = false;
}

// ep_poll_safewake: tell the epoll instances watching ep that it may have
// become readable. Nesting is bounded by ep_loop_check at insert time.
void ep_poll_safewake(EventPoll* ep) {
  wake_up_poll_nr(&ep->wq, 1, EPOLLIN);
}

// ep_poll_callback: the watched file woke its queue with `key` (its new poll
// bits, or 0 for "anything"). Returns whether the wake-up was taken, which
// only matters to EPOLLEXCLUSIVE items.
int ep_poll_callback(WaitQueueEntry* wait, unsigned key) {
  EpItem* epi = static_cast<EpItem*>(wait->priv);
  EventPoll* ep = epi->ep;
  const bool exclusive = epi->event.events & EPOLLEXCLUSIVE;
  int ewake = 0;
  // An item without poll bits is disabled: EPOLLONESHOT fired and no
  // EPOLL_CTL_MOD re-armed it yet.
  const bool disabled = !(epi->event.events & ~EP_PRIVATE_BITS);
  if (!disabled && (!key || (key & epi->event.events))) {
    ep_rdllist_add(epi);
    if (ep->wq_waiters > 0 && exclusive) {
      // An exclusive item takes the wake-up only for the direction it
      // watches, so a reader's wake-up is not used up by a writer's item.
      switch (key & (EPOLLIN | EPOLLOUT)) {
        case EPOLLIN:
          ewake = (epi->event.events & EPOLLIN) != 0;
          break;
        case EPOLLOUT:
          ewake = (epi->event.events & EPOLLOUT) != 0;
          break;
        case 0:
          ewake = 1;
          break;
        default:
          break;
      }
    }
    ep_poll_safewake(ep);
  }
  if (!exclusive) ewake = 1;
  return ewake;
}

// ep_eventpoll_poll: an epoll instance is readable when one of its ready
// items really is; items that were queued but are not ready leave the list.
unsigned ep_eventpoll_poll(EventPoll* ep, int depth) {
  for (auto it = ep->rdllist.begin(); it != ep->rdllist.end();) {
    EpItem* epi = *it++;
    if (ep_item_poll(epi, depth + 1)) return EPOLLIN | EPOLLRDNORM;
    ep_rdllist_del(epi);
  }
  return 0;
}

// The deepest chain of epoll instances below ep (0: ep watches no epoll),
// or more than EP_MAX_NESTS when it reaches inserting_into (a cycle).
int ep_loop_check_proc(const EventPoll* ep, const EventPoll* inserting_into, int depth) {
  int result = 0;
  for (const auto& [key, epi] : ep->rbr) {
    const EventPoll* sub = ep_of(epi->file);
    if (!sub) continue;
    if (sub == inserting_into || depth > EP_MAX_NESTS)
      result = EP_MAX_NESTS + 1;
    else
      result = std::max(result, ep_loop_check_proc(sub, inserting_into, depth + 1) + 1);
    if (result > EP_MAX_NESTS) break;
  }
  return result;
}

// The deepest chain of epoll instances above ep (those watching it).
int ep_get_upwards_depth(const EventPoll* ep, int depth) {
  int result = 0;
  if (depth > EP_MAX_NESTS) return result;
  for (const EpItem* epi : ep->f_ep)
    result = std::max(result, ep_get_upwards_depth(epi->ep, depth + 1) + 1);
  return result;
}

// ep_loop_check: adding `to` into ep must neither close a cycle nor make a
// chain of nested instances longer than EP_MAX_NESTS (Linux 6.12 stable
// counts the levels above ep as well as those below to).
bool ep_loop_check(const EventPoll* ep, const EventPoll* to) {
  const int depth = ep_loop_check_proc(to, ep, 0);
  if (depth > EP_MAX_NESTS) return false;
  return depth + 1 + ep_get_upwards_depth(ep, 0) <= EP_MAX_NESTS;
}

void ep_remove(EventPoll* ep, EpItem* epi) {
  File* file = epi->file;
  remove_wait_queue(&file->wq, &epi->wait);
  auto& refs = file->f_ep;
  refs.erase(std::remove(refs.begin(), refs.end(), epi), refs.end());
  ep_rdllist_del(epi);
  ep->rbr.erase({file, epi->fd});
}

int ep_insert(EventPoll* ep, const epoll_event& event, File* tfile, int fd) {
  auto owned = std::make_unique<EpItem>();
  EpItem* epi = owned.get();
  epi->ep = ep;
  epi->file = tfile;
  epi->fd = fd;
  epi->event = event;
  epi->wait.func = ep_poll_callback;
  epi->wait.priv = epi;
  ep->rbr.emplace(std::make_pair(tfile, fd), std::move(owned));
  tfile->f_ep.push_back(epi);
  if (event.events & EPOLLEXCLUSIVE)
    add_wait_queue_exclusive(&tfile->wq, &epi->wait);
  else
    add_wait_queue(&tfile->wq, &epi->wait);
  // Already ready: report it without waiting for the next wake-up.
  if (ep_item_poll(epi, 1) && !epi->on_rdllist) {
    ep_rdllist_add(epi);
    ep_poll_safewake(ep);
  }
  return 0;
}

int ep_modify(EventPoll* ep, EpItem* epi, const epoll_event& event) {
  epi->event = event;
  // Re-armed and ready: queue it. An item already queued stays queued;
  // epoll_wait polls it again anyway.
  if (ep_item_poll(epi, 1) && !epi->on_rdllist) {
    ep_rdllist_add(epi);
    ep_poll_safewake(ep);
  }
  return 0;
}

// ep_send_events: poll every ready item once, report the ready ones.
int ep_send_events(EventPoll* ep, epoll_event* events, int maxevents) {
  std::list<EpItem*> txlist;
  txlist.splice(txlist.end(), ep->rdllist);
  for (EpItem* epi : txlist) epi->on_rdllist = false;
  int res = 0;
  while (!txlist.empty() && res < maxevents) {
    EpItem* epi = txlist.front();
    txlist.pop_front();
    const unsigned revents = ep_item_poll(epi, 1);
    if (!revents) continue;
    events[res].events = revents;
    events[res].data = epi->event.data;
    ++res;
    if (epi->event.events & EPOLLONESHOT)
      epi->event.events &= EP_PRIVATE_BITS;
    else if (!(epi->event.events & EPOLLET))
      ep_rdllist_add(epi);  // level-triggered: still ready until polled otherwise
  }
  // What maxevents left unreported goes first next time (ep_done_scan).
  for (auto it = txlist.rbegin(); it != txlist.rend(); ++it) {
    EpItem* epi = *it;
    if (epi->on_rdllist) continue;
    epi->rdllink = ep->rdllist.insert(ep->rdllist.begin(), epi);
    epi->on_rdllist = true;
  }
  return res;
}

// A stack whose clock and wait driver an epoll_wait can block on: the one
// of the first watched socket that still has one.
Stack* ep_stack(const EventPoll* ep, int depth) {
  if (depth > EP_MAX_NESTS) return nullptr;
  for (const auto& [key, epi] : ep->rbr) {
    if (const EventPoll* sub = ep_of(epi->file)) {
      if (Stack* st = ep_stack(sub, depth + 1)) return st;
      continue;
    }
    const Socket* sock = static_cast<const Socket*>(epi->file);
    if (sock->sk) return sock->sk->stack;
  }
  return nullptr;
}

int ret_errno(int err) {
  errno = err;
  return -1;
}

}  // namespace

EventPoll::~EventPoll() {
  while (!rbr.empty()) ep_remove(this, rbr.begin()->second.get());
}

void eventpoll_release(File* file) {
  while (!file->f_ep.empty()) {
    EpItem* epi = file->f_ep.back();
    ep_remove(epi->ep, epi);
  }
}

Stack* eventpoll_stack(File* file) {
  const EventPoll* ep = ep_of(file);
  return ep ? ep_stack(ep, 0) : nullptr;
}

// --- the calls --------------------------------------------------------------------

int epoll_create1(int flags) {
  if (flags & ~EPOLL_CLOEXEC) return ret_errno(EINVAL);
  return fd_install(std::make_unique<EventPoll>());
}

int epoll_create(int size) {
  if (size <= 0) return ret_errno(EINVAL);
  return sp::epoll_create1(0);
}

int epoll_ctl(int epfd, int op, int fd, epoll_event* event) {
  const bool has_event = op != EPOLL_CTL_DEL;
  if (has_event && !event) return ret_errno(EFAULT);
  File* file = fget(epfd);
  if (!file) return ret_errno(EBADF);
  File* tfile = fget(fd);
  if (!tfile) return ret_errno(EBADF);
  EventPoll* ep = ep_of(file);
  if (file == tfile || !ep) return ret_errno(EINVAL);
  // The watched socket's stack (or, for a nested instance, the one it waits
  // on) runs the wake-ups this item hooks into.
  const Socket* tsock =
      tfile->f_kind == File::Kind::kSocket ? static_cast<const Socket*>(tfile) : nullptr;
  CallGuard guard(tsock ? (tsock->sk ? tsock->sk->stack : nullptr) : eventpoll_stack(tfile));
  epoll_event epds{};
  if (has_event) epds = *event;
  if (has_event && (epds.events & EPOLLEXCLUSIVE)) {
    // An exclusive item cannot be modified, watch an epoll instance, or ask
    // for more than in/out/err/hup.
    if (op == EPOLL_CTL_MOD) return ret_errno(EINVAL);
    if (op == EPOLL_CTL_ADD && (ep_of(tfile) || (epds.events & ~EPOLLEXCLUSIVE_OK_BITS)))
      return ret_errno(EINVAL);
  }
  if (op == EPOLL_CTL_ADD) {
    if (EventPoll* tep = ep_of(tfile); tep && !ep_loop_check(ep, tep)) return ret_errno(ELOOP);
  }
  auto it = ep->rbr.find({tfile, fd});
  EpItem* epi = it == ep->rbr.end() ? nullptr : it->second.get();
  switch (op) {
    case EPOLL_CTL_ADD:
      if (epi) return ret_errno(EEXIST);
      // Errors and hang-ups are always reported, asked for or not.
      epds.events |= EPOLLERR | EPOLLHUP;
      return ep_insert(ep, epds, tfile, fd);
    case EPOLL_CTL_DEL:
      if (!epi) return ret_errno(ENOENT);
      ep_remove(ep, epi);
      return 0;
    case EPOLL_CTL_MOD:
      if (!epi) return ret_errno(ENOENT);
      if (epi->event.events & EPOLLEXCLUSIVE) return ret_errno(EINVAL);
      epds.events |= EPOLLERR | EPOLLHUP;
      return ep_modify(ep, epi, epds);
    default:
      return ret_errno(EINVAL);
  }
}

int epoll_wait(int epfd, epoll_event* events, int maxevents, int timeout_ms) {
  constexpr int EP_MAX_EVENTS = static_cast<int>(INT_MAX / sizeof(epoll_event));
  if (maxevents <= 0 || maxevents > EP_MAX_EVENTS) return ret_errno(EINVAL);
  if (!events) return ret_errno(EFAULT);
  File* file = fget(epfd);
  if (!file) return ret_errno(EBADF);
  EventPoll* ep = ep_of(file);
  if (!ep) return ret_errno(EINVAL);
  // ep_poll: report what is ready; otherwise wait for a wake-up to queue an
  // item (a queued item may still turn out not ready: wait again) until the
  // timeout, on the stack's clock. With no stack to wait on, nothing can
  // change: return at once, as poll() does.
  Stack* st = ep_stack(ep, 0);
  CallGuard guard(st);
  const bool timed_out = timeout_ms == 0 || !st;
  const Nanos deadline = timed_out        ? 0
                         : timeout_ms < 0 ? Stack::kNoTimer
                                          : st->now() + static_cast<Nanos>(timeout_ms) * kNsPerMs;
  for (;;) {
    if (!ep->rdllist.empty()) {
      const int res = ep_send_events(ep, events, maxevents);
      if (res) return res;
    }
    if (timed_out) return 0;
    ++ep->wq_waiters;
    const bool woken = st->wait_until([ep] { return !ep->rdllist.empty(); }, deadline);
    --ep->wq_waiters;
    if (!woken) return ep->rdllist.empty() ? 0 : ep_send_events(ep, events, maxevents);
  }
}

}  // namespace sp
