package config

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Secret is a string that may be given inline or as "env:NAME", resolved from the environment
// when the file is loaded so secrets need not live in the file. It never prints its value:
// every fmt verb, %#v included, and every text encoding show a placeholder instead.
type Secret string

// redacted stands in for a secret's value wherever it would be printed.
const redacted = "[redacted]"

// envPrefix marks a Secret read from an environment variable.
const envPrefix = "env:"

// Reveal returns the secret's value. It exists so that every use of the value is explicit and
// easy to find in review.
func (s Secret) Reveal() string { return string(s) }

// String hides the value so a Secret never reaches a log or error message.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString hides the value from %#v.
func (s Secret) GoString() string { return "config.Secret(" + strconv.Quote(s.String()) + ")" }

// Format hides the value from every verb. Without it fmt prints the raw string for verbs a
// Stringer does not cover, such as %d on a struct holding a Secret.
func (s Secret) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = io.WriteString(f, s.GoString())
	case verb == 'q':
		_, _ = io.WriteString(f, strconv.Quote(s.String()))
	default:
		_, _ = io.WriteString(f, s.String())
	}
}

// MarshalText hides the value from JSON and YAML dumps of a Config.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalYAML takes a literal or resolves "env:NAME". Its errors never contain the value.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf(msgExpected, "a string", describe(n))
	}
	name, isEnv := strings.CutPrefix(n.Value, envPrefix)
	if !isEnv {
		*s = Secret(n.Value)
		return nil
	}
	if name == "" {
		return fmt.Errorf(msgEnvEmptyName, envPrefix)
	}
	v, ok := os.LookupEnv(name)
	if !ok {
		return fmt.Errorf(msgEnvUnset, name)
	}
	*s = Secret(v)
	return nil
}
