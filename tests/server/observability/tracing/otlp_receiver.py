"""Test receiver of OTLP/gRPC traces: a grpcio server implementing
opentelemetry.proto.collector.trace.v1.TraceService/Export with the official
opentelemetry-proto package's messages and stubs, keeping every span it is
sent with its resource. Used by tracing_e2e_test.py; `python otlp_receiver.py
PORT` runs it alone (e.g. as the live receiver of a benchmark)."""
import sys
import threading
import time
from concurrent import futures

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, address="127.0.0.1:0", keep=True):
        self._lock = threading.Condition()
        self._keep = keep  # False: only count (a long benchmark run)
        self.spans = []  # (resource attributes as a dict, Span)
        self.counted = 0
        self.requests = 0
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self, self._server)
        self.port = self._server.add_insecure_port(address)
        if self.port == 0:
            raise RuntimeError("cannot bind " + address)

    def Export(self, request, context):
        with self._lock:
            self.requests += 1
            if not self._keep:
                self.counted += sum(len(ss.spans) for rs in request.resource_spans
                                    for ss in rs.scope_spans)
                return trace_service_pb2.ExportTraceServiceResponse()
            for resource_spans in request.resource_spans:
                resource = {kv.key: value_of(kv.value)
                            for kv in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append((resource, span))
            self._lock.notify_all()
        return trace_service_pb2.ExportTraceServiceResponse()

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
        self._server.start()
        return self

    def stop(self):
        self._server.stop(grace=None).wait()


def value_of(any_value):
    """The Python value of an OTLP AnyValue (the kinds cqmux sends)."""
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


if __name__ == "__main__":
    receiver = Receiver("127.0.0.1:%s" % (sys.argv[1] if len(sys.argv) > 1 else "4317"),
                        keep=False).start()
    print("OTLP/gRPC receiver on port %d" % receiver.port, flush=True)
    try:
        while True:
            time.sleep(10)
            print("%d spans in %d requests" % (receiver.counted, receiver.requests),
                  flush=True)
    except KeyboardInterrupt:
        receiver.stop()
