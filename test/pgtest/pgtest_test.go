package pgtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func TestStartShared(t *testing.T) {
	a, b := Start(t), Start(t)
	if a != b {
		t.Fatal("Start started a second cluster in one process")
	}
	c := connect(t, a.DSN)
	settings := []struct{ name, want string }{
		{"fsync", "on"},
		{"synchronous_commit", "on"},
		{"listen_addresses", "127.0.0.1"},
		{"is_superuser", "off"}, // the store must work without superuser rights
	}
	for _, s := range settings {
		var got string
		if err := c.QueryRow(context.Background(), "SHOW "+s.name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != s.want {
			t.Errorf("%s = %q, want %q", s.name, got, s.want)
		}
	}
}

func TestNewDatabaseIsolated(t *testing.T) {
	s := Start(t)
	ctx := context.Background()
	one, two := connect(t, s.NewDatabase(t)), connect(t, s.NewDatabase(t))
	if _, err := one.Exec(ctx, `CREATE TABLE marker (x int)`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := two.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename = 'marker'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("table from one database visible in the other: %d, %v", n, err)
	}
}

func TestPrivateRestart(t *testing.T) {
	s := StartPrivate(t)
	if s == Start(t) {
		t.Fatal("private cluster is the shared one")
	}
	ctx := context.Background()
	dsn := s.NewDatabase(t)
	c := connect(t, dsn)
	if _, err := c.Exec(ctx, `CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)`); err != nil {
		t.Fatal(err)
	}

	s.Stop(t)
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := pgx.Connect(short, dsn); err == nil {
		t.Fatal("connected to a stopped server")
	}

	s.Restart(t)
	var x int
	if err := connect(t, dsn).QueryRow(ctx, `SELECT x FROM kept`).Scan(&x); err != nil || x != 42 {
		t.Fatalf("after restart: %d, %v; want the committed row", x, err)
	}
	// The connection from before the restart is gone, not silently reused.
	if err := c.Ping(ctx); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("old connection: %v, want a closed-connection error", err)
	}
}
