package test

import (
	"strings"
	"testing"
	"time"

	"layeh.com/radius"

	"github.com/radmfa/radmfa/factors"
)

// stepCode is the app's code at step cur+off, as a phone whose clock runs off steps ahead shows
// it now.
func stepCode(t testing.TB, secret []byte, cur int64, off int64) string {
	t.Helper()
	c, err := factors.DefaultTOTP().Code(secret, cur+off)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDrift(t *testing.T) {
	d := startDirectory(t)
	n := startNode(t, d, nodeConfig{RequireMA: true})

	t.Run("resync learns the phone's clock", func(t *testing.T) {
		user, pw := newUser(t, d)
		secret := n.enroll(user)
		cur := factors.DefaultTOTP().Step(time.Now())

		// The phone is 90 s ahead: outside the default ±1 step.
		wantCode(t, n.send(request{user: user, password: stepCode(t, secret, cur, 3), state: firstLeg(t, n, user, pw)}),
			radius.CodeAccessReject)
		wantReason(t, n, user, "wrong_code")

		out := cliOK(t, n, "user", "resync", user, stepCode(t, secret, cur, 3), stepCode(t, secret, cur, 4))
		if !strings.Contains(out, "+4 steps") && !strings.Contains(out, "+3 steps") {
			// +3 only if the clock ticked into the next step between cur and the resync.
			t.Fatalf("resync printed %q", out)
		}
		if out := cliOK(t, n, "user", "show", user); !strings.Contains(out, "drift:") {
			t.Fatalf("user show does not show the drift:\n%s", out)
		}

		// The window is now centred on the learned drift: the phone's next code works…
		wantCode(t, n.send(request{user: user, password: stepCode(t, secret, cur, 5), state: firstLeg(t, n, user, pw)}),
			radius.CodeAccessAccept)
		wantReason(t, n, user, "mfa_ok")
		// …the codes resync used are spent…
		wantCode(t, n.send(request{user: user, password: stepCode(t, secret, cur, 4), state: firstLeg(t, n, user, pw)}),
			radius.CodeAccessReject)
		// …and the code of the real time is now outside the window.
		wantCode(t, n.send(request{user: user, password: stepCode(t, secret, cur, 0), state: firstLeg(t, n, user, pw)}),
			radius.CodeAccessReject)
	})

	t.Run("resync refuses", func(t *testing.T) {
		user, _ := newUser(t, d)
		secret := n.enroll(user)
		noApp, _ := newUser(t, d)
		cliOK(t, n, "user", "state", noApp, "enforced")
		cur := factors.DefaultTOTP().Step(time.Now())
		tests := []struct {
			name, user, c1, c2, want string
		}{
			{"codes not consecutive", user, stepCode(t, secret, cur, 2), stepCode(t, secret, cur, 4), "not consecutive"},
			{"codes in the wrong order", user, stepCode(t, secret, cur, 3), stepCode(t, secret, cur, 2), "not consecutive"},
			{"beyond ten minutes", user, stepCode(t, secret, cur, 25), stepCode(t, secret, cur, 26), "not consecutive"},
			{"not codes", user, "abcdef", "ghijkl", "not consecutive"},
			{"no such user", "nobody-resync", "123456", "234567", "no such user"},
			{"no app", noApp, "123456", "234567", "no authenticator app"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				out, err := n.cli("user", "resync", tt.user, tt.c1, tt.c2)
				if err == nil || !strings.Contains(out, tt.want) {
					t.Fatalf("err %v, output %q; want %q", err, out, tt.want)
				}
			})
		}
		t.Run("codes already used", func(t *testing.T) {
			c1, c2 := stepCode(t, secret, cur, -3), stepCode(t, secret, cur, -2)
			cliOK(t, n, "user", "resync", user, c1, c2)
			out, err := n.cli("user", "resync", user, c1, c2)
			if err == nil || !strings.Contains(out, "already used") {
				t.Fatalf("err %v, output %q", err, out)
			}
		})
	})

	t.Run("a phone behind the clock", func(t *testing.T) {
		user, pw := newUser(t, d)
		secret := n.enroll(user)
		cur := factors.DefaultTOTP().Step(time.Now())
		cliOK(t, n, "user", "resync", user, stepCode(t, secret, cur, -6), stepCode(t, secret, cur, -5))
		wantCode(t, n.send(request{user: user, password: stepCode(t, secret, cur, -4), state: firstLeg(t, n, user, pw)}),
			radius.CodeAccessAccept)
	})

	t.Run("accepted codes keep the drift up to date", func(t *testing.T) {
		// Within the skew, each accepted code stores its offset; the next sign-in's window is
		// centred there, so a phone drifting one step at a time is followed.
		user, pw := newUser(t, d)
		secret := n.enroll(user)
		cur := factors.DefaultTOTP().Step(time.Now())
		for _, off := range []int64{1, 2, 3} {
			wantCode(t, n.send(request{user: user, password: stepCode(t, secret, cur, off), state: firstLeg(t, n, user, pw)}),
				radius.CodeAccessAccept)
		}
	})
}
