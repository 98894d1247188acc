#!/usr/bin/env python3
"""Peer 3: rpc.Fetch/Capitalize and pb.Outliers/Detect on Python grpcio with
numpy, the tutorials' own design (ThreadPoolExecutor(max_workers=10)).

Run with the build's venv (the cqmux package, whose cqmux.pb has the stubs,
and numpy: the CMake target peer-python installs it):
    build/venv/bin/python bench/peers/python/server.py --port N
"""
import argparse
import sys
from concurrent.futures import ThreadPoolExecutor


def find_outliers(data):
    """Indices of values more than 2 standard deviations from the mean."""
    import numpy as np
    return np.where(np.abs(data - data.mean()) > 2 * data.std())[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--port', type=int, default=50063)
    parser.add_argument('--workers', type=int, default=10, help='ThreadPoolExecutor max_workers')
    args = parser.parse_args()

    import grpc
    import numpy as np
    from cqmux.pb import defs_pb2, defs_pb2_grpc, outliers_pb2, outliers_pb2_grpc

    class Fetch(defs_pb2_grpc.FetchServicer):
        def Capitalize(self, request, context):
            # bytes.upper() maps exactly ASCII a-z.
            return defs_pb2.Payload(id=request.id, data=request.data.upper())

    class Outliers(outliers_pb2_grpc.OutliersServicer):
        def Detect(self, request, context):
            data = np.fromiter((m.value for m in request.metrics), dtype='float64')
            indices = find_outliers(data)
            return outliers_pb2.OutliersResponse(indices=indices)

    server = grpc.server(ThreadPoolExecutor(max_workers=args.workers))
    defs_pb2_grpc.add_FetchServicer_to_server(Fetch(), server)
    outliers_pb2_grpc.add_OutliersServicer_to_server(Outliers(), server)
    address = f'0.0.0.0:{args.port}'
    if server.add_insecure_port(address) == 0:
        sys.exit(f'peer-python: cannot listen on {address}')
    server.start()
    print(f'peer-python listening on {address}', flush=True)
    server.wait_for_termination()


if __name__ == '__main__':
    main()
