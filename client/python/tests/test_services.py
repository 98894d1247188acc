"""Every method of every service through the generated stubs (cqmux.pb),
with the error paths, against the real server."""
import math
import os
import queue
import struct
import threading

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc

import cqmux
from cqmux.pb import (books_pb2, books_pb2_grpc, defs_pb2, defs_pb2_grpc, outliers_pb2,
                      outliers_pb2_grpc, request_streaming_pb2, request_streaming_pb2_grpc,
                      unary_pb2, unary_pb2_grpc, users_pb2_grpc, users_types_pb2)

# The outliers tutorial's 1,000 metric values (float64 bit patterns in hex).
TUTORIAL_VALUES = os.environ.get("CQMUX_TUTORIAL_VALUES", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, os.pardir, "bench", "load",
    "tutorial_values.txt"))


def rpc_error(fn, *args, **kwargs):
    """Calls fn (draining a response stream) and returns the grpc.RpcError it raises."""
    with pytest.raises(grpc.RpcError) as info:
        result = fn(*args, **kwargs)
        if hasattr(result, "__iter__") and not hasattr(result, "SerializeToString"):
            list(result)
    return info.value


def test_package_helpers(server):
    assert cqmux.DEFAULT_TARGET == "localhost:50051"
    assert cqmux.wait_until_serving(server.target, timeout=10)
    assert cqmux.wait_until_serving(server.target, timeout=10, service="books.BookService")
    with cqmux.channel(server.target) as chan:
        reply = defs_pb2_grpc.FetchStub(chan).Capitalize(defs_pb2.Payload(data=b"x"), timeout=10)
    assert reply.data == b"X"


def test_health(channel):
    stub = health_pb2_grpc.HealthStub(channel)
    for service in ("", "rpc.Fetch", "Users", "books.BookService",
                    "my_package.DisplacementService", "my_package.RequestStreaming",
                    "pb.Outliers"):
        reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, service
    err = rpc_error(stub.Check, health_pb2.HealthCheckRequest(service="no.Such"), timeout=10)
    assert err.code() == grpc.StatusCode.NOT_FOUND


def test_capitalize(channel):
    stub = defs_pb2_grpc.FetchStub(channel)
    reply = stub.Capitalize(defs_pb2.Payload(id=7, data=b"abc xyz \xff{}"), timeout=10)
    assert (reply.id, reply.data) == (7, b"ABC XYZ \xff{}")
    assert stub.Capitalize(defs_pb2.Payload(), timeout=10) == defs_pb2.Payload()


def test_users(channel):
    stub = users_pb2_grpc.UsersStub(channel)
    md = [("ip", "127.0.0.1")]
    ann = stub.CreateUser(users_types_pb2.CreateUserRequest(username="py-ann", password="x"),
                          metadata=md, timeout=10).user
    bob = stub.CreateUser(users_types_pb2.CreateUserRequest(
        username="py-bob", email="bob@example.com"), metadata=md, timeout=10).user
    assert ann.username == "py-ann"
    assert bob.user_id > ann.user_id
    for bad in (users_types_pb2.CreateUserRequest(username=""),
                users_types_pb2.CreateUserRequest(username="py-eve", email="not-an-email")):
        assert rpc_error(stub.CreateUser, bad, timeout=10).code() == \
            grpc.StatusCode.INVALID_ARGUMENT
    assert rpc_error(stub.CreateUser, users_types_pb2.CreateUserRequest(username="py-ann"),
                     timeout=10).code() == grpc.StatusCode.ALREADY_EXISTS
    # By name or, without one, by id; in the order asked.
    request = users_types_pb2.GetUsersRequest(user=[
        users_types_pb2.User(username="py-bob"), users_types_pb2.User(user_id=ann.user_id)])
    got = [(r.user.username, r.user.user_id) for r in stub.GetUsers(request, timeout=10)]
    assert got == [("py-bob", bob.user_id), ("py-ann", ann.user_id)]
    # An unknown user ends the stream with NOT_FOUND after the earlier results.
    stream = stub.GetUsers(users_types_pb2.GetUsersRequest(user=[
        users_types_pb2.User(username="py-ann"), users_types_pb2.User(username="py-nobody")]),
        timeout=10)
    assert next(stream).user.username == "py-ann"
    with pytest.raises(grpc.RpcError) as info:
        next(stream)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert "py-nobody" in info.value.details()
    err = rpc_error(stub.GetUsers, users_types_pb2.GetUsersRequest(
        user=[users_types_pb2.User(user_id=999999)]), timeout=10)
    assert err.code() == grpc.StatusCode.NOT_FOUND


def test_books_crud(channel):
    stub = books_pb2_grpc.BookServiceStub(channel)
    assert books_pb2.Book(id=123, title="A Tale of Two Cities", author="Charles Dickens") in \
        stub.List(books_pb2.Empty(), timeout=10).books
    assert stub.Insert(books_pb2.Book(id=501, title="Py Title", author="Py Author"),
                       timeout=10) == books_pb2.Empty()
    assert stub.Get(books_pb2.BookIdRequest(id=501), timeout=10) == \
        books_pb2.Book(id=501, title="Py Title", author="Py Author")
    assert 501 in [b.id for b in stub.List(books_pb2.Empty(), timeout=10).books]
    assert rpc_error(stub.Insert, books_pb2.Book(id=501, title="x", author="y"),
                     timeout=10).code() == grpc.StatusCode.ALREADY_EXISTS
    assert rpc_error(stub.Insert, books_pb2.Book(id=502, title="x", author=""),
                     timeout=10).code() == grpc.StatusCode.INVALID_ARGUMENT
    err = rpc_error(stub.Get, books_pb2.BookIdRequest(id=404), timeout=10)
    assert (err.code(), err.details()) == (grpc.StatusCode.NOT_FOUND,
                                           "No book with id 404 was found")
    assert stub.Delete(books_pb2.BookIdRequest(id=501), timeout=10) == books_pb2.Empty()
    err = rpc_error(stub.Delete, books_pb2.BookIdRequest(id=501), timeout=10)
    assert (err.code(), err.details()) == (grpc.StatusCode.NOT_FOUND,
                                           "No book with id 501 was found")


def test_books_watch(channel):
    stub = books_pb2_grpc.BookServiceStub(channel)
    # Nothing inserted meanwhile: the client's deadline ends the stream.
    assert rpc_error(stub.Watch, books_pb2.Empty(), timeout=0.3).code() == \
        grpc.StatusCode.DEADLINE_EXCEEDED
    stream = stub.Watch(books_pb2.Empty(), timeout=60)
    got = queue.Queue()

    def pump():
        try:
            for book in stream:
                got.put(book)
        except grpc.RpcError:
            pass
        got.put(None)
    threading.Thread(target=pump, daemon=True).start()
    try:
        # The watch starts when the server accepts it, which the client
        # cannot see: insert probes until one is delivered.
        for probe in range(7000, 7020):
            stub.Insert(books_pb2.Book(id=probe, title="probe", author="py"), timeout=10)
            try:
                first = got.get(timeout=0.5)
                break
            except queue.Empty:
                continue
        else:
            pytest.fail("no probe delivered to the watcher")
        assert first is not None and 7000 <= first.id < 7020
        for book_id in (7101, 7102, 7103):
            stub.Insert(books_pb2.Book(id=book_id, title="t%d" % book_id, author="a"),
                        timeout=10)
        seen = []
        while len(seen) < 3:
            book = got.get(timeout=30)
            assert book is not None, "watch ended early"
            if book.id > 7100:
                seen.append(book)
        assert seen == [books_pb2.Book(id=i, title="t%d" % i, author="a")
                        for i in (7101, 7102, 7103)]
    finally:
        stream.cancel()


def test_compute_displacement(channel):
    stub = unary_pb2_grpc.DisplacementServiceStub(channel)
    reply = stub.computeDisplacement(unary_pb2.Displacement(
        start=unary_pb2.Point(x=1, y=1), end=unary_pb2.Point(x=4, y=5)), timeout=10)
    assert reply.distance == pytest.approx(5.0)
    extreme = stub.computeDisplacement(unary_pb2.Displacement(
        start=unary_pb2.Point(x=-2**31, y=-2**31),
        end=unary_pb2.Point(x=2**31 - 1, y=2**31 - 1)), timeout=10)
    assert abs(extreme.distance - math.hypot(2**32 - 1, 2**32 - 1)) < 1e6


def test_stream_state(channel):
    stub = request_streaming_pb2_grpc.RequestStreamingStub(channel)
    states = (request_streaming_pb2.Data(status=i % 5, info="n%d" % i) for i in range(500))
    assert stub.stream_state(states, timeout=10) == request_streaming_pb2.Empty()
    assert stub.stream_state(iter(()), timeout=10) == request_streaming_pb2.Empty()


def test_detect(channel):
    stub = outliers_pb2_grpc.OutliersStub(channel)
    values = [10.0 + (i % 7) for i in range(200)]
    values[3], values[150] = 500.0, -400.0
    request = outliers_pb2.OutliersRequest(metrics=[
        outliers_pb2.Metric(time=Timestamp(seconds=1000 + i), name="CPU", value=v)
        for i, v in enumerate(values)])
    assert list(stub.Detect(request, timeout=10).indices) == [3, 150]
    assert list(stub.Detect(outliers_pb2.OutliersRequest(), timeout=10).indices) == []


def test_detect_tutorial_metrics(channel):
    """The outliers tutorial's request: its 1,000 CPU metrics, as client.go sends them."""
    with open(TUTORIAL_VALUES) as f:
        values = [struct.unpack(">d", bytes.fromhex(line.strip()))[0] for line in f
                  if line.strip()]
    assert len(values) == 1000
    start = Timestamp(seconds=1590156791)  # 2020-05-22 14:13:11 UTC
    request = outliers_pb2.OutliersRequest(metrics=[
        outliers_pb2.Metric(time=start, name="CPU", value=v) for v in values])
    reply = outliers_pb2_grpc.OutliersStub(channel).Detect(request, timeout=10)
    assert list(reply.indices) == [7, 113, 835]
