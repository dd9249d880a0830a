package store

import (
	"context"
	"path/filepath"
	"testing"
)

func TestSpendTOTPStep(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "s.db"), testKeyring(t))
	ctx := context.Background()
	if err := s.EnrollTOTP(ctx, "u", []byte("0123456789abcdefghij"), false); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		step    int64
		request string
		want    bool
	}{
		{"fresh step", 10, "req-a", true},
		{"same request again (retransmit)", 10, "req-a", true},
		{"same step, other request (replay)", 10, "req-b", false},
		{"older step", 9, "req-a", false},
		{"newer step", 11, "req-c", true},
		{"the first request is no longer the last", 10, "req-a", false},
	}
	for _, st := range steps {
		got, err := s.SpendTOTPStep(ctx, "u", st.step, 0, st.request)
		if err != nil || got != st.want {
			t.Fatalf("%s: got %v, %v; want %v", st.name, got, err, st.want)
		}
	}
}
