# radmfa — the two commands that matter:
#   make run    build radmfa, start a demo slapd on 127.0.0.1:3890, serve config/example.yaml
#   make test   install what the tests need (apt-get), vet, lint and run every test with -race
SHELL := /bin/bash
GO    ?= go
BIN   := bin/radmfa
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# Debian packages the test suite drives for real.
TEST_DEPS := slapd ldap-utils freeradius-utils freeradius postgresql libpam-radius-auth pamtester samba winbind samba-ad-provision samba-dsdb-modules samba-vfs-modules smbclient
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.6.1

.PHONY: all build run test unit lint deps-run deps-test bench clean demo-slapd

all: build

build:
	@command -v $(GO) >/dev/null || scripts/deps.sh golang-go
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/radmfa

deps-run:
	@scripts/deps.sh slapd ldap-utils

deps-test:
	@scripts/deps.sh $(TEST_DEPS)

# Serve the example config against a demo directory (alice/alice-pass, bob/bob-pass,
# carol/carol-pass). Enrol a user in another terminal with:
#   bin/radmfa user enroll alice --config config/example.yaml
run: deps-run build
	@mkdir -p var
	@scripts/slapd.sh start var/slapd 3890 >/dev/null
	@echo "demo slapd on ldap://127.0.0.1:3890; radmfa on udp 127.0.0.1:1812 (Ctrl-C stops both)"
	@trap 'scripts/slapd.sh stop var/slapd' EXIT INT TERM; $(BIN) serve --config config/example.yaml

test: deps-test lint unit

unit:
	$(GO) test -race -count=1 -timeout 20m ./...

lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

clean:
	rm -rf bin var dist test/artifacts
