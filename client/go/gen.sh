#!/bin/sh
# Regenerates the committed Go code in client/go/pb/ from protos/ with the
# pinned protoc-gen-go and protoc-gen-go-grpc below (installed with
# `go install PKG@VERSION`) and Debian's protoc (/usr/bin/protoc).
#
# Usage: client/go/gen.sh [OUTPUT_DIR]
#   Writes OUTPUT_DIR/pb/{rpc,users,displacement,books,outliers}/*.go
#   (default OUTPUT_DIR: this directory, i.e. the committed code).
# Environment:
#   GOBIN   where the plugins are installed (default: $XDG_CACHE_HOME or
#           $HOME/.cache, then cqmux/go-tools); CMake passes its go-tools dir.
#   PROTOC  the protoc binary (default: /usr/bin/protoc).
#   GO      the go command (default: go on PATH).
#
# protos/ stays as the tutorials wrote it (its go_package lines name no real
# module): each .proto is mapped to its Go package with M options, and each
# proto directory is its own import root, as for the C++ and Python code.
set -eu

# The pinned plugins. client/go/CMakeLists.txt reads these two lines, so keep
# their form; protoc-gen-go's version matches google.golang.org/protobuf in go.mod.
PROTOC_GEN_GO=google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_GO_GRPC=google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2

module=github.com/cqmux/cqmux/client/go
here=$(cd "$(dirname "$0")" && pwd)
protos=$(cd "$here/../../protos" && pwd)
out=${1:-$here}
protoc=${PROTOC:-/usr/bin/protoc}
go=${GO:-go}
gobin=${GOBIN:-${XDG_CACHE_HOME:-${HOME:?set GOBIN or HOME}/.cache}/cqmux/go-tools}
mkdir -p "$gobin" "$out"
gobin=$(cd "$gobin" && pwd)
out=$(cd "$out" && pwd)
rm -rf "$out/pb"  # all generated: no stale file survives a removed .proto

# Outside the module: `go install PKG@VERSION` ignores go.mod anyway.
(cd / && GOBIN=$gobin "$go" install "$PROTOC_GEN_GO" && GOBIN=$gobin "$go" install "$PROTOC_GEN_GO_GRPC")

# .proto file (relative to its directory's import root) -> Go package.
maps="defs.proto=$module/pb/rpc
users_types.proto=$module/pb/users
users.proto=$module/pb/users
unary.proto=$module/pb/displacement
request_streaming.proto=$module/pb/displacement
books.proto=$module/pb/books
outliers.proto=$module/pb/outliers
google/protobuf/timestamp.proto=google.golang.org/protobuf/types/known/timestamppb"
mopts=
for m in $maps; do
  mopts="$mopts --go_opt=M$m --go-grpc_opt=M$m"
done

gen() {  # gen DIR FILE...: DIR under protos/ is the import root
  dir=$1
  shift
  # shellcheck disable=SC2086  # $mopts is a list of options
  (cd "$protos/$dir" && "$protoc" -I . -I /usr/include \
    "--plugin=protoc-gen-go=$gobin/protoc-gen-go" \
    "--plugin=protoc-gen-go-grpc=$gobin/protoc-gen-go-grpc" \
    "--go_out=$out" "--go_opt=module=$module" \
    "--go-grpc_out=$out" "--go-grpc_opt=module=$module" \
    $mopts "$@")
}
gen rpc defs.proto
gen users users_types.proto users.proto
gen displacement unary.proto request_streaming.proto
gen books books.proto
gen outliers outliers.proto
