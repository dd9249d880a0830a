# radmfa — the two commands that matter:
#   make run    build radmfa, start a demo slapd on 127.0.0.1:3890, serve config/example.yaml
#   make test   install what the tests need (apt-get), vet, lint and run every test with -race
SHELL := /bin/bash
GO    ?= go
BIN   := bin/radmfa
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# Debian packages the test suite drives for real.
TEST_DEPS := slapd ldap-utils freeradius-utils freeradius postgresql libpam-radius-auth pamtester samba winbind samba-ad-provision samba-dsdb-modules samba-vfs-modules smbclient chromium
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.6.1

.PHONY: all build run test unit lint deps-run deps-test bench bench-nodes clean dist

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

# Side by side with FreeRADIUS on the same slapd; writes bench/results.md. Not part of test.
bench:
	bench/run.sh

# Sign-ins per second with 1, 2 and 3 nodes on one PostgreSQL, and SQL statements per sign-in.
bench-nodes: deps-test
	RADMFA_MEASURE=1 $(GO) test -count=1 -timeout 10m -run 'TestMultiNode(Throughput|Statements)' -v ./test/ | grep -E 'throughput|statement|^(ok|FAIL|---)'

DIST_PLATFORMS := linux/amd64 linux/arm64
DIST_FILES = config/example.yaml README.md packaging/radmfa.service packaging/radmfa.sysusers \
	docs/vpn-guides.md $(wildcard LICENSE)
DIST_MTIME := $(shell git log -1 --format=%ct 2>/dev/null || echo 0)

# Versioned, reproducible tarballs: binary, example config, README, systemd unit.
dist:
	@command -v $(GO) >/dev/null || scripts/deps.sh golang-go
	rm -rf dist && mkdir -p dist
	@set -e; for p in $(DIST_PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; name=radmfa-$(VERSION)-$$os-$$arch; stage=dist/$$name; \
	  mkdir -p $$stage; echo "build $$name"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $$stage/radmfa ./cmd/radmfa; \
	  cp --parents $(DIST_FILES) $$stage/; \
	  tar -C dist --sort=name --owner=0 --group=0 --numeric-owner --mtime=@$(DIST_MTIME) -czf dist/$$name.tar.gz $$name; \
	  rm -rf $$stage; \
	done
	cd dist && sha256sum *.tar.gz > SHA256SUMS && cat SHA256SUMS

clean:
	rm -rf bin var dist test/artifacts
