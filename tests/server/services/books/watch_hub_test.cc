// WatchHub: ordering, exactly-once delivery, the backlog bound, wake-ups of
// parked watchers only, removal on destruction, Close, and concurrency. The
// hub is tested over ints with a counting wake handle instead of the engine's
// Waker.
#include "server/services/books/watch_hub.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cqmux {
namespace {

using ::testing::ElementsAre;

// Counts wake-ups; copies share the count, like Waker copies share a link.
class CountingWake {
 public:
  CountingWake() : count_(std::make_shared<std::atomic<int>>(0)) {}
  void Wake() const { count_->fetch_add(1); }
  int count() const { return count_->load(); }

 private:
  std::shared_ptr<std::atomic<int>> count_;
};

using Hub = WatchHub<int, CountingWake>;
using Poll = Hub::Poll;

void Publish(Hub& hub, int value) {
  hub.Publish(std::make_shared<const int>(value));
}

// Pulls until the watcher stops yielding items; returns them and the reason.
std::vector<int> Drain(Hub::Watcher& watcher, Poll* end) {
  std::vector<int> items;
  std::shared_ptr<const int> item;
  Poll poll;
  while ((poll = watcher.Next(&item)) == Poll::kItem) items.push_back(*item);
  *end = poll;
  return items;
}

TEST(WatchHubTest, WatcherIsOwedOnlyItemsPublishedAfterIt) {
  Hub hub(16);
  Publish(hub, 1);
  Publish(hub, 2);
  Hub::Watcher watcher(&hub, CountingWake());
  Poll end;
  EXPECT_TRUE(Drain(watcher, &end).empty());
  EXPECT_EQ(end, Poll::kWait);
  Publish(hub, 3);
  Publish(hub, 4);
  EXPECT_THAT(Drain(watcher, &end), ElementsAre(3, 4));
  EXPECT_EQ(end, Poll::kWait);
}

TEST(WatchHubTest, EveryWatcherSeesEveryItemOnceInTheSameOrder) {
  constexpr int kWatchers = 100;
  constexpr int kItems = 1000;
  Hub hub(kItems);
  std::vector<std::unique_ptr<Hub::Watcher>> watchers;
  for (int i = 0; i < kWatchers; ++i) {
    watchers.push_back(std::make_unique<Hub::Watcher>(&hub, CountingWake()));
  }
  std::vector<int> expected;
  for (int i = 0; i < kItems; ++i) {
    const int value = (i * 7919) % 1009;  // not sorted: order must be kept
    expected.push_back(value);
    Publish(hub, value);
  }
  for (auto& watcher : watchers) {
    Poll end;
    EXPECT_EQ(Drain(*watcher, &end), expected);
    EXPECT_EQ(end, Poll::kWait);
  }
}

TEST(WatchHubTest, WatchersInterleavedWithPublishesEachGetTheirSuffix) {
  Hub hub(8);
  Hub::Watcher early(&hub, CountingWake());
  Publish(hub, 10);
  Hub::Watcher late(&hub, CountingWake());
  Publish(hub, 11);
  Poll end;
  EXPECT_THAT(Drain(early, &end), ElementsAre(10, 11));
  EXPECT_THAT(Drain(late, &end), ElementsAre(11));
}

TEST(WatchHubTest, OnlyParkedWatchersAreWokenAndOnlyOnce) {
  Hub hub(16);
  CountingWake parked_wake;
  CountingWake busy_wake;
  Hub::Watcher parked(&hub, parked_wake);
  Hub::Watcher busy(&hub, busy_wake);  // never asked: it is mid-write
  std::shared_ptr<const int> item;
  ASSERT_EQ(parked.Next(&item), Poll::kWait);
  EXPECT_EQ(hub.parked_count(), 1u);

  Publish(hub, 1);
  EXPECT_EQ(parked_wake.count(), 1);
  EXPECT_EQ(busy_wake.count(), 0);
  EXPECT_EQ(hub.parked_count(), 0u);
  // Not parked again until it asks: a second publish wakes nobody.
  Publish(hub, 2);
  EXPECT_EQ(parked_wake.count(), 1);

  Poll end;
  EXPECT_THAT(Drain(parked, &end), ElementsAre(1, 2));
  ASSERT_EQ(end, Poll::kWait);
  // Asking again while parked does not list it twice.
  ASSERT_EQ(parked.Next(&item), Poll::kWait);
  EXPECT_EQ(hub.parked_count(), 1u);
  Publish(hub, 3);
  EXPECT_EQ(parked_wake.count(), 2);
  EXPECT_THAT(Drain(busy, &end), ElementsAre(1, 2, 3));
  EXPECT_EQ(busy_wake.count(), 0);
}

TEST(WatchHubTest, AWatcherThatFindsAnItemWhileParkedIsUnlisted) {
  Hub hub(16);
  CountingWake wake;
  Hub::Watcher watcher(&hub, wake);
  std::shared_ptr<const int> item;
  ASSERT_EQ(watcher.Next(&item), Poll::kWait);
  // Append without the wake round yet (a publisher between its two halves).
  hub.Append(std::make_shared<const int>(5));
  ASSERT_EQ(watcher.Next(&item), Poll::kItem);
  EXPECT_EQ(*item, 5);
  EXPECT_EQ(hub.parked_count(), 0u);
  hub.WakeParked();
  EXPECT_EQ(wake.count(), 0);  // it had already been served
}

TEST(WatchHubTest, LaggingByExactlyTheBacklogIsFine) {
  Hub hub(4);
  Hub::Watcher watcher(&hub, CountingWake());
  for (int i = 0; i < 4; ++i) Publish(hub, i);
  Poll end;
  EXPECT_THAT(Drain(watcher, &end), ElementsAre(0, 1, 2, 3));
  EXPECT_EQ(end, Poll::kWait);
}

TEST(WatchHubTest, LaggingBeyondTheBacklogCutsOffOnlyThatWatcher) {
  Hub hub(4);
  Hub::Watcher slow(&hub, CountingWake());
  Hub::Watcher fast(&hub, CountingWake());
  std::vector<int> fast_got;
  std::shared_ptr<const int> item;
  for (int i = 0; i < 10; ++i) {
    Publish(hub, i);
    ASSERT_EQ(fast.Next(&item), Poll::kItem);
    fast_got.push_back(*item);
  }
  // The slow one got one item early on, then stopped asking.
  EXPECT_EQ(slow.Next(&item), Poll::kLagged);
  EXPECT_EQ(slow.Next(&item), Poll::kLagged);  // stays cut off
  EXPECT_THAT(fast_got, ElementsAre(0, 1, 2, 3, 4, 5, 6, 7, 8, 9));
  EXPECT_EQ(fast.Next(&item), Poll::kWait);
  EXPECT_EQ(hub.lagged_count(), 1u);  // one watcher cut off, however often it asks
}

TEST(WatchHubTest, LagIsCheckedBeforeEveryItemNotOnlyTheFirst) {
  Hub hub(3);
  Hub::Watcher watcher(&hub, CountingWake());
  std::shared_ptr<const int> item;
  for (int i = 0; i < 3; ++i) Publish(hub, i);
  ASSERT_EQ(watcher.Next(&item), Poll::kItem);  // 0; owes 1, 2
  Publish(hub, 3);                              // owes 1, 2, 3: still fine
  ASSERT_EQ(watcher.Next(&item), Poll::kItem);
  EXPECT_EQ(*item, 1);
  Publish(hub, 4);
  Publish(hub, 5);  // owes 2..5: one too many
  EXPECT_EQ(watcher.Next(&item), Poll::kLagged);
}

TEST(WatchHubTest, BacklogZeroBehavesAsOne) {
  Hub hub(0);
  EXPECT_EQ(hub.backlog(), 1u);
  Hub::Watcher watcher(&hub, CountingWake());
  Publish(hub, 1);
  std::shared_ptr<const int> item;
  ASSERT_EQ(watcher.Next(&item), Poll::kItem);
  EXPECT_EQ(*item, 1);
  Publish(hub, 2);
  Publish(hub, 3);
  EXPECT_EQ(watcher.Next(&item), Poll::kLagged);
}

TEST(WatchHubTest, AppendReturnsTheItemThatLeftTheRing) {
  Hub hub(2);
  EXPECT_EQ(hub.Append(std::make_shared<const int>(1)), nullptr);
  EXPECT_EQ(hub.Append(std::make_shared<const int>(2)), nullptr);
  std::shared_ptr<const int> evicted = hub.Append(std::make_shared<const int>(3));
  ASSERT_NE(evicted, nullptr);
  EXPECT_EQ(*evicted, 1);
  EXPECT_EQ(hub.head(), 3u);
}

TEST(WatchHubTest, RingHoldsNoMoreThanTheBacklog) {
  Hub hub(3);
  std::weak_ptr<const int> first;
  {
    auto item = std::make_shared<const int>(0);
    first = item;
    hub.Publish(std::move(item));
  }
  for (int i = 1; i <= 3; ++i) {
    EXPECT_FALSE(first.expired());
    Publish(hub, i);
  }
  EXPECT_TRUE(first.expired());  // evicted and freed
}

TEST(WatchHubTest, DestroyingAWatcherUnsubscribesAtOnce) {
  Hub hub(8);
  CountingWake wake;
  EXPECT_EQ(hub.watcher_count(), 0u);
  {
    Hub::Watcher watcher(&hub, wake);
    std::shared_ptr<const int> item;
    ASSERT_EQ(watcher.Next(&item), Poll::kWait);
    EXPECT_EQ(hub.watcher_count(), 1u);
    EXPECT_EQ(hub.parked_count(), 1u);
  }
  EXPECT_EQ(hub.watcher_count(), 0u);
  EXPECT_EQ(hub.parked_count(), 0u);
  Publish(hub, 1);
  EXPECT_EQ(wake.count(), 0);
}

TEST(WatchHubTest, RemovingParkedWatchersKeepsTheOthersListed) {
  Hub hub(8);
  std::vector<CountingWake> wakes(4);
  std::vector<std::unique_ptr<Hub::Watcher>> watchers;
  std::shared_ptr<const int> item;
  for (const CountingWake& wake : wakes) {
    watchers.push_back(std::make_unique<Hub::Watcher>(&hub, wake));
    ASSERT_EQ(watchers.back()->Next(&item), Poll::kWait);
  }
  watchers[1].reset();  // middle
  watchers[0].reset();  // first
  EXPECT_EQ(hub.parked_count(), 2u);
  EXPECT_EQ(hub.watcher_count(), 2u);
  Publish(hub, 1);
  EXPECT_EQ(wakes[0].count(), 0);
  EXPECT_EQ(wakes[1].count(), 0);
  EXPECT_EQ(wakes[2].count(), 1);
  EXPECT_EQ(wakes[3].count(), 1);
  // Destroying watchers after the wake round (stale indices) is harmless.
  watchers[3].reset();
  watchers[2].reset();
  EXPECT_EQ(hub.watcher_count(), 0u);
  EXPECT_EQ(hub.parked_count(), 0u);
}

TEST(WatchHubTest, CloseWakesParkedWatchersThatThenFinish) {
  Hub hub(8);
  CountingWake wake;
  Hub::Watcher watcher(&hub, wake);
  std::shared_ptr<const int> item;
  ASSERT_EQ(watcher.Next(&item), Poll::kWait);
  hub.Close();
  EXPECT_EQ(wake.count(), 1);
  EXPECT_EQ(watcher.Next(&item), Poll::kClosed);
}

TEST(WatchHubTest, CloseLetsWatchersDrainWhatTheyAreOwed) {
  Hub hub(8);
  Hub::Watcher watcher(&hub, CountingWake());
  Publish(hub, 1);
  Publish(hub, 2);
  hub.Close();
  Publish(hub, 3);  // after Close: not owed to anyone
  EXPECT_EQ(hub.head(), 2u);
  Poll end;
  EXPECT_THAT(Drain(watcher, &end), ElementsAre(1, 2));
  EXPECT_EQ(end, Poll::kClosed);
}

TEST(WatchHubTest, ALaggingWatcherIsStillCutOffAfterClose) {
  Hub hub(2);
  Hub::Watcher watcher(&hub, CountingWake());
  for (int i = 0; i < 3; ++i) Publish(hub, i);
  hub.Close();
  std::shared_ptr<const int> item;
  EXPECT_EQ(watcher.Next(&item), Poll::kLagged);
}

TEST(WatchHubTest, WatcherCreatedAfterCloseFinishesAtOnce) {
  Hub hub(8);
  Publish(hub, 1);
  hub.Close();
  CountingWake wake;
  Hub::Watcher watcher(&hub, wake);
  std::shared_ptr<const int> item;
  EXPECT_EQ(watcher.Next(&item), Poll::kClosed);
  EXPECT_EQ(hub.parked_count(), 0u);
}

// Publishers ordered by a "store" lock (as BooksService does), watchers on
// their own threads parking and waiting for wakes: every watcher gets every
// item exactly once in the store's order, and no wake-up is lost (a lost one
// would leave a watcher waiting past the generous failure timeout).
// A broken feed (a shared store's lost listening connection): every watcher
// ends at once, parked ones are woken; watchers subscribing while it is
// broken end too, even if they first ask after Resume(); watchers
// subscribing after Resume() are served.
TEST(WatchHubTest, BreakEndsEveryWatcherUntilResume) {
  Hub hub(16);
  CountingWake parked_wake;
  Hub::Watcher parked(&hub, parked_wake);
  Hub::Watcher busy(&hub, CountingWake());
  std::shared_ptr<const int> item;
  ASSERT_EQ(parked.Next(&item), Poll::kWait);
  Publish(hub, 1);  // busy owes it, parked is woken
  ASSERT_EQ(parked_wake.count(), 1);
  ASSERT_EQ(parked.Next(&item), Poll::kItem);
  ASSERT_EQ(parked.Next(&item), Poll::kWait);

  hub.Break();
  EXPECT_TRUE(hub.broken());
  EXPECT_EQ(parked_wake.count(), 2);
  EXPECT_EQ(parked.Next(&item), Poll::kBroken);
  EXPECT_EQ(busy.Next(&item), Poll::kBroken);  // not handed what it was owed
  Hub::Watcher during(&hub, CountingWake());
  EXPECT_EQ(during.Next(&item), Poll::kBroken);
  Hub::Watcher asks_late(&hub, CountingWake());

  hub.Resume();
  EXPECT_FALSE(hub.broken());
  EXPECT_EQ(asks_late.Next(&item), Poll::kBroken);  // may have missed items
  EXPECT_EQ(busy.Next(&item), Poll::kBroken);       // stays ended
  Hub::Watcher after(&hub, CountingWake());
  Publish(hub, 2);
  Poll end;
  EXPECT_THAT(Drain(after, &end), ElementsAre(2));
  EXPECT_EQ(end, Poll::kWait);
}

TEST(WatchHubTest, ConcurrentPublishersAndWatchersAgreeOnOneOrder) {
  constexpr int kPublishers = 4;
  constexpr int kPerPublisher = 500;
  constexpr int kItems = kPublishers * kPerPublisher;
  constexpr int kWatchers = 8;

  // A wake handle that signals a per-watcher semaphore.
  struct Signal {
    absl::Mutex mu;
    int pending ABSL_GUARDED_BY(mu) = 0;
  };
  class SignalWake {
   public:
    explicit SignalWake(std::shared_ptr<Signal> signal = nullptr)
        : signal_(std::move(signal)) {}
    void Wake() const {
      absl::MutexLock lock(&signal_->mu);
      ++signal_->pending;
    }

   private:
    std::shared_ptr<Signal> signal_;
  };
  using ConcurrentHub = WatchHub<int, SignalWake>;
  using ConcurrentPoll = ConcurrentHub::Poll;

  ConcurrentHub hub(kItems);  // nobody can lag in this test
  std::mutex store_mu;
  std::vector<int> store_order;  // guarded by store_mu

  std::vector<std::vector<int>> received(kWatchers);
  std::vector<bool> timed_out(kWatchers, false);
  std::vector<std::shared_ptr<Signal>> signals;
  std::vector<std::unique_ptr<ConcurrentHub::Watcher>> watchers;
  for (int w = 0; w < kWatchers; ++w) {
    signals.push_back(std::make_shared<Signal>());
    watchers.push_back(
        std::make_unique<ConcurrentHub::Watcher>(&hub, SignalWake(signals[w])));
  }

  std::vector<std::thread> threads;
  for (int w = 0; w < kWatchers; ++w) {
    threads.emplace_back([&, w] {
      std::shared_ptr<const int> item;
      while (received[w].size() < static_cast<size_t>(kItems)) {
        ConcurrentPoll poll = watchers[w]->Next(&item);
        if (poll == ConcurrentPoll::kItem) {
          received[w].push_back(*item);
          continue;
        }
        ASSERT_EQ(poll, ConcurrentPoll::kWait);
        Signal& signal = *signals[w];
        absl::MutexLock lock(&signal.mu);
        auto woken = [&signal]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(signal.mu) {
          return signal.pending > 0;
        };
        if (!signal.mu.AwaitWithTimeout(absl::Condition(&woken),
                                        absl::Seconds(30))) {
          timed_out[w] = true;
          return;
        }
        signal.pending = 0;
      }
    });
  }
  for (int p = 0; p < kPublishers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < kPerPublisher; ++i) {
        const int value = p * kPerPublisher + i;
        {
          std::lock_guard<std::mutex> lock(store_mu);
          store_order.push_back(value);
          hub.Append(std::make_shared<const int>(value));
        }
        hub.WakeParked();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  for (int w = 0; w < kWatchers; ++w) {
    EXPECT_FALSE(timed_out[w]) << "watcher " << w << " lost a wake-up";
    EXPECT_EQ(received[w], store_order) << "watcher " << w;
  }
  watchers.clear();
  EXPECT_EQ(hub.watcher_count(), 0u);
  EXPECT_EQ(hub.parked_count(), 0u);
}

// Watchers come and go (parking, then destroyed) while items are published:
// the hub's bookkeeping ends empty and nothing is woken after destruction.
TEST(WatchHubTest, SubscribeUnsubscribeChurnDuringPublishing) {
  constexpr int kChurners = 4;
  constexpr int kRounds = 500;
  constexpr int kItems = 2000;
  Hub hub(16);
  std::vector<std::thread> threads;
  for (int c = 0; c < kChurners; ++c) {
    threads.emplace_back([&] {
      std::shared_ptr<const int> item;
      for (int round = 0; round < kRounds; ++round) {
        Hub::Watcher watcher(&hub, CountingWake());
        // Pull a little; whatever the result, it must be a legal one.
        for (int pull = 0; pull < 3; ++pull) {
          Poll poll = watcher.Next(&item);
          if (poll != Poll::kItem) {
            EXPECT_TRUE(poll == Poll::kWait || poll == Poll::kLagged);
            break;
          }
        }
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < kItems; ++i) Publish(hub, i);
  });
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(hub.watcher_count(), 0u);
  EXPECT_EQ(hub.parked_count(), 0u);
  EXPECT_EQ(hub.head(), static_cast<uint64_t>(kItems));
}

}  // namespace
}  // namespace cqmux
