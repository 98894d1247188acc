#!/usr/bin/python3
"""Interop: the real cqmux-server called through the generated Python package
(every method of every service, the error paths) and the example clients in
client/python/examples (outputs asserted)."""
import math
import os
import queue
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cqmux_server  # noqa: E402  (also puts the cqmux package on sys.path)
import grpc  # noqa: E402
from google.protobuf.timestamp_pb2 import Timestamp  # noqa: E402
from cqmux.pb import (books_pb2, books_pb2_grpc, defs_pb2, defs_pb2_grpc,  # noqa: E402
                      health_pb2, health_pb2_grpc, outliers_pb2, outliers_pb2_grpc,
                      request_streaming_pb2, request_streaming_pb2_grpc, unary_pb2,
                      unary_pb2_grpc, users_pb2_grpc, users_types_pb2)

EXAMPLES = os.environ["CQMUX_PYTHON_EXAMPLES"]
PY = "/usr/bin/python3"
SERVER = cqmux_server.Server()  # one server for the whole module
setUpModule = SERVER.start
tearDownModule = SERVER.stop_cleanly


def example(name, *args, stdin=None):
    return cqmux_server.run([PY, os.path.join(EXAMPLES, name), "--target", SERVER.target]
                            + list(args), stdin=stdin)


class Stubs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.channel = grpc.insecure_channel(SERVER.target)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()

    def assertCode(self, code, fn, *args, **kwargs):
        with self.assertRaises(grpc.RpcError) as ctx:
            result = fn(*args, **kwargs)
            if hasattr(result, "__iter__") and not hasattr(result, "SerializeToString"):
                list(result)
        self.assertEqual(ctx.exception.code(), code, ctx.exception.details())
        return ctx.exception

    def test_health(self):
        stub = health_pb2_grpc.HealthStub(self.channel)
        for service in ("", "rpc.Fetch", "Users", "books.BookService",
                        "my_package.DisplacementService", "my_package.RequestStreaming",
                        "pb.Outliers"):
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            self.assertEqual(reply.status, health_pb2.HealthCheckResponse.SERVING, service)
        self.assertCode(grpc.StatusCode.NOT_FOUND, stub.Check,
                        health_pb2.HealthCheckRequest(service="no.Such"), timeout=10)

    def test_capitalize(self):
        stub = defs_pb2_grpc.FetchStub(self.channel)
        reply = stub.Capitalize(defs_pb2.Payload(id=7, data=b"abc xyz \xff{}"), timeout=10)
        self.assertEqual(reply.id, 7)
        self.assertEqual(reply.data, b"ABC XYZ \xff{}")

    def test_users(self):
        stub = users_pb2_grpc.UsersStub(self.channel)
        md = [("ip", "127.0.0.1")]
        a = stub.CreateUser(users_types_pb2.CreateUserRequest(username="py-ann", password="x"),
                            metadata=md, timeout=10).user
        b = stub.CreateUser(users_types_pb2.CreateUserRequest(
            username="py-bob", email="bob@example.com"), metadata=md, timeout=10).user
        self.assertEqual(a.username, "py-ann")
        self.assertGreater(b.user_id, a.user_id)
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, stub.CreateUser,
                        users_types_pb2.CreateUserRequest(username=""), timeout=10)
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, stub.CreateUser,
                        users_types_pb2.CreateUserRequest(username="py-eve", email="not-an-email"),
                        timeout=10)
        self.assertCode(grpc.StatusCode.ALREADY_EXISTS, stub.CreateUser,
                        users_types_pb2.CreateUserRequest(username="py-ann"), timeout=10)
        request = users_types_pb2.GetUsersRequest(user=[
            users_types_pb2.User(username="py-bob"), users_types_pb2.User(user_id=a.user_id)])
        got = [(r.user.username, r.user.user_id) for r in stub.GetUsers(request, timeout=10)]
        self.assertEqual(got, [("py-bob", b.user_id), ("py-ann", a.user_id)])
        # An unknown user ends the stream with NOT_FOUND after the earlier results.
        stream = stub.GetUsers(users_types_pb2.GetUsersRequest(user=[
            users_types_pb2.User(username="py-ann"), users_types_pb2.User(username="py-nobody")]),
            timeout=10)
        first = next(stream)
        self.assertEqual(first.user.username, "py-ann")
        with self.assertRaises(grpc.RpcError) as ctx:
            next(stream)
        self.assertEqual(ctx.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertIn("py-nobody", ctx.exception.details())

    def test_books_crud(self):
        stub = books_pb2_grpc.BookServiceStub(self.channel)
        listed = stub.List(books_pb2.Empty(), timeout=10)
        self.assertIn(books_pb2.Book(id=123, title="A Tale of Two Cities",
                                     author="Charles Dickens"), listed.books)
        stub.Insert(books_pb2.Book(id=501, title="Py Title", author="Py Author"), timeout=10)
        self.assertEqual(stub.Get(books_pb2.BookIdRequest(id=501), timeout=10).title, "Py Title")
        self.assertIn(501, [b.id for b in stub.List(books_pb2.Empty(), timeout=10).books])
        self.assertCode(grpc.StatusCode.ALREADY_EXISTS, stub.Insert,
                        books_pb2.Book(id=501, title="x", author="y"), timeout=10)
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, stub.Insert,
                        books_pb2.Book(id=502, title="x", author=""), timeout=10)
        err = self.assertCode(grpc.StatusCode.NOT_FOUND, stub.Get,
                              books_pb2.BookIdRequest(id=404), timeout=10)
        self.assertEqual(err.details(), "No book with id 404 was found")
        stub.Delete(books_pb2.BookIdRequest(id=501), timeout=10)
        err = self.assertCode(grpc.StatusCode.NOT_FOUND, stub.Delete,
                              books_pb2.BookIdRequest(id=501), timeout=10)
        self.assertEqual(err.details(), "No book with id 501 was found")

    def test_books_watch(self):
        stub = books_pb2_grpc.BookServiceStub(self.channel)
        # Nothing inserted meanwhile: the client's deadline ends the stream.
        self.assertCode(grpc.StatusCode.DEADLINE_EXCEEDED, stub.Watch, books_pb2.Empty(),
                        timeout=0.3)
        stream = stub.Watch(books_pb2.Empty(), timeout=30)
        got = queue.Queue()

        def pump():
            try:
                for book in stream:
                    got.put(book.id)
            except grpc.RpcError:
                pass
            got.put(None)
        threading.Thread(target=pump, daemon=True).start()
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
            self.fail("no probe delivered to the watcher")
        self.assertGreaterEqual(first, 7000)
        for book_id in (7101, 7102, 7103):
            stub.Insert(books_pb2.Book(id=book_id, title="t%d" % book_id, author="a"), timeout=10)
        seen = []
        while len(seen) < 3:
            book_id = got.get(timeout=20)
            self.assertIsNotNone(book_id, "watch ended early")
            if book_id > 7100:
                seen.append(book_id)
        self.assertEqual(seen, [7101, 7102, 7103])
        stream.cancel()

    def test_displacement(self):
        stub = unary_pb2_grpc.DisplacementServiceStub(self.channel)
        reply = stub.computeDisplacement(unary_pb2.Displacement(
            start=unary_pb2.Point(x=1, y=1), end=unary_pb2.Point(x=4, y=5)), timeout=10)
        self.assertAlmostEqual(reply.distance, 5.0, places=5)
        extreme = stub.computeDisplacement(unary_pb2.Displacement(
            start=unary_pb2.Point(x=-2**31, y=-2**31),
            end=unary_pb2.Point(x=2**31 - 1, y=2**31 - 1)), timeout=10)
        self.assertLess(abs(extreme.distance - math.hypot(2**32 - 1, 2**32 - 1)), 1e6)

    def test_stream_state(self):
        stub = request_streaming_pb2_grpc.RequestStreamingStub(self.channel)
        states = (request_streaming_pb2.Data(status=i % 5, info="n%d" % i) for i in range(500))
        self.assertEqual(stub.stream_state(states, timeout=10), request_streaming_pb2.Empty())

    def test_outliers(self):
        stub = outliers_pb2_grpc.OutliersStub(self.channel)
        values = [10.0 + (i % 7) for i in range(200)]
        values[3], values[150] = 500.0, -400.0
        request = outliers_pb2.OutliersRequest(metrics=[
            outliers_pb2.Metric(time=Timestamp(seconds=1000 + i), name="CPU", value=v)
            for i, v in enumerate(values)])
        self.assertEqual(list(stub.Detect(request, timeout=10).indices), [3, 150])


class Examples(unittest.TestCase):
    def test_capitalize_client(self):
        r = example("capitalize_client.py", stdin="hello\nwörld 1\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "> < HELLO\n\n> < WöRLD 1\n\n> \n")

    def test_users_client(self):
        r = example("users_client.py", "ex-tom", "ex-tom")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertRegex(lines[0], r"^User created: ex-tom user_id \d+$")
        self.assertEqual(lines[1], "ex-tom " + lines[0].split()[-1])
        r = example("users_client.py", "ex-tom")
        self.assertEqual(r.returncode, 1)
        self.assertIn("ALREADY_EXISTS", r.stderr)
        r = example("users_client.py", "--timeout", "0.000001", "ex-slow")
        self.assertNotEqual(r.returncode, 0)

    def test_books_client(self):
        r = example("books_client.py", "insert", "801", "Example Title", "Example Author")
        self.assertEqual((r.returncode, r.stdout), (0, "Server response:\n{}\n"), r.stderr)
        r = example("books_client.py", "get", "801")
        self.assertEqual(r.stdout, 'Server response:\n{\n  "id": 801,\n  "title": "Example Title",'
                                   '\n  "author": "Example Author"\n}\n')
        r = example("books_client.py", "list")
        self.assertRegex(r.stdout, r"^Server sent \d+ book\(s\)\.\n\{\n  \"books\": \[")
        r = example("books_client.py", "delete", "801")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = example("books_client.py", "get", "801")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "Get book (801): NOT_FOUND: No book with id 801 was found\n")
        watch = subprocess.Popen([PY, os.path.join(EXAMPLES, "books_client.py"), "--target",
                                  SERVER.target, "--count", "1", "watch"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        reader = cqmux_server.LineReader(watch)
        try:
            for probe in range(8000, 8020):
                example("books_client.py", "insert", str(probe), "probe", "example")
                if reader.wait_for(lambda line: '"id": 80' in line, timeout=0.5):
                    break
            self.assertEqual(watch.wait(timeout=30), 0)
            self.assertIn("Server stream data received:", reader.text())
        finally:
            if watch.poll() is None:
                watch.kill()
                watch.wait()

    def test_displacement_and_request_streaming_clients(self):
        r = example("displacement_client.py", "0", "0", "3", "4")
        self.assertEqual((r.returncode, r.stdout), (0, "distance: 5\n"), r.stderr)
        r = example("request_streaming_client.py", "ok:fine", "thirsty:water", "TIRED")
        self.assertEqual((r.returncode, r.stdout), (0, "Sent 3 message(s).\n"), r.stderr)

    def test_outliers_client(self):
        r = example("outliers_client.py", "--seed", "7")
        self.assertEqual((r.returncode, r.stdout), (0, "outliers at: [7, 113, 835]\n"), r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
