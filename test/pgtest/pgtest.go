// Package pgtest runs private PostgreSQL clusters for tests (scripts/postgres.sh): a data
// directory of their own, a free loopback port, and the unprivileged role "radmfa" that
// connects without a password. Start shares one cluster per test process; NewDatabase gives
// each test an empty database of its own on it. StartPrivate gives a test a cluster it may
// stop and restart without disturbing the others.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a running cluster.
type Server struct {
	Dir  string // cluster directory: data/, postgres.log and the unix socket
	Port int
	DSN  string // the "radmfa" database as the "radmfa" role

	script string
	dbs    atomic.Int64 // databases created, for unique names
	mu     sync.Mutex
	down   bool // stopped by Stop and not restarted
}

// shared is the per-process cluster Start hands out. It lives as long as the test binary:
// the script stops it and removes its directory when this process exits (PG_WATCH_PID).
var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// startAttempts covers the window between picking a free port and the server binding it.
const startAttempts = 3

// scriptTimeout is generous: the first start may install PostgreSQL with apt.
const scriptTimeout = 5 * time.Minute

// Start returns the cluster shared by every test in this process, starting it on first use.
// Tests must not stop or restart it (use StartPrivate); a start failure fails the test with
// the server's log.
func Start(t testing.TB) *Server {
	t.Helper()
	shared.once.Do(func() {
		shared.srv, shared.err = start(true)
	})
	if shared.err != nil {
		t.Fatalf("pgtest: %v", shared.err)
	}
	return shared.srv
}

// StartPrivate starts a cluster for this test alone, stopped and removed by its cleanup.
func StartPrivate(t testing.TB) *Server {
	t.Helper()
	s, err := start(false)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if out, err := s.run("stop", s.Dir); err != nil {
			t.Errorf("pgtest: postgres.sh stop: %v\n%s", err, out)
		}
		if err := os.RemoveAll(s.Dir); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return s
}

func start(shared bool) (*Server, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		// Not t.TempDir: the server runs as the postgres user, which must be able to reach the
		// directory, and the shared cluster outlives the test that started it.
		dir, err := os.MkdirTemp("", "radmfa-pg-")
		if err != nil {
			return nil, err
		}
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s := &Server{Dir: dir, Port: port, DSN: dsn(port, "radmfa"), script: filepath.Join(root, "scripts", "postgres.sh")}
		env := []string{"PG_WATCH_PID=" + strconv.Itoa(os.Getpid())}
		if shared {
			env = append(env, "PG_WATCH_RMDIR=1")
		}
		out, err := s.runEnv(env, "start", dir, strconv.Itoa(port))
		if err == nil {
			return s, nil
		}
		lastErr = fmt.Errorf("postgres.sh start (attempt %d, port %d): %v\n%s\nserver log:\n%s",
			attempt, port, err, out, s.Log())
		_, _ = s.run("stop", dir) // whatever half started; the next attempt uses a new directory
		_ = os.RemoveAll(dir)
	}
	return nil, lastErr
}

func dsn(port int, database string) string {
	return fmt.Sprintf("postgres://radmfa@127.0.0.1:%d/%s?sslmode=disable", port, database)
}

// NewDatabase creates an empty database owned by "radmfa" and returns its DSN. The test's
// cleanup drops it (unless the server is down by then).
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("radmfa_t%d", s.dbs.Add(1))
	if err := s.exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatalf("pgtest: create database %s: %v\nserver log:\n%s", name, err, s.Log())
	}
	t.Cleanup(func() {
		s.mu.Lock()
		down := s.down
		s.mu.Unlock()
		if down {
			return
		}
		// FORCE: a store the test forgot to close must not keep the database alive.
		if err := s.exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return dsn(s.Port, name)
}

// exec runs one statement in the "radmfa" database.
func (s *Server) exec(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.DSN)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// Stop shuts the server down (fast: open transactions roll back, clients are disconnected).
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if out, err := s.run("stop", s.Dir); err != nil {
		t.Fatalf("pgtest: postgres.sh stop: %v\n%s\nserver log:\n%s", err, out, s.Log())
	}
	s.mu.Lock()
	s.down = true
	s.mu.Unlock()
}

// Restart stops the server if it runs and starts it again on the same port and data, as a
// database failover or maintenance restart looks to radmfa's nodes.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop(t)
	env := []string{"PG_WATCH_PID=" + strconv.Itoa(os.Getpid())}
	if out, err := s.runEnv(env, "start", s.Dir, strconv.Itoa(s.Port)); err != nil {
		t.Fatalf("pgtest: postgres.sh start: %v\n%s\nserver log:\n%s", err, out, s.Log())
	}
	s.mu.Lock()
	s.down = false
	s.mu.Unlock()
}

// Log returns the server's log so far, for failure messages.
func (s *Server) Log() string {
	b, err := os.ReadFile(filepath.Join(s.Dir, "postgres.log"))
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func (s *Server) run(args ...string) ([]byte, error) { return s.runEnv(nil, args...) }

func (s *Server) runEnv(env []string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{s.script}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return []byte(strings.TrimSpace(string(out))), err
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// repoRoot walks up from the working directory to the directory holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
