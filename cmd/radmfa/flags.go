package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

// newFlags returns a flag set with the --config flag every command takes. The default comes
// from $RADMFA_CONFIG, then /etc/radmfa/radmfa.yaml.
func newFlags(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	def := os.Getenv("RADMFA_CONFIG")
	if def == "" {
		def = "/etc/radmfa/radmfa.yaml"
	}
	return fs, fs.String("config", def, "configuration file")
}

// parseInterspersed parses flags that may come before or after positional arguments
// (radmfa user enroll alice --config f).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", errUsage, fs.Name(), err)
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
