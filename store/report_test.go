package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

var reportCases = []portalCase{
	{"audit report filters", testAuditReport},
	{"audit summary", testAuditSummary},
}

// testAuditReport checks AuditReport selects and orders exactly as QueryAudit.
func testAuditReport(t *testing.T, s portalStore) {
	ctx := context.Background()
	seedAudit(t, s)
	filters := []struct {
		name string
		f    AuditFilter
	}{
		{"all", AuditFilter{}},
		{"by user", AuditFilter{Username: "alice"}},
		{"since", AuditFilter{Since: t0.Add(2 * time.Minute)}},
		{"by result", AuditFilter{Result: "reject"}},
		{"by kind", AuditFilter{Kind: "admin"}},
		{"limit", AuditFilter{Limit: 2}},
		{"combined", AuditFilter{Username: "alice", Result: "accept", Since: t0, Kind: "auth", Limit: 5}},
		{"no match", AuditFilter{Username: "nobody"}},
	}
	for _, tc := range filters {
		t.Run(tc.name, func(t *testing.T) {
			want, err := s.QueryAudit(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.AuditReport(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("AuditReport\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func testAuditSummary(t *testing.T, s portalStore) {
	ctx := context.Background()
	day1 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	day2 := day1.Add(24 * time.Hour)
	evs := []AuditEvent{
		{Time: day1.Add(-time.Second), Kind: "auth", Username: "alice", Result: "accept"}, // before since
		{Time: day1.Add(time.Hour), Kind: "auth", Username: "alice", Result: "challenge", Reason: "challenge"},
		{Time: day1.Add(time.Hour), Kind: "auth", Username: "alice", Result: "accept", Reason: "totp"},
		{Time: day1.Add(2 * time.Hour), Kind: "auth", Username: "alice", Result: "reject", Reason: "wrong_code"},
		{Time: day1.Add(3 * time.Hour), Kind: "auth", Username: "alice", Result: "reject", Reason: "wrong_code"},
		{Time: day1.Add(4 * time.Hour), Kind: "auth", Username: "bob", Result: "reject", Reason: "bad_password"},
		{Time: day1.Add(5 * time.Hour), Kind: "admin", Username: "alice", Result: "unlock"}, // not a sign-in
		{Time: day2.Add(time.Minute), Kind: "auth", Username: "alice", Result: "accept", Reason: "totp"},
		{Time: day2.Add(23*time.Hour + 59*time.Minute), Kind: "auth", Username: "alice", Result: "accept", Reason: "totp"},
	}
	for _, ev := range evs {
		if err := s.Audit(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	day2Events, _ := s.AuditReport(ctx, AuditFilter{Username: "alice", Since: day2})
	if err := s.MarkFraud(ctx, day2Events[0].ID, "alice"); err != nil {
		t.Fatal(err)
	}

	rows, err := s.AuditSummary(ctx, day1)
	if err != nil {
		t.Fatal(err)
	}
	want := []SummaryRow{
		{Day: day1, Username: "alice", Accepts: 1, Rejects: 2, Challenges: 1,
			Reasons: map[string]int{"challenge": 1, "totp": 1, "wrong_code": 2}},
		{Day: day1, Username: "bob", Rejects: 1, Reasons: map[string]int{"bad_password": 1}},
		{Day: day2, Username: "alice", Accepts: 2, Fraud: 1, Reasons: map[string]int{"totp": 2}},
	}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Fatalf("AuditSummary\n got %+v\nwant %+v", rows, want)
	}
	if rows, err := s.AuditSummary(ctx, day2.Add(24*time.Hour)); err != nil || len(rows) != 0 {
		t.Fatalf("nothing since: %v, %v", rows, err)
	}
}
