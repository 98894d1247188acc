#!/bin/sh
# Regenerates the committed Go code in client/go/src/cqmux/pb from protos/
# with Debian's protoc-gen-go 1.3.5 (package golang-goprotobuf-dev).
# Usage: client/go/gen.sh [OUTPUT_SRC_DIR]   (default: client/go/src)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
protos=$(cd "$here/../../protos" && pwd)
out=${1:-$here/src}
ts=Mgoogle/protobuf/timestamp.proto=github.com/golang/protobuf/ptypes/timestamp
gen() {  # gen DIR FILE: each proto directory is its own import root
  protoc -I "$protos/$1" -I /usr/include \
    "--go_out=plugins=grpc,$ts:$out" "$protos/$1/$2"
}
gen rpc defs.proto
gen users users_types.proto
gen users users.proto
gen displacement unary.proto
gen displacement request_streaming.proto
gen books books.proto
gen outliers outliers.proto
