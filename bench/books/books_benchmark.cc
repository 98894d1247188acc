// books_benchmark: what an insert costs the Watch fan-out hub with many
// watchers, how much memory an open watcher holds, and what List costs with
// the store's serialized snapshot. Wake handles are the
// engine's Waker without a call behind it (a no-op), so these numbers are the
// hub's own cost; the alarms and writes are measured end to end by the load
// generator.
#include <malloc.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "benchmark/benchmark.h"
#include "server/services/books/books_service.h"
#include "server/services/books/watch_hub.h"

namespace cqmux {
namespace {

using Hub = WatchHub<books::Book>;
using Step = ServerStream<books::Book>::Step;

std::shared_ptr<const books::Book> MakeBook(int32_t id) {
  auto book = std::make_shared<books::Book>();
  book->set_id(id);
  book->set_title("A Tale of Two Cities");
  book->set_author("Charles Dickens");
  return book;
}

// The memory store completes writes before Insert/Delete return: nothing to
// wait for, and no allocation per call for the completion.
struct IgnoreCompletion final : UnaryCompletion {
  void Complete(grpc::Status) override {}
};
IgnoreCompletion ignore_completion;
const UnaryDone kIgnore(&ignore_completion);

BooksOptions Unseeded() {
  BooksOptions options;
  options.seed_books = false;
  return options;
}

// Insert + Delete through the service with no watchers: store and hub cost.
void BM_InsertDelete(benchmark::State& state) {
  BooksService service(Unseeded());
  books::Book book = *MakeBook(0);
  books::BookIdRequest id;
  books::Empty empty;
  int32_t next = 0;
  for (auto _ : state) {
    book.set_id(next);
    id.set_id(next);
    ++next;
    service.Insert(book, &empty, CallContext(), kIgnore);
    service.Delete(id, &empty, CallContext(), kIgnore);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_InsertDelete);

// Publish while every watcher is busy (mid-write, not parked): the publisher
// does O(1) work however many watchers there are.
void BM_PublishToBusyWatchers(benchmark::State& state) {
  Hub hub(1024);
  std::vector<std::unique_ptr<Hub::Watcher>> watchers;
  for (int64_t i = 0; i < state.range(0); ++i) {
    watchers.push_back(std::make_unique<Hub::Watcher>(&hub, Waker()));
  }
  auto book = MakeBook(1);
  for (auto _ : state) hub.Publish(book);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PublishToBusyWatchers)->Arg(0)->Arg(1000)->Arg(10000);

// Publish to N parked watchers, then each takes its book and parks again:
// the hub's whole per-insert cost of fanning out. Items = deliveries.
void BM_PublishAndDeliver(benchmark::State& state) {
  Hub hub(1024);
  std::vector<std::unique_ptr<Hub::Watcher>> watchers;
  std::shared_ptr<const books::Book> item;
  for (int64_t i = 0; i < state.range(0); ++i) {
    watchers.push_back(std::make_unique<Hub::Watcher>(&hub, Waker()));
    watchers.back()->Next(&item);  // park
  }
  auto book = MakeBook(1);
  for (auto _ : state) {
    hub.Publish(book);
    for (auto& watcher : watchers) {
      benchmark::DoNotOptimize(watcher->Next(&item));  // the book
      benchmark::DoNotOptimize(watcher->Next(&item));  // parks again
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_PublishAndDeliver)->Arg(1)->Arg(100)->Arg(1000);

// Same through the service's streams: the Book copy into the message the
// engine writes is included.
void BM_InsertAndStreamToWatchers(benchmark::State& state) {
  BooksService service(Unseeded());
  std::vector<std::unique_ptr<ServerStream<books::Book>>> streams;
  books::Book message;
  grpc::Status status;
  for (int64_t i = 0; i < state.range(0); ++i) {
    streams.push_back(service.Watch(books::Empty(), CallContext(), Waker()));
    streams.back()->Next(&message, &status);  // park
  }
  books::Book book = *MakeBook(0);
  books::BookIdRequest id;
  books::Empty empty;
  int32_t next = 0;
  for (auto _ : state) {
    book.set_id(next);
    id.set_id(next);
    ++next;
    service.Insert(book, &empty, CallContext(), kIgnore);
    for (auto& stream : streams) {
      benchmark::DoNotOptimize(stream->Next(&message, &status));
      benchmark::DoNotOptimize(stream->Next(&message, &status));
    }
    service.Delete(id, &empty, CallContext(), kIgnore);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_InsertAndStreamToWatchers)->Arg(1000);

// A service holding `books` books of the tutorial's size.
std::unique_ptr<BooksService> Filled(int64_t books) {
  auto service = std::make_unique<BooksService>(Unseeded());
  books::Empty empty;
  for (int32_t id = 0; id < books; ++id) {
    service->Insert(*MakeBook(id), &empty, CallContext(), kIgnore);
  }
  return service;
}

// List as the server answers it (raw method): a reference to the store's
// serialized snapshot, whatever the number of books.
void BM_ListSerialized(benchmark::State& state) {
  auto service = Filled(state.range(0));
  grpc::ByteBuffer request, response;
  for (auto _ : state) {
    service->ListSerialized(request, &response, CallContext(), kIgnore);
    benchmark::DoNotOptimize(response);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ListSerialized)->Arg(10)->Arg(1000)->Arg(50000);

// List into a BookList message (the typed handler; what every List cost
// before the snapshot, plus gRPC serializing it again afterwards).
void BM_ListMessage(benchmark::State& state) {
  auto service = Filled(state.range(0));
  for (auto _ : state) {
    books::BookList list;
    service->List(books::Empty(), &list, CallContext(), kIgnore);
    benchmark::DoNotOptimize(list);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ListMessage)->Arg(10)->Arg(1000)->Arg(50000);

// The snapshot's worst case: every insert and delete while a List response
// still holds the previous snapshot copies it (bounded by List's limit).
void BM_InsertDeleteWhileListHeld(benchmark::State& state) {
  auto service = Filled(state.range(0));
  books::Book book = *MakeBook(0);
  books::BookIdRequest id;
  books::Empty empty;
  grpc::ByteBuffer request, held;
  int32_t next = static_cast<int32_t>(state.range(0));
  for (auto _ : state) {
    service->ListSerialized(request, &held, CallContext(), kIgnore);
    book.set_id(next);
    id.set_id(next);
    ++next;
    service->Insert(book, &empty, CallContext(), kIgnore);
    service->Delete(id, &empty, CallContext(), kIgnore);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_InsertDeleteWhileListHeld)->Arg(10)->Arg(1000)->Arg(50000);

size_t HeapInUse() { return mallinfo2().uordblks; }

// Heap held per open Watch stream (the stream object and its hub cursor),
// idle and parked, measured with 1,000 watchers; independent of the backlog
// and of how many books are in flight.
void BM_WatcherMemory(benchmark::State& state) {
  const int64_t watchers = state.range(0);
  double idle_bytes = 0;
  double parked_bytes = 0;
  for (auto _ : state) {
    BooksService service(Unseeded());
    std::vector<std::unique_ptr<ServerStream<books::Book>>> streams;
    streams.reserve(static_cast<size_t>(watchers));
    const size_t before = HeapInUse();
    for (int64_t i = 0; i < watchers; ++i) {
      streams.push_back(service.Watch(books::Empty(), CallContext(), Waker()));
    }
    const size_t idle = HeapInUse();
    books::Book message;
    grpc::Status status;
    for (auto& stream : streams) stream->Next(&message, &status);
    const size_t parked = HeapInUse();
    idle_bytes = static_cast<double>(idle - before) / static_cast<double>(watchers);
    parked_bytes =
        static_cast<double>(parked - before) / static_cast<double>(watchers);
  }
  state.counters["bytes_per_watcher"] = idle_bytes;
  state.counters["bytes_per_parked_watcher"] = parked_bytes;
  state.counters["sizeof_watcher"] = sizeof(Hub::Watcher);
}
BENCHMARK(BM_WatcherMemory)->Arg(1000)->Iterations(3);

}  // namespace
}  // namespace cqmux

BENCHMARK_MAIN();
