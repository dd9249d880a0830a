package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

var fraudCases = []portalCase{
	{"block and unblock", testBlock},
	{"mark fraud", testMarkFraud},
}

func testBlock(t *testing.T, s portalStore) {
	ctx := context.Background()
	if b, reason, err := s.Blocked(ctx, "alice"); err != nil || b || reason != "" {
		t.Fatalf("never blocked: %v %q %v", b, reason, err)
	}
	if err := s.SetBlocked(ctx, "alice", true, "reported sign-in 7", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.SetBlocked(ctx, "bob", true, "admin", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if b, reason, err := s.Blocked(ctx, "alice"); err != nil || !b || reason != "reported sign-in 7" {
		t.Fatalf("blocked: %v %q %v", b, reason, err)
	}
	// Blocking again replaces the reason.
	if err := s.SetBlocked(ctx, "alice", true, "reported sign-in 9", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListBlocked(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("ListBlocked = %v, %v", list, err)
	}
	want := []Block{{"alice", "reported sign-in 9", t0.Add(2 * time.Minute)}, {"bob", "admin", t0.Add(time.Minute)}}
	for i := range want {
		if list[i] != want[i] {
			t.Errorf("block %d: got %+v, want %+v", i, list[i], want[i])
		}
	}
	// Deleting the MFA record does not lift a block.
	if err := s.EnrollTOTP(ctx, "alice", []byte("secret"), false); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if b, _, _ := s.Blocked(ctx, "alice"); !b {
		t.Fatal("DeleteUser lifted the block")
	}
	for range 2 { // unblocking twice is fine
		if err := s.SetBlocked(ctx, "alice", false, "", t0); err != nil {
			t.Fatal(err)
		}
	}
	if b, _, _ := s.Blocked(ctx, "alice"); b {
		t.Fatal("still blocked")
	}
	if err := s.SetBlocked(ctx, "", true, "x", t0); err == nil {
		t.Fatal("empty username accepted")
	}
}

func testMarkFraud(t *testing.T, s portalStore) {
	ctx := context.Background()
	seedAudit(t, s)
	evs, err := s.AuditReport(ctx, AuditFilter{Username: "alice", Result: "accept"})
	if err != nil || len(evs) != 1 {
		t.Fatalf("AuditReport = %v, %v", evs, err)
	}
	id := evs[0].ID
	bobs, _ := s.AuditReport(ctx, AuditFilter{Username: "bob"})
	tests := []struct {
		name string
		id   int64
		user string
		want error
	}{
		{"another user's event", bobs[0].ID, "alice", ErrNotFound},
		{"unknown event", id + 1000, "alice", ErrNotFound},
		{"empty user", id, "", ErrNotFound},
		{"own event", id, "alice", nil},
		{"twice", id, "alice", nil},
	}
	for _, tc := range tests {
		err := s.MarkFraud(ctx, tc.id, tc.user)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: MarkFraud = %v, want %v", tc.name, err, tc.want)
		}
	}
	all, err := s.AuditReport(ctx, AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range all {
		if ev.Fraud != (ev.ID == id) {
			t.Errorf("event %d (%s %s): fraud %v", ev.ID, ev.Username, ev.Result, ev.Fraud)
		}
	}
}
