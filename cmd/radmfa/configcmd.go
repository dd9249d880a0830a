package main

import (
	"context"
	"fmt"
	"io"
)

func cmdConfigCheck(ctx context.Context, args []string, stdout io.Writer) error {
	fs, cfgPath := newFlags("config check")
	connect := fs.Bool("connect", false, "also reach the directory, store, SMS provider and upstream servers")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok (%d RADIUS clients, %d LDAP URLs, store %s)\n",
		*cfgPath, len(cfg.Radius.Clients), len(cfg.LDAP.URLs), cfg.Store.Driver)
	if *connect {
		return checkConnect(ctx, cfg, stdout)
	}
	return nil
}
