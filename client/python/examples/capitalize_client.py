#!/usr/bin/env python3
"""The capitalize tutorial's client (rpc.Fetch/Capitalize): reads lines after a
"> " prompt and prints "< " and the capitalized line and a blank line, until
end of input."""
import sys

import grpc

import _common
from cqmux.pb import defs_pb2, defs_pb2_grpc


def main():
    args = _common.parser(__doc__).parse_args()
    with _common.channel(args) as channel:
        stub = defs_pb2_grpc.FetchStub(channel)
        while True:
            try:
                line = input("> ")
            except EOFError:
                print()
                return 0
            try:
                reply = stub.Capitalize(defs_pb2.Payload(data=line.encode("utf-8")), timeout=10)
            except grpc.RpcError as e:
                print("Capitalize failed with %s: %s" % (e.code(), e.details()), file=sys.stderr)
                return 1
            print("< %s\n" % reply.data.decode("utf-8"))


if __name__ == "__main__":
    sys.exit(main())
