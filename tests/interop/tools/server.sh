# Sourced by the tool tests: starts the real cqmux-server on a free loopback
# port and stops it by PID. The port is read from the server's own startup line
# ("... (ports N) ..."), with a blocking read on its output: no sleeps, no
# guessed ports.
#   start_server [FLAG...]   sets SERVER_PID, SERVER_PORT, TARGET
#   stop_server              SIGTERM, waits, fails unless the exit code is 0
# Needs CQMUX_SERVER (the binary). TEST_TMP is a scratch directory; on exit,
# whatever the outcome, it is removed and every process started here killed.

TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/cqmux-tool-test.XXXXXX")
_cleanup() {
  local pids
  pids=$(jobs -p)
  [ -n "$pids" ] && kill $pids 2> /dev/null
  rm -rf "$TEST_TMP"
}
trap _cleanup EXIT

start_server() {
  SERVER_DIR=$(mktemp -d "$TEST_TMP/server.XXXXXX")
  SERVER_LOG=$SERVER_DIR/log
  mkfifo "$SERVER_DIR/out"
  # In memory, no metrics listener (parallel tests would all want its port).
  "$CQMUX_SERVER" --listen=127.0.0.1:0 --store=memory --metrics-listen= "$@" > "$SERVER_DIR/out" 2>&1 &
  SERVER_PID=$!
  local line fd
  exec {fd}< "$SERVER_DIR/out"
  SERVER_PORT=
  while IFS= read -r -t 60 line <&"$fd"; do
    echo "$line" >> "$SERVER_LOG"
    if [[ $line =~ \(ports\ ([0-9]+)\) ]]; then
      SERVER_PORT=${BASH_REMATCH[1]}
      break
    fi
  done
  if [ -z "$SERVER_PORT" ]; then
    echo "cqmux-server did not start:" >&2
    cat "$SERVER_LOG" >&2
    return 1
  fi
  # Keep draining its output so that logging never blocks the server.
  cat <&"$fd" >> "$SERVER_LOG" &
  SERVER_DRAIN_PID=$!
  exec {fd}<&-
  TARGET=127.0.0.1:$SERVER_PORT
}

stop_server() {
  kill -TERM "$SERVER_PID"
  local rc=0
  wait "$SERVER_PID" || rc=$?
  wait "$SERVER_DRAIN_PID" || true
  if [ "$rc" -ne 0 ]; then
    echo "cqmux-server exited with $rc; log:" >&2
    cat "$SERVER_LOG" >&2
    return 1
  fi
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
  if [ "$2" != "$3" ]; then
    printf 'FAIL %s\n--- expected\n%s\n--- got\n%s\n' "$1" "$2" "$3" >&2
    exit 1
  fi
  echo "ok: $1"
}

# expect_contains WHAT NEEDLE HAYSTACK
expect_contains() {
  if [[ $3 != *"$2"* ]]; then
    printf 'FAIL %s: %q not in\n%s\n' "$1" "$2" "$3" >&2
    exit 1
  fi
  echo "ok: $1"
}
