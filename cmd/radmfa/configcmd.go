package main

import (
	"fmt"
	"io"
)

func cmdConfigCheck(args []string, stdout io.Writer) error {
	fs, cfgPath := newFlags("config check")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok (%d RADIUS clients, %d LDAP URLs, store %s)\n",
		*cfgPath, len(cfg.Radius.Clients), len(cfg.LDAP.URLs), cfg.Store.Driver)
	return nil
}
