#!/usr/bin/env python3
"""The shared store through the real cqmux-server binary (--store=postgres) on
a private, real PostgreSQL (tests/support/real_postgres.py), with the Python
client:

- every books and users method, Watch included, on two servers sharing one
  database: what one acknowledges, the other reads; a watcher on one sees
  the books inserted through the other; the tutorial's book is seeded once;
- PostgreSQL stopped: the health service says NOT_SERVING for
  books.BookService and Users, calls fail at once with UNAVAILABLE (the
  message says the database is unreachable), open watches end with
  UNAVAILABLE; PostgreSQL started again: SERVING, calls work, nothing
  acknowledged was lost, a new watch sees new books;
- SIGTERM: the server exits 0.

Run with the build's venv python; ctest sets CQMUX_SERVER and
CQMUX_SOURCE_DIR. Readiness is the server's startup line ("(ports N)");
waits are bounded polls, never sleeps as synchronisation."""
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.environ["CQMUX_SOURCE_DIR"], "tests", "support"))
import real_postgres  # noqa: E402

import grpc  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402
from cqmux.pb import books_pb2, books_pb2_grpc, users_pb2_grpc, users_types_pb2  # noqa: E402

SERVER = os.environ["CQMUX_SERVER"]
TIMEOUT_S = 30
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def wait_for(predicate, what, timeout_s=TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)  # polling interval of a bounded wait
    raise AssertionError("timed out waiting for " + what)


class Server:
    """cqmux-server on a free port with the postgres store."""

    def __init__(self, conninfo, *flags):
        self.proc = subprocess.Popen(
            [SERVER, "--listen=127.0.0.1:0", "--store=postgres", "--postgres=" + conninfo,
             "--postgres-pool-size=2", "--password-hash=min", "--shutdown-grace=5s",
             "--drain-delay=0s", "--metrics-listen=", "--http-listen="] + list(flags),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.output = []
        self.port = None
        for line in self.proc.stdout:
            self.output.append(line)
            m = re.search(r"\(ports (\d+)\)", line)
            if m:
                self.port = int(m.group(1))
                break
        if self.port is None:
            self.proc.wait(TIMEOUT_S)
            raise AssertionError("server did not start:\n" + "".join(self.output))
        self.pump = threading.Thread(target=self._pump, daemon=True)
        self.pump.start()
        self.channel = grpc.insecure_channel("127.0.0.1:%d" % self.port)
        self.books = books_pb2_grpc.BookServiceStub(self.channel)
        self.users = users_pb2_grpc.UsersStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    def _pump(self):
        for line in self.proc.stdout:
            self.output.append(line)

    def health_of(self, service):
        return self.health.Check(health_pb2.HealthCheckRequest(service=service),
                                 timeout=TIMEOUT_S).status

    def stop(self):
        self.channel.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(TIMEOUT_S)
        self.pump.join(TIMEOUT_S)
        return code


class Watch:
    """A Watch stream read on its own thread into a queue."""

    def __init__(self, stub):
        self.call = stub.Watch(books_pb2.Empty(), timeout=120)
        self.items = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            for book in self.call:
                self.items.put(book)
            self.items.put(("end", grpc.StatusCode.OK, ""))
        except grpc.RpcError as e:
            self.items.put(("end", e.code(), e.details()))

    def next(self):
        return self.items.get(timeout=TIMEOUT_S)


def book(i, title=None):
    return books_pb2.Book(id=i, title=title or "Title %d" % i, author="Author %d" % i)


class PostgresServerTest(unittest.TestCase):
    def setUp(self):
        self.pg = real_postgres.RealPostgres()
        self.pg.start()
        self.conninfo = self.pg.create_database("cqmux")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            if s.proc.poll() is None:
                s.proc.kill()
                s.proc.wait(TIMEOUT_S)
        self.pg.close()

    def start_server(self, *flags):
        s = Server(self.conninfo, *flags)
        self.servers.append(s)
        return s

    def test_every_method_across_two_servers_then_postgres_down_and_back(self):
        a = self.start_server()
        b = self.start_server()
        for s in (a, b):
            wait_for(lambda: s.health_of("books.BookService") == SERVING, "SERVING")
            self.assertEqual(s.health_of("Users"), SERVING)
        # Seeded once, by the server that created the schema.
        self.assertEqual([bk.id for bk in a.books.List(books_pb2.Empty(), timeout=TIMEOUT_S).books],
                         [123])

        # Watch on B sees what A inserts; Insert/Get/List/Delete across both.
        watch = Watch(b.books)
        wait_for(lambda: b.books.Get(books_pb2.BookIdRequest(id=123), timeout=TIMEOUT_S).id == 123,
                 "Get")  # the watch is open by the time a call after it returns
        a.books.Insert(book(1, "Hard Times"), timeout=TIMEOUT_S)
        self.assertEqual(b.books.Get(books_pb2.BookIdRequest(id=1), timeout=TIMEOUT_S).title,
                         "Hard Times")
        with self.assertRaises(grpc.RpcError) as e:
            b.books.Insert(book(1), timeout=TIMEOUT_S)
        self.assertEqual(e.exception.code(), grpc.StatusCode.ALREADY_EXISTS)
        b.books.Insert(book(2), timeout=TIMEOUT_S)
        self.assertEqual([bk.id for bk in a.books.List(books_pb2.Empty(), timeout=TIMEOUT_S).books],
                         [123, 1, 2])
        self.assertEqual(watch.next().id, 1)
        self.assertEqual(watch.next().id, 2)
        b.books.Delete(books_pb2.BookIdRequest(id=123), timeout=TIMEOUT_S)
        with self.assertRaises(grpc.RpcError) as e:
            a.books.Get(books_pb2.BookIdRequest(id=123), timeout=TIMEOUT_S)
        self.assertEqual(e.exception.code(), grpc.StatusCode.NOT_FOUND)
        with self.assertRaises(grpc.RpcError) as e:
            a.books.Delete(books_pb2.BookIdRequest(id=123), timeout=TIMEOUT_S)
        self.assertEqual(e.exception.code(), grpc.StatusCode.NOT_FOUND)

        # Users: ids unique across servers, names unique, lookups anywhere.
        ida = a.users.CreateUser(users_types_pb2.CreateUserRequest(
            username="alice", password="pw", email="alice@example.com"), timeout=TIMEOUT_S).user.user_id
        idb = b.users.CreateUser(users_types_pb2.CreateUserRequest(
            username="bob", password="pw"), timeout=TIMEOUT_S).user.user_id
        self.assertNotEqual(ida, idb)
        with self.assertRaises(grpc.RpcError) as e:
            b.users.CreateUser(users_types_pb2.CreateUserRequest(username="alice", password="x"),
                               timeout=TIMEOUT_S)
        self.assertEqual(e.exception.code(), grpc.StatusCode.ALREADY_EXISTS)
        got = list(b.users.GetUsers(users_types_pb2.GetUsersRequest(user=[
            users_types_pb2.User(username="alice"), users_types_pb2.User(user_id=idb)]),
            timeout=TIMEOUT_S))
        self.assertEqual([(r.user.username, r.user.user_id) for r in got],
                         [("alice", ida), ("bob", idb)])
        stream = a.users.GetUsers(users_types_pb2.GetUsersRequest(user=[
            users_types_pb2.User(username="bob"), users_types_pb2.User(username="nobody")]),
            timeout=TIMEOUT_S)
        first = next(stream)
        self.assertEqual(first.user.user_id, idb)
        with self.assertRaises(grpc.RpcError) as e:
            next(stream)
        self.assertEqual(e.exception.code(), grpc.StatusCode.NOT_FOUND)

        # PostgreSQL down: NOT_SERVING, fast UNAVAILABLE, the watch ends.
        self.pg.stop()
        wait_for(lambda: a.health_of("books.BookService") == NOT_SERVING, "NOT_SERVING")
        wait_for(lambda: b.health_of("Users") == NOT_SERVING, "NOT_SERVING")
        end = watch.next()
        self.assertEqual(end[:2], ("end", grpc.StatusCode.UNAVAILABLE))
        self.assertIn("lost the database's change feed", end[2])
        for call in (lambda: a.books.Insert(book(3), timeout=TIMEOUT_S),
                     lambda: a.books.Get(books_pb2.BookIdRequest(id=1), timeout=TIMEOUT_S),
                     lambda: a.books.List(books_pb2.Empty(), timeout=TIMEOUT_S),
                     lambda: list(a.users.GetUsers(users_types_pb2.GetUsersRequest(
                         user=[users_types_pb2.User(username="alice")]), timeout=TIMEOUT_S)),
                     lambda: a.users.CreateUser(users_types_pb2.CreateUserRequest(
                         username="carol", password="pw"), timeout=TIMEOUT_S)):
            with self.assertRaises(grpc.RpcError) as e:
                call()
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)
            self.assertIn("PostgreSQL is unreachable", e.exception.details())
        with self.assertRaises(grpc.RpcError) as e:
            next(iter(a.books.Watch(books_pb2.Empty(), timeout=TIMEOUT_S)))
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)
        # The whole server is not reported down: only what needs the database.
        self.assertEqual(a.health_of(""), SERVING)

        # Back: SERVING again, nothing acknowledged lost, a new watch works.
        self.pg.start()
        for s in (a, b):
            wait_for(lambda: s.health_of("books.BookService") == SERVING, "SERVING again")
            wait_for(lambda: s.health_of("Users") == SERVING, "SERVING again")
        self.assertEqual([bk.id for bk in b.books.List(books_pb2.Empty(), timeout=TIMEOUT_S).books],
                         [1, 2])
        watch = Watch(a.books)
        self.assertEqual(a.books.Get(books_pb2.BookIdRequest(id=2), timeout=TIMEOUT_S).id, 2)
        b.books.Insert(book(4), timeout=TIMEOUT_S)
        self.assertEqual(watch.next().id, 4)
        carol = b.users.CreateUser(users_types_pb2.CreateUserRequest(
            username="carol", password="pw"), timeout=TIMEOUT_S).user.user_id
        self.assertGreater(carol, max(ida, idb))

        for s in (a, b):
            self.assertEqual(s.stop(), 0, "".join(s.output))
        self.assertEqual(watch.next()[0], "end")


if __name__ == "__main__":
    unittest.main(verbosity=2)
