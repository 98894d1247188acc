package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/cqmux/cqmux/client/go/internal/clientflags"
	"github.com/cqmux/cqmux/client/go/internal/testserver"
)

// The books command against a server that requires client certificates
// (mTLS) and a token for Insert and Delete.
func TestBooksOverMTLSWithToken(t *testing.T) {
	certs := testserver.MakeCerts(t)
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("# writers\ngo-token-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	creds, err := (&clientflags.TLS{CA: certs.CA, Cert: certs.Client, Key: certs.ClientKey}).Credentials()
	if err != nil {
		t.Fatal(err)
	}
	s := testserver.StartWith(t, creds, "--tls-cert="+certs.Server, "--tls-key="+certs.ServerKey,
		"--tls-client-ca="+certs.CA, "--auth-tokens="+tokens)
	books := testserver.BuildCommand(t, ".")
	tls := []string{"-address=" + s.Addr, "-tls-ca=" + certs.CA, "-tls-cert=" + certs.Client,
		"-tls-key=" + certs.ClientKey}
	run := func(args ...string) testserver.Result {
		t.Helper()
		return testserver.Run(t, runTimeout, books, append(append([]string{}, tls...), args...)...)
	}
	check := func(what string, r testserver.Result, code int, stdout, stderr string) {
		t.Helper()
		if r.Code != code || !regexp.MustCompile(stdout).MatchString(r.Stdout) ||
			!regexp.MustCompile(stderr).MatchString(r.Stderr) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d, stdout ~ %q, stderr ~ %q",
				what, r.Code, r.Stdout, r.Stderr, code, stdout, stderr)
		}
	}
	check("list", run("list"), 0, `^Server sent 1 book\(s\)\.\n`, `^$`)
	check("list, name override", run("-tls-server-name=localhost", "list"), 0, `^Server sent`, `^$`)
	check("insert without token", run("insert", "5", "T", "A"), 1, `^$`,
		`Insert book \(5\): rpc error: code = Unauthenticated desc = this method needs a token`)
	check("insert, wrong token", run("-token=nope", "insert", "5", "T", "A"), 1, `^$`,
		`code = Unauthenticated desc = the token is not accepted`)
	check("insert", run("-token=go-token-1", "insert", "5", "T", "A"), 0, `^Server response:\n\{\}\n$`, `^$`)
	check("get without token", run("get", "5"), 0, `"title": "T"`, `^$`)
	check("delete without token", run("delete", "5"), 1, `^$`, `code = Unauthenticated`)
	check("delete", run("-token=go-token-1", "delete", "5"), 0, `^Server response:`, `^$`)

	// No client certificate, one of another CA, no TLS at all: refused.
	for _, args := range [][]string{
		{"-address=" + s.Addr, "-tls-ca=" + certs.CA, "-timeout=30s", "list"},
		{"-address=" + s.Addr, "-tls-ca=" + certs.CA, "-tls-cert=" + certs.OtherClient,
			"-tls-key=" + certs.OtherClientKey, "-timeout=30s", "list"},
		{"-address=" + s.Addr, "-timeout=30s", "list"},
	} {
		r := testserver.Run(t, runTimeout, books, args...)
		check("refused "+args[1], r, 1, `^$`, `List books: rpc error: code = Unavailable`)
	}
	check("bad flags", testserver.Run(t, runTimeout, books, "-address="+s.Addr, "-tls-cert="+certs.Client, "list"),
		1, `^$`, `-tls-cert and -tls-key go together`)
	s.Stop()
}
