package main

import (
	"regexp"
	"testing"
	"time"

	"github.com/cqmux/cqmux/client/go/internal/clientflags"
	"github.com/cqmux/cqmux/client/go/internal/testserver"
)

// The tutorial client's one line of output, through package log.
var logLine = regexp.MustCompile(`^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d outliers at: \[7 113 835\]\n$`)

func TestOutliersClient(t *testing.T) {
	s := testserver.Start(t)
	client := testserver.BuildCommand(t, ".")
	for _, args := range [][]string{
		{"-addr=" + s.Addr},              // the tutorial's 1,000 values
		{"-addr=" + s.Addr, "-seed=11"},  // other values below 40
		{"-addr=" + s.Addr, "-seed=0"},   // time based
		{"-addr=" + s.Addr, "-n=100000"}, // a bigger request, same outliers
	} {
		r := testserver.Run(t, 30*time.Second, client, args...)
		if r.Code != 0 || r.Stdout != "" || !logLine.MatchString(r.Stderr) {
			t.Errorf("outliers-client %q: exit %d, stdout %q, stderr %q", args, r.Code, r.Stdout, r.Stderr)
		}
	}
	r := testserver.Run(t, 30*time.Second, client, "-addr="+s.Addr, "-n=5")
	if r.Code != 0 || !regexp.MustCompile(`outliers at: \[\]\n$`).MatchString(r.Stderr) {
		t.Errorf("outliers-client -n=5: exit %d, stderr %q", r.Code, r.Stderr)
	}
	s.Stop()
}

// The tutorial's client over TLS, verifying the server with the test CA.
func TestOutliersClientOverTLS(t *testing.T) {
	certs := testserver.MakeCerts(t)
	creds, err := (&clientflags.TLS{CA: certs.CA}).Credentials()
	if err != nil {
		t.Fatal(err)
	}
	s := testserver.StartWith(t, creds, "--tls-cert="+certs.Server, "--tls-key="+certs.ServerKey)
	client := testserver.BuildCommand(t, ".")
	r := testserver.Run(t, 30*time.Second, client, "-addr="+s.Addr, "-tls-ca="+certs.CA)
	if r.Code != 0 || !logLine.MatchString(r.Stderr) {
		t.Errorf("outliers-client over TLS: exit %d, stderr %q", r.Code, r.Stderr)
	}
	// Without TLS, or trusting another CA, the call fails.
	for _, args := range [][]string{{"-addr=" + s.Addr, "-timeout=3s"},
		{"-addr=" + s.Addr, "-timeout=3s", "-tls"}} {
		if r := testserver.Run(t, 30*time.Second, client, args...); r.Code == 0 {
			t.Errorf("outliers-client %q: exit 0, want a failure; stderr %q", args, r.Stderr)
		}
	}
	s.Stop()
}
