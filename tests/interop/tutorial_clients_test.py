#!/usr/bin/python3
"""Interop: the tutorials' own clients, as written, against the real
cqmux-server. Each runs from a temporary copy in which only the server
address literal is replaced by the test server's address (the tutorials
hard-code localhost:9778, localhost:50051, 0.0.0.0:50051, localhost:9999);
the Python ones import protoc's plain output (defs_pb2, books_pb2, ...) as the
tutorials do; the Go one builds against its own generated pb package."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cqmux_server  # noqa: E402
import grpc  # noqa: E402
from cqmux.pb import users_pb2_grpc, users_types_pb2  # noqa: E402

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tutorial_clients")
FLAT = os.environ["CQMUX_PYTHON_FLAT"]
PY = "/usr/bin/python3"


def patched_copy(path, literal, target, tmp):
    """Copies a tutorial client, replacing its one address literal."""
    with open(path) as f:
        text = f.read()
    if text.count(literal) != 1:
        raise AssertionError("%s: expected one %r" % (path, literal))
    out = os.path.join(tmp, os.path.basename(path))
    with open(out, "w") as f:
        f.write(text.replace(literal, target))
    return out


class TutorialClients(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cqmux-tutorial-")
        self.env = dict(os.environ, PYTHONPATH=FLAT)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def python_client(self, relpath, literal, server):
        return patched_copy(os.path.join(HERE, relpath), literal, server.target, self.tmp)

    def run_py(self, script, *args, stdin=None):
        return cqmux_server.run([PY, script] + list(args), stdin=stdin, env=self.env)

    def test_capitalize_client(self):
        with cqmux_server.Server() as server:
            script = self.python_client("capitalize/capitalizeClient.py", "localhost:9778", server)
            r = self.run_py(script, stdin="hello world\nGrpc 1.51\n")
        self.assertEqual(r.stdout, "> < HELLO WORLD\n\n> < GRPC 1.51\n\n> ")
        # The tutorial's loop has no exit: end of input ends it with EOFError.
        self.assertTrue(r.stderr.rstrip().endswith("EOFError: EOF when reading a line"), r.stderr)

    def create(self, server, *names):
        with grpc.insecure_channel(server.target) as channel:
            stub = users_pb2_grpc.UsersStub(channel)
            for name in names:
                stub.CreateUser(users_types_pb2.CreateUserRequest(username=name), timeout=10)

    def test_users_demo(self):
        with cqmux_server.Server() as server:
            self.create(server, "alexa", "christie")  # the users the demo asks for
            script = self.python_client("users/sample_client_demo.py", "localhost:50051", server)
            r = self.run_py(script)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, 'User created: tom\n'
                                   'user {\n  username: "alexa"\n  user_id: 1\n}\n\n'
                                   'user {\n  username: "christie"\n  user_id: 2\n}\n\n')

    def test_users_demo_with_timeout(self):
        with cqmux_server.Server() as server:
            self.create(server, "alexa", "christie")
            script = self.python_client("users/sample_client_demo_timeout.py", "localhost:50051",
                                        server)
            r = self.run_py(script)
        # The demo gives GetUsers a 10 µs deadline. Whether (and where) that
        # expires before the whole stream arrives is a race inside the client
        # (gRPC timers are not that fine), so any of these is the demo working
        # unchanged: DEADLINE_EXCEEDED after a correct prefix of the stream, or
        # the whole stream.
        full = ('User created: tom\n'
                'user {\n  username: "alexa"\n  user_id: 1\n}\n\n'
                'user {\n  username: "christie"\n  user_id: 2\n}\n\n')
        self.assertTrue(r.stdout.startswith("User created: tom\n"), r.stdout)
        if r.returncode != 0:
            self.assertTrue(full.startswith(r.stdout), r.stdout)
            self.assertIn("StatusCode.DEADLINE_EXCEEDED", r.stderr)
        else:
            self.assertEqual(r.stdout, full)

    def test_books_client(self):
        with cqmux_server.Server() as server:
            script = self.python_client("books/client.py", "0.0.0.0:50051", server)
            r = self.run_py(script, "list")
            self.assertEqual(r.stdout, 'Server sent 1 book(s).\n\nbooks {\n  id: 123\n'
                                       '  title: "A Tale of Two Cities"\n'
                                       '  author: "Charles Dickens"\n}\n\n')
            watch = subprocess.Popen([PY, script, "watch"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=self.env)
            reader = cqmux_server.LineReader(watch)
            try:
                self.assertTrue(reader.wait_for(
                    lambda line: line == "Server stream data received:\n", timeout=30))
                for probe in range(3000, 3020):
                    self.run_py(script, "insert", str(probe), "Probe", "Tutorial")
                    if reader.wait_for(lambda line: line.startswith("id: 30"), timeout=0.5):
                        break
                else:
                    self.fail("watch received nothing:\n" + reader.text())
                r = self.run_py(script, "insert", "2", "The Three Musketeers", "Alexandre Dumas")
                self.assertEqual(r.stdout, "Server response:\n\n")
                self.assertTrue(reader.wait_for(lambda line: line == "id: 2\n", timeout=30),
                                reader.text())
                self.assertTrue(reader.wait_for(
                    lambda line: line == 'title: "The Three Musketeers"\n', timeout=30))
            finally:
                watch.kill()
                watch.wait()
            r = self.run_py(script, "get", "2")
            self.assertEqual(r.stdout, 'Server response:\nid: 2\ntitle: "The Three Musketeers"\n'
                                       'author: "Alexandre Dumas"\n\n')
            r = self.run_py(script, "get", "404")
            self.assertEqual(r.stdout, "GetBook failed with StatusCode.NOT_FOUND: "
                                       "No book with id 404 was found\n")
            r = self.run_py(script, "delete", "2")
            self.assertEqual(r.stdout, "Server response:\n\n")
            r = self.run_py(script, "delete", "2")
            self.assertEqual(r.stdout, "DeleteBook failed with StatusCode.NOT_FOUND: "
                                       "No book with id 2 was found\n")

    def test_outliers_go_client(self):
        tree = os.path.join(HERE, "outliers_go")
        original = os.path.join(tree, "src/github.com/ardanlabs/python-go/grpc/client.go")
        pkg = os.path.join(self.tmp, "src", "tutorialclient")
        os.makedirs(pkg)
        with cqmux_server.Server() as server:
            src = patched_copy(original, "localhost:9999", server.target, self.tmp)
            shutil.move(src, os.path.join(pkg, "main.go"))
            env = dict(os.environ, GO111MODULE="off", GOFLAGS="", GOPROXY="off", CGO_ENABLED="0",
                       GOPATH=":".join([self.tmp, tree, "/usr/share/gocode"]),
                       GOCACHE=os.environ["CQMUX_GOCACHE"])
            binary = os.path.join(self.tmp, "client")
            build = subprocess.run([os.environ["CQMUX_GO"], "build", "-o", binary,
                                    "tutorialclient"], env=env, capture_output=True, text=True,
                                   timeout=600)
            self.assertEqual(build.returncode, 0, build.stderr)
            r = cqmux_server.run([binary])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d outliers at: \[7 113 835\]\n$")


if __name__ == "__main__":
    unittest.main(verbosity=2)
