"""Fixtures: the real cqmux-server binary ($CQMUX_SERVER) on a free 127.0.0.1
port, one per test session (tests/interop/cqmux_server.py, the repository's
server helper), and a channel to it.

Readiness is observed through grpc.health.v1 (channel connectivity, then a
Check that waits for readiness), never by sleeping. At the end the server gets
SIGTERM and must exit with status 0. Without CQMUX_SERVER the run fails: these
tests are never skipped, and a skipped test fails the run (see
pytest_sessionfinish).
"""
import os
import subprocess
import sys

import grpc
import pytest

import cqmux

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(HERE, os.pardir, "examples")
# The repository's one helper that starts and stops the real server.
sys.path.insert(0, os.path.join(HERE, os.pardir, os.pardir, os.pardir, "tests", "interop"))
import cqmux_server  # noqa: E402


def pytest_configure(config):
    if not os.environ.get("CQMUX_SERVER"):
        raise pytest.UsageError("set CQMUX_SERVER to the cqmux-server binary to test against, "
                                "e.g. CQMUX_SERVER=build/bin/cqmux-server")


def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and exitstatus == pytest.ExitCode.OK:
        reporter.write_line("cqmux: %d test(s) skipped; a skipped test fails the run"
                            % len(skipped), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def make_certs(directory):
    """Certificates made with openssl into `directory`, as the project's recipe
    does: ca.pem (CA "test-ca"), server.pem/server.key (CN localhost, SAN
    DNS:localhost and IP:127.0.0.1), client.pem/client.key (signed by the CA)
    and other-client.pem/other-client.key (signed by an unrelated CA). Returns
    {name: path}."""
    def openssl(*args):
        subprocess.run(["openssl"] + list(args), cwd=directory, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    with open(os.path.join(directory, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca + ".key",
                "-out", ca + ".pem", "-days", "2", "-subj", "/CN=" + ca)
    for name, ca, ext in (("server", "ca", ["-extfile", "san.ext"]), ("client", "ca", []),
                          ("other-client", "other-ca", [])):
        cn = "localhost" if name == "server" else name
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
                name + ".csr", "-subj", "/CN=" + cn)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
                "-CAcreateserial", "-out", name + ".pem", "-days", "2", *ext)
    return {n: os.path.join(directory, n) for n in os.listdir(directory)}


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    return make_certs(str(tmp_path_factory.mktemp("certs")))


@pytest.fixture(scope="session")
def server():
    """The running server (attribute target = "127.0.0.1:PORT"). The users
    service hashes passwords with the cheapest profile (--password-hash=min)."""
    srv = cqmux_server.Server(["--password-hash=min"])
    srv.start()
    yield srv
    srv.stop_cleanly()


@pytest.fixture(scope="session")
def channel(server):
    with grpc.insecure_channel(server.target) as chan:
        yield chan


@pytest.fixture(scope="session")
def run_example(server):
    """run_example("books_client.py", "list", stdin=None) runs an example with
    this interpreter (the venv's: the package is installed, no PYTHONPATH)
    against the server and returns the CompletedProcess (text)."""
    def run(name, *args, stdin=None, timeout=60):
        return subprocess.run([sys.executable, os.path.join(EXAMPLES, name),
                               "--target=" + server.target] + list(args),
                              input=stdin, capture_output=True, text=True, timeout=timeout)
    return run


@pytest.fixture(scope="session")
def start_example(server):
    """Like run_example, but returns the running Popen (stdout piped, text)."""
    def start(name, *args):
        return subprocess.Popen([sys.executable, os.path.join(EXAMPLES, name),
                                 "--target=" + server.target] + list(args),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return start
