package config

import _ "embed"

//go:embed example.yaml
var exampleYAML string

// Example returns the commented example configuration file, config/example.yaml. It is a
// fresh copy each call, so callers may modify it.
func Example() []byte { return []byte(exampleYAML) }
