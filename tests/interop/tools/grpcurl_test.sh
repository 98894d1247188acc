#!/usr/bin/env bash
# grpcurl (installed with `go install` at a pinned version by the build)
# against the real cqmux-server, knowing nothing but what server reflection
# tells it: list, describe, and a call of every method, streams included.
# Usage: grpcurl_test.sh GRPCURL   (env CQMUX_SERVER)
set -euo pipefail
GRPCURL=$1
. "$(dirname "$0")/server.sh"

start_server --password-hash=min
g() { "$GRPCURL" -plaintext -max-time 30 "$@"; }

expect_eq "list" "$(printf '%s\n' Users books.BookService grpc.health.v1.Health \
  grpc.reflection.v1alpha.ServerReflection my_package.DisplacementService \
  my_package.RequestStreaming pb.Outliers rpc.Fetch)" "$(g "$TARGET" list)"
expect_eq "list books.BookService" "$(printf '%s\n' books.BookService.Delete \
  books.BookService.Get books.BookService.Insert books.BookService.List books.BookService.Watch)" \
  "$(g "$TARGET" list books.BookService)"
expect_contains "describe Users" "rpc GetUsers ( .users.GetUsersRequest ) returns ( stream .users.GetUsersResult );" \
  "$(g "$TARGET" describe Users)"
expect_contains "describe pb.Metric" ".google.protobuf.Timestamp time = 1;" "$(g "$TARGET" describe pb.Metric)"

# Unary calls. bytes are base64 in JSON: "aGVsbG8gd29ybGQ=" is "hello world".
expect_eq "rpc.Fetch/Capitalize" "$(printf '{\n  "id": 7,\n  "data": "SEVMTE8gV09STEQ="\n}')" \
  "$(g -d '{"id": 7, "data": "aGVsbG8gd29ybGQ="}' "$TARGET" rpc.Fetch/Capitalize)"
expect_eq "Users/CreateUser" "$(printf '{\n  "user": {\n    "username": "tom",\n    "user_id": 1\n  }\n}')" \
  "$(g -H ip:127.0.0.1 -d '{"username": "tom", "password": "secret"}' "$TARGET" Users/CreateUser)"
expect_eq "my_package.DisplacementService/computeDisplacement" "$(printf '{\n  "distance": 5\n}')" \
  "$(g -d '{"start": {"x": 0, "y": 0}, "end": {"x": 3, "y": 4}}' "$TARGET" \
     my_package.DisplacementService/computeDisplacement)"
expect_eq "books.BookService/List" \
  "$(printf '{\n  "books": [\n    {\n      "id": 123,\n      "title": "A Tale of Two Cities",\n      "author": "Charles Dickens"\n    }\n  ]\n}')" \
  "$(g "$TARGET" books.BookService/List)"
expect_eq "grpc.health.v1.Health/Check" "$(printf '{\n  "status": "SERVING"\n}')" \
  "$(g -d '{"service": "books.BookService"}' "$TARGET" grpc.health.v1.Health/Check)"

# Outliers: nine 1s and a 100; numpy's rule |x - mean| > 2 std picks index 9.
metrics=$(for v in 1 1 1 1 1 1 1 1 1 100; do
  printf '{"time": "2020-05-22T14:13:11Z", "name": "CPU", "value": %s}\n' "$v"; done | paste -sd,)
expect_eq "pb.Outliers/Detect" "$(printf '{\n  "indices": [\n    9\n  ]\n}')" \
  "$(g -d "{\"metrics\": [$metrics]}" "$TARGET" pb.Outliers/Detect)"

# Client stream: several messages in one -d, then half-close.
expect_eq "my_package.RequestStreaming/stream_state" "{}" \
  "$(g -d '{"status": "OK", "info": "fine"} {"status": "THIRSTY", "info": "water"} {"status": "TIRED"}' \
     "$TARGET" my_package.RequestStreaming/stream_state)"

# Server stream with a status at the end: tom exists, nobody does not.
out=$(g -d '{"user": [{"username": "tom"}, {"username": "nobody"}]}' "$TARGET" Users/GetUsers 2>&1) && rc=0 || rc=$?
expect_eq "Users/GetUsers exit code" 69 "$rc"   # grpcurl: 64 + status code (NOT_FOUND = 5)
expect_contains "Users/GetUsers first result" "$(printf '{\n  "user": {\n    "username": "tom",\n    "user_id": 1\n  }\n}')" "$out"
expect_contains "Users/GetUsers NOT_FOUND" "Code: NotFound" "$out"

# Book CRUD with an error path.
expect_eq "books.BookService/Insert" "{}" \
  "$(g -d '{"id": 456, "title": "Great Expectations", "author": "Charles Dickens"}' "$TARGET" books.BookService/Insert)"
expect_eq "books.BookService/Get" \
  "$(printf '{\n  "id": 456,\n  "title": "Great Expectations",\n  "author": "Charles Dickens"\n}')" \
  "$(g -d '{"id": 456}' "$TARGET" books.BookService/Get)"
expect_eq "books.BookService/Delete" "{}" "$(g -d '{"id": 456}' "$TARGET" books.BookService/Delete)"
out=$(g -d '{"id": 456}' "$TARGET" books.BookService/Get 2>&1) && rc=0 || rc=$?
expect_eq "books.BookService/Get after Delete" 69 "$rc"
expect_contains "books.BookService/Get NOT_FOUND message" "No book with id 456 was found" "$out"

# Server streams that never end by themselves: books Watch and health Watch.
# Each writes to a FIFO this script reads with a blocking read, so the test
# waits for what it needs and never for a fixed time. They end with OK when
# the server shuts down (health says NOT_SERVING first).
mkfifo "$TEST_TMP/watch" "$TEST_TMP/health"
g -v -max-time 120 "$TARGET" books.BookService/Watch > "$TEST_TMP/watch" &
watch_pid=$!
g -max-time 120 -d '{"service": ""}' "$TARGET" grpc.health.v1.Health/Watch > "$TEST_TMP/health" &
health_pid=$!
exec {watch_fd}< "$TEST_TMP/watch" {health_fd}< "$TEST_TMP/health"
read_until() {  # read_until FD PATTERN: lines up to the first containing PATTERN
  local line got=""
  while IFS= read -r -t 60 line <&"$1"; do
    got+="$line"$'\n'
    if [[ $line == *"$2"* ]]; then printf '%s' "$got"; return 0; fi
  done
  printf 'stream ended or timed out before %q; got:\n%s\n' "$2" "$got" >&2
  return 1
}
expect_contains "grpc.health.v1.Health/Watch SERVING" '"status": "SERVING"' "$(read_until "$health_fd" SERVING)"
# The server sends a watch's headers once the watch is registered; books
# inserted after that must reach it.
read_until "$watch_fd" "Response headers received" > /dev/null
g -d '{"id": 2, "title": "The Three Musketeers", "author": "Alexandre Dumas"}' "$TARGET" books.BookService/Insert > /dev/null
expect_contains "books.BookService/Watch delivers the insert" '"title": "The Three Musketeers"' \
  "$(read_until "$watch_fd" "Three Musketeers")"

stop_server
expect_contains "grpc.health.v1.Health/Watch NOT_SERVING at shutdown" NOT_SERVING "$(read_until "$health_fd" NOT_SERVING)"
rc=0; wait "$watch_pid" || rc=$?
expect_eq "books.BookService/Watch ends with OK at shutdown" 0 "$rc"
rc=0; wait "$health_pid" || rc=$?
expect_eq "grpc.health.v1.Health/Watch ends with OK at shutdown" 0 "$rc"
echo "grpcurl: every method called through reflection"
