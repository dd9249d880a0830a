package config

import (
	"fmt"
	"slices"
	"strings"
)

// FieldError is one problem with one key of the configuration file.
type FieldError struct {
	Path string // full key path, e.g. "radius.clients[0].secret"; "" for the document itself
	Line int    // line of the key, or of its parent when the key is missing
	Msg  string
}

// Error formats the problem as "path: line N: message".
func (e FieldError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: line %d: %s", e.Path, e.Line, e.Msg)
}

// Error is every problem found in one configuration file, sorted by line, so an admin fixes
// them all in one pass instead of one per restart.
type Error struct {
	Source string // the file the problems are in, as given to Load or Parse
	Errors []FieldError
}

// Error returns the problems one per line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		lines[i] = fe.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes each FieldError to errors.As.
func (e *Error) Unwrap() []error {
	errs := make([]error, len(e.Errors))
	for i, fe := range e.Errors {
		errs[i] = fe
	}
	return errs
}

// sortByLine orders problems the way the file reads; within a line, in the order found.
func sortByLine(errs []FieldError) {
	slices.SortStableFunc(errs, func(a, b FieldError) int { return a.Line - b.Line })
}

// formatAll formats problems for Config.Warnings.
func formatAll(errs []FieldError) []string {
	if len(errs) == 0 {
		return nil
	}
	out := make([]string, len(errs))
	for i, fe := range errs {
		out[i] = fe.Error()
	}
	return out
}
