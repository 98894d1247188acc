package testserver

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Certs are certificate and key files made for one test (MakeCerts).
type Certs struct {
	Dir string
	// CA signs Server (CN localhost, SAN DNS:localhost and IP:127.0.0.1)
	// and Client.
	CA, Server, ServerKey, Client, ClientKey string
	// OtherClient is signed by an unrelated CA: a server trusting CA refuses it.
	OtherClient, OtherClientKey string
}

// MakeCerts makes a CA, a server and a client certificate, and a client
// certificate of another CA, with openssl (the project's recipe in
// tests/server/security/tls_test.py), in a temporary directory of the test.
func MakeCerts(t testing.TB) Certs {
	t.Helper()
	dir := t.TempDir()
	openssl := func(args ...string) {
		t.Helper()
		cmd := exec.Command("openssl", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl %q: %v\n%s", args, err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "san.ext"),
		[]byte("subjectAltName=DNS:localhost,IP:127.0.0.1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, ca := range []string{"ca", "other-ca"} {
		openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca+".key",
			"-out", ca+".pem", "-days", "2", "-subj", "/CN="+ca)
	}
	for _, c := range []struct{ name, cn, ca string }{
		{"server", "localhost", "ca"}, {"client", "client", "ca"}, {"other-client", "other-client", "other-ca"},
	} {
		openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", c.name+".key",
			"-out", c.name+".csr", "-subj", "/CN="+c.cn)
		args := []string{"x509", "-req", "-in", c.name + ".csr", "-CA", c.ca + ".pem",
			"-CAkey", c.ca + ".key", "-CAcreateserial", "-out", c.name + ".pem", "-days", "2"}
		if c.name == "server" {
			args = append(args, "-extfile", "san.ext")
		}
		openssl(args...)
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	return Certs{
		Dir: dir, CA: p("ca.pem"), Server: p("server.pem"), ServerKey: p("server.key"),
		Client: p("client.pem"), ClientKey: p("client.key"),
		OtherClient: p("other-client.pem"), OtherClientKey: p("other-client.key"),
	}
}
