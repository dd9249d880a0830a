package store

import (
	"math"
	"testing"
	"time"
)

func TestLockoutDuration(t *testing.T) {
	tests := []struct {
		name  string
		p     LockoutPolicy
		level int
		want  time.Duration
	}{
		{"level 0", LockoutPolicy{Duration: time.Minute, Max: time.Hour}, 0, time.Minute},
		{"level 3", LockoutPolicy{Duration: time.Minute, Max: time.Hour}, 3, 8 * time.Minute},
		{"capped", LockoutPolicy{Duration: time.Minute, Max: time.Hour}, 10, time.Hour},
		{"huge level capped", LockoutPolicy{Duration: time.Minute, Max: time.Hour}, 1 << 30, time.Hour},
		{"no cap", LockoutPolicy{Duration: time.Minute}, 4, 16 * time.Minute},
		{"no cap no overflow", LockoutPolicy{Duration: time.Minute}, 200, math.MaxInt64},
		{"duration above max", LockoutPolicy{Duration: 2 * time.Hour, Max: time.Hour}, 0, time.Hour},
		{"zero duration", LockoutPolicy{Max: time.Hour}, 5, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := lockoutDuration(tc.p, tc.level); got != tc.want {
				t.Fatalf("lockoutDuration(%+v, %d) = %v, want %v", tc.p, tc.level, got, tc.want)
			}
		})
	}
}
