package config

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"
)

// dsnMask replaces a password inside a DSN; url.URL.Redacted uses the same.
const dsnMask = "xxxxx"

// A PostgreSQL DSN may carry a password, yet DSN stays a plain string so other packages can hand
// it to database/sql unchanged; so StoreConfig masks it whenever it is printed or encoded.

// storeView has StoreConfig's fields without its methods, to print without recursing.
type storeView StoreConfig

func (s StoreConfig) view() storeView {
	v := storeView(s)
	v.DSN = redactDSN(s.DSN)
	return v
}

// Format prints a StoreConfig with any password in the DSN masked.
func (s StoreConfig) Format(f fmt.State, verb rune) {
	view := s.view()
	if verb == 'v' && f.Flag('#') {
		out := fmt.Sprintf("%#v", view)
		_, _ = io.WriteString(f, "config.StoreConfig"+strings.TrimPrefix(out, "config.storeView"))
		return
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), view)
}

// redactDSN masks the password in a URL DSN (userinfo or ?password=) or a keyword/value DSN
// (password=... or password='...'). A URL that does not parse is masked whole, to be safe.
func redactDSN(dsn string) string {
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return dsnMask
		}
		q := u.Query()
		if q.Has("password") {
			q.Set("password", dsnMask)
			u.RawQuery = q.Encode()
		}
		return u.Redacted()
	}
	re := regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)
	return re.ReplaceAllString(dsn, "${1}"+dsnMask)
}

// MarshalJSON encodes a StoreConfig with any password in the DSN masked.
func (s StoreConfig) MarshalJSON() ([]byte, error) { return json.Marshal(s.view()) }

// MarshalYAML encodes a StoreConfig with any password in the DSN masked.
func (s StoreConfig) MarshalYAML() (any, error) { return s.view(), nil }
