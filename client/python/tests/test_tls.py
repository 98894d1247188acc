"""The package over TLS and mutual TLS, and with write tokens, against the real
server: cqmux.channel()'s TLS and token parameters and the examples' --tls*
and --token options. Certificates are made with openssl for the session
(conftest.make_certs); the server requires client certificates (mTLS) and a
token for books Insert and Delete."""
import os
import subprocess
import sys

import grpc
import pytest

import cqmux
import cqmux_server
from conftest import EXAMPLES
from cqmux.pb import books_pb2, books_pb2_grpc, defs_pb2, defs_pb2_grpc

TOKEN = "py-test-token-1"


@pytest.fixture(scope="module")
def mtls_server(certs, tmp_path_factory):
    tokens = tmp_path_factory.mktemp("tokens") / "tokens.txt"
    tokens.write_text("# write tokens\n%s\n" % TOKEN)
    srv = cqmux_server.Server(
        ["--password-hash=min", "--tls-cert=" + certs["server.pem"],
         "--tls-key=" + certs["server.key"], "--tls-client-ca=" + certs["ca.pem"],
         "--auth-tokens=" + str(tokens)],
        credentials=cqmux.credentials(certs["ca.pem"], certs["client.pem"], certs["client.key"]))
    srv.start()
    yield srv
    srv.stop_cleanly()


def client_channel(server, certs, **kwargs):
    args = dict(ca=certs["ca.pem"], cert=certs["client.pem"], key=certs["client.key"])
    args.update(kwargs)
    return cqmux.channel(server.target, **args)


def test_every_kind_of_call_over_mtls(mtls_server, certs):
    with client_channel(mtls_server, certs) as chan:
        reply = defs_pb2_grpc.FetchStub(chan).Capitalize(defs_pb2.Payload(id=1, data=b"tls"),
                                                         timeout=10)
        assert reply.data == b"TLS"
        books = books_pb2_grpc.BookServiceStub(chan)
        assert books.Get(books_pb2.BookIdRequest(id=123), timeout=10).title == \
            "A Tale of Two Cities"
        assert cqmux.wait_until_serving(mtls_server.target, timeout=10, ca=certs["ca.pem"],
                                        cert=certs["client.pem"], key=certs["client.key"])


def test_server_name_override(mtls_server, certs):
    # The certificate names localhost: connecting to "localhost:PORT" verifies
    # as is, and a name it does not carry fails unless overridden.
    port = mtls_server.port
    with cqmux.channel("localhost:%d" % port, ca=certs["ca.pem"], cert=certs["client.pem"],
                       key=certs["client.key"]) as chan:
        assert defs_pb2_grpc.FetchStub(chan).Capitalize(defs_pb2.Payload(data=b"a"),
                                                        timeout=10).data == b"A"
    with client_channel(mtls_server, certs, server_name="not-the-server") as chan:
        with pytest.raises(grpc.RpcError) as e:
            defs_pb2_grpc.FetchStub(chan).Capitalize(defs_pb2.Payload(data=b"a"), timeout=30)
        assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    with client_channel(mtls_server, certs, server_name="localhost") as chan:
        assert defs_pb2_grpc.FetchStub(chan).Capitalize(defs_pb2.Payload(data=b"b"),
                                                        timeout=10).data == b"B"


def test_mtls_refuses_clients_without_the_right_certificate(mtls_server, certs):
    for kwargs in ({"cert": None, "key": None},
                   {"cert": certs["other-client.pem"], "key": certs["other-client.key"]}):
        with client_channel(mtls_server, certs, **kwargs) as chan:
            with pytest.raises(grpc.RpcError) as e:
                defs_pb2_grpc.FetchStub(chan).Capitalize(defs_pb2.Payload(data=b"x"), timeout=30)
            assert e.value.code() == grpc.StatusCode.UNAVAILABLE, kwargs
    with cqmux.channel(mtls_server.target) as chan:  # plaintext to a TLS port
        with pytest.raises(grpc.RpcError) as e:
            defs_pb2_grpc.FetchStub(chan).Capitalize(defs_pb2.Payload(data=b"x"), timeout=30)
        assert e.value.code() == grpc.StatusCode.UNAVAILABLE


def test_token_guards_writes_only(mtls_server, certs):
    book = books_pb2.Book(id=7001, title="Token Book", author="Py")
    with client_channel(mtls_server, certs) as chan:
        books = books_pb2_grpc.BookServiceStub(chan)
        with pytest.raises(grpc.RpcError) as e:
            books.Insert(book, timeout=10)
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "authorization: Bearer" in e.value.details()
        books.List(books_pb2.Empty(), timeout=10)  # reads stay open
    with client_channel(mtls_server, certs, token="wrong") as chan:
        with pytest.raises(grpc.RpcError) as e:
            books_pb2_grpc.BookServiceStub(chan).Insert(book, timeout=10)
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert e.value.details() == "the token is not accepted"
    with client_channel(mtls_server, certs, token=TOKEN) as chan:
        books = books_pb2_grpc.BookServiceStub(chan)
        books.Insert(book, timeout=10)
        assert books.Get(books_pb2.BookIdRequest(id=7001), timeout=10) == book
        books.Delete(books_pb2.BookIdRequest(id=7001), timeout=10)


def run_example(server, certs, name, *args, env=None, stdin=""):
    tls = ["--target=" + server.target, "--tls-ca=" + certs["ca.pem"],
           "--tls-cert=" + certs["client.pem"], "--tls-key=" + certs["client.key"]]
    return subprocess.run([sys.executable, os.path.join(EXAMPLES, name)] + tls + list(args),
                          input=stdin, capture_output=True, text=True, timeout=60, env=env)


def test_examples_over_mtls_with_a_token(mtls_server, certs):
    r = run_example(mtls_server, certs, "capitalize_client.py", "--tls-server-name=localhost",
                    stdin="over tls\n")
    assert (r.returncode, r.stdout) == (0, "> < OVER TLS\n\n> \n"), r.stderr
    r = run_example(mtls_server, certs, "books_client.py", "insert", "7002", "T", "A")
    assert r.returncode == 1
    assert r.stdout.startswith("InsertBook failed with StatusCode.UNAUTHENTICATED: "), r.stdout
    r = run_example(mtls_server, certs, "books_client.py", "--token=" + TOKEN, "insert", "7002",
                    "T", "A")
    assert (r.returncode, r.stdout) == (0, "Server response:\n\n"), r.stdout + r.stderr
    env = dict(os.environ, CQMUX_TOKEN=TOKEN)
    r = run_example(mtls_server, certs, "books_client.py", "delete", "7002", env=env)
    assert (r.returncode, r.stdout) == (0, "Server response:\n\n"), r.stdout + r.stderr
    for name, args in (("displacement_client.py", ["0", "0", "3", "4"]),
                       ("outliers_client.py", []),
                       ("request_streaming_client.py", ["OK:fine"]),
                       ("users_client.py", ["py-tls-user"])):
        r = run_example(mtls_server, certs, name, *args)
        assert r.returncode == 0, (name, r.stdout, r.stderr)
    r = run_example(mtls_server, certs, "books_client.py", "--tls-cert=", "list")
    assert r.returncode != 0 and "--tls-cert and --tls-key go together" in r.stderr


def test_channel_argument_errors(certs):
    with pytest.raises(ValueError, match="cert and key"):
        cqmux.channel("localhost:1", cert=certs["client.pem"])
    with pytest.raises(ValueError, match="server_name needs TLS"):
        cqmux.channel("localhost:1", server_name="localhost")
    with pytest.raises(ValueError, match="cannot read"):
        cqmux.channel("localhost:1", ca="/no/such/ca.pem")
