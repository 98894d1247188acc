"""Python client package for the services of the cqmux server.

The protobuf and gRPC modules are generated when the package is built, into
cqmux.pb: defs_pb2, users_pb2, users_types_pb2, unary_pb2,
request_streaming_pb2, books_pb2 and outliers_pb2, each with its _pb2_grpc
module and a .pyi type stub. grpc.health.v1 is grpcio-health-checking's
grpc_health.v1.health_pb2 / health_pb2_grpc.
"""
import collections
import os

import grpc

DEFAULT_TARGET = "localhost:50051"


def _pem(value, what):
    """PEM bytes from a file path (str or os.PathLike) or from the bytes themselves."""
    if value is None or isinstance(value, bytes):
        return value
    try:
        with open(os.fspath(value), "rb") as f:
            return f.read()
    except OSError as e:
        raise ValueError("%s: cannot read %s: %s" % (what, value, e.strerror)) from None


def credentials(ca=None, cert=None, key=None):
    """grpc.ChannelCredentials for TLS: `ca` the PEM root certificate(s) that
    sign the server's (default: the system's roots), `cert` and `key` a client
    certificate and its key for servers that require mutual TLS. Each is a file
    path or the PEM bytes."""
    if (cert is None) != (key is None):
        raise ValueError("a client certificate needs its key and the reverse (cert and key)")
    return grpc.ssl_channel_credentials(root_certificates=_pem(ca, "ca"),
                                        private_key=_pem(key, "key"),
                                        certificate_chain=_pem(cert, "cert"))


class _CallDetails(collections.namedtuple(
        "_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready",
                         "compression")), grpc.ClientCallDetails):
    pass


class _BearerToken(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                   grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Adds "authorization: Bearer TOKEN" to every call's metadata (call
    credentials would refuse a plaintext channel; a server behind a
    TLS-terminating proxy, or a test, may need the token on one)."""

    def __init__(self, token):
        self._entry = ("authorization", "Bearer " + token)

    def _details(self, d):
        return _CallDetails(d.method, d.timeout, list(d.metadata or ()) + [self._entry],
                            d.credentials, getattr(d, "wait_for_ready", None),
                            getattr(d, "compression", None))

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation, details, request_iterator):
        return continuation(self._details(details), request_iterator)

    def intercept_stream_stream(self, continuation, details, request_iterator):
        return continuation(self._details(details), request_iterator)


def channel(target=DEFAULT_TARGET, *, tls=False, ca=None, cert=None, key=None,
            server_name=None, token=None, options=()):
    """Returns a channel to a cqmux server: plaintext by default; TLS when
    `tls` is true or any of `ca`, `cert`, `key` is given (see credentials());
    `server_name` is the name the server's certificate must carry when it is
    not the target's host (e.g. "localhost" for "127.0.0.1:50051"). With
    `token`, every call carries "authorization: Bearer TOKEN" (the server's
    --auth-tokens protects books Insert and Delete)."""
    options = list(options)
    if tls or ca is not None or cert is not None or key is not None:
        if server_name:
            options.append(("grpc.ssl_target_name_override", server_name))
        chan = grpc.secure_channel(target, credentials(ca, cert, key), options)
    else:
        if server_name:
            raise ValueError("server_name needs TLS (tls=True or ca=...)")
        chan = grpc.insecure_channel(target, options)
    if token:
        chan = grpc.intercept_channel(chan, _BearerToken(token))
    return chan


def wait_until_serving(target, timeout=20.0, service="", **channel_args):
    """Blocks until the server's health service reports SERVING.

    Waits for the channel to connect (event driven, no fixed sleeps) and then
    asks grpc.health.v1.Health/Check with wait_for_ready. Returns whether the
    status is SERVING; raises grpc.FutureTimeoutError or grpc.RpcError if the
    server does not come up. `channel_args` are channel()'s (tls, ca, cert,
    key, server_name).
    """
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    with channel(target, **channel_args) as chan:
        grpc.channel_ready_future(chan).result(timeout=timeout)
        stub = health_pb2_grpc.HealthStub(chan)
        response = stub.Check(health_pb2.HealthCheckRequest(service=service),
                              timeout=timeout, wait_for_ready=True)
        return response.status == health_pb2.HealthCheckResponse.SERVING
