"""Test certificates made with the openssl command at test time (the recipe in
the project's notes): a CA, server certificates for localhost (SAN
DNS:localhost and IP:127.0.0.1) and client certificates signed by it, and an
unrelated CA with a client certificate of its own."""
import os
import subprocess
import tempfile


class Certs:
    """Files in a fresh temporary directory; path(name) -> its path.

    ca.pem                      the CA ("test-ca")
    server.pem / server.key     CN localhost, signed by ca
    client.pem / client.key     CN client, signed by ca
    other-ca.pem                an unrelated CA
    other-client.pem / .key     CN other-client, signed by other-ca
    More server certificates: new_server("server2") (CN localhost-server2,
    a new key and serial)."""

    def __init__(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="cqmux-certs-")
        self.dir = self._tmp.name
        with open(self.path("san.ext"), "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        for ca in ("ca", "other-ca"):
            self._openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca + ".key",
                          "-out", ca + ".pem", "-days", "2", "-subj", "/CN=test-" + ca)
        self._sign("server", "localhost", "ca", server=True)
        self._sign("client", "client", "ca")
        self._sign("other-client", "other-client", "other-ca")

    def path(self, name):
        return os.path.join(self.dir, name)

    def new_server(self, name):
        """A second server certificate (and key) for rotation tests."""
        self._sign(name, "localhost-" + name, "ca", server=True)
        return self.path(name + ".pem"), self.path(name + ".key")

    def cleanup(self):
        self._tmp.cleanup()

    def _sign(self, name, cn, ca, server=False):
        self._openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key",
                      "-out", name + ".csr", "-subj", "/CN=" + cn)
        self._openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey",
                      ca + ".key", "-CAcreateserial", "-out", name + ".pem", "-days", "2",
                      *(["-extfile", "san.ext"] if server else []))

    def _openssl(self, *args):
        r = subprocess.run(["openssl"] + list(args), cwd=self.dir, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("openssl %s failed:\n%s" % (" ".join(args), r.stderr))

    def read(self, name):
        with open(self.path(name), "rb") as f:
            return f.read()
