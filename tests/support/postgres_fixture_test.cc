// The PostgreSQL test support itself: the ctest fixture's shared server
// answers and gives each test its own database; a private server stops and
// starts again on the same data directory, keeping what was committed.
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

TEST(PostgresFixtureTest, PrivateServerRestartsKeepingData) {
  PrivatePostgres pg;
  ASSERT_TRUE(pg.Start());
  ASSERT_EQ(PgExec(pg.conninfo(), "CREATE TABLE t (x int); INSERT INTO t VALUES (7)"), "");
  std::string before = pg.conninfo();
  ASSERT_TRUE(pg.Stop());
  EXPECT_NE(PgExec(pg.conninfo(), "SELECT 1"), "");  // really down
  ASSERT_TRUE(pg.Start());
  EXPECT_EQ(pg.conninfo(), before);  // same port
  std::string x;
  ASSERT_EQ(PgExec(pg.conninfo(), "SELECT x FROM t", &x), "");
  EXPECT_EQ(x, "7");
}

}  // namespace
}  // namespace cqmux::testing
