package store

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// The child half of TestSQLiteSurvivesKill: it uses TOTP steps as fast as it can and prints
// each one after UseTOTPStep returned, until it is killed.
func TestSQLiteKillChild(t *testing.T) {
	path, key := os.Getenv("RADMFA_KILL_DB"), os.Getenv("RADMFA_KILL_KEY")
	if path == "" {
		t.Skip("run by TestSQLiteSurvivesKill")
	}
	raw, err := hex.DecodeString(key)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := NewKeyring(raw)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := OpenSQLite(ctx, path, keys)
	if err != nil {
		t.Fatal(err)
	}
	for step := int64(1); ; step++ {
		if ok, err := s.UseTOTPStep(ctx, "alice", step, 0); !ok || err != nil {
			t.Fatal(ok, err)
		}
		fmt.Println(step)
	}
}

// TestSQLiteSurvivesKill kills a writing process with SIGKILL and checks that every step it
// reported as committed is still there (WAL with synchronous=NORMAL).
func TestSQLiteSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "radmfa.db")
	key := GenerateKey()
	keys, err := NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	s := openSQLite(t, path, keys)
	if err := s.EnrollTOTP(ctx, "alice", []byte("secret"), false); err != nil {
		t.Fatal(err)
	}
	s.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestSQLiteKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "RADMFA_KILL_DB="+path, "RADMFA_KILL_KEY="+hex.EncodeToString(key))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var reported int64
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if n, err := strconv.ParseInt(sc.Text(), 10, 64); err == nil {
			reported = n
		}
		if reported >= 200 {
			break
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if reported < 200 {
		t.Fatalf("child reported only %d steps", reported)
	}

	s = openSQLite(t, path, keys)
	u := mustGet(t, s, "alice")
	if u.TOTPLastStep < reported {
		t.Fatalf("after kill -9: last step %d, but the child had committed %d", u.TOTPLastStep, reported)
	}
	if ok, _ := s.UseTOTPStep(ctx, "alice", reported, 0); ok {
		t.Fatal("a step used before the kill was accepted again")
	}
}
