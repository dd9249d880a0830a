package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/radmfa/radmfa/config"
	"github.com/radmfa/radmfa/store"
)

const storeUsage = `usage:
  radmfa store migrate --config FILE
  radmfa store copy --from sqlite:PATH|postgres:DSN --to sqlite:PATH|postgres:DSN --key-file FILE [--to-key-file FILE]
  radmfa store rotate-key --new-key-file FILE --config FILE`

// cmdStore runs the store maintenance commands: migrate, copy and rotate-key.
func cmdStore(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: no store command\n%s", errUsage, storeUsage)
	}
	switch args[0] {
	case "migrate":
		return storeMigrate(ctx, args[1:], stdout)
	case "copy":
		return storeCopy(ctx, args[1:], stdout)
	case "rotate-key":
		return storeRotateKey(ctx, args[1:], stdout)
	}
	return fmt.Errorf("%w: unknown store command %q\n%s", errUsage, args[0], storeUsage)
}

// storeMigrate applies pending schema migrations, which opening the store does; PostgreSQL
// also reports the resulting version.
func storeMigrate(ctx context.Context, args []string, stdout io.Writer) error {
	fs, cfgPath := newFlags("store migrate")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("%w: radmfa store migrate takes no arguments", errUsage)
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg.Store)
	if err != nil {
		return err
	}
	defer st.Close()
	if m, ok := st.(interface {
		Migrate(context.Context) (int, error)
	}); ok {
		v, err := m.Migrate(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "store %s: schema at version %d\n", cfg.Store.Driver, v)
		return nil
	}
	fmt.Fprintf(stdout, "store %s: schema up to date\n", cfg.Store.Driver)
	return nil
}

// storeCopy copies one store into another, empty one, e.g. SQLite into PostgreSQL when a
// single node becomes several, and verifies the result (store.Copy).
func storeCopy(ctx context.Context, args []string, stdout io.Writer) error {
	fs, _ := newFlags("store copy") // --config is accepted but unused: both ends are named here
	from := fs.String("from", "", "source store: sqlite:PATH or postgres:DSN")
	to := fs.String("to", "", "destination store (empty): sqlite:PATH or postgres:DSN")
	keyFile := fs.String("key-file", "", "key file of the source")
	toKeyFile := fs.String("to-key-file", "", "key file of the destination (default: --key-file); created if missing")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *from == "" || *to == "" || *keyFile == "" {
		return fmt.Errorf("%w: radmfa store copy needs --from, --to and --key-file\n%s", errUsage, storeUsage)
	}
	srcDriver, srcDSN, err := parseStoreSpec(*from)
	if err != nil {
		return err
	}
	dstDriver, dstDSN, err := parseStoreSpec(*to)
	if err != nil {
		return err
	}
	// The source's key must exist: a new one would not decrypt it.
	srcKeys, err := loadKeyring(*keyFile, false)
	if err != nil {
		return err
	}
	if *toKeyFile == "" {
		*toKeyFile = *keyFile
	}
	dstKeys, err := loadKeyring(*toKeyFile, true)
	if err != nil {
		return err
	}

	src, err := store.Open(ctx, srcDriver, srcDSN, srcKeys)
	if err != nil {
		return fmt.Errorf("open source: %w", err)
	}
	defer src.Close()
	dst, err := store.Open(ctx, dstDriver, dstDSN, dstKeys)
	if err != nil {
		return fmt.Errorf("open destination: %w", err)
	}
	defer dst.Close()

	rep, err := store.Copy(ctx, src, dst)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "copied %s to %s: %d users (%d with an MFA record, %d secrets verified), %d audit events, %d app passwords, %d devices, %d blocks\n",
		describeStore(src, srcDriver, srcDSN), describeStore(dst, dstDriver, dstDSN), rep.Users, rep.Records, rep.Secrets, rep.Audit,
		rep.AppPasswords, rep.Devices, rep.Blocks)
	if dstKeys.PrimaryID() != srcKeys.PrimaryID() {
		fmt.Fprintf(stdout, "the destination is sealed with the key in %s (key %s)\n", *toKeyFile, dstKeys.PrimaryID())
	}
	return nil
}

// storeRotateKey re-seals every secret in the configured store with a new key.
func storeRotateKey(ctx context.Context, args []string, stdout io.Writer) error {
	fs, cfgPath := newFlags("store rotate-key")
	newKeyFile := fs.String("new-key-file", "", "key file to seal with from now on; created if missing")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *newKeyFile == "" {
		return fmt.Errorf("%w: radmfa store rotate-key needs --new-key-file\n%s", errUsage, storeUsage)
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if sameFile(*newKeyFile, cfg.Store.KeyFile) {
		return fmt.Errorf("--new-key-file %s is the key file in use; name a new file", *newKeyFile)
	}
	// Not openStore: it creates a missing key file, and a key made up now cannot be the one
	// the data is sealed with.
	oldKeys, err := loadKeyring(cfg.Store.KeyFile, false)
	if err != nil {
		return err
	}
	newKeys, err := loadKeyring(*newKeyFile, true)
	if err != nil {
		return err
	}
	if newKeys.PrimaryID() == oldKeys.PrimaryID() {
		return fmt.Errorf("%s holds the key already in use (%s)", *newKeyFile, newKeys.PrimaryID())
	}
	st, err := store.Open(ctx, cfg.Store.Driver, cfg.Store.DSN, oldKeys)
	if err != nil {
		return err
	}
	defer st.Close()
	rot, ok := st.(interface {
		RotateKey(context.Context, *store.Keyring) (int, error)
	})
	if !ok {
		return fmt.Errorf("store %s cannot rotate its key", cfg.Store.Driver)
	}
	n, err := rot.RotateKey(ctx, newKeys)
	if err != nil {
		return err
	}
	auditAdmin(ctx, st, cfg, "", "rotate-key "+oldKeys.PrimaryID()+" to "+newKeys.PrimaryID())
	fmt.Fprintf(stdout, "re-sealed %d users with key %s (was %s)\n", n, newKeys.PrimaryID(), oldKeys.PrimaryID())
	fmt.Fprintf(stdout, "next: set store.key_file to %s on every node and restart them; keep %s until they all have\n",
		*newKeyFile, cfg.Store.KeyFile)
	return nil
}

// parseStoreSpec splits "driver:dsn". A bare postgres:// or postgresql:// URL is a
// PostgreSQL DSN as it is.
func parseStoreSpec(spec string) (driver, dsn string, err error) {
	if strings.HasPrefix(spec, "postgres://") || strings.HasPrefix(spec, "postgresql://") {
		return "postgres", spec, nil
	}
	driver, dsn, ok := strings.Cut(spec, ":")
	if !ok || driver == "" || dsn == "" {
		return "", "", fmt.Errorf("%w: store %q: want sqlite:PATH or postgres:DSN", errUsage, spec)
	}
	return driver, dsn, nil
}

// describeStore names a store for output: PostgreSQL by host, port and database (its DSN may
// hold a password), SQLite by path.
func describeStore(st store.Store, driver, dsn string) string {
	if s, ok := st.(fmt.Stringer); ok {
		return s.String()
	}
	return driver + " " + dsn
}

func loadKeyring(path string, create bool) (*store.Keyring, error) {
	key, err := store.LoadKeyFile(path, create)
	if err != nil {
		return nil, err
	}
	return store.NewKeyring(key)
}

func sameFile(a, b string) bool {
	x, err1 := filepath.Abs(a)
	y, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && x == y
}
