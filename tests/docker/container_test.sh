#!/usr/bin/env bash
# End-to-end check of the one-container deployment with podman (no Docker engine needed):
# prepares podman and the local Debian base images (docker/podman-setup.sh), builds the
# unchanged docker/Dockerfile, runs the image on a free loopback port with host networking,
# waits for the image's own HEALTHCHECK to pass, calls capitalize, books insert + watch and
# outliers detect through the CLI shipped in the image, runs a short cqmux-load job from a
# second container, stops the server with SIGTERM (a Watch stream still open) and checks it
# exited 0 within its grace period. Removes the containers it started (the image stays, as
# the build cache).
#
#   tests/docker/container_test.sh [SOURCE_DIR]        (as root; bound it with `timeout`)
#
# Environment: CQMUX_TEST_IMAGE (default localhost/cqmux:test), CQMUX_TEST_WORKDIR (logs;
# default a temporary directory, removed when every check passed).
set -euo pipefail

src=$(cd "${1:-$(dirname "${BASH_SOURCE[0]}")/../..}" && pwd)
image=${CQMUX_TEST_IMAGE:-localhost/cqmux:test}
if [[ -n ${CQMUX_TEST_WORKDIR:-} ]]; then
  work=$CQMUX_TEST_WORKDIR; own_work=0
else
  work=$(mktemp -d /tmp/cqmux-container-test.XXXXXX); own_work=1
fi
mkdir -p "$work"
: >"$work/podman.log"
name=cqmux-test-$$
loader=cqmux-test-load-$$
grace_s=10         # cqmux-server's --shutdown-grace (default)
stop_timeout_s=15  # podman stop's SIGKILL deadline, above the grace period
health_deadline_s=30
failures=0

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
log() { printf '[container-test] %s\n' "$*"; }
fail() { log "FAIL: $*"; failures=$((failures + 1)); }
die() {
  log "FAIL: $*"
  if podman container exists "$name" 2>/dev/null; then
    log "server log:"; podman logs "$name" 2>&1 | tail -n 30 | sed 's/^/  | /'
  fi
  exit 1
}

cleanup() {
  local c
  for c in "$loader" "$name"; do
    if podman container exists "$c" 2>/dev/null; then
      podman rm -v -f -t 0 "$c" >/dev/null 2>&1 || true
    fi
  done
  local p
  for p in ${watch_pid:-} ${open_watch_pid:-}; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# --- podman, containers.conf, base images ---------------------------------------------
t=$(now)
CONTAINERS_CONF=$("$src/docker/podman-setup.sh")
export CONTAINERS_CONF
log "podman ready ($(podman --version)), base images present: $(since "$t") s"

# --- image ----------------------------------------------------------------------------
# The build stage is tagged too ($build_image), so that the images an earlier run of this
# test left (replaced now) can be removed and the disk does not fill up; the layer cache
# (base and apt layers) stays.
build_image=${image%:*}-build:${image##*:}
image_id() { podman image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }
old_ids="$(image_id "$image") $(image_id "$build_image")"
: >"$work/build.log"
t=$(now)
for args in "-t $image" "--target build -t $build_image"; do
  # shellcheck disable=SC2086  # $args is two or three words on purpose
  if ! podman build --format=docker --pull=never --network=host $args \
         -f "$src/docker/Dockerfile" "$src" >>"$work/build.log" 2>&1; then
    tail -n 40 "$work/build.log"
    die "podman build failed (full log: $work/build.log)"
  fi
done
build_s=$(since "$t")
new_ids="$(image_id "$image") $(image_id "$build_image")"
for id in $old_ids; do
  [[ " $new_ids " == *" $id "* ]] || podman rmi "$id" >/dev/null 2>&1 || true
done
size=$(podman image inspect "$image" --format '{{.Size}}')
log "image $image built in $build_s s, size $((size / 1000000)) MB"

# The deployment contract lives in the image's config.
cfg=$(podman image inspect "$image" --format \
  '{{.Config.User}}|{{.Config.StopSignal}}|{{range $p, $_ := .Config.ExposedPorts}}{{$p}} {{end}}|{{.Config.Entrypoint}}|{{if .Config.Healthcheck}}{{.Config.Healthcheck.Test}}{{end}}')
IFS='|' read -r user stopsig ports entry hc <<<"$cfg"
[[ -n $user && $user != root && $user != 0* ]] || fail "image runs as root (User='$user')"
[[ $stopsig == SIGTERM ]] || fail "STOPSIGNAL is '$stopsig', want SIGTERM"
[[ $ports == *50051/tcp* ]] || fail "EXPOSE lacks 50051 ('$ports')"
[[ $ports == *9464/tcp* ]] || fail "EXPOSE lacks the metrics port 9464 ('$ports')"
[[ $entry == *cqmux-server* ]] || fail "entrypoint is '$entry', want cqmux-server"
[[ $hc == *cqmux*health* ]] || fail "HEALTHCHECK is '$hc', want cqmux health"

# --- run on a free loopback port --------------------------------------------------------
# A port below the ephemeral range that no socket on this host uses (/proc/net/tcp*).
port_in_use() {
  local hex
  hex=$(printf '%04X' "$1")
  awk -v h=":$hex" 'NR > 1 && substr($2, length($2) - 4) == h { f = 1 } END { exit !f }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
port=
for _ in $(seq 1 100); do
  p=$((20000 + RANDOM % 12000))
  if ! port_in_use "$p"; then port=$p; break; fi
done
[[ -n $port ]] || die "no free port found"
target=127.0.0.1:$port
# The admin port (/metrics), also free: host networking shares the host's ports.
metrics_port=
for _ in $(seq 1 100); do
  p=$((20000 + RANDOM % 12000))
  if [[ $p != "$port" ]] && ! port_in_use "$p"; then metrics_port=$p; break; fi
done
[[ -n $metrics_port ]] || die "no free metrics port found"

t=$(now)
podman run -d --name "$name" --network=host -e CQMUX_HEALTH_TARGET="$target" \
  "$image" --listen="$target" --metrics-listen="127.0.0.1:$metrics_port" >"$work/run.log" 2>&1 \
  || { cat "$work/run.log"; die "podman run failed"; }

# Poll the image's own HEALTHCHECK until it reports healthy (bounded; fails fast if the
# server exits).
deadline=$(($(date +%s) + health_deadline_s))
healthy=0
while (($(date +%s) < deadline)); do
  if [[ $(podman inspect "$name" --format '{{.State.Running}}') != true ]]; then
    die "server exited before becoming healthy"
  fi
  if podman healthcheck run "$name" >/dev/null 2>&1; then healthy=1; break; fi
  sleep 0.1
done
((healthy)) || die "not healthy within ${health_deadline_s}s"
healthy_s=$(since "$t")
log "run -> healthy: $healthy_s s (port $port)"

cli() { timeout 20 podman exec -i "$name" cqmux --target="$target" "$@"; }

# health: SERVING for the server as a whole.
out=$(cli health </dev/null 2>&1) || fail "cqmux health exited $?: $out"
[[ $out == *SERVING* && $out != *NOT_SERVING* ]] || fail "health said: $out"

# The server process inside runs as the image's non-root user.
uid=$(timeout 20 podman exec "$name" id -u) || true
[[ $uid =~ ^[0-9]+$ && $uid != 0 ]] || fail "server container runs as uid '$uid'"

# capitalize: ASCII upper-cased, everything else unchanged.
before=$failures
out=$(cli capitalize "hello, container 42" </dev/null 2>&1) || fail "capitalize exited $?: $out"
[[ $out == *"HELLO, CONTAINER 42"* ]] || fail "capitalize said: $out"
((failures > before)) || log "capitalize: ok"

# metrics: the admin port serves Prometheus text, with that call counted (the server
# counts a call once it has fully ended, a moment after the client had its answer: poll).
want='grpc_server_handled_total{grpc_type="unary",grpc_service="rpc.Fetch",grpc_method="Capitalize",grpc_code="OK"} 1'
out=
for _ in $(seq 1 100); do
  out=$(curl -sS --max-time 10 "http://127.0.0.1:$metrics_port/metrics" 2>&1) || true
  [[ $out == *"$want"* ]] && break
  sleep 0.1
done
[[ $out == *"$want"* ]] \
  || fail "/metrics lacks the capitalize call: $(grep -m1 Capitalize <<<"$out")"

# books: a watcher gets the first book inserted after its Watch was accepted. Insert
# distinct books until the watcher (--count=1) has one, then check it got one of ours.
# A second watcher (no --count) must also have seen one: it stays open, in flight when the
# server gets SIGTERM below.
before=$failures
watch() {
  timeout 60 podman exec "$name" cqmux --target="$target" books watch "$@" </dev/null
}
watch --count=1 >"$work/watch.out" 2>&1 &
watch_pid=$!
watch >"$work/watch-open.out" 2>&1 &
open_watch_pid=$!
seen() { grep -qE 'Container Title 700[0-9]{2}' "$1"; }
inserted=0
for i in $(seq 1 50); do
  id=$((70000 + i))
  out=$(cli books insert "$id" "Container Title $id" "Container Author" </dev/null 2>&1) ||
    { fail "books insert $id exited $?: $out"; break; }
  inserted=$i
  for _ in $(seq 1 10); do
    if ! kill -0 "$watch_pid" 2>/dev/null && seen "$work/watch-open.out"; then break 2; fi
    sleep 0.05
  done
done
if wait "$watch_pid"; then
  got=$(grep -oE 'Container Title 700[0-9]{2}' "$work/watch.out" | head -n 1 || true)
  [[ -n $got ]] || fail "watch printed no inserted book: $(cat "$work/watch.out")"
else
  fail "books watch exited non-zero: $(cat "$work/watch.out")"
fi
watch_pid=
kill -0 "$open_watch_pid" 2>/dev/null || fail "open watcher ended early: $(cat "$work/watch-open.out")"
seen "$work/watch-open.out" || fail "open watcher saw no book: $(cat "$work/watch-open.out")"
out=$(cli books get 70001 </dev/null 2>&1) || fail "books get exited $?: $out"
[[ $out == *"Container Title 70001"* ]] || fail "books get said: $out"
((failures > before)) || log "books insert + watch: ok ($inserted insert(s) until the watcher saw '${got:-nothing}')"

# outliers: numpy semantics |x - mean| > 2 * std. Nine 1s and a 100: only index 9.
before=$failures
out=$(printf '1\n1\n1\n1\n1\n1\n1\n1\n1\n100\n' | cli outliers detect 2>&1) ||
  fail "outliers detect exited $?: $out"
[[ $out == *"outliers at: [9]"* ]] || fail "outliers detect said: $out"
((failures > before)) || log "outliers detect: ok ($(tr '\n' ' ' <<<"$out"))"

# cqmux-load from a second container, as in compose.yaml's load profile (bounded).
if ! out=$(timeout 60 podman run --name "$loader" --rm --network=host --entrypoint cqmux-load \
             "$image" --target="$target" --scenario=capitalize --requests=2000 \
             --warmup=0s --connections=2 --concurrency=16 --threads=1 --progress=false 2>&1); then
  fail "cqmux-load from a second container failed: $(tail -n 5 <<<"$out")"
else
  log "cqmux-load (second container): ok"
fi

# --- SIGTERM: graceful, exit 0, within the grace period --------------------------------
t=$(now)
podman stop -t "$stop_timeout_s" "$name" >/dev/null 2>>"$work/podman.log"
stop_s=$(since "$t")
code=$(podman inspect "$name" --format '{{.State.ExitCode}}')
[[ $code == 0 ]] || fail "server exit code after SIGTERM: $code"
awk -v s="$stop_s" -v g="$grace_s" 'BEGIN { exit !(s <= g) }' ||
  fail "stop took $stop_s s, more than the ${grace_s}s grace period"
log "SIGTERM -> exit $code in $stop_s s (with a Watch stream in flight)"
# Reap the in-flight watcher's `podman exec` (it ends with the container).
if [[ -n ${open_watch_pid:-} ]]; then
  wait "$open_watch_pid" || true
  open_watch_pid=
fi
if ((failures)); then
  log "server log:"; podman logs "$name" 2>&1 | tail -n 30 | sed 's/^/  | /' || true
fi
podman rm -v "$name" >/dev/null 2>>"$work/podman.log"
if ((failures)); then
  log "$failures check(s) failed"
  exit 1
fi
((own_work)) && rm -rf "$work"
log "all checks passed (build ${build_s}s, run->healthy ${healthy_s}s, stop ${stop_s}s)"
