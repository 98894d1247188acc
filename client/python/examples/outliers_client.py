#!/usr/bin/env python3
"""An outliers client equivalent to the tutorial's Go client.go: N CPU metrics
below 40% with outliers at 7, 113 and 835, one second apart; prints the
indices the server reports."""
import random
import sys

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

import _common
from cqmux.pb import outliers_pb2 as pb
from cqmux.pb import outliers_pb2_grpc


def dummy_data(size, rng):
    start = 1590156791  # 2020-05-22 14:13:11 UTC, as in the tutorial
    metrics = [pb.Metric(time=Timestamp(seconds=start + i), name="CPU",
                         value=rng.random() * 40) for i in range(size)]
    for index, value in ((7, 97.3), (113, 92.1), (835, 93.2)):
        if index < size:
            metrics[index].value = value
    return metrics


def main():
    p = _common.parser(__doc__)
    p.add_argument("-n", type=int, default=1000)
    p.add_argument("--seed", type=int, default=None)
    a = p.parse_args()
    with _common.channel(a) as channel:
        stub = outliers_pb2_grpc.OutliersStub(channel)
        request = pb.OutliersRequest(metrics=dummy_data(a.n, random.Random(a.seed)))
        try:
            resp = stub.Detect(request, timeout=10)
        except grpc.RpcError as e:
            print("Detect failed with %s: %s" % (e.code(), e.details()), file=sys.stderr)
            return 1
        print("outliers at: %s" % list(resp.indices))
    return 0


if __name__ == "__main__":
    sys.exit(main())
