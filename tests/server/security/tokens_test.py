#!/usr/bin/env python3
"""Write tokens through real gRPC calls: cqmux-server --auth-tokens=FILE
(at --log-level=debug) and the cqmux CLI. books Insert and Delete need
"authorization: Bearer <token>" (UNAUTHENTICATED without it, with a wrong
one, or with another scheme); List, Get, Watch and every other service need
none; the token is accepted from --token, --token-file and $CQMUX_TOKEN; no
token ever appears in the server's log; bad token files stop the server at
startup. Also cqmux-load --token.

Run with the build's venv python; ctest sets CQMUX_SERVER, CQMUX_CLI,
CQMUX_INTEROP_DIR and, in builds with the bench tools, CQMUX_LOAD."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.environ["CQMUX_INTEROP_DIR"])
import cqmux_server  # noqa: E402

CLI = os.environ["CQMUX_CLI"]
LOAD = os.environ.get("CQMUX_LOAD")
TOKEN = "write-token-3f9a1c"
SECOND_TOKEN = "second.token_Z+/="
WRONG_TOKEN = "wrong-token-77e2"
TMP = tempfile.TemporaryDirectory(prefix="cqmux-tokens-")


def write(name, text):
    path = os.path.join(TMP.name, name)
    with open(path, "w") as f:
        f.write(text)
    return path


TOKENS_FILE = write("tokens", "# cqmux write tokens\n\n%s\n   %s  \n" % (TOKEN, SECOND_TOKEN))
SERVER = cqmux_server.Server(["--auth-tokens=" + TOKENS_FILE, "--log-level=debug",
                              "--password-hash=min"])
setUpModule = SERVER.start


def tearDownModule():
    SERVER.stop_cleanly()
    TMP.cleanup()


def cqmux(*args, stdin=None, env=None):
    return cqmux_server.run([CLI, "--target=" + SERVER.target] + list(args), stdin=stdin,
                            env=env)


def env_without_token(**extra):
    env = {k: v for k, v in os.environ.items() if k != "CQMUX_TOKEN"}
    env.update(extra)
    return env


NEEDS_TOKEN = ('UNAUTHENTICATED: this method needs a token: send the metadata '
               '"authorization: Bearer <token>"\n')


class Writes(unittest.TestCase):
    def test_insert_and_delete_without_a_token_are_unauthenticated(self):
        r = cqmux("books", "insert", "5101", "No Token", "X", env=env_without_token())
        self.assertEqual((r.returncode, r.stdout), (1, ""))
        self.assertEqual(r.stderr, "Insert book (5101): " + NEEDS_TOKEN)
        r = cqmux("books", "delete", "123", env=env_without_token())
        self.assertEqual((r.returncode, r.stderr), (1, "Delete book (123): " + NEEDS_TOKEN))
        r = cqmux("books", "get", "123")  # the refused delete changed nothing
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_a_wrong_token_or_scheme_is_unauthenticated(self):
        r = cqmux("--token=" + WRONG_TOKEN, "books", "insert", "5102", "T", "A")
        self.assertEqual(r.stderr,
                         "Insert book (5102): UNAUTHENTICATED: the token is not accepted\n")
        for value in ("Basic " + TOKEN, TOKEN, "Bearer", "Bearer ", "Bearer  " + TOKEN,
                      "Bearer " + TOKEN + "x", "Bearer " + TOKEN[:-1]):
            r = cqmux("--metadata=authorization=" + value, "books", "delete", "123",
                      env=env_without_token())
            self.assertEqual(r.returncode, 1, value)
            self.assertTrue(r.stderr.startswith("Delete book (123): UNAUTHENTICATED: "),
                            (value, r.stderr))

    def test_the_right_token_from_flag_file_or_environment(self):
        r = cqmux("--token=" + TOKEN, "books", "insert", "5103", "With Token", "A")
        self.assertEqual((r.returncode, r.stdout), (0, "Server response:\n{}\n"), r.stderr)
        token_file = write("my-token", "# mine\n%s\n" % SECOND_TOKEN)
        r = cqmux("--token-file=" + token_file, "books", "delete", "5103")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = cqmux("books", "insert", "5104", "Env Token", "A", env=dict(os.environ,
                                                                       CQMUX_TOKEN=TOKEN))
        self.assertEqual(r.returncode, 0, r.stderr)
        r = cqmux("--metadata=authorization=Bearer " + SECOND_TOKEN, "books", "delete", "5104",
                  env=env_without_token())
        self.assertEqual(r.returncode, 0, r.stderr)
        r = cqmux("--token=a", "--token-file=" + token_file, "books", "list")
        self.assertEqual(r.returncode, 2)
        self.assertIn("give --token or --token-file, not both", r.stderr)

    def test_reads_watch_and_other_services_need_no_token(self):
        env = env_without_token()
        r = cqmux("books", "list", env=env)
        self.assertTrue(r.stdout.startswith("Server sent "), r.stderr)
        r = cqmux("books", "get", "123", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        watch = subprocess.Popen([CLI, "--target=" + SERVER.target, "--json", "books", "watch",
                                  "--count=1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env=env)
        try:
            self.assertEqual(watch.stderr.readline(), "watching for inserted books\n")
            r = cqmux("--token=" + TOKEN, "books", "insert", "5105", "Watched", "A")
            self.assertEqual(r.returncode, 0, r.stderr)
            out, err = watch.communicate(timeout=30)
            self.assertEqual(watch.returncode, 0, err)
            self.assertEqual(json.loads(out.splitlines()[-1])["id"], 5105)
        finally:
            if watch.poll() is None:
                watch.kill()
                watch.wait()
        for args, out in ((["health"], "SERVING\n"), (["capitalize", "open"], "OPEN\n"),
                          (["displacement", "0", "0", "3", "4"], "distance: 5\n"),
                          (["stream-state", "OK:x"], "Sent 1 message(s).\n"),
                          (["outliers", "detect", "--random=1000", "--seed=2"],
                           "outliers at: [7 113 835]\n")):
            r = cqmux(*args, env=env)
            self.assertEqual((r.returncode, r.stdout), (0, out), (args, r.stderr))
        r = cqmux("users", "create", "token-free-user", "--metadata=ip=10.0.0.1",
                  "--password-stdin", stdin="pw\n", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = cqmux("users", "get", "token-free-user", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)

    @unittest.skipUnless(LOAD, "cqmux-load is not built (CQMUX_BUILD_BENCH=OFF)")
    def test_load_sends_its_token(self):
        base = [LOAD, "--target=" + SERVER.target, "--scenario=books-insert", "--requests=50",
                "--warmup=0s", "--concurrency=4", "--progress=false"]
        r = cqmux_server.run(base + ["--token=" + TOKEN, "--json"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(json.loads(r.stdout)["ok"], 50)
        r = cqmux_server.run(base)  # its setup inserts a book: refused
        self.assertEqual(r.returncode, 2)
        self.assertIn("Insert failed: 16 this method needs a token", r.stderr)  # 16: UNAUTHENTICATED


class Log(unittest.TestCase):
    def test_no_token_in_the_debug_log(self):
        # A server of its own, whose log holds only these calls: refusals are
        # logged at debug level, tokens never, right or wrong. (Log lines are
        # written before a call is answered; the log is read before the
        # server is stopped, which deletes it after a clean exit.)
        with cqmux_server.Server(["--auth-tokens=" + TOKENS_FILE, "--log-level=debug"]) as server:
            def call(*args):
                return cqmux_server.run([CLI, "--target=" + server.target] + list(args),
                                        env=env_without_token())
            self.assertEqual(call("books", "insert", "1", "T", "A").returncode, 1)
            self.assertEqual(call("--token=" + WRONG_TOKEN, "books", "delete", "1").returncode, 1)
            self.assertEqual(call("--metadata=authorization=Basic " + WRONG_TOKEN, "books",
                                  "delete", "1").returncode, 1)
            self.assertEqual(call("--token=" + TOKEN, "books", "insert", "1", "T", "A").returncode,
                             0)
            self.assertEqual(call("--token=" + SECOND_TOKEN, "books", "delete", "1").returncode,
                             0)
            self.assertEqual(call("--token=" + TOKEN, "users", "create", "logged-user",
                                  "--metadata=ip=10.0.0.2").returncode, 0)
            log = server.log()
        self.assertIn("writes need a token (2 accepted)", log)
        self.assertIn("write refused: no authorization metadata", log)
        self.assertIn("write refused: token not accepted", log)
        self.assertIn("write refused: authorization is not a bearer token", log)
        self.assertIn('CreateUser username="logged-user"', log)  # debug logging was on
        for secret in (TOKEN, SECOND_TOKEN, WRONG_TOKEN, "Bearer"):
            self.assertNotIn(secret, log)


class BadTokenFiles(unittest.TestCase):
    def start(self, path):
        return cqmux_server.run([os.environ["CQMUX_SERVER"], "--listen=127.0.0.1:0", "--metrics-listen=",
                                 "--auth-tokens=" + path], timeout=60)

    def test_unreadable_empty_or_malformed_files_stop_the_server(self):
        missing = os.path.join(TMP.name, "no-such-file")
        r = self.start(missing)
        self.assertEqual(r.returncode, 1)
        self.assertIn('cannot read --auth-tokens file "%s"' % missing, r.stderr)
        r = self.start(write("empty", "# nothing but comments\n\n"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("has no token", r.stderr)
        r = self.start(write("spaced", "good-one\nsecret with spaces\n"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("line 2: a token is printable ASCII without spaces", r.stderr)
        self.assertNotIn("secret", r.stderr)
        self.assertNotIn("good-one", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
