#!/usr/bin/env python3
"""The real cqmux-server binary scraped by a real Prometheus server (Debian's
`prometheus` 2.42), each started here on free 127.0.0.1 ports in a temporary
directory: a known number of calls of each kind (unary OK and errors, a call
rejected by the message limit, a server stream, a client stream) through
grpcio, then Prometheus' HTTP API must report exactly those counts, from a
scrape taken after the server itself had counted them; plus `up`, process_*
and cqmux_* metrics.

Waits poll (the server's /metrics, Prometheus' readiness and its query API)
with deadlines; nothing sleeps a fixed time. Prometheus is stopped by its PID
and its directory removed, whatever happens; the machine's own Prometheus (if
any) is never used.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

import grpc

sys.path.insert(0, os.environ["CQMUX_INTEROP_DIR"])
import cqmux_server  # noqa: E402
from cqmux.pb import (books_pb2, books_pb2_grpc, defs_pb2, defs_pb2_grpc,  # noqa: E402
                      request_streaming_pb2, request_streaming_pb2_grpc,
                      users_pb2_grpc, users_types_pb2)

PROMETHEUS = os.environ.get("CQMUX_PROMETHEUS", "/usr/bin/prometheus")
DEADLINE_S = 120.0

# The calls this test makes.
CAPITALIZE_OK = 7
CAPITALIZE_TOO_LARGE = 2   # over --max-message-bytes: RESOURCE_EXHAUSTED
BOOKS_NOT_FOUND = 3
USERS_STREAMED = 4         # GetUsers results in one server stream
STATES_SENT = 5            # messages of one client stream


def http_get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def wait_for(what, predicate, deadline_s=DEADLINE_S):
    """Polls predicate() (truthy result returned) until the deadline."""
    deadline = time.monotonic() + deadline_s
    last_error = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except OSError as e:  # not listening yet
            last_error = e
        time.sleep(0.05)  # poll interval, not a synchronisation
    raise AssertionError("timed out waiting for %s (last error: %s)" % (what, last_error))


class Prometheus:
    """A private Prometheus 2.42 scraping `target` every second."""

    def __init__(self, target):
        self.dir = tempfile.mkdtemp(prefix="cqmux-prometheus-")
        self.proc = None
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: cqmux\n    scrape_interval: 1s\n"
                    "    static_configs:\n      - targets: ['%s']\n" % target)
        self.log_path = os.path.join(self.dir, "prometheus.log")
        for _ in range(3):  # a free port can be taken before Prometheus binds it
            self.port = cqmux_server.free_port()
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen(
                    [PROMETHEUS, "--config.file=" + config,
                     "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
                     "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                wait_for("Prometheus to be ready", self._ready, 60)
                return
            except AssertionError:
                self.stop()
        raise RuntimeError("Prometheus did not start; log:\n" + self.log())

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError("Prometheus exited:\n" + self.log())
        return "Ready" in http_get("http://127.0.0.1:%d/-/ready" % self.port, timeout=2)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def query(self, expr):
        """[(labels, evaluation time, value)] of an instant query."""
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (
            self.port, urllib.parse.urlencode({"query": expr}))
        reply = json.loads(http_get(url))
        assert reply["status"] == "success", reply
        return [(r["metric"], float(r["value"][0]), float(r["value"][1]))
                for r in reply["data"]["result"]]

    def value(self, expr):
        result = self.query(expr)
        assert len(result) == 1, "%s: %s" % (expr, result)
        return result[0][2]

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def remove(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def series(method, service, grpc_type, code=None):
    labels = 'job="cqmux",grpc_service="%s",grpc_method="%s",grpc_type="%s"' % (
        service, method, grpc_type)
    if code is not None:
        labels += ',grpc_code="%s"' % code
    return "{" + labels + "}"


class RealPrometheusTest(unittest.TestCase):
    def setUp(self):
        self.server = cqmux_server.Server(
            ["--metrics-listen=127.0.0.1:0", "--max-message-bytes=1024", "--password-hash=min",
             "--threads=2"])
        self.server.start()
        self.addCleanup(self.server.stop_cleanly)
        log = self.server.log()
        marker = "metrics at http://127.0.0.1:"
        self.assertIn(marker, log)
        self.metrics_port = int(log.split(marker, 1)[1].split("/", 1)[0])
        self.prometheus = Prometheus("127.0.0.1:%d" % self.metrics_port)
        self.addCleanup(self.prometheus.remove)

    def make_calls(self):
        with grpc.insecure_channel(self.server.target) as channel:
            fetch = defs_pb2_grpc.FetchStub(channel)
            for i in range(CAPITALIZE_OK):
                self.assertEqual(fetch.Capitalize(defs_pb2.Payload(id=i, data=b"abc"),
                                                  timeout=30).data, b"ABC")
            for _ in range(CAPITALIZE_TOO_LARGE):
                with self.assertRaises(grpc.RpcError) as e:
                    fetch.Capitalize(defs_pb2.Payload(data=b"x" * 2048), timeout=30)
                self.assertEqual(e.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
            books = books_pb2_grpc.BookServiceStub(channel)
            for _ in range(BOOKS_NOT_FOUND):
                with self.assertRaises(grpc.RpcError) as e:
                    books.Get(books_pb2.BookIdRequest(id=404), timeout=30)
                self.assertEqual(e.exception.code(), grpc.StatusCode.NOT_FOUND)
            users = users_pb2_grpc.UsersStub(channel)
            created = users.CreateUser(users_types_pb2.CreateUserRequest(
                username="ann", password="correct horse", email="ann@example.com"), timeout=30)
            results = list(users.GetUsers(users_types_pb2.GetUsersRequest(
                user=[created.user] * USERS_STREAMED), timeout=30))
            self.assertEqual(len(results), USERS_STREAMED)
            states = request_streaming_pb2_grpc.RequestStreamingStub(channel)
            states.stream_state(iter([request_streaming_pb2.Data(
                status=request_streaming_pb2.TIRED, info="sleep")] * STATES_SENT), timeout=30)

    def server_counted(self):
        """The server's own /metrics shows the last call's end."""
        text = http_get("http://127.0.0.1:%d/metrics" % self.metrics_port)
        return ('grpc_server_handled_total{grpc_type="client_stream",grpc_service='
                '"my_package.RequestStreaming",grpc_method="stream_state",grpc_code="OK"} 1'
                in text)

    def test_prometheus_sees_exact_counts(self):
        p = self.prometheus
        # Prometheus has scraped cqmux at least once, before any call.
        wait_for("a first scrape", lambda: [r for r in p.query('up{job="cqmux"}') if r[2] == 1])
        self.make_calls()
        # The server counts a call when it has fully ended, a moment after the
        # client got its answer: wait until it has, then for a scrape after that.
        wait_for("the server to count the calls", self.server_counted)
        counted_at = time.time()
        started = 'grpc_server_started_total' + series("Capitalize", "rpc.Fetch", "unary")
        # timestamp() is the time of the scrape that produced the latest
        # sample (an instant query's own timestamp is only its evaluation time).
        wait_for("a scrape after the calls",
                 lambda: [r for r in p.query("timestamp(%s)" % started) if r[2] > counted_at])

        cap = ("Capitalize", "rpc.Fetch", "unary")
        self.assertEqual(p.value("grpc_server_started_total" + series(*cap)),
                         CAPITALIZE_OK + CAPITALIZE_TOO_LARGE)
        self.assertEqual(p.value("grpc_server_handled_total" + series(*cap, code="OK")),
                         CAPITALIZE_OK)
        self.assertEqual(p.value("grpc_server_handled_total" + series(*cap, code="ResourceExhausted")),
                         CAPITALIZE_TOO_LARGE)
        self.assertEqual(p.value("grpc_server_msg_received_total" + series(*cap)),
                         CAPITALIZE_OK + CAPITALIZE_TOO_LARGE)
        self.assertEqual(p.value("grpc_server_msg_sent_total" + series(*cap)), CAPITALIZE_OK)
        self.assertEqual(p.value("grpc_server_handling_seconds_count" + series(*cap)),
                         CAPITALIZE_OK + CAPITALIZE_TOO_LARGE)
        self.assertEqual(
            p.value('grpc_server_handling_seconds_bucket{job="cqmux",grpc_method="Capitalize",le="+Inf"}'),
            CAPITALIZE_OK + CAPITALIZE_TOO_LARGE)
        # Every code is there from the start (go-grpc-prometheus' InitializeMetrics).
        self.assertEqual(p.value("grpc_server_handled_total" + series(*cap, code="DataLoss")), 0)
        self.assertEqual(len(p.query('grpc_server_handled_total{job="cqmux",grpc_method="Capitalize"}')),
                         17)

        get = ("Get", "books.BookService", "unary")
        self.assertEqual(p.value("grpc_server_handled_total" + series(*get, code="NotFound")),
                         BOOKS_NOT_FOUND)
        self.assertEqual(p.value("grpc_server_msg_sent_total" + series(*get)), 0)

        get_users = ("GetUsers", "Users", "server_stream")
        self.assertEqual(p.value("grpc_server_started_total" + series(*get_users)), 1)
        self.assertEqual(p.value("grpc_server_msg_received_total" + series(*get_users)), 1)
        self.assertEqual(p.value("grpc_server_msg_sent_total" + series(*get_users)), USERS_STREAMED)
        self.assertEqual(p.value("grpc_server_handled_total" + series(*get_users, code="OK")), 1)

        states = ("stream_state", "my_package.RequestStreaming", "client_stream")
        self.assertEqual(p.value("grpc_server_msg_received_total" + series(*states)), STATES_SENT)
        self.assertEqual(p.value("grpc_server_msg_sent_total" + series(*states)), 1)
        self.assertEqual(p.value("grpc_server_handled_total" + series(*states, code="OK")), 1)

        # cqmux's own and the process metrics. The readiness check of the
        # test helper made one health Check call before everything above.
        total = (CAPITALIZE_OK + CAPITALIZE_TOO_LARGE + BOOKS_NOT_FOUND + 1 + 1 + 1 + 1)
        self.assertEqual(p.value('sum(grpc_server_started_total{job="cqmux"})'), total)
        self.assertEqual(p.value('sum(cqmux_queue_calls_total{job="cqmux"})'), total)
        self.assertEqual(len(p.query('cqmux_queue_calls_total{job="cqmux"}')), 2)
        self.assertEqual(p.value('cqmux_users_stored{job="cqmux"}'), 1)
        self.assertEqual(p.value('cqmux_books_stored{job="cqmux"}'), 1)
        self.assertGreater(p.value('process_resident_memory_bytes{job="cqmux"}'), 1 << 20)
        self.assertGreater(p.value('process_open_fds{job="cqmux"}'), 3)
        self.assertGreater(p.value('process_cpu_seconds_total{job="cqmux"}'), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
