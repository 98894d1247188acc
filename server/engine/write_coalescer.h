// Write coalescing: gRPC C++ 1.51 performs one sendmsg() per response, from
// inside Finish(), so a server answering many small calls spends most of its
// kernel time in syscalls. While a queue thread drains one batch of
// completion-queue events, the sendmsg() calls gRPC makes on that thread are
// buffered per connection and sent as one write per connection when the
// batch ends, before the thread can block again.
//
// The mechanism interposes sendmsg(), shutdown() and close() for the process
// (the definitions in write_coalescer.cc take precedence over libc's for
// libgrpc). It is off unless enabled; when off, each is a direct call to libc.
//
// What keeps it correct:
//  - Only a queue thread inside a batch buffers. Any other thread writing a
//    connection that has buffered bytes first flushes them, so bytes reach
//    the socket in the order gRPC produced them.
//  - Buffers are bounded (kMaxBufferedBytes per connection); past that the
//    buffer is flushed and the write goes straight to the socket.
//  - Sockets are non-blocking and nothing here waits: if the kernel buffer is
//    full at flush time the remainder is kept, later writers on that socket
//    get EAGAIN (so gRPC waits for writability as it always does) until the
//    remainder is out, and the queue retries the flush from a short alarm.
//  - shutdown() and close() first send what is buffered for the socket (as
//    the kernel would have), then drop the rest, so a reused descriptor never
//    receives a stale byte; send errors (a closed peer) drop the buffer and
//    the next write reports the error to gRPC.
#ifndef CQMUX_SERVER_ENGINE_WRITE_COALESCER_H_
#define CQMUX_SERVER_ENGINE_WRITE_COALESCER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace cqmux::coalesce {

inline constexpr size_t kMaxBufferedBytes = 64 * 1024;

// Process-wide switch; set before any server starts.
void SetEnabled(bool enabled);
bool Enabled();

// What one queue thread's batches did, for metrics. Written only by that
// thread (relaxed load + store, no read-modify-write on the hot path), read
// by a scrape from any thread.
struct Stats {
  std::atomic<uint64_t> writes{0};   // sendmsg() calls buffered
  std::atomic<uint64_t> bytes{0};    // bytes buffered by them
  std::atomic<uint64_t> flushes{0};  // buffered connections written out
};

// Marks the calling thread as draining a batch until Flush(). Not nestable.
// `stats`, if given, counts what the batch buffered and flushed.
class Batch {
 public:
  explicit Batch(Stats* stats = nullptr);
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;
  ~Batch();  // Flush()es

  // Sends what this batch buffered. Returns true if some connection still
  // has unsent bytes because its socket buffer is full: call
  // RetryPending() again a little later.
  bool Flush();

 private:
  std::vector<int> fds_;  // connections this batch buffered into
  Stats* const stats_;
  bool flushed_ = false;
  friend struct BatchAccess;
};

// Retries connections left with unsent bytes by this thread's earlier
// batches. Returns true while some remain.
bool RetryPending();

}  // namespace cqmux::coalesce

#endif  // CQMUX_SERVER_ENGINE_WRITE_COALESCER_H_
