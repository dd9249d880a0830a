package config

import (
	"path/filepath"
	"strings"
)

func (v *validator) store(s *StoreConfig) {
	v.oneOf(&s.Driver, "store.driver", DefaultDriver, DriverSQLite, DriverPostgres)
	keyDir := v.dir
	switch s.Driver {
	case DriverSQLite:
		defaultString(&s.DSN, DefaultSQLiteDSN)
		if isSQLitePath(s.DSN) {
			s.DSN = v.resolve(s.DSN)
			// The key sits beside the database by default: they are backed up and restored
			// together, and one is useless without the other.
			keyDir = filepath.Dir(s.DSN)
		}
	case DriverPostgres:
		if s.DSN == "" {
			v.errorf("store.dsn", msgDSNPostgres)
		}
	}
	if s.KeyFile == "" {
		s.KeyFile = filepath.Join(keyDir, DefaultKeyFile)
	} else {
		s.KeyFile = v.resolve(s.KeyFile)
	}
}

// isSQLitePath reports whether a sqlite DSN is a plain file path, as opposed to an in-memory
// database or a "file:" URI whose meaning radmfa leaves to the driver.
func isSQLitePath(dsn string) bool {
	return dsn != ":memory:" && !strings.HasPrefix(dsn, "file:")
}
