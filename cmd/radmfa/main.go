// Command radmfa is a RADIUS server that puts multi-factor authentication in front of any VPN.
//
//	radmfa serve --config FILE
//	radmfa config check --config FILE
//	radmfa user enroll|show|delete|state USER --config FILE
//	radmfa version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// errUsage marks errors that should print usage; exit code 2.
var errUsage = errors.New("usage")

func main() { os.Exit(realMain()) }

// realMain runs the command; its defers run before main exits.
func realMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// RADMFA_CPUPROFILE=FILE writes a CPU profile of the whole run (for go tool pprof).
	if path := os.Getenv("RADMFA_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil && pprof.StartCPUProfile(f) == nil {
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	return exitCode(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, err)
		return 2
	default:
		fmt.Fprintln(os.Stderr, "radmfa:", err)
		return 1
	}
}

const usage = `usage:
  radmfa serve --config FILE            run the RADIUS server
  radmfa config check [--connect] --config FILE   validate (and reach every dependency)
  radmfa user enroll USER [--secret BASE32] [--force] --config FILE
  radmfa user show USER --config FILE
  radmfa user delete USER --config FILE
  radmfa user state USER enabled|enforced|disabled|default --config FILE
  radmfa user method USER totp|sms|none --config FILE
  radmfa user phone USER NUMBER|none --config FILE
  radmfa user resync USER CODE1 CODE2 --config FILE
  radmfa user list --config FILE
  radmfa user unlock USER --config FILE
  radmfa user reset|unblock|forget-devices|delete-app-passwords USER --config FILE
  radmfa user import FILE.csv [--apply] --config FILE   (username,state[,method[,phone]])
  radmfa audit signins [--user U] [--since 24h] [--result reject] [--json] --config FILE
  radmfa audit summary [--since 168h] [--json] --config FILE
  radmfa store migrate --config FILE
  radmfa store copy --from sqlite:PATH|postgres:DSN --to … --key-file F [--to-key-file F]
  radmfa store rotate-key --new-key-file F --config FILE
  radmfa version`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: no command\n%s", errUsage, usage)
	}
	switch args[0] {
	case "serve":
		return cmdServe(ctx, args[1:], stderr)
	case "config":
		if len(args) < 2 || args[1] != "check" {
			return fmt.Errorf("%w: radmfa config check --config FILE", errUsage)
		}
		return cmdConfigCheck(ctx, args[2:], stdout)
	case "user":
		return cmdUser(ctx, args[1:], stdout)
	case "store":
		return cmdStore(ctx, args[1:], stdout)
	case "audit":
		return cmdAudit(ctx, args[1:], stdout)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "radmfa", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("%w: unknown command %q\n%s", errUsage, args[0], usage)
}
