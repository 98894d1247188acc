// The PostgreSQL test support itself: the ctest fixture's shared server
// answers and gives each test its own database. (PrivatePostgres, stopped
// and restarted keeping what was committed, is exercised by
// PostgresStoreTest.PostgresDownFailsFastAndEverythingRecovers: a second
// private server here would cost CI another ~10 s.)
#include "tests/support/postgres_test_support.h"

#include <gtest/gtest.h>

namespace cqmux::testing {
namespace {

TEST(PostgresFixtureTest, SharedServerGivesFreshDatabases) {
  std::string a = SharedFreshDatabase();
  std::string b = SharedFreshDatabase();
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  ASSERT_NE(a, b);
  ASSERT_EQ(PgExec(a, "CREATE TABLE t (x int)"), "");
  // The other database does not see a's table.
  EXPECT_NE(PgExec(b, "SELECT * FROM t"), "");
  std::string version;
  ASSERT_EQ(PgExec(a, "SHOW server_version_num", &version), "");
  EXPECT_GE(std::stoi(version), 150000);
}

}  // namespace
}  // namespace cqmux::testing
