"""Test helper: runs the real cqmux-server binary on a free 127.0.0.1 port.

Runs in the build's Python venv (CQMUX_VENV_PYTHON, see
client/python/CMakeLists.txt), which has grpcio and grpcio-health-checking.
The binary comes from the environment that ctest sets (see
tests/interop/CMakeLists.txt):
  CQMUX_SERVER       path of cqmux-server
Servers keep their books and users in memory (--store=memory) unless the
test passes --store or --data-dir itself: no test writes to the default data
directory. Readiness is observed through grpc.health.v1 (channel connectivity, then a
Check that waits for readiness), never by sleeping a fixed time.
"""
import os
import signal
import socket
import subprocess
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

STARTUP_TIMEOUT_S = 60.0
SHUTDOWN_TIMEOUT_S = 60.0


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """Context manager: `with Server() as server: server.target`. For a server
    that serves TLS (extra_args with --tls-cert ...), `credentials` are the
    grpc.ChannelCredentials the readiness check connects with."""

    def __init__(self, extra_args=(), credentials=None):
        self.binary = os.environ["CQMUX_SERVER"]
        self.extra_args = list(extra_args)
        if not any(a.startswith(("--store", "--data-dir", "--data_dir")) for a in self.extra_args):
            self.extra_args.insert(0, "--store=memory")
        self.credentials = credentials
        self.proc = None
        self.port = None
        self.log_path = None

    @property
    def target(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        # A port found free can be taken before the server binds it: retry.
        for _ in range(3):
            self.port = free_port()
            self.log_path = os.path.join(
                os.environ.get("TMPDIR", "/tmp"), "cqmux-server-%d-%d.log" % (os.getpid(), self.port))
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen(
                    # No metrics listener unless extra_args asks for one (the
                    # last --metrics-listen wins): parallel tests' servers
                    # would all want the default port.
                    [self.binary, "--listen=" + self.target, "--metrics-listen="]
                    + self.extra_args,
                    stdout=log, stderr=subprocess.STDOUT)
            if self._wait_serving():
                return self
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
        raise RuntimeError("cqmux-server did not start; log:\n" + self.log())

    def _wait_serving(self):
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        if self.credentials is None:
            channel = grpc.insecure_channel(self.target)
        else:
            channel = grpc.secure_channel(self.target, self.credentials)
        with channel:
            ready = grpc.channel_ready_future(channel)
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    return False
                try:
                    # Returns as soon as the channel connects; the bound only
                    # lets us notice a server that died meanwhile.
                    ready.result(timeout=0.5)
                    break
                except grpc.FutureTimeoutError:
                    continue
            else:
                self.proc.kill()
                return False
            stub = health_pb2_grpc.HealthStub(channel)
            reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=10, wait_for_ready=True)
            return reply.status == health_pb2.HealthCheckResponse.SERVING

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        """SIGTERM, then require a clean exit (status 0) within the bound."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        if code == 0:  # keep the log only when it may explain a failure
            os.unlink(self.log_path)
        return code

    def stop_cleanly(self):
        """stop(), failing unless the server exited 0. For a module-wide server:
        setUpModule = SERVER.start; tearDownModule = SERVER.stop_cleanly."""
        code = self.stop()
        assert code == 0, "cqmux-server exited with %s:\n%s" % (code, self.log())

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        code = self.stop()
        if exc[0] is None and code != 0:
            raise AssertionError("cqmux-server exited with %s; log:\n%s" % (code, self.log()))


def run(args, stdin=None, timeout=60, env=None):
    """Runs a client process; returns CompletedProcess with text output."""
    return subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=timeout,
                          env=env)


class LineReader:
    """Collects a long-running process's stdout lines on a thread, so a test
    can wait (bounded) for a given line without blocking on the pipe."""

    def __init__(self, proc):
        import queue
        import threading
        self.proc = proc
        self.lines = []
        self._queue = queue.Queue()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self):
        for line in self.proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, predicate, timeout):
        """Returns True once a line satisfies predicate, False on timeout/EOF."""
        import queue
        deadline = time.monotonic() + timeout
        for line in self.lines:
            if predicate(line):
                return True
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                return False
            if line is None:
                return False
            self.lines.append(line)
            if predicate(line):
                return True

    def text(self):
        return "".join(self.lines)

    def close(self, timeout=30):
        """After the process has ended: waits for the last lines and closes its pipes."""
        self._thread.join(timeout)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
