"""Test receiver of OTLP/HTTP traces with protobuf bodies: an HTTP/1.1 server
(Python's http.server, keep-alive) taking POST /v1/traces, decoding the body
with the official opentelemetry-proto package's ExportTraceServiceRequest and
answering an ExportTraceServiceResponse, as the OTLP specification's HTTP
transport says; it keeps every span it is sent with its resource. Used by
tracing_e2e_test.py; `python otlp_receiver.py PORT` runs it alone (e.g. as the
live receiver of a benchmark, counting spans without keeping them)."""
import http.server
import sys
import threading
import time

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

PATH = "/v1/traces"
CONTENT_TYPE = "application/x-protobuf"


class Receiver:
    def __init__(self, address="127.0.0.1:0", keep=True):
        self._lock = threading.Condition()
        self._keep = keep  # False: only count (a long benchmark run)
        self.spans = []  # (resource attributes as a dict, Span)
        self.counted = 0
        self.requests = 0
        self.rejected = []  # (path, content type) of requests not taken
        host, port = address.rsplit(":", 1)
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as collectors do

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                content_type = self.headers.get("Content-Type", "")
                if self.path != PATH or content_type != CONTENT_TYPE:
                    with receiver._lock:
                        receiver.rejected.append((self.path, content_type))
                    self.answer(404 if self.path != PATH else 415, b"")
                    return
                request = trace_service_pb2.ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver.take(request)
                self.answer(200, trace_service_pb2.ExportTraceServiceResponse()
                            .SerializeToString())

            def answer(self, code, body):
                self.send_response(code)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer((host, int(port)), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def take(self, request):
        with self._lock:
            self.requests += 1
            if not self._keep:
                self.counted += sum(len(ss.spans) for rs in request.resource_spans
                                    for ss in rs.scope_spans)
                return
            for resource_spans in request.resource_spans:
                resource = {kv.key: value_of(kv.value)
                            for kv in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append((resource, span))
            self._lock.notify_all()

    def wait_for(self, count, timeout):
        """True once at least `count` spans arrived, False after `timeout` s."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.spans) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
            return True

    def snapshot(self):
        with self._lock:
            return list(self.spans)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()


def value_of(any_value):
    """The Python value of an OTLP AnyValue (the kinds cqmux sends)."""
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


if __name__ == "__main__":
    receiver = Receiver("127.0.0.1:%s" % (sys.argv[1] if len(sys.argv) > 1 else "4318"),
                        keep=False).start()
    print("OTLP/HTTP receiver on port %d" % receiver.port, flush=True)
    try:
        while True:
            time.sleep(10)
            print("%d spans in %d requests" % (receiver.counted, receiver.requests),
                  flush=True)
    except KeyboardInterrupt:
        pass
