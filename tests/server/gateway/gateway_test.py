#!/usr/bin/env python3
"""The HTTP/JSON gateway through real HTTP against the cqmux-server binary
(--http-listen=127.0.0.1:0): every route's success and error paths (404, 400
for malformed JSON / unknown fields / bad ids, 409, 429 for capacity and
bodies over the limit, 431, 401 without a token under --auth-tokens, 405,
503 over the connection limit), the NDJSON users stream, the SSE watch
receiving inserts made through gRPC and through HTTP, keep-alive reuse, the
OpenAPI document (every route it lists answers as documented, and it lists
every route), HTTPS with the gRPC certificate, and graceful shutdown ending
an open watch.

Run with the build's venv python; ctest sets CQMUX_SERVER, CQMUX_INTEROP_DIR
and CQMUX_SOURCE_DIR."""
import base64
import json
import os
import socket
import ssl
import struct
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.environ["CQMUX_SOURCE_DIR"], "tests", "server", "security"))
from http_server import HttpServer  # noqa: E402
from certs import Certs  # noqa: E402

import grpc  # noqa: E402
from cqmux.pb import books_pb2, books_pb2_grpc  # noqa: E402

SOURCE = os.environ["CQMUX_SOURCE_DIR"]
SERVER = HttpServer(["--password-hash=min", "--threads=2"])


def setUpModule():
    SERVER.start()


def tearDownModule():
    SERVER.stop_cleanly()


def tutorial_values():
    """bench/load/tutorial_values.txt: the tutorial's 1,000 values as hex bits."""
    with open(os.path.join(SOURCE, "bench", "load", "tutorial_values.txt")) as f:
        return [struct.unpack(">d", bytes.fromhex(line.strip()))[0] for line in f if line.strip()]


def read_event(resp):
    """The next Server-Sent Event's data (comments skipped), or None at EOF."""
    data = []
    while True:
        line = resp.fp.readline()
        if not line:
            return None
        line = line.decode("utf-8").rstrip("\r\n")
        if line == "":
            if data:
                return "\n".join(data)
            continue
        if line.startswith("data: "):
            data.append(line[6:])


class Books(unittest.TestCase):
    def test_list_get_insert_delete(self):
        status, body = SERVER.json("GET", "/v1/books/123")
        self.assertEqual((status, body),
                         (200, {"id": 123, "title": "A Tale of Two Cities",
                                "author": "Charles Dickens"}))
        status, body = SERVER.json("POST", "/v1/books",
                                   {"id": 4101, "title": "Dune", "author": "Frank Herbert"})
        self.assertEqual((status, body), (200, {}))
        status, body = SERVER.json("GET", "/v1/books")
        self.assertEqual(status, 200)
        self.assertIn({"id": 4101, "title": "Dune", "author": "Frank Herbert"}, body["books"])
        status, body = SERVER.json("POST", "/v1/books", {"id": 4101, "title": "Again", "author": "X"})
        self.assertEqual((status, body["code"]), (409, 6))
        self.assertIn("4101", body["message"])
        self.assertEqual(SERVER.json("DELETE", "/v1/books/4101"), (200, {}))
        status, body = SERVER.json("GET", "/v1/books/4101")
        self.assertEqual((status, body), (404, {"code": 5, "message": "No book with id 4101 was found"}))
        self.assertEqual(SERVER.json("DELETE", "/v1/books/4101")[0], 404)

    def test_proto_field_names_are_accepted_and_camel_case_printed(self):
        status, _ = SERVER.json("POST", "/v1/users",
                                {"username": "camel", "password": "pw", "email": "c@x.org"})
        self.assertEqual(status, 200)
        status, _, text = SERVER.request("GET", "/v1/users?username=camel")
        self.assertIn('"userId"', text)

    def test_bad_requests_are_400_with_a_useful_message(self):
        status, body = SERVER.json("POST", "/v1/books", '{"id": 5,')
        self.assertEqual((status, body["code"]), (400, 3))
        self.assertIn("invalid JSON for books.Book", body["message"])
        status, body = SERVER.json("POST", "/v1/books", {"id": 5, "isbn": "123"})
        self.assertEqual((status, body),
                         (400, {"code": 3, "message": 'unknown field "isbn" in books.Book'}))
        status, body = SERVER.json("POST", "/v1/displacement", {"start": {"x": 1, "z": 2}})
        self.assertEqual(body["message"], 'unknown field "start.z" in my_package.Displacement')
        status, body = SERVER.json("POST", "/v1/books", {"id": "seven"})
        self.assertEqual((status, body["code"]), (400, 3))
        status, body = SERVER.json("POST", "/v1/books", "[1, 2]")
        self.assertEqual((status, body["code"]), (400, 3))
        status, body = SERVER.json("GET", "/v1/books/abc")
        self.assertEqual((status, body["message"]), (400, 'book id must be an integer, not "abc"'))
        status, body = SERVER.json("POST", "/v1/books", {"id": 9, "title": "", "author": "A"})
        self.assertEqual((status, body["code"]), (400, 3))  # the service's own validation
        status, body = SERVER.json("GET", "/v1/books", headers={"Grpc-Timeout": "soon"})
        self.assertEqual(status, 400)

    def test_unknown_path_is_404_and_wrong_method_405(self):
        status, body = SERVER.json("GET", "/v1/nothing")
        self.assertEqual((status, body["code"]), (404, 5))
        status, body = SERVER.json("PUT", "/v1/books")
        self.assertEqual((status, body["code"]), (405, 12))

    def test_body_over_the_limit_is_429_before_it_is_sent(self):
        # Headers only: the server answers from Content-Length alone, without
        # waiting for (or reading) 5 MB.
        with socket.create_connection(("127.0.0.1", SERVER.http_port), timeout=30) as s:
            s.sendall(b"POST /v1/fetch:capitalize HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 5000000\r\n\r\n")
            reply = recv_all(s)
        head, _, body = reply.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 429 "), head)
        self.assertEqual(json.loads(body)["code"], 8)
        self.assertIn("larger than 4194304 bytes", json.loads(body)["message"])

    def test_headers_over_the_limit_are_431(self):
        status, _, _ = SERVER.request("GET", "/v1/books", headers={"X-Big": "a" * 20000})
        self.assertEqual(status, 431)

    def test_keep_alive_reuses_one_connection(self):
        conn = SERVER.connection()
        try:
            conn.request("GET", "/v1/books/123")
            conn.getresponse().read()
            sock = conn.sock
            local = sock.getsockname()
            for path in ("/v1/books", "/healthz", "/v1/books/123", "/v1/nothing"):
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                self.assertNotEqual(resp.getheader("Connection"), "close")
                self.assertIs(conn.sock, sock)  # http.client would reconnect otherwise
            self.assertEqual(conn.sock.getsockname(), local)
        finally:
            conn.close()


def recv_all(sock):
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


class Watch(unittest.TestCase):
    def test_sse_receives_inserts_made_through_grpc_and_http(self):
        conn = SERVER.connection()
        try:
            conn.request("GET", "/v1/books:watch")
            # The headers arrive before any book: the client knows it is live.
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.getheader("Content-Type"), "text/event-stream")
            with grpc.insecure_channel(SERVER.target) as channel:
                books_pb2_grpc.BookServiceStub(channel).Insert(
                    books_pb2.Book(id=4201, title="Via gRPC", author="G"), timeout=10)
            self.assertEqual(json.loads(read_event(resp)),
                             {"id": 4201, "title": "Via gRPC", "author": "G"})
            self.assertEqual(SERVER.json("POST", "/v1/books",
                                         {"id": 4202, "title": "Via HTTP", "author": "H"})[0], 200)
            self.assertEqual(json.loads(read_event(resp)),
                             {"id": 4202, "title": "Via HTTP", "author": "H"})
        finally:
            conn.close()


class Users(unittest.TestCase):
    def test_create_and_stream_several(self):
        ids = {}
        for name in ("ann", "ben"):
            status, body = SERVER.json("POST", "/v1/users",
                                       {"username": name, "password": "secret", "email": name + "@x.org"})
            self.assertEqual(status, 200, body)
            self.assertEqual(body["user"]["username"], name)
            ids[name] = body["user"]["userId"]
        status, body = SERVER.json("POST", "/v1/users",
                                   {"username": "ann", "password": "p", "email": "a@x.org"})
        self.assertEqual((status, body["code"]), (409, 6))
        status, body = SERVER.json("POST", "/v1/users",
                                   {"username": "cy", "password": "p", "email": "not-an-email"})
        self.assertEqual((status, body["code"]), (400, 3))

        conn = SERVER.connection()
        try:
            conn.request("GET", "/v1/users?username=ann&user_id=%d&username=zed" % ids["ben"])
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.getheader("Content-Type"), "application/x-ndjson")
            self.assertEqual(resp.getheader("Transfer-Encoding"), "chunked")
            lines = [json.loads(line) for line in resp.read().decode().splitlines()]
        finally:
            conn.close()
        self.assertEqual(lines, [
            {"result": {"user": {"username": "ann", "userId": ids["ann"]}}},
            {"result": {"user": {"username": "ben", "userId": ids["ben"]}}},
            {"error": {"code": 5, "message": 'No user with username "zed" was found'}},
        ])
        status, body = SERVER.json("GET", "/v1/users?nickname=x")
        self.assertEqual((status, body["code"]), (400, 3))
        status, body = SERVER.json("GET", "/v1/users")
        self.assertEqual((status, body["code"]), (400, 3))


class Unary(unittest.TestCase):
    def test_capitalize_and_displacement(self):
        data = base64.b64encode(b"hello, world").decode()
        status, body = SERVER.json("POST", "/v1/fetch:capitalize", {"id": 7, "data": data})
        self.assertEqual((status, body), (200, {"id": 7, "data": base64.b64encode(b"HELLO, WORLD").decode()}))
        status, body = SERVER.json("POST", "/v1/displacement",
                                   {"start": {"x": 0, "y": 0}, "end": {"x": 3, "y": 4}})
        self.assertEqual((status, body), (200, {"distance": 5}))

    def test_detect_small_and_offloaded(self):
        values = tutorial_values()
        status, body = SERVER.json("POST", "/v1/outliers:detect",
                                   {"metrics": [{"name": "CPU", "value": v} for v in values]})
        self.assertEqual((status, body), (200, {"indices": [7, 113, 835]}))
        # ~750 KB of JSON: over --detect-offload-bytes, served on the compute pool.
        big = [values[i % 1000] if i % 1000 not in (7, 113, 835) else 20.0 for i in range(30000)]
        big[29999] = 1000.0
        status, body = SERVER.json("POST", "/v1/outliers:detect",
                                   {"metrics": [{"value": v} for v in big]})
        self.assertEqual((status, body), (200, {"indices": [29999]}))
        status, body = SERVER.json("POST", "/v1/outliers:detect",
                                   {"metrics": [{"value": 1}, {"value": "NaN"}]})
        self.assertEqual((status, body["code"]), (400, 3))
        self.assertIn("1", body["message"])


class Health(unittest.TestCase):
    def test_healthz(self):
        self.assertEqual(SERVER.json("GET", "/healthz"), (200, {"status": "SERVING"}))

    def test_console_is_served(self):
        status, headers, text = SERVER.request("GET", "/")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/html"))
        self.assertIn("cqmux", text)
        # "Tutorial data" is exactly bench/load/tutorial_values.txt.
        hex_values = text.split('const TUTORIAL_HEX = "', 1)[1].split('"', 1)[0]
        self.assertEqual([struct.unpack(">d", bytes.fromhex(hex_values[i:i + 16]))[0]
                          for i in range(0, len(hex_values), 16)], tutorial_values())


# Requests that make each documented operation succeed (or fail in a
# documented way); keyed by "METHOD PATH" as the document spells it.
EXAMPLES = {
    "GET /": (None, {200}),
    "GET /healthz": (None, {200}),
    "GET /v1/openapi.json": (None, {200}),
    "GET /v1/books": (None, {200}),
    "POST /v1/books": ({"id": 4301, "title": "OpenAPI", "author": "Doc"}, {200}),
    "GET /v1/books/{id}": (None, {200}),
    "DELETE /v1/books/{id}": (None, {200}),
    "GET /v1/books:watch": (None, {200}),
    "POST /v1/users": ({"username": "doc", "password": "pw", "email": "d@x.org"}, {200}),
    "GET /v1/users": (None, {200}),
    "POST /v1/fetch:capitalize": ({"id": 1, "data": "YWJj"}, {200}),
    "POST /v1/displacement": ({"start": {"x": 1, "y": 1}, "end": {"x": 4, "y": 5}}, {200}),
    "POST /v1/outliers:detect": ({"metrics": [{"value": 1}, {"value": 2}]}, {200}),
}


class OpenApi(unittest.TestCase):
    def test_every_documented_route_answers_as_documented(self):
        status, doc = SERVER.json("GET", "/v1/openapi.json")
        self.assertEqual(status, 200)
        self.assertEqual(doc["openapi"][:2], "3.")
        documented = set()
        for path, operations in doc["paths"].items():
            for method, operation in operations.items():
                documented.add("%s %s" % (method.upper(), path))
        # Every route of the server is documented, and nothing else.
        self.assertEqual(documented, set(EXAMPLES))
        for key in sorted(documented):
            method, path = key.split(" ", 1)
            body, expected = EXAMPLES[key]
            operation = doc["paths"][path][method.lower()]
            url = path.replace("{id}", "123" if method == "GET" else "4301")
            if path == "/v1/users":
                url += "?username=doc"
            if path == "/v1/books/{id}" and method == "DELETE":
                SERVER.json("POST", "/v1/books", {"id": 4301, "title": "T", "author": "A"})
            if path == "/v1/books:watch":
                status = self.open_stream(url)
            else:
                status, _, _ = SERVER.request(method, url, body)
            self.assertIn(status, expected, key)
            self.assertIn(str(status), operation["responses"], key)
            for schema in documented_body_schemas(operation):
                self.assertIn(schema, doc["components"]["schemas"], key)

    def open_stream(self, url):
        conn = SERVER.connection()
        try:
            conn.request("GET", url)
            return conn.getresponse().status
        finally:
            conn.close()


def documented_body_schemas(operation):
    refs = []
    for part in [operation.get("requestBody", {})] + list(operation["responses"].values()):
        for media in part.get("content", {}).values():
            ref = media.get("schema", {}).get("$ref")
            if ref:
                refs.append(ref.rsplit("/", 1)[1])
    return refs


class SeparateServers(unittest.TestCase):
    """Servers with other flags: tokens, capacity, connection limit, TLS."""

    def test_writes_need_a_token_with_auth_tokens(self):
        with tempfile.NamedTemporaryFile("w", suffix=".tokens") as tokens:
            tokens.write("gateway-token-1\n")
            tokens.flush()
            with HttpServer(["--auth-tokens=" + tokens.name]) as server:
                status, body = server.json("POST", "/v1/books", {"id": 4401, "title": "T", "author": "A"})
                self.assertEqual((status, body["code"]), (401, 16))
                self.assertIn("authorization: Bearer", body["message"])
                status, body = server.json("POST", "/v1/books", {"id": 4401, "title": "T", "author": "A"},
                                           {"Authorization": "Bearer wrong"})
                self.assertEqual((status, body["code"]), (401, 16))
                self.assertEqual(server.json("DELETE", "/v1/books/123")[0], 401)
                self.assertEqual(server.json("GET", "/v1/books/123")[0], 200)  # reads stay open
                good = {"Authorization": "Bearer gateway-token-1"}
                self.assertEqual(server.json("POST", "/v1/books",
                                             {"id": 4401, "title": "T", "author": "A"}, good), (200, {}))
                self.assertEqual(server.json("DELETE", "/v1/books/4401", None, good), (200, {}))

    def test_store_capacity_is_429(self):
        with HttpServer(["--max-books=1"]) as server:  # book 123 fills it
            status, body = server.json("POST", "/v1/books", {"id": 4501, "title": "T", "author": "A"})
            self.assertEqual((status, body["code"]), (429, 8))

    def test_connections_over_the_limit_get_503(self):
        with HttpServer(["--http-max-connections=1"]) as server:
            first = server.connection()
            try:
                first.request("GET", "/healthz")
                self.assertEqual(first.getresponse().read(), b'{"status":"SERVING"}')
                status, body = server.json("GET", "/healthz")
                self.assertEqual((status, body["code"]), (503, 14))
            finally:
                first.close()

    def test_https_with_the_grpc_certificate(self):
        certs = Certs()
        try:
            context = ssl.create_default_context(cafile=certs.path("ca.pem"))
            server = HttpServer(["--tls-cert=" + certs.path("server.pem"),
                                 "--tls-key=" + certs.path("server.key")],
                                credentials=grpc.ssl_channel_credentials(certs.read("ca.pem")),
                                ssl_context=context)
            with server:
                self.assertEqual(server.json("GET", "/v1/books/123")[0], 200)
                conn = server.connection()
                try:  # keep-alive over TLS too
                    for _ in range(3):
                        conn.request("GET", "/healthz")
                        self.assertEqual(conn.getresponse().read(), b'{"status":"SERVING"}')
                finally:
                    conn.close()
                with socket.create_connection(("127.0.0.1", server.http_port), timeout=10) as s:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")  # plaintext: refused
                    self.assertFalse(recv_all(s).startswith(b"HTTP/1.1 200"))
        finally:
            certs.cleanup()

    def test_graceful_shutdown_ends_an_open_watch(self):
        server = HttpServer(["--shutdown-grace=20s"]).start()
        conn = server.connection()
        try:
            conn.request("GET", "/v1/books:watch")
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            server.proc.terminate()
            self.assertIsNone(read_event(resp))  # the stream ends (last chunk)
            self.assertEqual(server.proc.wait(timeout=30), 0)
        finally:
            conn.close()
            server.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
