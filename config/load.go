package config

import (
	"fmt"
	"os"
	"path/filepath"
)

// Load reads, decodes and validates the configuration file at path. Relative paths in the
// file are taken relative to the file's directory. Problems in the file come back as one
// *Error listing all of them.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path)
}

// Parse decodes and validates a configuration file's contents. source is the file's path: it
// names the file in errors, and its directory anchors relative paths ("" means the current
// directory).
func Parse(data []byte, source string) (*Config, error) {
	root, err := parseDocument(data)
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", sourceName(source), err)
	}
	dir, err := filepath.Abs(filepath.Dir(source))
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", sourceName(source), err)
	}

	var cfg Config
	w := newWalker()
	w.decodeRoot(root, &cfg)
	v := newValidator(w, dir)
	v.validate(&cfg)
	errs, warns := v.result()
	if len(errs) > 0 {
		return nil, &Error{Source: source, Errors: errs}
	}
	cfg.Warnings = formatAll(warns)
	return &cfg, nil
}

func sourceName(source string) string {
	if source == "" {
		return "<input>"
	}
	return source
}
