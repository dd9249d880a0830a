package pgtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// SuperuserDSN names the cluster's bootstrap superuser "postgres" over its unix socket (in
// Dir; pg_hba trusts local connections). It is for tests that change server settings, such
// as ALTER SYSTEM SET log_statement, on a cluster from StartPrivate: never on the shared one.
func (s *Server) SuperuserDSN() string {
	return fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres sslmode=disable", s.Dir, s.Port)
}

// SuperExec runs each statement, in order, as the superuser, failing the test on an error.
func (s *Server) SuperExec(t testing.TB, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.SuperuserDSN())
	if err != nil {
		t.Fatalf("pgtest: connect as superuser: %v", err)
	}
	defer conn.Close(ctx)
	for _, q := range stmts {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("pgtest: %s: %v", q, err)
		}
	}
}
