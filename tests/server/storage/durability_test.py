#!/usr/bin/env python3
"""The durable store through the real cqmux-server binary (--store=sqlite):

- crash safety: 20 rounds of a client inserting books and creating users as
  fast as it can (many calls in flight) while the server is SIGKILLed after a
  random number of acknowledgements; restarted on the same data directory,
  every acknowledged book and user is there, every book present is exactly
  one that was sent (nothing half-written), and user ids continue above
  every id ever seen;
- a graceful restart (SIGTERM, exit 0) keeps books and users, also when it
  arrives with many writes in flight, and a Watch opened after the restart
  sees only books inserted after it;
- disk full, for real: the data directory on a small tmpfs mounted by this
  test (it must run as root, and fails loudly otherwise): inserts and user
  creation fail with RESOURCE_EXHAUSTED, reads keep working, and once space
  is freed writes work again and nothing acknowledged was lost;
- unwritable files, for real (chattr +i on the database and its WAL, next to
  the build on a disk file system): inserts fail with UNAVAILABLE, reads keep
  working, writes work again once the files are writable, and no refused
  write was stored;
- at startup, a newer schema version, a corrupt file and a truncated file
  stop the server with a clear message and exit code 1.

Run with the build's venv python; ctest sets CQMUX_SERVER and
CQMUX_INTEROP_DIR. Readiness is the server's startup line ("(ports N)");
no sleeps."""
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import unittest

import grpc

from cqmux.pb import books_pb2, books_pb2_grpc, users_pb2_grpc, users_types_pb2

SERVER = os.environ["CQMUX_SERVER"]
TIMEOUT_S = 30
ROUNDS = 20


class Server:
    """cqmux-server on a free port with the sqlite store in `data_dir`."""

    def __init__(self, data_dir, *flags):
        self.proc = subprocess.Popen(
            [SERVER, "--listen=127.0.0.1:0", "--store=sqlite", "--data-dir=" + data_dir,
             "--password-hash=min", "--seed-books=false", "--shutdown-grace=5s"] + list(flags),
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
        # Keep draining its output so that it never blocks on a full pipe.
        self.pump = threading.Thread(target=self._pump, daemon=True)
        self.pump.start()
        self.channel = grpc.insecure_channel("127.0.0.1:%d" % self.port)
        self.books = books_pb2_grpc.BookServiceStub(self.channel)
        self.users = users_pb2_grpc.UsersStub(self.channel)

    def _pump(self):
        for line in self.proc.stdout:
            self.output.append(line)

    def kill(self):
        """SIGKILL. The channel stays open (calls in flight fail on their
        own); close() it once they have ended."""
        self.proc.kill()
        self.proc.wait(TIMEOUT_S)
        self.pump.join(TIMEOUT_S)
        self.proc.stdout.close()

    def close(self):
        self.channel.close()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(TIMEOUT_S)
        self.pump.join(TIMEOUT_S)
        self.proc.stdout.close()
        self.channel.close()
        return code

    def log(self):
        return "".join(self.output)

    def listed(self):
        return {b.id: (b.title, b.author)
                for b in self.books.List(books_pb2.Empty(), timeout=TIMEOUT_S).books}

    def user_ids(self, names):
        """username -> user_id for `names`, which must all exist."""
        request = users_types_pb2.GetUsersRequest(
            user=[users_types_pb2.User(username=n) for n in names])
        return {r.user.username: r.user.user_id
                for r in self.users.GetUsers(request, timeout=TIMEOUT_S)}

    def create_user(self, name):
        return self.users.CreateUser(
            users_types_pb2.CreateUserRequest(username=name, email=name + "@example.com",
                                              password="pw-" + name),
            timeout=TIMEOUT_S).user.user_id


def start_or_fail(data_dir, *flags):
    """Runs the server expecting it to refuse to start: (exit code, output)."""
    r = subprocess.run([SERVER, "--listen=127.0.0.1:0", "--data-dir=" + data_dir] + list(flags),
                       capture_output=True, text=True, timeout=TIMEOUT_S)
    return r.returncode, r.stdout + r.stderr


def book(book_id):
    return books_pb2.Book(id=book_id, title="Title %d" % book_id,
                          author="Author %d " % book_id + "x" * (book_id % 50))


class Load:
    """Keeps `depth` inserts and `depth // 4` user creations in flight until
    stop(); records what was acknowledged."""

    def __init__(self, server, first_id, prefix, depth=64):
        self.server = server
        self.next_id = first_id
        self.prefix = prefix
        self.lock = threading.Lock()
        self.acked_books = []
        self.acked_users = {}
        self.sent_books = {}
        self.stopped = False
        self.changed = threading.Condition(self.lock)
        self.in_flight = 0
        for _ in range(depth):
            self._insert()
        for i in range(depth // 4):
            self._create(i)

    def _insert(self):
        with self.lock:
            if self.stopped:
                return
            book_id = self.next_id
            self.next_id += 1
            self.in_flight += 1
        b = book(book_id)
        self.sent_books[book_id] = (b.title, b.author)
        future = self.server.books.Insert.future(b, timeout=TIMEOUT_S)
        future.add_done_callback(lambda f, i=book_id: self._inserted(f, i))

    def _inserted(self, future, book_id):
        with self.lock:
            self.in_flight -= 1
            if future.exception() is None:
                self.acked_books.append(book_id)
            self.changed.notify_all()
        self._insert()

    def _create(self, n):
        name = "%s-%d" % (self.prefix, n)
        with self.lock:
            if self.stopped:
                return
            self.in_flight += 1
        future = self.server.users.CreateUser.future(
            users_types_pb2.CreateUserRequest(username=name, password="pw"), timeout=TIMEOUT_S)
        future.add_done_callback(lambda f, name=name, n=n: self._created(f, name, n))

    def _created(self, future, name, n):
        with self.lock:
            self.in_flight -= 1
            if future.exception() is None:
                self.acked_users[name] = future.result().user.user_id
            self.changed.notify_all()
        self._create(n + 10000)

    def wait_acks(self, n):
        with self.lock:
            ok = self.changed.wait_for(lambda: len(self.acked_books) >= n, TIMEOUT_S)
        assert ok, "only %d books acknowledged" % len(self.acked_books)

    def stop(self):
        """After the server is gone: waits for every call to end (failed)."""
        with self.lock:
            self.stopped = True
            ok = self.changed.wait_for(lambda: self.in_flight == 0, TIMEOUT_S)
        assert ok, "%d calls never ended" % self.in_flight


class CrashSafety(unittest.TestCase):
    def test_sigkill_loses_nothing_acknowledged(self):
        seed = int(os.environ.get("CQMUX_CRASH_SEED", random.randrange(1 << 30)))
        print("crash safety: CQMUX_CRASH_SEED=%d reproduces the kill moments" % seed)
        rng = random.Random(seed)
        with tempfile.TemporaryDirectory(prefix="cqmux-crash-") as tmp:
            data = os.path.join(tmp, "data")
            server = Server(data)
            all_acked_books = []
            all_acked_users = {}
            all_sent = {}
            max_id_seen = 0
            total_acked = 0
            for round_no in range(ROUNDS):
                load = Load(server, first_id=round_no * 1000000 + 1, prefix="r%d" % round_no)
                # The random moment: after a random number of acknowledged
                # inserts, with many more calls in flight.
                load.wait_acks(rng.randint(1, 300))
                server.kill()
                load.stop()
                server.close()
                all_acked_books += load.acked_books
                all_acked_users.update(load.acked_users)
                all_sent.update(load.sent_books)
                total_acked += len(load.acked_books) + len(load.acked_users)

                server = Server(data)
                listed = server.listed()
                missing = [b for b in all_acked_books if b not in listed]
                self.assertEqual(missing, [], "acknowledged books lost in round %d" % round_no)
                for book_id, fields in listed.items():
                    # Present books are exactly as sent (acked or not).
                    self.assertEqual(fields, all_sent.get(book_id), "book %d" % book_id)
                if all_acked_users:
                    found = server.user_ids(sorted(all_acked_users))
                    self.assertEqual(found, all_acked_users)
                max_id_seen = max([max_id_seen] + list(all_acked_users.values()))
                # Ids continue above every id ever handed out, acked or not
                # (an unacked user may have been committed).
                fresh = server.create_user("after-round-%d" % round_no)
                self.assertGreater(fresh, max_id_seen)
                max_id_seen = fresh
            self.assertEqual(server.stop(), 0, server.log())
            print("crash safety: %d rounds, %d writes acknowledged" % (ROUNDS, total_acked))


class GracefulRestart(unittest.TestCase):
    def test_sigterm_under_load_answers_every_queued_write(self):
        """Writes in flight when SIGTERM arrives are committed and answered
        (or answered with an error); every acknowledged one is there after
        the restart, and the server exits 0."""
        with tempfile.TemporaryDirectory(prefix="cqmux-term-") as tmp:
            data = os.path.join(tmp, "data")
            server = Server(data)
            load = Load(server, first_id=1, prefix="term")
            load.wait_acks(200)
            server.proc.send_signal(signal.SIGTERM)
            self.assertEqual(server.proc.wait(TIMEOUT_S), 0, server.log())
            load.stop()
            server.pump.join(TIMEOUT_S)
            server.proc.stdout.close()
            server.close()
            self.assertIn("writes in", server.log())
            server = Server(data)
            try:
                listed = server.listed()
                self.assertEqual([b for b in load.acked_books if b not in listed], [])
                self.assertEqual(server.user_ids(sorted(load.acked_users)), load.acked_users)
            finally:
                self.assertEqual(server.stop(), 0, server.log())

    def test_data_survives_sigterm_and_a_new_watch_sees_only_new_books(self):
        with tempfile.TemporaryDirectory(prefix="cqmux-restart-") as tmp:
            data = os.path.join(tmp, "data")
            server = Server(data, "--seed-books=true")
            server.books.Insert(book(1), timeout=TIMEOUT_S)
            server.books.Insert(book(2), timeout=TIMEOUT_S)
            server.books.Delete(books_pb2.BookIdRequest(id=123), timeout=TIMEOUT_S)
            alice = server.create_user("alice")
            self.assertEqual(server.stop(), 0, server.log())
            self.assertIn("writes in", server.log())

            server = Server(data, "--seed-books=true")
            try:
                # The seed is not re-added to an existing store; the deleted
                # book stays deleted.
                self.assertEqual(sorted(server.listed()), [1, 2])
                self.assertEqual(server.user_ids(["alice"]), {"alice": alice})
                with self.assertRaises(grpc.RpcError) as dup:
                    server.books.Insert(book(1), timeout=TIMEOUT_S)
                self.assertEqual(dup.exception.code(), grpc.StatusCode.ALREADY_EXISTS)
                watch = server.books.Watch(books_pb2.Empty(), timeout=TIMEOUT_S)
                watch.initial_metadata()  # sent once the watch is registered
                server.books.Insert(book(3), timeout=TIMEOUT_S)
                self.assertEqual(next(watch).id, 3)
                watch.cancel()
                self.assertGreater(server.create_user("bob"), alice)
            finally:
                self.assertEqual(server.stop(), 0, server.log())


def require_root():
    if os.geteuid() != 0:
        raise AssertionError("the disk-full test mounts a tmpfs and must run as root "
                             "(CI does); it is not skipped")


class DiskFull(unittest.TestCase):
    def test_writes_fail_cleanly_while_full_and_recover(self):
        require_root()
        mnt = tempfile.mkdtemp(prefix="cqmux-full-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt], check=True)
        server = None
        try:
            data = os.path.join(mnt, "data")
            server = Server(data)
            for i in range(1, 51):
                server.books.Insert(book(i), timeout=TIMEOUT_S)
            alice = server.create_user("alice")
            # Fill the file system to the last block.
            filler = os.path.join(mnt, "filler")
            fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                for chunk in (65536, 4096, 512):
                    try:
                        while True:
                            os.write(fd, b"\0" * chunk)
                    except OSError:
                        pass
            finally:
                os.close(fd)
            codes = set()
            for i in range(1000, 1200):
                try:
                    server.books.Insert(book(i), timeout=TIMEOUT_S)
                except grpc.RpcError as e:
                    codes.add(e.code())
                    message = e.details()
            self.assertEqual(codes, {grpc.StatusCode.RESOURCE_EXHAUSTED}, server.log())
            self.assertIn("disk is full", message)
            with self.assertRaises(grpc.RpcError) as user:
                server.create_user("bob")
            self.assertIn(user.exception.code(), (grpc.StatusCode.RESOURCE_EXHAUSTED,
                                                  grpc.StatusCode.UNAVAILABLE))
            # Reads keep working while full.
            listed = server.listed()
            for i in range(1, 51):
                self.assertIn(i, listed)
            self.assertEqual(server.user_ids(["alice"]), {"alice": alice})
            # Space comes back: so do writes.
            os.unlink(filler)
            server.books.Insert(book(2000), timeout=TIMEOUT_S)
            bob = server.create_user("bob")
            self.assertGreater(bob, alice)
            self.assertEqual(server.stop(), 0, server.log())
            server = Server(data)
            listed = server.listed()
            for i in list(range(1, 51)) + [2000]:
                self.assertIn(i, listed)
            self.assertEqual(server.user_ids(["alice", "bob"]), {"alice": alice, "bob": bob})
            self.assertEqual(server.stop(), 0, server.log())
            server = None
        finally:
            if server is not None:
                server.kill()
            subprocess.run(["umount", mnt], check=True)
            os.rmdir(mnt)


class Unwritable(unittest.TestCase):
    """The database files become unwritable under a running server, for real:
    `chattr +i` (immutable, which binds root too) on an ext4 directory."""

    def test_writes_fail_unavailable_reads_keep_working_and_writes_recover(self):
        require_root()
        # Next to the build (a disk file system: tmpfs has no chattr).
        top = tempfile.mkdtemp(prefix="cqmux-unwritable-", dir=os.getcwd())
        data = os.path.join(top, "data")
        files = [os.path.join(data, f) for f in ("cqmux.db", "cqmux.db-wal")]
        server = None
        try:
            server = Server(data)
            for i in range(1, 21):
                server.books.Insert(book(i), timeout=TIMEOUT_S)
            alice = server.create_user("alice")
            r = subprocess.run(["chattr", "+i"] + files, capture_output=True, text=True)
            self.assertEqual(r.returncode, 0,
                             "chattr +i failed (this test needs ext4 or similar, not "
                             "tmpfs; it is not skipped): " + r.stderr)
            codes, refused = set(), []
            for i in range(100, 140):
                try:
                    server.books.Insert(book(i), timeout=TIMEOUT_S)
                except grpc.RpcError as e:
                    codes.add(e.code())
                    message = e.details()
                    refused.append(i)
            self.assertEqual(codes, {grpc.StatusCode.UNAVAILABLE}, server.log())
            self.assertEqual(len(refused), 40, "writes succeeded on an immutable file")
            self.assertRegex(message, "cannot be written|I/O error")
            # Reads keep working.
            listed = server.listed()
            self.assertEqual(sorted(listed), list(range(1, 21)))
            self.assertEqual(server.user_ids(["alice"]), {"alice": alice})
            # Writable again: so are writes.
            subprocess.run(["chattr", "-i"] + files, check=True)
            server.books.Insert(book(200), timeout=TIMEOUT_S)
            bob = server.create_user("bob")
            self.assertGreater(bob, alice)
            self.assertEqual(server.stop(), 0, server.log())
            # Nothing refused was stored; everything acknowledged was.
            server = Server(data)
            self.assertEqual(sorted(server.listed()), list(range(1, 21)) + [200])
            self.assertEqual(server.user_ids(["alice", "bob"]), {"alice": alice, "bob": bob})
            self.assertEqual(server.stop(), 0, server.log())
            server = None
        finally:
            subprocess.run(["chattr", "-i"] + files, capture_output=True)
            if server is not None:
                server.kill()
            shutil.rmtree(top)


class RefusedAtStartup(unittest.TestCase):
    def make_store(self, data):
        server = Server(data)
        for i in range(1, 301):
            server.books.Insert(book(i), timeout=TIMEOUT_S)
        self.assertEqual(server.stop(), 0, server.log())
        db = os.path.join(data, "cqmux.db")
        # Fold the WAL into the file, so that damaging the file is what counts.
        with sqlite3.connect(db) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return db

    def test_newer_schema_version(self):
        with tempfile.TemporaryDirectory(prefix="cqmux-newer-") as tmp:
            db = self.make_store(tmp)
            with sqlite3.connect(db) as conn:
                conn.execute("PRAGMA user_version=7")
            code, out = start_or_fail(tmp)
            self.assertEqual(code, 1, out)
            self.assertIn("schema version is 7, newer than this cqmux-server understands", out)

    def test_corrupt_file(self):
        with tempfile.TemporaryDirectory(prefix="cqmux-corrupt-") as tmp:
            db = self.make_store(tmp)
            size = os.path.getsize(db)
            with open(db, "r+b") as f:
                f.seek(size // 3)
                f.write(b"\x5a" * 12288)
            code, out = start_or_fail(tmp)
            self.assertEqual(code, 1, out)
            self.assertIn("is corrupt", out)
            self.assertIn(db, out)

    def test_truncated_file(self):
        with tempfile.TemporaryDirectory(prefix="cqmux-truncated-") as tmp:
            db = self.make_store(tmp)
            os.truncate(db, os.path.getsize(db) // 2)
            code, out = start_or_fail(tmp)
            self.assertEqual(code, 1, out)
            self.assertIn("refusing to open", out)
            self.assertIn("corrupt", out)

    def test_not_a_database(self):
        with tempfile.TemporaryDirectory(prefix="cqmux-garbage-") as tmp:
            with open(os.path.join(tmp, "cqmux.db"), "wb") as f:
                f.write(os.urandom(10000))
            code, out = start_or_fail(tmp)
            self.assertEqual(code, 1, out)
            self.assertIn("not a cqmux database or it is corrupt", out)

    def test_second_server_on_the_same_directory(self):
        with tempfile.TemporaryDirectory(prefix="cqmux-locked-") as tmp:
            server = Server(tmp)
            try:
                code, out = start_or_fail(tmp)
                self.assertEqual(code, 1, out)
                self.assertIn("in use by another cqmux-server", out)
            finally:
                self.assertEqual(server.stop(), 0, server.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
