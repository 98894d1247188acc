#!/usr/bin/env python3
"""The request-streaming tutorial's client: streams STATUS:INFO states to
my_package.RequestStreaming/stream_state and waits for the Empty reply."""
import sys

import grpc

import _common
from cqmux.pb import request_streaming_pb2 as pb
from cqmux.pb import request_streaming_pb2_grpc


def states(items):
    for item in items:
        name, _, info = item.partition(":")
        yield pb.Data(status=pb.Status.Value(name.upper()), info=info)


def main():
    p = _common.parser(__doc__)
    p.add_argument("states", nargs="+", help="e.g. OK:fine THIRSTY:water TIRED")
    a = p.parse_args()
    for item in a.states:
        if item.partition(":")[0].upper() not in pb.Status.keys():
            p.error("unknown status in %r (one of %s)" % (item, ", ".join(pb.Status.keys())))
    with _common.channel(a) as channel:
        stub = request_streaming_pb2_grpc.RequestStreamingStub(channel)
        try:
            stub.stream_state(states(a.states), timeout=10)
        except grpc.RpcError as e:
            print("stream_state failed with %s: %s" % (e.code(), e.details()), file=sys.stderr)
            return 1
        print("Sent %d message(s)." % len(a.states))
    return 0


if __name__ == "__main__":
    sys.exit(main())
