#!/usr/bin/env python3
"""TLS and mutual TLS through real gRPC calls: the cqmux-server binary with
--tls-cert/--tls-key (and --tls-client-ca), certificates made by openssl at
test time (certs.py), every service called with the cqmux CLI over TLS, mTLS
refusing clients without a certificate or with one of another CA, the server
certificate rotated by replacing its files (rename) with new connections
getting the new one without a restart, the flag errors, and cqmux-load over
TLS.

Run with the build's venv python (tests/interop/cqmux_server.py needs grpcio
and grpcio-health-checking); ctest sets CQMUX_SERVER, CQMUX_CLI,
CQMUX_INTEROP_DIR and, in builds with the bench tools, CQMUX_LOAD."""
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.environ["CQMUX_INTEROP_DIR"])
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cqmux_server  # noqa: E402
from certs import Certs  # noqa: E402

import grpc  # noqa: E402
from cqmux.pb import defs_pb2, defs_pb2_grpc  # noqa: E402

CLI = os.environ["CQMUX_CLI"]
LOAD = os.environ.get("CQMUX_LOAD")
CERTS = None


def setUpModule():
    global CERTS
    CERTS = Certs()


def tearDownModule():
    CERTS.cleanup()


def server_flags(cert="server.pem", key="server.key", client_ca=None):
    flags = ["--threads=2", "--password-hash=min", "--tls-cert=" + CERTS.path(cert),
             "--tls-key=" + CERTS.path(key)]
    if client_ca:
        flags.append("--tls-client-ca=" + CERTS.path(client_ca))
    return flags


def credentials(client=None):
    """grpc credentials trusting the test CA, with a client certificate of `client`."""
    if client is None:
        return grpc.ssl_channel_credentials(CERTS.read("ca.pem"))
    return grpc.ssl_channel_credentials(CERTS.read("ca.pem"), CERTS.read(client + ".key"),
                                        CERTS.read(client + ".pem"))


def tls_args(client=None):
    args = ["--tls-ca=" + CERTS.path("ca.pem")]
    if client:
        args += ["--tls-cert=" + CERTS.path(client + ".pem"),
                 "--tls-key=" + CERTS.path(client + ".key")]
    return args


def cli(server, *args, stdin=None):
    return cqmux_server.run([CLI, "--target=" + server.target] + list(args), stdin=stdin)


class EveryService:
    """Mixin: every service of the server through the CLI with self.args."""

    def call(self, *args, stdin=None):
        return cli(self.server, *(self.args + list(args)), stdin=stdin)

    def assert_every_service_answers(self, book_id):
        r = self.call("health")
        self.assertEqual((r.returncode, r.stdout), (0, "SERVING\n"), r.stderr)
        r = self.call("capitalize", "over", "tls")
        self.assertEqual((r.returncode, r.stdout), (0, "OVER TLS\n"), r.stderr)
        user = "tls-user-%d" % book_id
        r = self.call("users", "create", user, "--password-stdin", stdin="pw\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.call("--json", "users", "get", user)
        self.assertEqual(json.loads(r.stdout)["user"]["username"], user, r.stderr)
        r = self.call("books", "list")
        self.assertTrue(r.stdout.startswith("Server sent "), r.stderr)
        r = self.call("books", "get", "123")
        self.assertIn("A Tale of Two Cities", r.stdout, r.stderr)
        watch = subprocess.Popen([CLI, "--target=" + self.server.target] + self.args +
                                 ["--json", "books", "watch", "--count=1"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            # The CLI says when the server has registered the watch.
            self.assertEqual(watch.stderr.readline(), "watching for inserted books\n")
            r = self.call("books", "insert", str(book_id), "Secure Book", "TLS")
            self.assertEqual(r.returncode, 0, r.stderr)
            out, err = watch.communicate(timeout=30)
            self.assertEqual(watch.returncode, 0, err)
            self.assertEqual(json.loads(out.splitlines()[-1])["id"], book_id)
        finally:
            if watch.poll() is None:
                watch.kill()
                watch.wait()
        r = self.call("books", "delete", str(book_id))
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.call("displacement", "0", "0", "3", "4")
        self.assertEqual((r.returncode, r.stdout), (0, "distance: 5\n"), r.stderr)
        r = self.call("stream-state", "OK:fine", "TIRED:sleep")
        self.assertEqual((r.returncode, r.stdout), (0, "Sent 2 message(s).\n"), r.stderr)
        r = self.call("outliers", "detect", "--random=1000", "--seed=3")
        self.assertEqual((r.returncode, r.stdout), (0, "outliers at: [7 113 835]\n"), r.stderr)


class Tls(EveryService, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = cqmux_server.Server(server_flags(), credentials=credentials()).start()
        cls.args = tls_args()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop_cleanly()

    def test_startup_line_says_tls(self):
        self.assertIn("), tls, writes open,", self.server.log())

    def test_every_service(self):
        self.assert_every_service_answers(book_id=8101)

    def test_server_name(self):
        # 127.0.0.1 and localhost are both in the certificate; another name
        # fails unless the target name is overridden to one it carries.
        port = self.server.port
        # The name is resolved with getaddrinfo (GRPC_DNS_RESOLVER=native): gRPC
        # 1.51's c-ares resolver leaks a few bytes that LeakSanitizer reports in
        # the sanitizer build.
        r = cqmux_server.run([CLI, "--target=localhost:%d" % port] + self.args + ["health"],
                             env=dict(os.environ, GRPC_DNS_RESOLVER="native"))
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.call("--tls-server-name=localhost", "health")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.call("--tls-server-name=wrong.example", "--timeout=60s", "health")
        self.assertEqual(r.returncode, 1)
        self.assertIn("UNAVAILABLE", r.stderr)

    def test_plaintext_and_untrusted_clients_fail(self):
        # They fail as soon as the handshake does; the deadline is only a bound
        # (loading the system's roots takes seconds in a loaded sanitizer build).
        for args in ([], ["--tls"], ["--tls-ca=" + CERTS.path("other-ca.pem")]):
            r = cli(self.server, "--timeout=60s", *args, "health")
            self.assertEqual(r.returncode, 1, args)
            # (gRPC itself may log the failed handshake first.)
            self.assertRegex(r.stderr, r"(^|\n)Health check \(\): UNAVAILABLE: ", args)

    def test_cli_flag_errors(self):
        r = self.call("--tls-cert=" + CERTS.path("client.pem"), "health")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--tls-cert needs --tls-key", r.stderr)
        r = cli(self.server, "--tls-server-name=localhost", "health")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--tls-server-name needs --tls", r.stderr)
        r = cli(self.server, "--tls-ca=/no/such/ca.pem", "health")
        self.assertEqual(r.returncode, 2)
        self.assertIn('--tls-ca: cannot read "/no/such/ca.pem"', r.stderr)

    @unittest.skipUnless(LOAD, "cqmux-load is not built (CQMUX_BUILD_BENCH=OFF)")
    def test_load_over_tls(self):
        r = cqmux_server.run([LOAD, "--target=" + self.server.target, "--requests=300",
                              "--warmup=0s", "--concurrency=8", "--connections=2",
                              "--progress=false", "--json"] + self.args)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        report = json.loads(r.stdout)
        self.assertEqual((report["transport"], report["ok"]), ("tls", 300))
        # Plaintext: the TCP connection opens, every call fails.
        r = cqmux_server.run([LOAD, "--target=" + self.server.target, "--requests=10",
                              "--warmup=0s", "--progress=false", "--json"])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        report = json.loads(r.stdout)
        self.assertEqual((report["transport"], report["ok"]), ("plaintext", 0))


class MutualTls(EveryService, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = cqmux_server.Server(server_flags(client_ca="ca.pem"),
                                         credentials=credentials("client")).start()
        cls.args = tls_args("client")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop_cleanly()

    def test_startup_line_says_mtls(self):
        self.assertIn("), mtls, writes open,", self.server.log())

    def test_every_service_with_the_right_client_certificate(self):
        self.assert_every_service_answers(book_id=8201)

    def test_refuses_clients_without_a_certificate_of_the_ca(self):
        for args in (tls_args(), tls_args("other-client"), []):
            r = cli(self.server, "--timeout=60s", *args, "capitalize", "x")
            self.assertEqual(r.returncode, 1, args)
            self.assertRegex(r.stderr, r"(^|\n)Capitalize: UNAVAILABLE: ", args)
        # The same through grpcio: the handshake fails, no call is served.
        for creds in (credentials(), credentials("other-client")):
            with grpc.secure_channel(self.server.target, creds) as channel:
                with self.assertRaises(grpc.RpcError) as e:
                    defs_pb2_grpc.FetchStub(channel).Capitalize(defs_pb2.Payload(data=b"x"),
                                                                timeout=30)
                self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)
        # And the right certificate still works.
        r = self.call("capitalize", "x")
        self.assertEqual((r.returncode, r.stdout), (0, "X\n"), r.stderr)

    @unittest.skipUnless(LOAD, "cqmux-load is not built (CQMUX_BUILD_BENCH=OFF)")
    def test_load_over_mtls(self):
        r = cqmux_server.run([LOAD, "--target=" + self.server.target, "--requests=200",
                              "--warmup=0s", "--concurrency=4", "--progress=false", "--json",
                              "--scenario=displacement"] + self.args)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(json.loads(r.stdout)["transport"], "mtls")


def peer_certificate(port):
    """The DER certificate a new TLS connection to 127.0.0.1:port is shown."""
    context = ssl.create_default_context(cafile=CERTS.path("ca.pem"))
    context.set_alpn_protocols(["h2"])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with context.wrap_socket(sock, server_hostname="localhost") as tls:
            return tls.getpeercert(binary_form=True)


def der(pem_path):
    with open(pem_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


class Rotation(unittest.TestCase):
    ROTATION_TIMEOUT_S = 30.0  # --tls-refresh=1s; generous for sanitizer builds

    def test_new_connections_get_the_new_certificate_without_a_restart(self):
        live = os.path.join(CERTS.dir, "live")
        os.makedirs(live)
        cert, key = os.path.join(live, "cert.pem"), os.path.join(live, "key.pem")
        shutil.copy(CERTS.path("server.pem"), cert)
        shutil.copy(CERTS.path("server.key"), key)
        new_cert, new_key = CERTS.new_server("server2")
        self.assertNotEqual(der(new_cert), der(cert))
        flags = ["--threads=1", "--tls-cert=" + cert, "--tls-key=" + key, "--tls-refresh=1s"]
        with cqmux_server.Server(flags, credentials=credentials()) as server:
            self.assertEqual(peer_certificate(server.port), der(CERTS.path("server.pem")))
            # A connection opened before the rotation.
            before = grpc.secure_channel(server.target, credentials())
            stub = defs_pb2_grpc.FetchStub(before)
            self.assertEqual(stub.Capitalize(defs_pb2.Payload(data=b"a"), timeout=10).data, b"A")

            # Replace both files atomically (each a rename within the directory).
            for src, dst in ((new_key, key), (new_cert, cert)):
                shutil.copy(src, dst + ".tmp")
                os.rename(dst + ".tmp", dst)
            pid = server.proc.pid
            deadline = time.monotonic() + self.ROTATION_TIMEOUT_S
            seen = None
            while time.monotonic() < deadline:  # bounded: until the refresh has happened
                try:
                    seen = peer_certificate(server.port)
                except (ssl.SSLError, OSError):
                    seen = None  # key and certificate read between the two renames
                if seen == der(new_cert):
                    break
                time.sleep(0.1)
            self.assertEqual(seen, der(new_cert), "the server still shows the old certificate")
            self.assertEqual(server.proc.pid, pid)
            self.assertIsNone(server.proc.poll())  # same process, no restart

            # New gRPC connections work with the new certificate...
            r = cli(server, *tls_args(), "capitalize", "rotated")
            self.assertEqual((r.returncode, r.stdout), (0, "ROTATED\n"), r.stderr)
            # ...and the connection from before still does.
            self.assertEqual(stub.Capitalize(defs_pb2.Payload(data=b"b"), timeout=10).data, b"B")
            before.close()


class FlagErrors(unittest.TestCase):
    def start(self, *flags):
        return cqmux_server.run([os.environ["CQMUX_SERVER"], "--listen=127.0.0.1:0", "--metrics-listen="]
                                + list(flags),
                                timeout=60)

    def assert_fails(self, flags, message):
        r = self.start(*flags)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(message, r.stderr)
        self.assertNotIn("listening", r.stderr + r.stdout)
        return r

    def test_help_explains_the_tls_flags(self):
        r = self.start("--help")
        self.assertEqual(r.returncode, 0)
        for flag in ("--tls-cert", "--tls-key", "--tls-client-ca", "--tls-refresh",
                     "--auth-tokens"):
            self.assertIn("  %s (default: " % flag, r.stdout)

    def test_inconsistent_or_unusable_tls_flags(self):
        cert, key, ca = CERTS.path("server.pem"), CERTS.path("server.key"), CERTS.path("ca.pem")
        self.assert_fails(["--tls-cert=" + cert], "--tls-cert needs --tls-key")
        self.assert_fails(["--tls-key=" + key], "--tls-key needs --tls-cert")
        self.assert_fails(["--tls-client-ca=" + ca], "--tls-client-ca needs --tls-cert and --tls-key")
        self.assert_fails(["--tls-cert=/no/such.pem", "--tls-key=" + key],
                          '--tls-cert: cannot read "/no/such.pem"')
        r = self.assert_fails(["--tls-cert=" + cert, "--tls-key=" + cert],
                              "--tls-key: \"%s\" holds no PEM PRIVATE KEY" % cert)
        self.assertNotIn("BEGIN CERTIFICATE", r.stderr)  # names the file, never its content
        self.assert_fails(["--tls-cert=" + key, "--tls-key=" + key],
                          "holds no PEM CERTIFICATE")
        self.assert_fails(["--tls-cert=" + cert, "--tls-key=" + key, "--tls-client-ca=/no/ca.pem"],
                          '--tls-client-ca: cannot read "/no/ca.pem"')
        self.assert_fails(["--tls-cert=" + cert, "--tls-key=" + key, "--tls-refresh=500ms"],
                          "--tls-refresh must be at least 1s")


if __name__ == "__main__":
    unittest.main(verbosity=2)
