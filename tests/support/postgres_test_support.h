// Real PostgreSQL for C++ tests (see tests/support/CMakeLists.txt): the
// shared server of the ctest fixture `cqmux_postgres`, a fresh database per
// test on it, and private servers a test can stop and start again.
// A test that needs PostgreSQL and does not get it FAILS (never skips).
#ifndef CQMUX_TESTS_SUPPORT_POSTGRES_TEST_SUPPORT_H_
#define CQMUX_TESTS_SUPPORT_POSTGRES_TEST_SUPPORT_H_

#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace cqmux::testing {

// Runs one SQL statement on `conninfo`; returns "" on success, or the error.
// `out` (optional) gets the first column of the first row.
inline std::string PgExec(const std::string& conninfo, const std::string& sql,
                          std::string* out = nullptr) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  std::string error;
  if (PQstatus(conn) != CONNECTION_OK) {
    error = std::string("connect: ") + PQerrorMessage(conn);
  } else {
    PGresult* res = PQexec(conn, sql.c_str());
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      error = PQresultErrorMessage(res);
    } else if (out != nullptr && PQntuples(res) > 0 && PQnfields(res) > 0) {
      *out = PQgetvalue(res, 0, 0);
    }
    PQclear(res);
  }
  PQfinish(conn);
  return error;
}

inline std::string ReadFirstLine(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// The shared server's conninfo (database `postgres`), or "" after an
// ADD_FAILURE saying why. Use: ASSERT_FALSE((c = SharedPostgres()).empty()).
inline std::string SharedPostgres() {
  const char* dir = std::getenv("CQMUX_TEST_POSTGRES_DIR");
  if (dir == nullptr || *dir == '\0') {
    ADD_FAILURE() << "CQMUX_TEST_POSTGRES_DIR is not set: run this test through ctest "
                     "(fixture cqmux_postgres, tests/support/CMakeLists.txt)";
    return "";
  }
  std::string conninfo = ReadFirstLine(std::filesystem::path(dir) / "conninfo");
  if (conninfo.empty()) {
    ADD_FAILURE() << "no PostgreSQL conninfo in " << dir
                  << "/conninfo: the fixture postgres_fixture_start did not run or failed";
    return "";
  }
  std::string error = PgExec(conninfo, "SELECT 1");
  if (!error.empty()) {
    ADD_FAILURE() << "the shared PostgreSQL (" << conninfo << ") does not answer: " << error;
    return "";
  }
  return conninfo;
}

// Creates an empty database named `cqmux_t_<pid>_<n>` on the server of
// `server_conninfo`; returns its conninfo, or "" after an ADD_FAILURE.
inline std::string FreshDatabase(const std::string& server_conninfo) {
  static std::atomic<int> counter{0};
  if (server_conninfo.empty()) return "";
  std::string name = "cqmux_t_" + std::to_string(getpid()) + "_" +
                     std::to_string(counter.fetch_add(1));
  std::string error = PgExec(server_conninfo, "DROP DATABASE IF EXISTS " + name);
  if (error.empty()) error = PgExec(server_conninfo, "CREATE DATABASE " + name);
  if (!error.empty()) {
    ADD_FAILURE() << "CREATE DATABASE " << name << ": " << error;
    return "";
  }
  // libpq: a later keyword overrides an earlier one.
  return server_conninfo + " dbname=" + name;
}

// A fresh database on the shared server: the usual start of a test.
inline std::string SharedFreshDatabase() { return FreshDatabase(SharedPostgres()); }

// A private PostgreSQL server owned by one test (real_postgres.py in a
// temporary directory), so that the test can stop and restart it. Stopped
// and deleted by the destructor.
class PrivatePostgres {
 public:
  PrivatePostgres() {
    char tmpl[] = "/tmp/cqmux-pg-test-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      ADD_FAILURE() << "mkdtemp failed";
      return;
    }
    dir_ = tmpl;
  }
  ~PrivatePostgres() {
    if (!dir_.empty()) Run("destroy");
  }
  PrivatePostgres(const PrivatePostgres&) = delete;
  PrivatePostgres& operator=(const PrivatePostgres&) = delete;

  // Starts it (initdb the first time; the same port afterwards). False after
  // an ADD_FAILURE.
  bool Start() {
    if (!Run("start")) return false;
    conninfo_ = ReadFirstLine(std::filesystem::path(dir_) / "conninfo");
    if (conninfo_.empty()) ADD_FAILURE() << "real_postgres.py start wrote no conninfo";
    return !conninfo_.empty();
  }
  // Fast shutdown, waiting for the postmaster to exit.
  bool Stop() { return Run("stop"); }

  const std::string& conninfo() const { return conninfo_; }
  const std::string& dir() const { return dir_; }

 private:
  bool Run(const std::string& command) {
    std::string cmd = std::string(CQMUX_PYTHON3) + " " + CQMUX_REAL_POSTGRES_PY + " " +
                      command + " " + dir_ + " > " + dir_ + ".out 2>&1";
    int rc = std::system(cmd.c_str());
    if (rc != 0) {
      std::ifstream in(dir_ + ".out");
      std::stringstream out;
      out << in.rdbuf();
      ADD_FAILURE() << "real_postgres.py " << command << " failed (" << rc << "):\n" << out.str();
      return false;
    }
    std::filesystem::remove(dir_ + ".out");
    return true;
  }

  std::string dir_;
  std::string conninfo_;
};

}  // namespace cqmux::testing

#endif  // CQMUX_TESTS_SUPPORT_POSTGRES_TEST_SUPPORT_H_
