// Socket-level tests of the write coalescer on Unix socket pairs: buffering
// and ordering, other threads, full sockets (partial writes, EAGAIN, retry),
// closed peers, and descriptor reuse after close().
#include "server/engine/write_coalescer.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace cqmux::coalesce {
namespace {

ssize_t Send(int fd, const std::string& data) {
  struct iovec iov = {const_cast<char*>(data.data()), data.size()};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  return ::sendmsg(fd, &msg, MSG_NOSIGNAL);
}

// Everything readable right now, without blocking.
std::string Drain(int fd) {
  std::string out;
  char buffer[65536];
  for (;;) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n <= 0) return out;
    out.append(buffer, static_cast<size_t>(n));
  }
}

class WriteCoalescerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetEnabled(true);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0);
    for (int fd : fds_) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  void TearDown() override {
    for (int fd : fds_) {
      if (fd >= 0) close(fd);
    }
    while (RetryPending()) Drain(fds_[1]);
  }
  // Makes the writer's socket small so that it fills up quickly.
  void ShrinkSendBuffer() {
    int size = 4096;
    ASSERT_EQ(setsockopt(fds_[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)), 0);
  }
  int writer() const { return fds_[0]; }
  int reader() const { return fds_[1]; }
  int fds_[2] = {-1, -1};
};

TEST_F(WriteCoalescerTest, BatchBuffersUntilFlushAndKeepsOrder) {
  Batch batch;
  EXPECT_EQ(Send(writer(), "abc"), 3);
  EXPECT_EQ(Send(writer(), "def"), 3);
  EXPECT_EQ(Drain(reader()), "") << "nothing reaches the socket inside a batch";
  EXPECT_FALSE(batch.Flush());
  EXPECT_EQ(Drain(reader()), "abcdef");
}

TEST_F(WriteCoalescerTest, OutsideABatchWritesGoStraightThrough) {
  EXPECT_EQ(Send(writer(), "now"), 3);
  EXPECT_EQ(Drain(reader()), "now");
}

TEST_F(WriteCoalescerTest, AnotherThreadFlushesBufferedBytesFirst) {
  Batch batch;
  EXPECT_EQ(Send(writer(), "first "), 6);
  std::thread other([this] { EXPECT_EQ(Send(writer(), "second"), 6); });
  other.join();
  EXPECT_EQ(Drain(reader()), "first second");
  EXPECT_FALSE(batch.Flush());
  EXPECT_EQ(Drain(reader()), "");
}

TEST_F(WriteCoalescerTest, OversizedWriteFlushesThenGoesDirect) {
  Batch batch;
  EXPECT_EQ(Send(writer(), "head"), 4);
  const std::string big(kMaxBufferedBytes + 1, 'b');
  const ssize_t n = Send(writer(), big);
  ASSERT_GT(n, 0);
  const std::string got = Drain(reader());
  ASSERT_GE(got.size(), 4u);
  EXPECT_EQ(got.substr(0, 4), "head");
  EXPECT_EQ(got.size(), 4 + static_cast<size_t>(n));
  batch.Flush();
}

TEST_F(WriteCoalescerTest, FullSocketKeepsTheRemainderAndReportsEagain) {
  ShrinkSendBuffer();
  std::string expected;
  {
    Batch batch;
    for (int i = 0; expected.size() + 1024 <= kMaxBufferedBytes; ++i) {
      const std::string chunk(1024, static_cast<char>('a' + i % 26));
      ASSERT_EQ(Send(writer(), chunk), 1024);
      expected += chunk;
    }
    EXPECT_TRUE(batch.Flush()) << "the socket could not take 64 KiB at once";
  }
  // Later writers are told the socket is full rather than overtaking.
  errno = 0;
  EXPECT_EQ(Send(writer(), "tail"), -1);
  EXPECT_EQ(errno, EAGAIN);
  {
    Batch batch;
    errno = 0;
    EXPECT_EQ(Send(writer(), "tail"), -1) << "no buffering past a full socket";
    EXPECT_EQ(errno, EAGAIN);
    batch.Flush();
  }
  // As the reader drains, retries push the remainder out, in order.
  std::string got;
  for (int round = 0; round < 10000 && RetryPending(); ++round) got += Drain(reader());
  EXPECT_FALSE(RetryPending());
  got += Drain(reader());
  EXPECT_EQ(got, expected);
  EXPECT_EQ(Send(writer(), "tail"), 4);
  EXPECT_EQ(Drain(reader()), "tail");
}

TEST_F(WriteCoalescerTest, ClosedPeerDropsTheBufferAndTheNextWriteFails) {
  Batch batch;
  EXPECT_EQ(Send(writer(), "lost"), 4);
  close(fds_[1]);
  fds_[1] = -1;
  EXPECT_FALSE(batch.Flush()) << "a broken connection is not retried";
  errno = 0;
  EXPECT_EQ(Send(writer(), "more"), -1);
  EXPECT_EQ(errno, EPIPE);
}

TEST_F(WriteCoalescerTest, CloseDropsBytesSoAReusedDescriptorStartsClean) {
  ShrinkSendBuffer();
  const int old_writer = writer();
  {
    Batch batch;
    for (size_t sent = 0; sent + 1024 <= kMaxBufferedBytes; sent += 1024) {
      ASSERT_EQ(Send(writer(), std::string(1024, 's')), 1024);
    }
    EXPECT_TRUE(batch.Flush());  // a remainder is stuck in the full socket
  }
  close(fds_[0]);
  close(fds_[1]);
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0);
  for (int fd : fds_) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  ASSERT_TRUE(fds_[0] == old_writer || fds_[1] == old_writer)
      << "the kernel reuses the lowest free descriptor";
  const int reused = old_writer;
  const int peer = fds_[0] == reused ? fds_[1] : fds_[0];
  EXPECT_FALSE(RetryPending()) << "nothing of the old connection is retried";
  {
    Batch batch;
    EXPECT_EQ(Send(reused, "fresh"), 5);
    batch.Flush();
  }
  EXPECT_EQ(Drain(peer), "fresh");
}

TEST_F(WriteCoalescerTest, ShutdownSendsBufferedBytesBeforeTheEndOfStream) {
  Batch batch;
  EXPECT_EQ(Send(writer(), "last words"), 10);
  // gRPC drops a connection with shutdown() while the batch still holds the
  // bytes it believes were sent.
  ASSERT_EQ(shutdown(writer(), SHUT_RDWR), 0);
  EXPECT_EQ(Drain(reader()), "last words");
  char byte;
  EXPECT_EQ(recv(reader(), &byte, 1, MSG_DONTWAIT), 0) << "then end of stream";
  EXPECT_FALSE(batch.Flush());
}

TEST_F(WriteCoalescerTest, SpecialFlagsBypassTheBuffer) {
  Batch batch;
  struct iovec iov = {const_cast<char*>("oob"), 3};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  EXPECT_EQ(::sendmsg(writer(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT), 3);
  EXPECT_EQ(Drain(reader()), "oob");
  batch.Flush();
}

}  // namespace
}  // namespace cqmux::coalesce
