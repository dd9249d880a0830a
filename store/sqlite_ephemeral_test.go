package store

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testEphemeral is backend-agnostic, like testStore.
func testEphemeral(t *testing.T, e Ephemeral) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	t.Run("once", func(t *testing.T) {
		steps := []struct {
			name string
			at   time.Time
			want bool
		}{
			{"first", now, true},
			{"again while live", now.Add(time.Second), false},
			{"after expiry", now.Add(time.Minute), true},
			{"again after takeover", now.Add(time.Minute + time.Second), false},
		}
		for _, s := range steps {
			got, err := e.Once(ctx, "once-key", s.at, s.at.Add(30*time.Second))
			if err != nil || got != s.want {
				t.Fatalf("%s: got %v, %v; want %v", s.name, got, err, s.want)
			}
		}
	})
	t.Run("once concurrently", func(t *testing.T) {
		var wins atomic.Int64
		var wg sync.WaitGroup
		for i := 0; i < 40; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if ok, err := e.Once(ctx, "race", now, now.Add(time.Minute)); err == nil && ok {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d winners, want 1", wins.Load())
		}
	})
	t.Run("incr", func(t *testing.T) {
		for i := int64(1); i <= 3; i++ {
			n, err := e.Incr(ctx, "ctr", now.Add(time.Duration(i)*time.Second), now.Add(time.Minute))
			if err != nil || n != i {
				t.Fatalf("incr %d: got %d, %v", i, n, err)
			}
		}
		if n, err := e.Count(ctx, "ctr", now.Add(30*time.Second)); err != nil || n != 3 {
			t.Fatalf("count: got %d, %v; want 3", n, err)
		}
		if n, err := e.Count(ctx, "ctr", now.Add(2*time.Minute)); err != nil || n != 0 {
			t.Fatalf("count after window: got %d, %v; want 0", n, err)
		}
		if n, err := e.Count(ctx, "absent", now); err != nil || n != 0 {
			t.Fatalf("count absent: got %d, %v; want 0", n, err)
		}
		n, err := e.Incr(ctx, "ctr", now.Add(2*time.Minute), now.Add(3*time.Minute))
		if err != nil || n != 1 {
			t.Fatalf("after window: got %d, %v; want 1", n, err)
		}
	})
	t.Run("prune", func(t *testing.T) {
		if _, err := e.Once(ctx, "old", now, now.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		n, err := e.PruneEphemeral(ctx, now.Add(time.Hour))
		if err != nil || n < 1 {
			t.Fatalf("prune: %d, %v", n, err)
		}
	})
}

func TestSQLiteEphemeral(t *testing.T) {
	testEphemeral(t, openSQLite(t, filepath.Join(t.TempDir(), "e.db"), testKeyring(t)))
}
