// Command prep makes the benchmark's data:
//
//	prep data -users N -ldif FILE -users-file FILE
//	    the directory's users (LDIF, {SSHA} passwords, TOTP secret in description for
//	    FreeRADIUS's rlm_totp) and a FreeRADIUS users file with the same names and passwords
//	prep enroll -users N [-extra M] -dsn FILE -key FILE
//	    enrols every user's TOTP secret in radmfa's store (creating the key file if missing);
//	    run again, it re-enrols (force), which also clears each user's used-code step and drift.
//	    -extra M first makes sure the store also holds filler0000001…fillerM: enrolled users
//	    that exist only in the store (never in the directory), to measure radmfa with a large
//	    store. Only the missing ones are added, in batches; the ones already there are left as
//	    they are, so growing a store step by step costs only the new rows.
package main

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/radmfa/radmfa/bench/internal/benchuser"
	"github.com/radmfa/radmfa/store"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: prep data|enroll [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "data":
		err = cmdData(os.Args[2:])
	case "enroll":
		err = cmdEnroll(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "prep:", err)
		os.Exit(1)
	}
}

// ssha returns an OpenLDAP {SSHA} value: base64(SHA-1(password || salt) || salt). The salt is
// derived from the uid so that the generated LDIF is the same on every run.
func ssha(uid, password string) string {
	s := sha1.Sum([]byte("salt-" + uid))
	salt := s[:8]
	h := sha1.New()
	h.Write([]byte(password))
	h.Write(salt)
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(h.Sum(nil), salt...))
}

func cmdData(args []string) error {
	fs := flag.NewFlagSet("data", flag.ExitOnError)
	n := fs.Int("users", 10000, "number of users")
	ldif := fs.String("ldif", "", "LDIF file to write")
	users := fs.String("users-file", "", "FreeRADIUS users file to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *ldif == "" || *users == "" {
		return fmt.Errorf("data: -ldif and -users-file are required")
	}
	if err := writeFile(*ldif, func(w *bufio.Writer) {
		for i := 1; i <= *n; i++ {
			uid := benchuser.Name(i)
			fmt.Fprintf(w, "dn: %s\nobjectClass: inetOrgPerson\nuid: %s\ncn: Bench User %d\nsn: User%d\n"+
				"mail: %s@example.test\nuserPassword: %s\ndescription: %s\n\n",
				benchuser.DN(uid), uid, i, i, uid, ssha(uid, benchuser.Password(uid)), benchuser.SecretBase32(uid))
		}
	}); err != nil {
		return err
	}
	return writeFile(*users, func(w *bufio.Writer) {
		for i := 1; i <= *n; i++ {
			uid := benchuser.Name(i)
			fmt.Fprintf(w, "%s\tCleartext-Password := \"%s\"\n", uid, benchuser.Password(uid))
		}
	})
}

func writeFile(path string, fill func(*bufio.Writer)) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<16)
	fill(w)
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func cmdEnroll(args []string) error {
	fs := flag.NewFlagSet("enroll", flag.ExitOnError)
	n := fs.Int("users", 10000, "number of users")
	extra := fs.Int("extra", 0, "also make sure filler0000001…fillerN (store only) are enrolled, adding the missing ones")
	dsn := fs.String("dsn", "", "radmfa sqlite database file")
	keyFile := fs.String("key", "", "radmfa store key file (created if missing)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dsn == "" || *keyFile == "" {
		return fmt.Errorf("enroll: -dsn and -key are required")
	}
	if *extra < 0 || *extra > maxFillers {
		return fmt.Errorf("enroll: -extra must be in 0…%d", maxFillers)
	}
	// 5 minutes is ample for the 10 000 bench users; the fillers go at about 60 000 a second
	// on 2 cores (990 000 in 15 s), so a minute per 100 000 on top leaves a wide margin.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute+time.Duration(*extra/100000+1)*time.Minute)
	defer cancel()
	key, err := store.LoadKeyFile(*keyFile, true)
	if err != nil {
		return err
	}
	kr, err := store.NewKeyring(key)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, "sqlite", *dsn, kr)
	if err != nil {
		return err
	}
	if *extra > 0 {
		if err := enrollFillers(ctx, st, *extra); err != nil {
			st.Close()
			return err
		}
	}
	start := time.Now()
	for i := 1; i <= *n; i++ {
		uid := benchuser.Name(i)
		if err := st.EnrollTOTP(ctx, uid, benchuser.Secret(uid), true); err != nil {
			st.Close()
			return err
		}
	}
	if err := st.Close(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "prep: enrolled %d users in %s\n", *n, time.Since(start).Round(time.Millisecond))
	return nil
}

// maxFillers bounds -extra so that every filler name has the same width.
const maxFillers = 9999999

// fillerName is the uid of filler user i (1-based): filler0000001 … filler9999999. No
// benchuser.Name ("user…") can be one, and the directory holds none of them.
func fillerName(i int) string { return fmt.Sprintf("filler%07d", i) }

// fillerBatch is how many fillers go into one import transaction. SQLite has one writer, so
// more goroutines would not help; one commit per batch instead of EnrollTOTP's one per row
// does: 990 000 rows in about 15 s, against about 25 s one EnrollTOTP at a time (2 cores).
const fillerBatch = 5000

// enrollFillers makes sure filler 1…want are enrolled. It only ever adds fillers in order, a
// batch per transaction (all or nothing), so the ones present are always 1…k: a binary search
// with GetUser finds k without reading the whole table, and only k+1…want are written. Each
// row is what EnrollTOTP writes (secret sealed with the store's key, step and drift 0), but
// written through the store's bulk import path.
func enrollFillers(ctx context.Context, st store.Store, want int) error {
	imp, ok := st.(store.Importer)
	if !ok {
		return fmt.Errorf("enroll: the store (%T) has no bulk import", st)
	}
	exists := func(i int) (bool, error) {
		_, err := st.GetUser(ctx, fillerName(i))
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	// Invariant: fillers 1…lo exist, hi+1 does not (or hi = want).
	lo, hi := 0, want
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		ok, err := exists(mid)
		if err != nil {
			return err
		}
		if ok {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	have := lo
	if have == want {
		fmt.Fprintf(os.Stderr, "prep: filler users 1…%d already enrolled\n", have)
		return nil
	}
	start, last := time.Now(), time.Now()
	now := start.UTC()
	recs := make([]store.UserRecord, 0, fillerBatch)
	for i := have + 1; i <= want; i += fillerBatch {
		recs = recs[:0]
		for j := i; j < i+fillerBatch && j <= want; j++ {
			uid := fillerName(j)
			recs = append(recs, store.UserRecord{Username: uid, User: &store.User{
				Username: uid, TOTPSecret: benchuser.Secret(uid), CreatedAt: now, UpdatedAt: now,
			}})
		}
		if err := imp.ImportUsers(ctx, recs); err != nil {
			return err
		}
		if done := i + len(recs) - 1; time.Since(last) >= 10*time.Second || done == want {
			last = time.Now()
			fmt.Fprintf(os.Stderr, "prep: filler users %d/%d enrolled (%d added in %s)\n",
				done, want, done-have, time.Since(start).Round(time.Millisecond))
		}
	}
	return nil
}
