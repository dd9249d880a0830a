package store

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeHash is shaped like a PHC string; the store only keeps it.
func fakeHash(n string) string { return "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$" + n }

var appPasswordCases = []portalCase{
	{"app passwords add list delete", testAppPasswordsCRUD},
	{"app passwords limit", testAppPasswordsLimit},
	{"app passwords limit race", testAppPasswordsLimitRace},
	{"app passwords invalid input", testAppPasswordsInvalid},
	{"app passwords touch", testAppPasswordsTouch},
}

func testAppPasswordsCRUD(t *testing.T, s portalStore) {
	ctx := context.Background()
	if got, err := s.ListAppPasswords(ctx, "alice"); err != nil || len(got) != 0 {
		t.Fatalf("empty list: %v, %v", got, err)
	}
	var ids []int64
	for _, name := range []string{"Phone mail", "Laptop VPN", "Tablet"} {
		a, err := s.AddAppPassword(ctx, "alice", name, fakeHash(name), MaxAppPasswords)
		if err != nil {
			t.Fatal(err)
		}
		if a.ID == 0 || a.Username != "alice" || a.Name != name || a.Hash != fakeHash(name) ||
			a.CreatedAt.IsZero() || a.CreatedAt.Location() != time.UTC || !a.LastUsedAt.IsZero() {
			t.Fatalf("added %+v", a)
		}
		ids = append(ids, a.ID)
	}
	if _, err := s.AddAppPassword(ctx, "bob", "Bob's", fakeHash("b"), MaxAppPasswords); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListAppPasswords(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range got {
		names = append(names, a.Name)
	}
	if strings.Join(names, ",") != "Phone mail,Laptop VPN,Tablet" {
		t.Fatalf("list order %v", names)
	}

	tests := []struct {
		name, user string
		id         int64
		want       error
	}{
		{"own", "alice", ids[1], nil},
		{"twice", "alice", ids[1], ErrNotFound},
		{"another user's", "bob", ids[0], ErrNotFound},
		{"unknown id", "alice", 1 << 40, ErrNotFound},
	}
	for _, tc := range tests {
		if err := s.DeleteAppPassword(ctx, tc.user, tc.id); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: DeleteAppPassword = %v, want %v", tc.name, err, tc.want)
		}
	}
	if got, _ := s.ListAppPasswords(ctx, "alice"); len(got) != 2 {
		t.Fatalf("after delete: %d left, want 2", len(got))
	}
	n, err := s.DeleteAppPasswords(ctx, "alice")
	if err != nil || n != 2 {
		t.Fatalf("DeleteAppPasswords = %d, %v; want 2", n, err)
	}
	if got, _ := s.ListAppPasswords(ctx, "bob"); len(got) != 1 {
		t.Fatalf("deleting alice's touched bob's: %v", got)
	}
	if n, err := s.DeleteAppPasswords(ctx, "alice"); err != nil || n != 0 {
		t.Fatalf("DeleteAppPasswords again = %d, %v", n, err)
	}
}

func testAppPasswordsLimit(t *testing.T, s portalStore) {
	ctx := context.Background()
	for i := range 3 {
		if _, err := s.AddAppPassword(ctx, "carol", "p", fakeHash("x"), 3); err != nil {
			t.Fatalf("add %d: %v", i, err)
		}
	}
	_, err := s.AddAppPassword(ctx, "carol", "p", fakeHash("x"), 3)
	if !errors.Is(err, ErrLimit) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("past the limit: %v, want ErrLimit", err)
	}
	// The limit is per user.
	if _, err := s.AddAppPassword(ctx, "dave", "p", fakeHash("x"), 3); err != nil {
		t.Fatal(err)
	}
	// Deleting one makes room.
	list, _ := s.ListAppPasswords(ctx, "carol")
	if err := s.DeleteAppPassword(ctx, "carol", list[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddAppPassword(ctx, "carol", "p", fakeHash("x"), 3); err != nil {
		t.Fatalf("after delete: %v", err)
	}
}

func testAppPasswordsLimitRace(t *testing.T, s portalStore) {
	ctx := context.Background()
	const n = 60
	var wg sync.WaitGroup
	var mu sync.Mutex
	added, limited := 0, 0
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			_, err := s.AddAppPassword(ctx, "erin", "race", fakeHash("r"), MaxAppPasswords)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				added++
			case errors.Is(err, ErrLimit):
				limited++
			default:
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	if added != MaxAppPasswords || limited != n-MaxAppPasswords {
		t.Fatalf("%d added, %d refused; want %d and %d", added, limited, MaxAppPasswords, n-MaxAppPasswords)
	}
	if got, _ := s.ListAppPasswords(ctx, "erin"); len(got) != MaxAppPasswords {
		t.Fatalf("%d stored, want %d", len(got), MaxAppPasswords)
	}
}

func testAppPasswordsInvalid(t *testing.T, s portalStore) {
	ctx := context.Background()
	tests := []struct {
		name, user, label, hash string
		max                     int
	}{
		{"empty username", "", "n", fakeHash("x"), 40},
		{"empty name", "frank", "", fakeHash("x"), 40},
		{"long name", "frank", strings.Repeat("n", 65), fakeHash("x"), 40},
		{"plaintext instead of a hash", "frank", "n", "hunter2-hunter2", 40},
		{"zero limit", "frank", "n", fakeHash("x"), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.AddAppPassword(ctx, tc.user, tc.label, tc.hash, tc.max); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if got, _ := s.ListAppPasswords(ctx, "frank"); len(got) != 0 {
		t.Fatalf("refused adds stored %v", got)
	}
}

func testAppPasswordsTouch(t *testing.T, s portalStore) {
	ctx := context.Background()
	a, err := s.AddAppPassword(ctx, "gina", "mail", fakeHash("g"), MaxAppPasswords)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.TouchAppPassword(ctx, a.ID, t0); err != nil {
		t.Fatal(err)
	}
	got, _ := s.ListAppPasswords(ctx, "gina")
	if len(got) != 1 || !got[0].LastUsedAt.Equal(t0) {
		t.Fatalf("after touch: %+v", got)
	}
	if err := s.TouchAppPassword(ctx, a.ID+1000, t0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("touch unknown: %v, want ErrNotFound", err)
	}
}
