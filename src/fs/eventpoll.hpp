// epoll (fs/eventpoll.c): an EventPoll is a file holding one EpItem per
// watched (file, fd) and a ready list. A watched file's wake-up runs
// ep_poll_callback, which puts the item on the ready list when the wake-up's
// mask meets the item's events; epoll_wait then polls each ready item and
// reports what is really ready. Edge-triggered items leave the list once
// reported (they come back only with the next wake-up), level-triggered ones
// go back on it, and EPOLLONESHOT items are disabled until EPOLL_CTL_MOD.
#pragma once
#include <sys/epoll.h>

#include <list>
#include <map>
#include <memory>
#include <utility>

#include "fs/file.hpp"

namespace sp {

struct EventPoll;

// Epoll's private bits inside the event mask (EP_PRIVATE_BITS).
constexpr unsigned EP_PRIVATE_BITS = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE;
// What an EPOLLEXCLUSIVE item may ask for (EPOLLEXCLUSIVE_OK_BITS).
constexpr unsigned EPOLLEXCLUSIVE_OK_BITS =
    EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;
// Maximum nesting of epoll instances inside epoll instances (EP_MAX_NESTS).
constexpr int EP_MAX_NESTS = 4;

// struct epitem: one watched (file, fd) of one epoll instance. Its wait
// entry sits on the file's wait queue for the item's whole life.
struct EpItem {
  EventPoll* ep = nullptr;
  File* file = nullptr;
  int fd = -1;
  epoll_event event{};
  WaitQueueEntry wait;
  bool on_rdllist = false;
  std::list<EpItem*>::iterator rdllink;
};

// struct eventpoll. File::wq is its poll_wait: where an outer epoll
// instance watching this one hooks in.
struct EventPoll final : File {
  EventPoll() : File(Kind::kEventPoll) {}
  ~EventPoll() override;  // ep_free: unhook every item from its file

  std::map<std::pair<File*, int>, std::unique_ptr<EpItem>> rbr;  // watched items
  std::list<EpItem*> rdllist;                                    // ready items, FIFO
  // epoll_wait calls blocked on this instance (a waiter on ep->wq): an
  // EPOLLEXCLUSIVE item takes a wake-up only when someone is waiting.
  int wq_waiters = 0;
};

// eventpoll_release: the file is going away; every epoll instance watching
// it drops its item.
void eventpoll_release(File* file);

class Stack;
// For an epoll instance: the stack of the first watched socket (whose clock
// and wait driver epoll_wait uses), or nullptr.
Stack* eventpoll_stack(File* file);

}  // namespace sp
