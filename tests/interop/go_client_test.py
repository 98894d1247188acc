#!/usr/bin/python3
"""Interop: the real cqmux-server called from Go. cqmux-go-interop calls every
method of every service with the error paths (its own assertions; see
tests/interop/go/src/cqmuxinterop); the books CLI and the outliers client of
client/go are checked by their output."""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cqmux_server  # noqa: E402

BIN = os.environ["CQMUX_BIN_DIR"]


def go(name, *args):
    return cqmux_server.run([os.path.join(BIN, name)] + list(args))


class GoClients(unittest.TestCase):
    def test_every_method(self):
        with cqmux_server.Server() as server:
            r = go("cqmux-go-interop", "-target=" + server.target)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(r.stdout.endswith("all Go interop checks passed\n"), r.stdout)
        self.assertEqual(r.stdout.count("ok: "), 18, r.stdout)

    def test_books_cli_and_outliers_client(self):
        with cqmux_server.Server() as server:
            a = "-address=" + server.target
            r = go("cqmux-go-books", a, "list")
            self.assertEqual(r.stdout, 'Server sent 1 book(s).\n{\n  "books": [\n    {\n'
                                       '      "id": 123,\n      "title": "A Tale of Two Cities",\n'
                                       '      "author": "Charles Dickens"\n    }\n  ]\n}\n')
            r = go("cqmux-go-books", a, "insert", "2", "The Three Musketeers", "Alexandre Dumas")
            self.assertEqual((r.returncode, r.stdout), (0, "Server response:\n{}\n"), r.stderr)
            r = go("cqmux-go-books", a, "get", "2")
            self.assertEqual(r.stdout, 'Server response:\n{\n  "id": 2,\n  "title": "The Three '
                                       'Musketeers",\n  "author": "Alexandre Dumas"\n}\n')
            r = go("cqmux-go-books", a, "get", "404")
            self.assertEqual(r.returncode, 1)
            self.assertRegex(r.stderr, r"Get book \(404\): rpc error: code = NotFound desc = "
                                       r"No book with id 404 was found\n$")
            r = go("cqmux-go-books", a, "-timeout=300ms", "watch")
            self.assertEqual(r.returncode, 1)
            self.assertIn("code = DeadlineExceeded", r.stderr)
            watch = subprocess.Popen([os.path.join(BIN, "cqmux-go-books"), a, "-count=1", "watch"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            reader = cqmux_server.LineReader(watch)
            try:
                for probe in range(4000, 4020):
                    go("cqmux-go-books", a, "insert", str(probe), "probe", "go")
                    if reader.wait_for(lambda line: '"id": 40' in line, timeout=0.5):
                        break
                self.assertEqual(watch.wait(timeout=30), 0, watch.stderr.read())
                self.assertIn("Server stream data received:\n{\n", reader.text())
            finally:
                if watch.poll() is None:
                    watch.kill()
                    watch.wait()
            r = go("cqmux-go-books", a, "delete", "2")
            self.assertEqual((r.returncode, r.stdout), (0, "Server response:\n{}\n"), r.stderr)
            r = go("cqmux-go-books", a, "delete", "2")
            self.assertIn("Delete book (2): rpc error: code = NotFound", r.stderr)
            r = go("cqmux-go-outliers-client", "-addr=" + server.target, "-seed=11")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stderr, r"outliers at: \[7 113 835\]\n$")


if __name__ == "__main__":
    unittest.main(verbosity=2)
