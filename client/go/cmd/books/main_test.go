package main

import (
	"bufio"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cqmux/cqmux/client/go/internal/testserver"
)

const runTimeout = 30 * time.Second

// The codelab client's transcript against the real server: every command,
// its output and exit code, with the error paths.
func TestBooksCLI(t *testing.T) {
	s := testserver.Start(t)
	books := testserver.BuildCommand(t, ".")
	a := "-address=" + s.Addr
	run := func(args ...string) testserver.Result {
		t.Helper()
		return testserver.Run(t, runTimeout, books, append([]string{a}, args...)...)
	}
	expect := func(r testserver.Result, code int, stdout string) {
		t.Helper()
		if r.Code != code || r.Stdout != stdout {
			t.Errorf("exit %d, stdout:\n%s\nwant exit %d, stdout:\n%s\nstderr: %s", r.Code, r.Stdout, code, stdout, r.Stderr)
		}
	}
	expectStderr := func(r testserver.Result, code int, pattern string) {
		t.Helper()
		if r.Code != code || !regexp.MustCompile(pattern).MatchString(r.Stderr) {
			t.Errorf("exit %d, stderr %q; want exit %d, stderr matching %q", r.Code, r.Stderr, code, pattern)
		}
	}

	expect(run("list"), 0, "Server sent 1 book(s).\n"+`{
  "books": [
    {
      "id": 123,
      "title": "A Tale of Two Cities",
      "author": "Charles Dickens"
    }
  ]
}
`)
	expect(run("insert", "2", "The Three Musketeers", "Alexandre Dumas"), 0, "Server response:\n{}\n")
	expect(run("get", "2"), 0, `Server response:
{
  "id": 2,
  "title": "The Three Musketeers",
  "author": "Alexandre Dumas"
}
`)
	expectStderr(run("get", "404"), 1,
		`Get book \(404\): rpc error: code = NotFound desc = No book with id 404 was found\n$`)
	expectStderr(run("insert", "2", "Again", "Someone"), 1,
		`Insert book \(2\): rpc error: code = AlreadyExists`)
	expectStderr(run("-timeout=300ms", "watch"), 1, `Watch books stream: rpc error: code = DeadlineExceeded`)
	testWatch(t, books, a, run)
	expect(run("delete", "2"), 0, "Server response:\n{}\n")
	expectStderr(run("delete", "2"), 1, `Delete book \(2\): rpc error: code = NotFound`)
	expectStderr(run("get", "x"), 1, `Provided ID x invalid`)

	r := testserver.Run(t, runTimeout, books, a, "nonsense")
	if r.Code != 2 || !strings.Contains(r.Stdout, "Usage:") {
		t.Errorf("unknown command: exit %d, stdout %q", r.Code, r.Stdout)
	}
	s.Stop()
}

// testWatch runs `books -count=1 watch` and inserts probe books until the
// watch prints one: the client cannot observe when the server has accepted
// the watch, so a single insert could come too early.
func testWatch(t *testing.T, books, address string, run func(...string) testserver.Result) {
	t.Helper()
	watch := exec.Command(books, address, "-count=1", "watch")
	stdout, err := watch.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	watch.Stderr = &stderr
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		output strings.Builder
	)
	probeSeen := make(chan struct{})
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		lines := bufio.NewScanner(stdout)
		seen := false
		for lines.Scan() {
			mu.Lock()
			output.WriteString(lines.Text() + "\n")
			mu.Unlock()
			if !seen && strings.Contains(lines.Text(), `"id": 40`) {
				seen = true
				close(probeSeen)
			}
		}
	}()
	var waitErr error
	exited := make(chan struct{})
	go func() {
		<-readDone // Wait must not run before the pipe is read to the end
		waitErr = watch.Wait()
		close(exited)
	}()
	defer func() {
		select {
		case <-exited:
		default:
			watch.Process.Kill()
			<-exited
		}
	}()

	delivered := false
	for probe := 4000; probe < 4020 && !delivered; probe++ {
		if r := run("insert", fmt.Sprint(probe), "probe", "go"); r.Code != 0 {
			t.Fatalf("insert probe %d: %+v", probe, r)
		}
		select {
		case <-probeSeen:
			delivered = true
		case <-time.After(500 * time.Millisecond):
		}
	}
	if !delivered {
		t.Fatal("watch printed no probe book")
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("watch -count=1: %v, stderr: %s", waitErr, stderr.String())
		}
	case <-time.After(runTimeout):
		t.Fatalf("watch -count=1 still running after one book")
	}
	mu.Lock()
	defer mu.Unlock()
	if want := "Server stream data received:\n{\n"; !strings.HasPrefix(output.String(), want) {
		t.Errorf("watch output %q, want it to start with %q", output.String(), want)
	}
	if !regexp.MustCompile(`^Server stream data received:\n\{\n  "id": 40[01][0-9],\n  "title": "probe",\n  "author": "go"\n\}\n$`).MatchString(output.String()) {
		t.Errorf("watch output %q, want one probe book", output.String())
	}
}
