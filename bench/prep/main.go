// Command prep makes the benchmark's data:
//
//	prep data -users N -ldif FILE -users-file FILE
//	    the directory's users (LDIF, {SSHA} passwords, TOTP secret in description for
//	    FreeRADIUS's rlm_totp) and a FreeRADIUS users file with the same names and passwords
//	prep enroll -users N -dsn FILE -key FILE
//	    enrols every user's TOTP secret in radmfa's store (creating the key file if missing);
//	    run again, it re-enrols (force), which also clears each user's used-code step and drift
package main

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
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
	dsn := fs.String("dsn", "", "radmfa sqlite database file")
	keyFile := fs.String("key", "", "radmfa store key file (created if missing)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dsn == "" || *keyFile == "" {
		return fmt.Errorf("enroll: -dsn and -key are required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
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
