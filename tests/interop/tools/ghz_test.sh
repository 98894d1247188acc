#!/usr/bin/env bash
# ghz (installed with `go install` at a pinned version by the build) against
# the real cqmux-server, through server reflection: a short run of Capitalize
# and of Detect with 1,000 metrics, each with zero errors and every call OK.
# Usage: ghz_test.sh GHZ   (env CQMUX_SERVER)
set -euo pipefail
GHZ=$1
. "$(dirname "$0")/server.sh"

start_server

# check_run NAME REPORT_JSON CALLS: every call counted, all OK, no errors.
check_run() {
  expect_eq "$1: calls" "$3" "$(jq .count "$2")"
  expect_eq "$1: status codes" "{\"OK\":$3}" "$(jq -c .statusCodeDistribution "$2")"
  expect_eq "$1: errors" "{}" "$(jq -c '.errorDistribution // {}' "$2")"
}

"$GHZ" --insecure --call rpc.Fetch/Capitalize -d '{"id": 1, "data": "aGVsbG8gd29ybGQ="}' \
  -n 2000 -c 20 --connections 2 -O json -o "$TEST_TMP/capitalize.json" "$TARGET"
check_run "ghz rpc.Fetch/Capitalize" "$TEST_TMP/capitalize.json" 2000

# The outliers tutorial's request shape: 1,000 CPU metrics below 40 with
# outliers at 7, 113 and 835.
awk 'BEGIN {
  printf "{\"metrics\": [";
  for (i = 0; i < 1000; i++) {
    v = (i * 37) % 40 + 0.5;
    if (i == 7) v = 97.3; else if (i == 113) v = 92.1; else if (i == 835) v = 93.2;
    printf "%s{\"time\": \"2020-05-22T14:13:11Z\", \"name\": \"CPU\", \"value\": %s}", (i ? ", " : ""), v;
  }
  printf "]}\n";
}' > "$TEST_TMP/detect.json"
"$GHZ" --insecure --call pb.Outliers/Detect -D "$TEST_TMP/detect.json" \
  -n 500 -c 10 -O json -o "$TEST_TMP/detect-report.json" "$TARGET"
check_run "ghz pb.Outliers/Detect" "$TEST_TMP/detect-report.json" 500

stop_server
echo "ghz: Capitalize and Detect without errors"
