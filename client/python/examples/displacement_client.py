#!/usr/bin/env python3
"""The displacement tutorial's unary client: distance between two points."""
import sys

import grpc

import _common
from cqmux.pb import unary_pb2 as pb
from cqmux.pb import unary_pb2_grpc


def main():
    p = _common.parser(__doc__)
    for name in ("x1", "y1", "x2", "y2"):
        p.add_argument(name, type=int)
    a = p.parse_args()
    with _common.channel(a) as channel:
        stub = unary_pb2_grpc.DisplacementServiceStub(channel)
        request = pb.Displacement(start=pb.Point(x=a.x1, y=a.y1), end=pb.Point(x=a.x2, y=a.y2))
        try:
            response = stub.computeDisplacement(request, timeout=10)
        except grpc.RpcError as e:
            print("computeDisplacement failed with %s: %s" % (e.code(), e.details()),
                  file=sys.stderr)
            return 1
        print("distance: %g" % response.distance)
    return 0


if __name__ == "__main__":
    sys.exit(main())
