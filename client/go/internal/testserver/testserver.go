// Package testserver runs the real cqmux-server for tests (plaintext, or TLS
// with StartWith and certificates from MakeCerts): on a free
// 127.0.0.1 port, ready once grpc.health.v1 reports SERVING (never a fixed
// sleep), stopped with SIGTERM when the test ends, which must exit 0.
//
// The binary is $CQMUX_SERVER, else cqmux-server on PATH. Without one the
// test is skipped, unless CQMUX_REQUIRE_SERVER=1 (as ctest sets), which makes
// it fail.
package testserver

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

const (
	startTimeout = 60 * time.Second // generous for sanitizer builds
	stopTimeout  = 60 * time.Second
	startTries   = 3 // a port found free can be taken before the server binds it
)

// Binary returns the cqmux-server to test; see the package comment.
func Binary(t testing.TB) string {
	t.Helper()
	path := os.Getenv("CQMUX_SERVER")
	if path == "" {
		var err error
		if path, err = exec.LookPath("cqmux-server"); err != nil {
			path = ""
		}
	}
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("cqmux-server: %v", err)
		}
		return path
	}
	const msg = "no cqmux-server: set CQMUX_SERVER=/path/to/cqmux-server or put it on PATH " +
		"(cmake --build build --target cqmux-server)"
	if os.Getenv("CQMUX_REQUIRE_SERVER") == "1" {
		t.Fatal(msg + "; CQMUX_REQUIRE_SERVER=1 makes this an error")
	}
	t.Skip(msg)
	return ""
}

// Server is a running cqmux-server.
type Server struct {
	// Addr is the server's 127.0.0.1:PORT, a gRPC target.
	Addr string

	t       testing.TB
	creds   credentials.TransportCredentials
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{} // closed when the process has exited
	waitErr error         // the process's exit status, once exited is closed
	stopped bool
}

// Start runs cqmux-server with the given extra flags (e.g.
// "--password-hash=min") and returns once it serves. The server is stopped
// (see Stop) when the test ends.
func Start(t testing.TB, flags ...string) *Server {
	t.Helper()
	return StartWith(t, insecure.NewCredentials(), flags...)
}

// StartWith is Start for a server that needs other transport credentials
// than plaintext (flags with --tls-cert ...): creds are what the readiness
// check and Dial connect with.
func StartWith(t testing.TB, creds credentials.TransportCredentials, flags ...string) *Server {
	t.Helper()
	binary := Binary(t)
	dir := t.TempDir()
	var lastLog string
	for try := 1; try <= startTries; try++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		s := &Server{
			Addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			t:       t,
			creds:   creds,
			logPath: filepath.Join(dir, fmt.Sprintf("cqmux-server-%d.log", try)),
			exited:  make(chan struct{}),
		}
		if err := s.start(binary, flags); err != nil {
			t.Fatalf("start %s: %v", binary, err)
		}
		t.Cleanup(s.Stop)
		err = s.waitServing()
		if err == nil {
			return s
		}
		lastLog = s.Log()
		s.kill()
		t.Logf("cqmux-server on %s (try %d): %v", s.Addr, try, err)
	}
	t.Fatalf("cqmux-server did not start; its last log:\n%s", lastLog)
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) start(binary string, flags []string) error {
	log, err := os.Create(s.logPath)
	if err != nil {
		return err
	}
	defer log.Close() // the child has its own descriptor
	// In memory, and no metrics listener: tests never write to the server's
	// default data directory, and parallel tests would all want the metrics
	// port (a later --store, --data-dir or --metrics-listen in flags wins).
	s.cmd = exec.Command(binary, append([]string{"--listen=" + s.Addr, "--store=memory", "--metrics-listen="}, flags...)...)
	s.cmd.Stdout = log
	s.cmd.Stderr = log
	if err := s.cmd.Start(); err != nil {
		return err
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	return nil
}

// waitServing returns nil once a health Check of the whole server ("")
// answers SERVING, or an error if the process exits or startTimeout passes.
func (s *Server) waitServing() error {
	conn, err := grpc.NewClient(s.Addr,
		grpc.WithTransportCredentials(s.creds),
		// Retry the connection quickly while the server starts up.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 10 * time.Millisecond, Multiplier: 1.6, MaxDelay: 200 * time.Millisecond},
			MinConnectTimeout: time.Second,
		}))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	go func() { // a server that died will never answer
		select {
		case <-s.exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	health := healthpb.NewHealthClient(conn)
	for {
		// WaitForReady: the call waits for the connection instead of failing.
		r, err := health.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
		if err == nil && r.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("exited before serving: %v", s.waitErr)
		default:
		}
		if ctx.Err() != nil {
			return fmt.Errorf("not SERVING after %v: %v %v", startTimeout, r, err)
		}
		if err == nil { // up, but NOT_SERVING yet: ask again shortly
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// Dial returns a client connection to the server, closed when the test ends.
func (s *Server) Dial(t testing.TB) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(s.Addr, grpc.WithTransportCredentials(s.creds))
	if err != nil {
		t.Fatalf("grpc.NewClient(%s): %v", s.Addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Log returns what the server printed so far.
func (s *Server) Log() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return string(b)
}

// Stop sends SIGTERM and fails the test unless the server exits with code 0
// within stopTimeout (or if it had exited by itself). It is idempotent and
// runs when the test ends; call it earlier to check the shutdown explicitly.
func (s *Server) Stop() {
	s.t.Helper()
	if s.stopped {
		return
	}
	s.stopped = true
	select {
	case <-s.exited:
		s.t.Errorf("cqmux-server exited before SIGTERM: %v; log:\n%s", s.waitErr, s.Log())
		return
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Errorf("SIGTERM cqmux-server: %v", err)
	}
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		s.kill()
		s.t.Errorf("cqmux-server still running %v after SIGTERM; killed. Log:\n%s", stopTimeout, s.Log())
		return
	}
	if s.waitErr != nil {
		s.t.Errorf("cqmux-server after SIGTERM: %v (want exit code 0); log:\n%s", s.waitErr, s.Log())
	} else if s.t.Failed() {
		s.t.Logf("cqmux-server log:\n%s", s.Log())
	}
}

// kill ends a server that failed to start; its test has already failed or retries.
func (s *Server) kill() {
	s.stopped = true
	s.cmd.Process.Kill()
	<-s.exited
}
