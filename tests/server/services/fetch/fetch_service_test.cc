// Unit tests of rpc.Fetch/Capitalize's handler (no network).
#include "server/services/fetch/fetch_service.h"

#include <string>

#include <gtest/gtest.h>

namespace cqmux {
namespace {

TEST(FetchServiceTest, UpperCasesOnlyAsciiLetters) {
  FetchService service;
  rpc::Payload in, out;
  in.set_id(42);
  const std::string data = std::string("hello, World! z{a`\xc3\xa9\x00\xff", 20);
  in.set_data(data);
  ASSERT_TRUE(service.Capitalize(in, &out, CallContext()).ok());
  EXPECT_EQ(out.id(), 42);
  EXPECT_EQ(out.data(), std::string("HELLO, WORLD! Z{A`\xc3\xa9\x00\xff", 20));
}

TEST(FetchServiceTest, EmptyPayload) {
  FetchService service;
  rpc::Payload in, out;
  ASSERT_TRUE(service.Capitalize(in, &out, CallContext()).ok());
  EXPECT_EQ(out.id(), 0);
  EXPECT_EQ(out.data(), "");
}

}  // namespace
}  // namespace cqmux
