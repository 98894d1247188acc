"""Python client package for the services of the cqmux server.

The protobuf and gRPC modules are generated when the package is built, into
cqmux.pb: defs_pb2, users_pb2, users_types_pb2, unary_pb2,
request_streaming_pb2, books_pb2 and outliers_pb2, each with its _pb2_grpc
module and a .pyi type stub. grpc.health.v1 is grpcio-health-checking's
grpc_health.v1.health_pb2 / health_pb2_grpc.
"""
import grpc

DEFAULT_TARGET = "localhost:50051"


def channel(target=DEFAULT_TARGET):
    """Returns an insecure channel to a cqmux server."""
    return grpc.insecure_channel(target)


def wait_until_serving(target, timeout=20.0, service=""):
    """Blocks until the server's health service reports SERVING.

    Waits for the channel to connect (event driven, no fixed sleeps) and then
    asks grpc.health.v1.Health/Check with wait_for_ready. Returns whether the
    status is SERVING; raises grpc.FutureTimeoutError or grpc.RpcError if the
    server does not come up.
    """
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    with grpc.insecure_channel(target) as chan:
        grpc.channel_ready_future(chan).result(timeout=timeout)
        stub = health_pb2_grpc.HealthStub(chan)
        response = stub.Check(health_pb2.HealthCheckRequest(service=service),
                              timeout=timeout, wait_for_ready=True)
        return response.status == health_pb2.HealthCheckResponse.SERVING
