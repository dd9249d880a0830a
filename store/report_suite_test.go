package store

import (
	"path/filepath"
	"testing"
)

// portalCase is one behaviour of the Portal methods; testPortal runs every case on a fresh
// store of the backend, the way testStore does for Store.
type portalCase struct {
	name string
	run  func(t *testing.T, s portalStore)
}

type portalStore interface {
	Store
	Portal
}

// testPortal runs the Portal behaviour suite. open returns a fresh, empty store, as for
// testStore (which can call testPortal with the same open).
func testPortal(t *testing.T, open func(t *testing.T) Store) {
	t.Helper()
	var cases []portalCase
	cases = append(cases, appPasswordCases...)
	cases = append(cases, deviceCases...)
	cases = append(cases, fraudCases...)
	cases = append(cases, reportCases...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, ok := open(t).(portalStore)
			if !ok {
				t.Fatal("store does not implement Portal")
			}
			tc.run(t, s)
		})
	}
}

func TestSQLitePortal(t *testing.T) {
	testPortal(t, func(t *testing.T) Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "radmfa.db"), testKeyring(t))
	})
}

func TestPostgresPortal(t *testing.T) {
	testPortal(t, func(t *testing.T) Store {
		return openPostgres(t, pgDatabase(t), testKeyring(t))
	})
}
