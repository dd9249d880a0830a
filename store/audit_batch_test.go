package store

import (
	"context"
	"fmt"
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

// TestSQLitePruneInChunks: pruning more rows than one chunk deletes all of them (and only
// them), however many chunks it takes.
func TestSQLitePruneInChunks(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "p.db"), testKeyring(t))
	ctx := context.Background()
	base := time.Unix(1_800_000_000, 0)
	old := 2*pruneChunk + 7
	var evs []AuditEvent
	for i := range old + 3 {
		evs = append(evs, AuditEvent{Time: base.Add(time.Duration(i) * time.Millisecond), Kind: "auth", Username: "u"})
	}
	if err := s.AuditBatch(ctx, evs); err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneAudit(ctx, base.Add(time.Duration(old)*time.Millisecond))
	if err != nil || n != int64(old) {
		t.Fatalf("PruneAudit = %d, %v; want %d", n, err, old)
	}
	if left, err := s.QueryAudit(ctx, AuditFilter{}); err != nil || len(left) != 3 {
		t.Fatalf("%d rows left (%v), want 3", len(left), err)
	}

	now := base.Add(time.Hour)
	for i := range pruneChunk + 1 {
		if _, err := s.Once(ctx, fmt.Sprint("k", i), base, base.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Once(ctx, "live", now, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneEphemeral(ctx, now); err != nil || n != int64(pruneChunk+1) {
		t.Fatalf("PruneEphemeral = %d, %v; want %d", n, err, pruneChunk+1)
	}
	if c, err := s.Count(ctx, "live", now); err != nil || c != 1 {
		t.Fatalf("live key count %d (%v) after pruning, want 1", c, err)
	}
}
