// WatchHub: fans one totally ordered feed (inserted books) out to any number
// of watchers without a thread, a queue or a copy of the feed per watcher.
//
// The hub keeps one shared ring of the last `backlog` items, each numbered by
// a global sequence. A watcher is only a cursor (the next sequence it owes)
// plus its wake handle: O(1) memory however many items are in flight. A
// watcher pulls with Next(); when it is caught up it parks, and the next
// publish wakes every parked watcher once (busy watchers are not woken: they
// will ask again when their write completes). The producer never waits for a
// watcher: one that falls more than `backlog` items behind gets kLagged the
// next time it asks, and nobody else notices.
//
// A feed that can break (a shared store's listening connection) calls
// Break(): every watcher then gets kBroken the next time it asks (parked ones
// are woken), since items it is owed may never arrive; so do watchers that
// subscribe before Resume(), and those that subscribed while it was broken.
//
// Publishing is split in two so that a store can order it with its inserts:
// Append() (O(1), safe to call under the store's writer lock) and
// WakeParked() (outside every lock: it runs the wake handles).
//
// `Wake` is any copyable type with `void Wake() const` that is safe to call
// from any thread, also after its watcher is gone: the engine's Waker in the
// server, a counting double in tests.
#ifndef CQMUX_SERVER_SERVICES_BOOKS_WATCH_HUB_H_
#define CQMUX_SERVER_SERVICES_BOOKS_WATCH_HUB_H_

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/engine/waker.h"

namespace cqmux {

template <class T, class Wake = Waker>
class WatchHub {
 public:
  enum class Poll {
    kItem,    // *item is the next item
    kWait,    // caught up: parked, Wake() comes with the next publish
    kLagged,  // fell more than backlog() items behind: end the watch
    kClosed,  // the hub is closed and everything owed was delivered
    kBroken,  // the feed broke since this watcher subscribed: end the watch
  };

  // One subscriber. Construct it from the thread that will call Next();
  // destroying it unsubscribes at once (O(1)). The hub must outlive it.
  class Watcher {
   public:
    // Owes every item published after this constructor returns.
    Watcher(WatchHub* hub, Wake wake) : hub_(hub), wake_(std::move(wake)) {
      hub_->Register(this);
    }
    ~Watcher() { hub_->Unregister(this); }
    Watcher(const Watcher&) = delete;
    Watcher& operator=(const Watcher&) = delete;

    // Not thread-safe against itself: one caller at a time (the engine calls
    // a stream's Next() only on its call's queue thread).
    Poll Next(std::shared_ptr<const T>* item) { return hub_->Pull(this, item); }
    WatchHub* hub() const { return hub_; }

   private:
    friend class WatchHub;
    static constexpr size_t kNotParked = std::numeric_limits<size_t>::max();

    WatchHub* const hub_;
    const Wake wake_;
    // Sequence of the next item owed: written by Register() (before the
    // watcher is visible) and then only by Next() on the watcher's thread.
    uint64_t cursor_ = 0;
    // Guarded by hub_->mu_: the index in hub_->parked_, valid only while
    // park_epoch_ == hub_->epoch_.
    size_t park_index_ = kNotParked;
    uint64_t park_epoch_ = 0;
    bool lagged_ = false;  // guarded by hub_->mu_: counted in lagged_count()
    // hub_->generation_ when it subscribed (written by Register()).
    uint64_t generation_ = 0;
  };

  // `backlog` >= 1 (0 is treated as 1). The ring grows to it on demand.
  explicit WatchHub(size_t backlog) : backlog_(std::max<size_t>(backlog, 1)) {}
  ~WatchHub() { assert(watchers_ == 0 && "a Watcher outlived its hub"); }
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // Publishes `item` as the newest, O(1). Returns the item that dropped out of
  // the ring (release it outside the caller's locks), or null. A no-op once
  // closed: watchers are then only owed what came before Close().
  std::shared_ptr<const T> Append(std::shared_ptr<const T> item) {
    absl::MutexLock lock(&mu_);
    if (closed_) return item;
    const size_t slot = static_cast<size_t>(head_ % backlog_);
    ++head_;
    if (slot == ring_.size()) {
      ring_.push_back(std::move(item));
      return nullptr;
    }
    std::swap(ring_[slot], item);
    return item;
  }

  // Wakes every parked watcher once; call after Append(), outside the locks
  // that ordered it. Costs O(parked watchers), no allocation in steady state.
  void WakeParked() {
    std::vector<Parked> woken;
    {
      absl::MutexLock lock(&mu_);
      if (parked_.empty()) return;
      woken.swap(parked_);
      parked_.swap(spare_);  // empty, keeps its capacity
      ++epoch_;              // every index into `woken` is now stale
    }
    for (const Parked& parked : woken) parked.wake.Wake();
    woken.clear();  // drops the handle copies outside the lock
    absl::MutexLock lock(&mu_);
    if (woken.capacity() > spare_.capacity()) spare_.swap(woken);
  }

  void Publish(std::shared_ptr<const T> item) {
    std::shared_ptr<const T> evicted = Append(std::move(item));
    WakeParked();
  }

  // Graceful end: no more items are accepted; each watcher still gets what
  // it was owed, then kClosed. Parked watchers are woken now; busy ones see
  // it when they next ask. Watchers created afterwards get kClosed at once.
  void Close() {
    {
      absl::MutexLock lock(&mu_);
      closed_ = true;
    }
    WakeParked();
  }

  // The feed broke: every current watcher (and every new one until Resume)
  // gets kBroken. Parked watchers are woken now.
  void Break() {
    {
      absl::MutexLock lock(&mu_);
      broken_ = true;
      ++generation_;
    }
    WakeParked();
  }

  // The feed works again: watchers subscribing from now on are served.
  void Resume() {
    absl::MutexLock lock(&mu_);
    broken_ = false;
    ++generation_;  // those that subscribed while broken stay broken
  }

  bool broken() const {
    absl::ReaderMutexLock lock(&mu_);
    return broken_;
  }

  size_t watcher_count() const {
    absl::ReaderMutexLock lock(&mu_);
    return watchers_;
  }
  size_t parked_count() const {
    absl::ReaderMutexLock lock(&mu_);
    return parked_.size();
  }
  // Items ever appended; the next item gets this sequence.
  uint64_t head() const {
    absl::ReaderMutexLock lock(&mu_);
    return head_;
  }
  bool closed() const {
    absl::ReaderMutexLock lock(&mu_);
    return closed_;
  }
  // Watchers ever told kLagged (cut off for falling behind).
  uint64_t lagged_count() const {
    absl::ReaderMutexLock lock(&mu_);
    return lagged_;
  }
  size_t backlog() const { return backlog_; }

 private:
  struct Parked {
    Watcher* watcher;
    Wake wake;
  };

  void Register(Watcher* w) {
    absl::MutexLock lock(&mu_);
    w->cursor_ = head_;
    w->generation_ = generation_;
    ++watchers_;
  }

  void Unregister(Watcher* w) {
    std::optional<Wake> dropped;  // destroyed after the lock is released
    absl::MutexLock lock(&mu_);
    --watchers_;
    if (!IsParked(w)) return;
    dropped.emplace(std::move(parked_[w->park_index_].wake));
    RemoveParked(w->park_index_);
  }

  Poll Pull(Watcher* w, std::shared_ptr<const T>* item) {
    absl::MutexLock lock(&mu_);
    if (broken_ || w->generation_ != generation_) {
      if (IsParked(w)) RemoveParked(w->park_index_);
      return Poll::kBroken;
    }
    if (w->cursor_ < head_) {
      if (head_ - w->cursor_ > backlog_) {
        if (!std::exchange(w->lagged_, true)) ++lagged_;  // once per watcher
        return Poll::kLagged;
      }
      // A watcher woken by a wake it no longer needs may still be listed.
      if (IsParked(w)) RemoveParked(w->park_index_);
      *item = ring_[static_cast<size_t>(w->cursor_++ % backlog_)];
      return Poll::kItem;
    }
    if (closed_) return Poll::kClosed;
    if (!IsParked(w)) {
      w->park_index_ = parked_.size();
      w->park_epoch_ = epoch_;
      parked_.push_back(Parked{w, w->wake_});
    }
    return Poll::kWait;
  }

  bool IsParked(const Watcher* w) const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return w->park_epoch_ == epoch_ && w->park_index_ != Watcher::kNotParked;
  }

  // Swap-remove, O(1).
  void RemoveParked(size_t index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    parked_[index].watcher->park_index_ = Watcher::kNotParked;
    if (index + 1 != parked_.size()) {
      parked_[index] = std::move(parked_.back());
      parked_[index].watcher->park_index_ = index;
    }
    parked_.pop_back();
  }

  const size_t backlog_;
  mutable absl::Mutex mu_;
  // ring_[seq % backlog_] holds item `seq` for seq in [head_ - backlog_, head_).
  std::vector<std::shared_ptr<const T>> ring_ ABSL_GUARDED_BY(mu_);
  uint64_t head_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;  // Break() and Resume() calls
  size_t watchers_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t lagged_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Parked> parked_ ABSL_GUARDED_BY(mu_);
  std::vector<Parked> spare_ ABSL_GUARDED_BY(mu_);
  uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;  // WakeParked() rounds
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_SERVICES_BOOKS_WATCH_HUB_H_
