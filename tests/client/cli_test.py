#!/usr/bin/env python3
"""The `cqmux` CLI against the real cqmux-server: every subcommand, its output
format (plain and --json), error messages on stderr and exit codes.

Run with the build's venv python (tests/interop/cqmux_server.py needs grpcio
and grpcio-health-checking); ctest sets CQMUX_SERVER, CQMUX_CLI and
CQMUX_INTEROP_DIR."""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.environ["CQMUX_INTEROP_DIR"])
import cqmux_server  # noqa: E402

CLI = os.environ["CQMUX_CLI"]
SERVER = cqmux_server.Server()  # one server for the whole module
setUpModule = SERVER.start
tearDownModule = SERVER.stop_cleanly


def cqmux(*args, stdin=None, target=True):
    argv = [CLI] + (["--target=" + SERVER.target] if target else []) + list(args)
    return cqmux_server.run(argv, stdin=stdin)


class Help(unittest.TestCase):
    def test_overview(self):
        r = cqmux("--help", target=False)
        self.assertEqual(r.returncode, 0)
        for word in ("capitalize", "users create", "books list", "displacement", "stream-state",
                     "outliers detect", "health", "--target", "--metadata", "--json"):
            self.assertIn(word, r.stdout)

    def test_books_help(self):
        r = cqmux("books", "--help", target=False)
        self.assertEqual(r.returncode, 0)
        self.assertIn("cqmux books watch [--count=N]", r.stdout)
        self.assertNotIn("displacement", r.stdout)

    def test_usage_errors(self):
        self.assertEqual(cqmux(target=False).returncode, 2)
        r = cqmux("frobnicate")
        self.assertEqual(r.returncode, 2)
        self.assertIn('unknown subcommand "frobnicate"', r.stderr)
        self.assertEqual(cqmux("books", "get", "abc").returncode, 2)
        self.assertEqual(cqmux("displacement", "1", "2", "3").returncode, 2)
        self.assertEqual(cqmux("--metadata=novalue", "health").returncode, 2)

    def test_unreachable_server(self):
        port = cqmux_server.free_port()
        r = cqmux_server.run([CLI, "--target=127.0.0.1:%d" % port, "--timeout=2s", "health"])
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"^Health check \(\): (UNAVAILABLE|DEADLINE_EXCEEDED): ")


class Commands(unittest.TestCase):
    def test_health(self):
        r = cqmux("health")
        self.assertEqual((r.returncode, r.stdout), (0, "SERVING\n"), r.stderr)
        r = cqmux("health", "books.BookService")
        self.assertEqual((r.returncode, r.stdout), (0, "SERVING\n"), r.stderr)
        r = cqmux("--json", "health")
        self.assertEqual(json.loads(r.stdout), {"status": "SERVING"})
        r = cqmux("health", "no.Such")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.split(":")[:2], ["Health check (no.Such)", " NOT_FOUND"])

    def test_capitalize(self):
        r = cqmux("capitalize", "hello", "wörld-9")
        self.assertEqual((r.returncode, r.stdout), (0, "HELLO WöRLD-9\n"), r.stderr)
        r = cqmux("capitalize", stdin="one\ntwo three\n")
        self.assertEqual((r.returncode, r.stdout), (0, "> < ONE\n\n> < TWO THREE\n\n> \n"))
        r = cqmux("--json", "capitalize", "ab")
        self.assertEqual(json.loads(r.stdout), {"data": "QUI="})  # base64 of "AB"

    def test_users(self):
        r = cqmux("users", "create", "cli-ann", "--email=ann@example.com", "--password-stdin",
                  "--metadata=ip=127.0.0.1", "--metadata", "x-test=1", stdin="s3cret\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^User created: cli-ann \(user_id \d+\)\n$")
        ann_id = int(r.stdout.split()[-1].rstrip(")"))
        r = cqmux("--json", "users", "create", "cli-bob")
        bob = json.loads(r.stdout)["user"]
        self.assertEqual(bob["username"], "cli-bob")
        self.assertGreater(bob["user_id"], ann_id)
        r = cqmux("users", "create", "cli-ann")
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("Create user (cli-ann): ALREADY_EXISTS: "), r.stderr)
        r = cqmux("users", "create", "cli-eve", "--email=not-an-email")
        self.assertTrue(r.stderr.startswith("Create user (cli-eve): INVALID_ARGUMENT: "), r.stderr)
        r = cqmux("--json", "users", "get", "cli-bob", str(ann_id))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([json.loads(line)["user"]["username"] for line in r.stdout.splitlines()],
                         ["cli-bob", "cli-ann"])
        r = cqmux("users", "get", "cli-ann", "cli-nobody")
        self.assertEqual(r.returncode, 1)
        self.assertIn('"username": "cli-ann"', r.stdout)
        self.assertTrue(r.stderr.startswith("Get users: NOT_FOUND: "), r.stderr)
        self.assertIn("cli-nobody", r.stderr)

    def test_books_transcript(self):
        # The codelab's transcript, on ids of our own.
        r = cqmux("books", "get", "123")
        self.assertEqual(r.stdout, 'Server response:\n{\n  "id": 123,\n  "title": "A Tale of Two '
                                   'Cities",\n  "author": "Charles Dickens"\n}\n')
        r = cqmux("books", "insert", "901", "The Three Musketeers", "Alexandre Dumas")
        self.assertEqual((r.returncode, r.stdout), (0, "Server response:\n{}\n"), r.stderr)
        r = cqmux("books", "list")
        self.assertRegex(r.stdout, r"^Server sent \d+ book\(s\)\.\n\{\n  \"books\": \[\n    \{\n")
        self.assertIn('      "id": 901,\n      "title": "The Three Musketeers",\n'
                      '      "author": "Alexandre Dumas"\n', r.stdout)
        listed = json.loads(cqmux("--json", "books", "list").stdout)["books"]
        self.assertIn({"id": 901, "title": "The Three Musketeers", "author": "Alexandre Dumas"},
                      listed)
        r = cqmux("books", "get", "404")
        self.assertEqual((r.returncode, r.stdout), (1, ""))
        self.assertEqual(r.stderr, "Get book (404): NOT_FOUND: No book with id 404 was found\n")
        r = cqmux("books", "insert", "901", "Again", "Someone")
        self.assertTrue(r.stderr.startswith("Insert book (901): ALREADY_EXISTS: "), r.stderr)
        r = cqmux("books", "insert", "902", "", "Someone")
        self.assertTrue(r.stderr.startswith("Insert book (902): INVALID_ARGUMENT: "), r.stderr)
        r = cqmux("books", "delete", "901")
        self.assertEqual((r.returncode, r.stdout), (0, "Server response:\n{}\n"), r.stderr)
        r = cqmux("books", "delete", "901")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "Delete book (901): NOT_FOUND: No book with id 901 was found\n")

    def test_books_watch(self):
        r = cqmux("books", "watch", "--timeout=300ms")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.splitlines()[0], "watching for inserted books")
        self.assertTrue(r.stderr.splitlines()[1].startswith("Watch books: DEADLINE_EXCEEDED: "),
                        r.stderr)
        watch = subprocess.Popen([CLI, "--target=" + SERVER.target, "--json", "books", "watch",
                                  "--count=2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
        try:
            # The CLI says when the server has registered the watch: every
            # book inserted after that line must be delivered.
            self.assertEqual(watch.stderr.readline(), "watching for inserted books\n")
            cqmux("books", "insert", "9001", "First One", "X")
            cqmux("books", "insert", "9501", "Late One", "X")
            # --count=2: the CLI ends by itself after the second book.
            out, err = watch.communicate(timeout=30)
            self.assertEqual(watch.returncode, 0, err)
            ids = [json.loads(line)["id"] for line in out.splitlines() if line.startswith("{")]
            self.assertEqual(ids, [9001, 9501], out)  # both, in insertion order
        finally:
            if watch.poll() is None:
                watch.kill()
                watch.wait()

    def test_displacement(self):
        r = cqmux("displacement", "0", "0", "3", "4")
        self.assertEqual((r.returncode, r.stdout), (0, "distance: 5\n"), r.stderr)
        r = cqmux("--json", "displacement", "--", "-2147483648", "-2147483648", "2147483647",
                  "2147483647")
        self.assertAlmostEqual(json.loads(r.stdout)["distance"] / 6.0740e9, 1.0, places=3)

    def test_stream_state(self):
        r = cqmux("stream-state", "ok:fine", "THIRSTY:water", "starved", "4:zzz")
        self.assertEqual((r.returncode, r.stdout), (0, "Sent 4 message(s).\n"), r.stderr)
        r = cqmux("stream-state", stdin="OK:a\n\nTIRED:b\n" * 100)
        self.assertEqual((r.returncode, r.stdout), (0, "Sent 200 message(s).\n"), r.stderr)
        r = cqmux("stream-state", "HUNGRY:x")
        self.assertEqual(r.returncode, 2)

    def test_outliers(self):
        r = cqmux("outliers", "detect", "--random=1000", "--seed=5")
        self.assertEqual((r.returncode, r.stdout), (0, "outliers at: [7 113 835]\n"), r.stderr)
        values = ["10", "11", "9", "10", "10.5", "9.5"] * 10
        values[4] = "250"
        r = cqmux("outliers", "detect", stdin="\n".join(values) + "\n")
        self.assertEqual((r.returncode, r.stdout), (0, "outliers at: [4]\n"), r.stderr)
        r = cqmux("--json", "outliers", "detect", "-", stdin=",".join(values))
        self.assertEqual(json.loads(r.stdout), {"indices": [4]})
        r = cqmux("outliers", "detect", stdin="1,2,x\n")
        self.assertEqual(r.returncode, 2)
        self.assertIn('"x" is not a finite number', r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
