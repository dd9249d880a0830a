package engine

import (
	"context"
	"time"

	"github.com/radmfa/radmfa/factors"
	"github.com/radmfa/radmfa/ldapauth"
)

// Observer receives what metrics count. Methods must be quick and safe for concurrent use.
type Observer interface {
	// Decision is called once per answered request.
	Decision(nas, result, reason string, took time.Duration)
	// Stage times one step of a request: "primary" (password check), "lookup" (directory
	// search without bind), "factor" (code check and its store write), "sms" (one send).
	Stage(stage string, took time.Duration, err error)
}

type nopObserver struct{}

func (nopObserver) Decision(string, string, string, time.Duration) {}
func (nopObserver) Stage(string, time.Duration, error)             {}

// timedPrimary reports the password check's duration.
type timedPrimary struct {
	Primary
	obs Observer
}

func (t timedPrimary) Authenticate(ctx context.Context, u, p string) (ldapauth.Identity, error) {
	start := time.Now()
	id, err := t.Primary.Authenticate(ctx, u, p)
	t.obs.Stage("primary", time.Since(start), err)
	return id, err
}

// timedDirectory reports lookup durations.
type timedDirectory struct {
	Directory
	obs Observer
}

func (t timedDirectory) Lookup(ctx context.Context, u string) (ldapauth.Identity, error) {
	start := time.Now()
	id, err := t.Directory.Lookup(ctx, u)
	t.obs.Stage("lookup", time.Since(start), err)
	return id, err
}

// timedSender reports each text's send duration and outcome.
type timedSender struct {
	factors.Sender
	obs Observer
}

func (t timedSender) Send(ctx context.Context, m factors.Message) error {
	start := time.Now()
	err := t.Sender.Send(ctx, m)
	t.obs.Stage("sms", time.Since(start), err)
	return err
}
