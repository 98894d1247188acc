#!/bin/sh
# Fails when the committed Go code in client/go/pb differs from what
# client/go/gen.sh generates from protos/ (run gen.sh and commit the result).
# Usage: go_generated_test.sh CLIENT_GO_DIR SCRATCH_DIR
# gen.sh's environment (GOBIN, GO, PROTOC and the Go caches) passes through.
set -eu
rm -rf "$2"
mkdir -p "$2"
"$1/gen.sh" "$2"
diff -ru "$1/pb" "$2/pb"
echo "committed Go code matches protos/"
