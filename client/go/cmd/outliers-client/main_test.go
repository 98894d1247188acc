package main

import (
	"regexp"
	"testing"
	"time"

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
