"""Test helper: the real cqmux-server binary with its HTTP gateway on a free
port (--http-listen=127.0.0.1:0; the port is read from the server's log line
"http gateway listening on ... (port N)"), plus small HTTP helpers.

Runs in the build's venv; ctest sets CQMUX_SERVER and CQMUX_INTEROP_DIR."""
import http.client
import json
import os
import re
import sys
import time

sys.path.insert(0, os.environ["CQMUX_INTEROP_DIR"])
import cqmux_server  # noqa: E402

PORT_LINE = re.compile(r"http gateway listening on \S+ \(port (\d+)\)")


class HttpServer(cqmux_server.Server):
    """cqmux_server.Server plus `http_port`; `ssl_context` for HTTPS."""

    def __init__(self, extra_args=(), credentials=None, ssl_context=None):
        super().__init__(["--http-listen=127.0.0.1:0"] + list(extra_args), credentials)
        self.http_port = None
        self.ssl_context = ssl_context

    def start(self):
        super().start()
        # The line follows the gRPC side's readiness by microseconds: poll
        # the log for it (bounded), never a fixed sleep.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            match = PORT_LINE.search(self.log())
            if match:
                self.http_port = int(match.group(1))
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.01)
        raise RuntimeError("no HTTP port in the log:\n" + self.log())

    def connection(self, timeout=30):
        if self.ssl_context is not None:
            return http.client.HTTPSConnection("localhost", self.http_port, timeout=timeout,
                                               context=self.ssl_context)
        return http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)

    def request(self, method, path, body=None, headers=None):
        """One request on a new connection: (status, headers dict, body text)."""
        conn = self.connection()
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, \
                resp.read().decode("utf-8")
        finally:
            conn.close()

    def json(self, method, path, body=None, headers=None):
        """(status, parsed JSON body)."""
        status, _, text = self.request(method, path, body, headers)
        return status, json.loads(text) if text else None
