#!/usr/bin/env python3
"""Several cqmux replicas sharing one real PostgreSQL, behind the shipped nginx
configuration (docker/nginx/cqmux-grpc.conf.in rendered by docker/nginx/render-conf,
the same files compose.yaml uses):

- inserts through replica A are seen by watchers on B and C (and A), in order;
- inserters on all three replicas at once: every watcher on every replica sees
  every book once, all in one and the same order;
- 16 concurrent inserts of one id spread over the replicas: exactly one OK,
  15 ALREADY_EXISTS, and every replica then returns the winner;
- through nginx every method of every service works (unary, client stream,
  server streams, Watch, health) and calls are spread over all replicas;
- a replica SIGKILLed under load through nginx: Get/List (idempotent, retried by
  the client's gRPC retry policy on UNAVAILABLE) and Insert (retried by the client
  with the same book; ALREADY_EXISTS on a retry means the first attempt had
  committed) all succeed, watches opened directly on the dead replica end with
  UNAVAILABLE, every acknowledged insert is there afterwards;
- PostgreSQL restarted under load: writes fail with UNAVAILABLE (fast: they end
  long before their deadline), watches end with UNAVAILABLE, health says
  NOT_SERVING; after the restart writes succeed again, every acknowledged write
  is there, and new watches on every replica see books inserted through another
  replica (the listening connections came back by themselves).

PostgreSQL comes from tests/support/real_postgres.py (a private server on a free
port, stopped by PID); nginx is Debian's nginx-light on a free port in a
temporary directory. Either missing fails the test (scripts/install-deps test
installs both). Readiness is observed (startup lines, health, a Watch's
headers, accepted TCP connections), never slept for; every process is stopped
by its PID. Run with the build venv's python; ctest sets CQMUX_SERVER and
CQMUX_SOURCE_DIR.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cqmux.pb import (books_pb2, books_pb2_grpc, defs_pb2, defs_pb2_grpc, outliers_pb2,
                      outliers_pb2_grpc, request_streaming_pb2, request_streaming_pb2_grpc,
                      unary_pb2, unary_pb2_grpc, users_pb2_grpc, users_types_pb2)

SOURCE_DIR = os.environ["CQMUX_SOURCE_DIR"]
SERVER = os.environ["CQMUX_SERVER"]
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "support"))
import real_postgres  # noqa: E402  (found through CQMUX_SOURCE_DIR)

RENDER_CONF = os.path.join(SOURCE_DIR, "docker", "nginx", "render-conf")
TIMEOUT_S = 30
EMPTY = books_pb2.Empty()



def nginx_binary():
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                     else None)
    if path is None:
        raise AssertionError("nginx is not installed: run scripts/install-deps test "
                             "(Debian's nginx-light)")
    return path


def book(book_id, title=None):
    return books_pb2.Book(id=book_id, title=title or "Title %d" % book_id,
                          author="Author %d" % (book_id % 97))


def wait_until(predicate, what, timeout=TIMEOUT_S):
    """Polls predicate (bounded) until it is true; fails naming `what`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.02)  # polling interval of a bounded wait, not synchronisation


class Replica:
    """cqmux-server on a free port (--listen=127.0.0.1:0) with the shared store."""

    def __init__(self, store_flags, name):
        self.name = name
        self.proc = subprocess.Popen(
            [SERVER, "--listen=127.0.0.1:0", "--metrics-listen=127.0.0.1:0",
             "--password-hash=min", "--seed-books=false", "--shutdown-grace=5s", "--threads=1"]
            + list(store_flags),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.output = []
        self.port = self.metrics_port = None
        for line in self.proc.stdout:
            self.output.append(line)
            m = re.search(r"\(ports (\d+)\)", line)
            if m:
                self.port = int(m.group(1))
            m = re.search(r"metrics at http://127.0.0.1:(\d+)/metrics", line)
            if m:
                self.metrics_port = int(m.group(1))
            if self.port and self.metrics_port:
                break
        if not (self.port and self.metrics_port):
            self.proc.wait(TIMEOUT_S)
            raise AssertionError("replica %s did not start:\n%s" % (name, self.log()))
        self.pump = threading.Thread(target=self._pump, daemon=True)
        self.pump.start()
        self.channel = grpc.insecure_channel(self.target)
        self.books = books_pb2_grpc.BookServiceStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    @property
    def target(self):
        return "127.0.0.1:%d" % self.port

    def _pump(self):
        for line in self.proc.stdout:
            self.output.append(line)

    def log(self):
        return "".join(self.output)

    def handled(self, service, method, code="OK"):
        """grpc_server_handled_total of one method, from its /metrics."""
        url = "http://127.0.0.1:%d/metrics" % self.metrics_port
        text = urllib.request.urlopen(url, timeout=TIMEOUT_S).read().decode()
        want = ('grpc_server_handled_total{grpc_type="unary",grpc_service="%s",'
                'grpc_method="%s",grpc_code="%s"} ' % (service, method, code))
        for line in text.splitlines():
            if line.startswith(want):
                return int(float(line[len(want):]))
        return 0

    def serving(self, service=""):
        try:
            return self.health.Check(health_pb2.HealthCheckRequest(service=service),
                                     timeout=5).status
        except grpc.RpcError as e:
            return e.code()

    def kill(self):
        self.proc.kill()
        self.proc.wait(TIMEOUT_S)
        self.pump.join(TIMEOUT_S)
        self.proc.stdout.close()

    def stop(self):
        """SIGTERM; returns the exit code (0 = clean)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            code = self.proc.wait(TIMEOUT_S)
            self.pump.join(TIMEOUT_S)
            self.proc.stdout.close()
        else:
            code = self.proc.returncode
        self.channel.close()
        return code


class Nginx:
    """nginx (master in the foreground, so its PID is ours) with the shipped config
    rendered for `replicas`, on a free 127.0.0.1 port in a temporary directory."""

    def __init__(self, replicas):
        binary = nginx_binary()
        self.dir = tempfile.mkdtemp(prefix="cqmux-nginx-")
        os.chmod(self.dir, 0o755)  # workers run as nobody when we are root
        self.conf = os.path.join(self.dir, "nginx.conf")
        self.error_log = os.path.join(self.dir, "error.log")
        for _ in range(5):  # a port found free may be taken before nginx binds it
            self.port = real_postgres.free_port()
            with open(self.conf, "w") as f:
                subprocess.run([RENDER_CONF, self.target, self.dir, self.error_log]
                               + [r.target for r in replicas], stdout=f, check=True)
            self.proc = subprocess.Popen(
                [binary, "-c", self.conf, "-p", self.dir, "-g", "daemon off;"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
            if self._wait_listening():
                self.channel = grpc.insecure_channel(self.target)
                return
        raise AssertionError("nginx did not start:\n" + self.log())

    @property
    def target(self):
        return "127.0.0.1:%d" % self.port

    def _wait_listening(self):
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.02)  # polling interval of a bounded wait
        self.proc.kill()
        self.proc.wait()
        return False

    def log(self):
        try:
            with open(self.error_log) as f:
                return f.read()
        except OSError:
            return "(no error log)"

    def stop(self):
        """SIGTERM (fast shutdown) to the master, by PID; waits for it."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(TIMEOUT_S)
        if hasattr(self, "channel"):
            self.channel.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Watcher:
    """A Watch stream read on its own thread: the books it got, how it ended."""

    def __init__(self, channel, name):
        self.name = name
        self.call = books_pb2_grpc.BookServiceStub(channel).Watch(EMPTY, timeout=120)
        self.books = []
        self.code = None  # the status code once the stream has ended
        self.changed = threading.Condition()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        code = grpc.StatusCode.OK
        try:
            for b in self.call:
                with self.changed:
                    self.books.append(b)
                    self.changed.notify_all()
        except grpc.RpcError as e:
            code = e.code()
        with self.changed:
            self.code = code
            self.changed.notify_all()

    def live(self):
        """Returns once the replica has accepted the Watch (it sends its headers then)."""
        self.call.initial_metadata()
        return self

    def ids(self, lo=0, hi=1 << 62):
        with self.changed:
            return [b.id for b in self.books if lo <= b.id < hi]

    def wait_for(self, predicate, what):
        with self.changed:
            if not self.changed.wait_for(lambda: predicate(self), TIMEOUT_S):
                raise AssertionError("watcher %s: timed out waiting for %s (has %d books, "
                                     "ended %s)" % (self.name, what, len(self.books), self.code))

    def wait_ended(self):
        self.wait_for(lambda w: w.code is not None, "the stream to end")
        return self.code

    def cancel(self):
        self.call.cancel()


class Env:
    """A private PostgreSQL database, `n` replicas on it and nginx in front."""

    def __init__(self, pg, dbname, n=3, extra_flags=()):
        self.pg = pg
        self.conninfo = pg.create_database(dbname)
        self.store_flags = ["--store=postgres", "--postgres=" + self.conninfo] + list(extra_flags)
        self.replicas = []
        self.nginx = None
        try:
            for i in range(n):
                self.replicas.append(Replica(self.store_flags, "ABC"[i]))
            self.nginx = Nginx(self.replicas)
        except BaseException:
            self.close()
            raise
        self.lb_books = books_pb2_grpc.BookServiceStub(self.nginx.channel)

    def close(self):
        if self.nginx is not None:
            self.nginx.stop()
        codes = {r.name: r.stop() for r in self.replicas}
        bad = {name: code for name, code in codes.items() if code not in (0, -signal.SIGKILL)}
        assert not bad, "replicas exited with %s:\n%s" % (
            bad, "\n".join(r.log() for r in self.replicas))


PG = None


def setUpModule():
    global PG
    PG = real_postgres.RealPostgres().start()


def tearDownModule():
    if PG is not None:
        PG.close()


class ReplicasTest(unittest.TestCase):
    """Three replicas and nginx, shared by these tests (each uses its own ids)."""

    @classmethod
    def setUpClass(cls):
        cls.env = Env(PG, "replicas")
        cls.a, cls.b, cls.c = cls.env.replicas

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def test_inserts_through_a_are_seen_on_b_and_c(self):
        watchers = [Watcher(r.channel, r.name).live() for r in (self.a, self.b, self.c)]
        ids = list(range(1000, 1010))
        for i in ids:
            self.a.books.Insert(book(i), timeout=TIMEOUT_S)
        for w in watchers:
            w.wait_for(lambda w: len(w.ids(1000, 2000)) == len(ids), "books 1000..1009")
            self.assertEqual(w.ids(1000, 2000), ids, w.name)
            with w.changed:
                self.assertEqual(list(w.books), [book(i) for i in ids], w.name)
            w.cancel()
        # And stored once for everybody.
        for r in (self.b, self.c):
            self.assertEqual(r.books.Get(books_pb2.BookIdRequest(id=1005), timeout=TIMEOUT_S),
                             book(1005))

    def test_concurrent_inserters_everywhere_one_order(self):
        watchers = [Watcher(r.channel, "%s%d" % (r.name, k)).live()
                    for r in (self.a, self.b, self.c) for k in range(2)]
        per_replica, depth = 40, 8
        errors = []

        def insert_all(replica, base):
            # `depth` inserts in flight on this replica at any time.
            pending = []
            go.wait(TIMEOUT_S)
            for k in range(per_replica):
                pending.append(replica.books.Insert.future(book(base + k), timeout=TIMEOUT_S))
                if len(pending) >= depth:
                    pending.pop(0).result()
            for f in pending:
                f.result()

        go = threading.Barrier(3)
        threads = []
        for n, r in enumerate((self.a, self.b, self.c)):
            t = threading.Thread(target=lambda r=r, n=n: self._collect(
                errors, insert_all, r, 2000 + 100 * n))
            t.start()
            threads.append(t)
        for t in threads:
            t.join(TIMEOUT_S)
        self.assertEqual(errors, [])
        total = 3 * per_replica
        for w in watchers:
            w.wait_for(lambda w: len(w.ids(2000, 3000)) >= total, "%d books" % total)
        first = watchers[0].ids(2000, 3000)
        self.assertEqual(sorted(first), sorted(
            2000 + 100 * n + k for n in range(3) for k in range(per_replica)))
        for w in watchers:
            self.assertEqual(w.ids(2000, 3000), first, "watcher %s saw another order" % w.name)
            w.cancel()
        # How interleaved the three inserters were (for the log: not a condition).
        switches = sum(1 for x, y in zip(first, first[1:]) if x // 100 != y // 100)
        sys.stderr.write("one order: %d books, %d switches between inserting replicas\n"
                         % (len(first), switches))

    @staticmethod
    def _collect(errors, fn, *args):
        try:
            fn(*args)
        except Exception as e:  # reported by the test thread
            errors.append(repr(e))

    def test_sixteen_inserts_of_one_id_one_wins(self):
        stubs = [r.books for r in (self.a, self.b, self.c)] + [self.env.lb_books]
        for book_id in (3001, 3002, 3003):
            futures = [stubs[k % len(stubs)].Insert.future(
                book(book_id, "attempt %d" % k), timeout=TIMEOUT_S) for k in range(16)]
            winners, codes = [], []
            for k, f in enumerate(futures):
                if f.exception() is None:
                    winners.append(k)
                else:
                    codes.append(f.code())
            self.assertEqual(len(winners), 1, "ids %d: OK from attempts %s" % (book_id, winners))
            self.assertEqual(codes, [grpc.StatusCode.ALREADY_EXISTS] * 15)
            for s in stubs:
                self.assertEqual(s.Get(books_pb2.BookIdRequest(id=book_id), timeout=TIMEOUT_S)
                                 .title, "attempt %d" % winners[0])

    def test_every_method_through_nginx(self):
        ch = self.env.nginx.channel
        # Health: the server as a whole and each service.
        health = health_pb2_grpc.HealthStub(ch)
        for service in ("", "rpc.Fetch", "Users", "books.BookService",
                        "my_package.DisplacementService", "my_package.RequestStreaming",
                        "pb.Outliers"):
            self.assertEqual(health.Check(health_pb2.HealthCheckRequest(service=service),
                                          timeout=TIMEOUT_S).status,
                             health_pb2.HealthCheckResponse.SERVING, service)
        status_stream = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT_S)
        self.assertEqual(next(status_stream).status, health_pb2.HealthCheckResponse.SERVING)
        status_stream.cancel()

        # rpc.Fetch/Capitalize, spread over every replica.
        fetch = defs_pb2_grpc.FetchStub(ch)
        before = [r.handled("rpc.Fetch", "Capitalize") for r in self.env.replicas]
        for i in range(30):
            self.assertEqual(fetch.Capitalize(defs_pb2.Payload(id=i, data=b"abc"),
                                              timeout=TIMEOUT_S).data, b"ABC")
        # A replica counts a call once it has fully ended, a moment after the answer.
        wait_until(lambda: sum(r.handled("rpc.Fetch", "Capitalize")
                               for r in self.env.replicas) - sum(before) == 30,
                   "30 Capitalize calls counted")
        spread = [r.handled("rpc.Fetch", "Capitalize") - b
                  for r, b in zip(self.env.replicas, before)]
        self.assertTrue(all(n > 0 for n in spread), "calls per replica: %s" % spread)

        # Displacement (unary) and RequestStreaming (client stream).
        reply = unary_pb2_grpc.DisplacementServiceStub(ch).computeDisplacement(
            unary_pb2.Displacement(start=unary_pb2.Point(x=1, y=1),
                                   end=unary_pb2.Point(x=4, y=5)), timeout=TIMEOUT_S)
        self.assertAlmostEqual(reply.distance, 5.0)
        states = (request_streaming_pb2.Data(status=i % 5, info="n%d" % i) for i in range(300))
        self.assertEqual(request_streaming_pb2_grpc.RequestStreamingStub(ch).stream_state(
            states, timeout=TIMEOUT_S), request_streaming_pb2.Empty())

        # Outliers: a request above nginx's default 1 MB body limit (the config lifts it).
        values = [10.0 + (i % 7) for i in range(60000)]
        values[3], values[59000] = 500.0, -400.0
        request = outliers_pb2.OutliersRequest(metrics=[
            outliers_pb2.Metric(time=Timestamp(seconds=1000 + i), name="CPU", value=v)
            for i, v in enumerate(values)])
        self.assertGreater(request.ByteSize(), 1 << 20)
        self.assertEqual(list(outliers_pb2_grpc.OutliersStub(ch).Detect(
            request, timeout=TIMEOUT_S).indices), [3, 59000])

        # Users: ids from one sequence, names unique across replicas.
        users = users_pb2_grpc.UsersStub(ch)
        made = [users.CreateUser(users_types_pb2.CreateUserRequest(
            username="lb-user-%d" % i, password="pw"), timeout=TIMEOUT_S).user for i in range(6)]
        self.assertEqual(len({u.user_id for u in made}), 6)
        for _ in range(3):  # three attempts, spread over the replicas by the round robin
            with self.assertRaises(grpc.RpcError) as err:
                users.CreateUser(users_types_pb2.CreateUserRequest(username="lb-user-0"),
                                 timeout=TIMEOUT_S)
            self.assertEqual(err.exception.code(), grpc.StatusCode.ALREADY_EXISTS)
        got = [r.user.user_id for r in users.GetUsers(users_types_pb2.GetUsersRequest(
            user=[users_types_pb2.User(username=u.username) for u in made]), timeout=TIMEOUT_S)]
        self.assertEqual(got, [u.user_id for u in made])

        # Books: Watch, Insert, Get, List, Delete through nginx.
        watcher = Watcher(ch, "lb").live()
        lb = self.env.lb_books
        for i in range(4000, 4006):
            self.assertEqual(lb.Insert(book(i), timeout=TIMEOUT_S), EMPTY)
        for i in range(4000, 4006):
            self.assertEqual(lb.Get(books_pb2.BookIdRequest(id=i), timeout=TIMEOUT_S), book(i))
        listed = {b.id for b in lb.List(EMPTY, timeout=TIMEOUT_S).books}
        self.assertTrue(set(range(4000, 4006)) <= listed)
        watcher.wait_for(lambda w: len(w.ids(4000, 5000)) == 6, "books 4000..4005")
        self.assertEqual(watcher.ids(4000, 5000), list(range(4000, 4006)))
        watcher.cancel()
        self.assertEqual(watcher.wait_ended(), grpc.StatusCode.CANCELLED)
        self.assertEqual(lb.Delete(books_pb2.BookIdRequest(id=4000), timeout=TIMEOUT_S), EMPTY)
        for r in self.env.replicas:  # gone for every replica
            with self.assertRaises(grpc.RpcError) as err:
                r.books.Get(books_pb2.BookIdRequest(id=4000), timeout=TIMEOUT_S)
            self.assertEqual(err.exception.code(), grpc.StatusCode.NOT_FOUND)
        with self.assertRaises(grpc.RpcError) as err:
            lb.Delete(books_pb2.BookIdRequest(id=4000), timeout=TIMEOUT_S)
        self.assertEqual(err.exception.code(), grpc.StatusCode.NOT_FOUND)


class Load:
    """Clients through nginx until stop(): `readers` threads of Get/List and
    `writers` threads inserting new books, each call retried the way a client of
    the replicas must (read(), insert()). Records every acknowledged insert and
    every failed attempt."""

    def __init__(self, env, first_id, readers=2, writers=2, deadline_s=TIMEOUT_S):
        self.env = env
        self.deadline_s = deadline_s
        self.lock = threading.Condition()
        self.next_id = first_id
        self.acked = {}            # book id -> Book, acknowledged (first try or a retry)
        self.failures = []         # (kind, code, seconds the failed attempt took, details)
        self.retried_inserts = 0
        self.retried_reads = 0
        self.wrong_reads = 0
        self.already_on_retry = 0  # retries that found the first attempt had committed
        self.reads_ok = 0
        self.stopping = False
        self.threads = [threading.Thread(target=self._reader) for _ in range(readers)]
        self.threads += [threading.Thread(target=self._writer) for _ in range(writers)]
        for t in self.threads:
            t.start()

    def read(self, call, request):
        """A read the way a client must: on UNAVAILABLE (the replica died with the
        call on it: nginx answers 502, which gRPC's own retry policy does not
        retry; or no replica could take it; or the database is down) simply try
        again. Returns the answer, or None if the load was stopped first."""
        while True:
            t = time.monotonic()
            try:
                return call(request, timeout=self.deadline_s)
            except grpc.RpcError as e:
                with self.lock:
                    self.failures.append(("read", e.code(), time.monotonic() - t, e.details()))
                    self.lock.notify_all()
                if e.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
                with self.lock:
                    self.retried_reads += 1
                if self.stopping:
                    return None
                self.backoff()

    def _reader(self):
        lb = self.env.lb_books
        while not self.stopping:
            with self.lock:
                known = list(self.acked)[-1:]
            if known:
                got = self.read(lb.Get, books_pb2.BookIdRequest(id=known[0]))
                want = self.acked[known[0]]
            else:
                got = self.read(lb.List, EMPTY)
                want = got
            with self.lock:
                if got is not None:
                    self.reads_ok += got == want
                    self.wrong_reads += got != want
                self.lock.notify_all()

    def insert(self, b):
        """Inserts b through nginx the way a client must: UNAVAILABLE means the
        outcome is unknown, so try again with the same book; ALREADY_EXISTS on a
        retry means an earlier attempt committed (checked: it is our book).
        Returns True once acknowledged, False if the load was stopped first."""
        lb = self.env.lb_books
        attempt = 0
        while True:
            t = time.monotonic()
            try:
                lb.Insert(b, timeout=self.deadline_s)
                return True
            except grpc.RpcError as e:
                code = e.code()
                if attempt > 0 and code == grpc.StatusCode.ALREADY_EXISTS:
                    stored = lb.Get(books_pb2.BookIdRequest(id=b.id), timeout=self.deadline_s)
                    assert stored == b, "id %d holds %s, not ours" % (b.id, stored)
                    with self.lock:
                        self.already_on_retry += 1
                    return True
                with self.lock:
                    self.failures.append(("insert", code, time.monotonic() - t, e.details()))
                    self.lock.notify_all()
                if code != grpc.StatusCode.UNAVAILABLE or self.stopping:
                    return False
                attempt += 1
                with self.lock:
                    self.retried_inserts += 1
                self.backoff()

    def backoff(self):
        # A short pause before trying again, ended early by stop().
        with self.lock:
            self.lock.wait_for(lambda: self.stopping, 0.05)

    def _writer(self):
        while not self.stopping:
            with self.lock:
                book_id = self.next_id
                self.next_id += 1
            b = book(book_id)
            if self.insert(b):
                with self.lock:
                    self.acked[book_id] = b
                    self.lock.notify_all()

    def wait(self, predicate, what):
        with self.lock:
            if not self.lock.wait_for(lambda: predicate(self), TIMEOUT_S):
                raise AssertionError("load: timed out waiting for %s (acked %d, failures %s)"
                                     % (what, len(self.acked), self.failures[-5:]))

    def stop(self):
        with self.lock:
            self.stopping = True
            self.lock.notify_all()
        for t in self.threads:
            t.join(TIMEOUT_S * 2)
            assert not t.is_alive(), "a load thread never ended"


class ReplicaKilledTest(unittest.TestCase):

    def test_sigkill_one_replica_under_load(self):
        env = Env(PG, "killed")
        try:
            self._run(env)
        finally:
            env.close()

    def _run(self, env):
        a, b, c = env.replicas
        on_victim = [Watcher(c.channel, "C%d" % k).live() for k in range(2)]
        on_survivors = [Watcher(r.channel, r.name).live() for r in (a, b)]
        through_lb = [Watcher(env.nginx.channel, "lb%d" % k).live() for k in range(3)]
        load = Load(env, 10000)
        load.wait(lambda l: len(l.acked) >= 30 and l.reads_ok >= 30, "load before the kill")
        with load.lock:
            acked_before, reads_before = len(load.acked), load.reads_ok
        c.kill()
        # The load goes on through nginx with the two survivors.
        load.wait(lambda l: len(l.acked) >= acked_before + 60 and l.reads_ok >= reads_before + 60,
                  "load after the kill")
        load.stop()
        # Watches opened on the dead replica end with UNAVAILABLE: clients re-watch.
        for w in on_victim:
            self.assertEqual(w.wait_ended(), grpc.StatusCode.UNAVAILABLE, w.name)
        # Calls failed only with UNAVAILABLE, and were retried by the client (reads
        # as they were, inserts with the same book); every read got the right book.
        self.assertEqual({f[1] for f in load.failures} - {grpc.StatusCode.UNAVAILABLE}, set(),
                         load.failures)
        self.assertEqual(load.wrong_reads, 0)
        # Every acknowledged insert is stored, once, for the survivors and nginx.
        listed = {x.id: x for x in env.lb_books.List(EMPTY, timeout=TIMEOUT_S).books}
        for book_id, want in load.acked.items():
            self.assertEqual(listed.get(book_id), want)
        # The survivors' watchers saw every acknowledged insert.
        for w in on_survivors:
            w.wait_for(lambda w: set(load.acked) <= set(w.ids(10000, 20000)),
                       "every acknowledged book")
        # The three watches through nginx were spread one per replica (round robin):
        # the one on the dead replica ended. nginx cannot send trailers for a replica
        # that vanished: it resets the stream (RST_STREAM INTERNAL_ERROR), which gRPC
        # reports as INTERNAL; the client re-watches as on UNAVAILABLE. The two
        # others live on.
        wait_until(lambda: any(w.code is not None for w in through_lb),
                   "the Watch through nginx on the dead replica to end")
        ended = [w for w in through_lb if w.code is not None]
        self.assertEqual(len(ended), 1, [(w.name, w.code) for w in through_lb])
        self.assertIn(ended[0].code, (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL))
        env.lb_books.Insert(book(19999), timeout=TIMEOUT_S)
        for w in on_survivors + [w for w in through_lb if w.code is None]:
            w.wait_for(lambda w: 19999 in w.ids(), "book 19999")
            w.cancel()
        sys.stderr.write("kill: %d inserts acked (%d retried, %d found committed on retry), "
                         "%d reads (%d retried); lb watches ended: %s\n"
                         % (len(load.acked), load.retried_inserts, load.already_on_retry,
                            load.reads_ok, load.retried_reads, [(w.name, w.code) for w in ended]))


class PostgresRestartTest(unittest.TestCase):

    def test_postgres_restarted_under_load(self):
        env = Env(PG, "restart")
        try:
            self._run(env)
        finally:
            if PG.pid is None:
                PG.start()
            env.close()

    def _run(self, env):
        replicas = env.replicas
        watchers = [Watcher(r.channel, r.name).live() for r in replicas]
        load = Load(env, 20000, readers=1, writers=3)
        load.wait(lambda l: len(l.acked) >= 20, "inserts before the restart")
        phases = [("load", time.monotonic())]
        # Crash-like: PostgreSQL's immediate shutdown (no checkpoint; recovery on start).
        PG.stop(immediate=True)
        phases.append(("stopped", time.monotonic()))
        with load.lock:
            failed_before = len(load.failures)
        load.wait(lambda l: len([f for f in l.failures if f[0] == "insert"]) >= failed_before + 10,
                  "inserts failing while PostgreSQL is down")
        phases.append(("failing", time.monotonic()))
        # The listening connections broke: every open Watch ends with UNAVAILABLE, so
        # its client knows to re-watch rather than silently missing books.
        for w in watchers:
            self.assertEqual(w.wait_ended(), grpc.StatusCode.UNAVAILABLE, w.name)
        phases.append(("watches ended", time.monotonic()))
        for r in replicas:
            wait_until(lambda r=r: r.serving("books.BookService")
                       == health_pb2.HealthCheckResponse.NOT_SERVING,
                       "%s: health NOT_SERVING for books" % r.name)
        phases.append(("not serving", time.monotonic()))
        with load.lock:
            acked_down = len(load.acked)
        PG.start()
        phases.append(("started", time.monotonic()))
        load.wait(lambda l: len(l.acked) >= acked_down + 30, "inserts after the restart")
        phases.append(("inserting", time.monotonic()))
        load.stop()
        for r in replicas:
            wait_until(lambda r=r: r.serving("books.BookService")
                       == health_pb2.HealthCheckResponse.SERVING,
                       "%s: health SERVING again" % r.name)
        phases.append(("serving", time.monotonic()))
        # Failing fast: every failed call ended UNAVAILABLE, none ran into its deadline.
        codes = {f[1] for f in load.failures}
        self.assertEqual(codes, {grpc.StatusCode.UNAVAILABLE}, load.failures[-10:])
        slowest = max(f[2] for f in load.failures)
        # Every acknowledged insert survived the crash, on every replica.
        for r in replicas:
            listed = {x.id: x for x in r.books.List(EMPTY, timeout=TIMEOUT_S).books}
            missing = [i for i in load.acked if listed.get(i) != load.acked[i]]
            self.assertEqual(missing, [], r.name)
        # The listeners are back: new watches on every replica see a book inserted
        # through each of the others.
        watchers = [Watcher(r.channel, r.name).live() for r in replicas]
        for n, r in enumerate(replicas):
            r.books.Insert(book(29000 + n), timeout=TIMEOUT_S)
        for w in watchers:
            w.wait_for(lambda w: w.ids(29000, 30000) == [29000, 29001, 29002], "books 29000..2")
            w.cancel()
        phases.append(("watching", time.monotonic()))
        sys.stderr.write("restart: %d inserts acked, %d failed attempts (slowest %.2f s, "
                         "deadline %d s), %d found committed on retry; phases: %s\n"
                         % (len(load.acked), len(load.failures), slowest, load.deadline_s,
                            load.already_on_retry, ", ".join(
                                "%s +%.1f s" % (name, t - phases[0][1]) for name, t in phases)))


if __name__ == "__main__":
    unittest.main(verbosity=2)
