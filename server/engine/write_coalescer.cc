// Per-connection write buffering for queue-thread batches; see
// write_coalescer.h for the contract. The sendmsg() and close() defined at
// the bottom interpose libc's for the whole process.
#include "server/engine/write_coalescer.h"

#include <dlfcn.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>

namespace cqmux::coalesce {
namespace {

using SendmsgFn = ssize_t (*)(int, const struct msghdr*, int);
using CloseFn = int (*)(int);
using ShutdownFn = int (*)(int, int);

SendmsgFn RealSendmsg() {
  static const SendmsgFn fn =
      reinterpret_cast<SendmsgFn>(dlsym(RTLD_NEXT, "sendmsg"));
  return fn;
}

CloseFn RealClose() {
  static const CloseFn fn = reinterpret_cast<CloseFn>(dlsym(RTLD_NEXT, "close"));
  return fn;
}

ShutdownFn RealShutdown() {
  static const ShutdownFn fn =
      reinterpret_cast<ShutdownFn>(dlsym(RTLD_NEXT, "shutdown"));
  return fn;
}

std::atomic<bool> g_enabled{false};

// Bytes gRPC believes it has sent on one socket but that are still ours.
struct Connection {
  std::mutex mu;
  std::vector<char> buffer;  // unsent bytes are [sent, size)
  size_t sent = 0;
  bool in_batch = false;  // listed by the batch that will flush it
  bool blocked = false;   // the last flush stopped on a full socket
  std::atomic<bool> has_bytes{false};  // lock-free check for other threads

  size_t pending() const { return buffer.size() - sent; }

  void Drop() {
    buffer.clear();
    // A burst may have grown the buffer; do not keep that per idle socket.
    if (buffer.capacity() > 16 * 1024) std::vector<char>().swap(buffer);
    sent = 0;
    blocked = false;
    has_bytes.store(false, std::memory_order_release);
  }
};

// Connections by descriptor, in lazily allocated chunks that live as long as
// the process (descriptors are reused, so are their slots).
constexpr int kChunkBits = 10;
constexpr size_t kChunkSize = size_t{1} << kChunkBits;
constexpr size_t kChunks = 4096;  // descriptors up to 4M; beyond: unbuffered
std::atomic<Connection*> g_chunks[kChunks];
std::mutex g_chunks_mu;

Connection* Lookup(int fd, bool create) {
  if (fd < 0) return nullptr;
  const size_t chunk_index = static_cast<size_t>(fd) >> kChunkBits;
  if (chunk_index >= kChunks) return nullptr;
  Connection* chunk = g_chunks[chunk_index].load(std::memory_order_acquire);
  if (chunk == nullptr) {
    if (!create) return nullptr;
    std::lock_guard<std::mutex> lock(g_chunks_mu);
    chunk = g_chunks[chunk_index].load(std::memory_order_acquire);
    if (chunk == nullptr) {
      chunk = new Connection[kChunkSize];
      g_chunks[chunk_index].store(chunk, std::memory_order_release);
    }
  }
  return &chunk[static_cast<size_t>(fd) & (kChunkSize - 1)];
}

// Sends as much of the buffer as the socket takes now. Returns false if bytes
// remain because the socket is full. A send error means the connection is
// broken: the bytes are dropped and gRPC learns of it on its next read or
// write of the socket.
bool FlushLocked(int fd, Connection& c) {
  while (c.pending() > 0) {
    struct iovec iov = {c.buffer.data() + c.sent, c.pending()};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    const ssize_t n = RealSendmsg()(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      c.blocked = true;
      return false;
    }
    break;
  }
  c.Drop();
  return true;
}

size_t Length(const struct msghdr* msg) {
  size_t total = 0;
  for (size_t i = 0; i < msg->msg_iovlen; ++i) total += msg->msg_iov[i].iov_len;
  return total;
}

void Append(Connection& c, const struct msghdr* msg) {
  for (size_t i = 0; i < msg->msg_iovlen; ++i) {
    const char* base = static_cast<const char*>(msg->msg_iov[i].iov_base);
    c.buffer.insert(c.buffer.end(), base, base + msg->msg_iov[i].iov_len);
  }
  c.has_bytes.store(true, std::memory_order_release);
}

// Single writer (the batch's thread): no atomic read-modify-write.
void Count(std::atomic<uint64_t>& counter, uint64_t n) {
  counter.store(counter.load(std::memory_order_relaxed) + n,
                std::memory_order_relaxed);
}

thread_local Batch* t_batch = nullptr;
thread_local std::vector<int> t_blocked;  // sockets this thread must retry

void NoteBlocked(int fd) {
  if (std::find(t_blocked.begin(), t_blocked.end(), fd) == t_blocked.end()) {
    t_blocked.push_back(fd);
  }
}

}  // namespace

struct BatchAccess {
  static void Add(Batch* batch, int fd) { batch->fds_.push_back(fd); }
  static void Buffered(Batch* batch, size_t bytes) {
    if (batch->stats_ == nullptr) return;
    Count(batch->stats_->writes, 1);
    Count(batch->stats_->bytes, bytes);
  }
};

void SetEnabled(bool enabled) {
  g_enabled.store(enabled, std::memory_order_relaxed);
}

bool Enabled() { return g_enabled.load(std::memory_order_relaxed); }

Batch::Batch(Stats* stats) : stats_(stats) { t_batch = this; }

Batch::~Batch() { Flush(); }

bool Batch::Flush() {
  if (!flushed_) {
    flushed_ = true;
    t_batch = nullptr;
    if (stats_ != nullptr) Count(stats_->flushes, fds_.size());
    for (int fd : fds_) {
      Connection* c = Lookup(fd, /*create=*/false);
      std::lock_guard<std::mutex> lock(c->mu);
      c->in_batch = false;
      if (!FlushLocked(fd, *c)) NoteBlocked(fd);
    }
    fds_.clear();
  }
  return !t_blocked.empty();
}

bool RetryPending() {
  auto done = [](int fd) {
    Connection* c = Lookup(fd, /*create=*/false);
    std::lock_guard<std::mutex> lock(c->mu);
    return c->in_batch || FlushLocked(fd, *c);
  };
  t_blocked.erase(std::remove_if(t_blocked.begin(), t_blocked.end(), done),
                  t_blocked.end());
  return !t_blocked.empty();
}

}  // namespace cqmux::coalesce

using cqmux::coalesce::Connection;

extern "C" ssize_t sendmsg(int fd, const struct msghdr* msg, int flags) {
  using namespace cqmux::coalesce;  // NOLINT
  if (!g_enabled.load(std::memory_order_relaxed)) {
    return RealSendmsg()(fd, msg, flags);
  }
  Batch* const batch = t_batch;
  Connection* const c = Lookup(fd, /*create=*/batch != nullptr);
  if (c == nullptr ||
      (batch == nullptr && !c->has_bytes.load(std::memory_order_acquire))) {
    return RealSendmsg()(fd, msg, flags);
  }
  std::lock_guard<std::mutex> lock(c->mu);
  // Plain data only: ancillary data or special flags go straight through.
  const bool plain = msg->msg_control == nullptr && msg->msg_controllen == 0 &&
                     (flags & ~MSG_NOSIGNAL) == 0;
  const size_t length = Length(msg);
  if (batch != nullptr && plain && !c->blocked &&
      c->pending() + length <= kMaxBufferedBytes) {
    Append(*c, msg);
    BatchAccess::Buffered(batch, length);
    if (!c->in_batch) {
      c->in_batch = true;
      BatchAccess::Add(batch, fd);
    }
    return static_cast<ssize_t>(length);
  }
  // Straight to the socket, after whatever is buffered (order matters). If
  // that does not fit, report a full socket: gRPC then waits for
  // writability, exactly as if the kernel had said so.
  if (c->pending() > 0 && !FlushLocked(fd, *c)) {
    errno = EAGAIN;
    return -1;
  }
  return RealSendmsg()(fd, msg, flags);
}

namespace cqmux::coalesce {
namespace {

// gRPC shuts a socket down and closes it when it drops a connection (e.g. a
// server disconnecting idle clients at shutdown), possibly while a batch
// still holds bytes gRPC considers sent: they go out first, as they would
// have without buffering. Whatever the socket cannot take then is dropped,
// and a reused descriptor never sees a stale byte.
void FlushAndDrop(int fd) {
  if (!g_enabled.load(std::memory_order_relaxed)) return;
  Connection* c = Lookup(fd, /*create=*/false);
  if (c == nullptr || !c->has_bytes.load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> lock(c->mu);
  FlushLocked(fd, *c);
  c->Drop();
}

}  // namespace
}  // namespace cqmux::coalesce

extern "C" int shutdown(int fd, int how) {
  if (how != SHUT_RD) cqmux::coalesce::FlushAndDrop(fd);
  return cqmux::coalesce::RealShutdown()(fd, how);
}

extern "C" int close(int fd) {
  cqmux::coalesce::FlushAndDrop(fd);
  return cqmux::coalesce::RealClose()(fd);
}
