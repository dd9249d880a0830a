package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func TestSQLiteAuditBatch(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "a.db"), testKeyring(t))
	ctx := context.Background()
	base := time.Unix(1_800_000_000, 0)
	var evs []AuditEvent
	for i := 0; i < 300; i++ {
		evs = append(evs, AuditEvent{Time: base.Add(time.Duration(i) * time.Second), Kind: "auth", Username: "u", Result: "accept"})
	}
	if err := s.AuditBatch(ctx, evs); err != nil {
		t.Fatal(err)
	}
	got, err := s.QueryAudit(ctx, AuditFilter{Username: "u"})
	if err != nil || len(got) != 300 || !got[0].Time.Equal(base.Add(299*time.Second)) {
		t.Fatalf("got %d events (%v), newest %v", len(got), err, got[0].Time)
	}
}
