#!/usr/bin/python3
"""The capitalize tutorial's client (rpc.Fetch/Capitalize): reads lines after a
"> " prompt and prints "< " and the capitalized line, until end of input."""
import sys

import _common  # noqa: F401  (sets sys.path)
import grpc
from cqmux.pb import defs_pb2 as pb
from cqmux.pb import defs_pb2_grpc as proto


def main():
    args = _common.parser(__doc__).parse_args()
    with grpc.insecure_channel(args.target) as channel:
        stub = proto.FetchStub(channel)
        while True:
            try:
                line = input("> ")
            except EOFError:
                print()
                return 0
            capitalized = stub.Capitalize(pb.Payload(data=bytes(line, encoding="utf-8")),
                                          timeout=10)
            print("< %s\n" % capitalized.data.decode("utf-8"))


if __name__ == "__main__":
    sys.exit(main())
