# wsgate: two commands matter. `make run` starts the gateway on safe
# defaults (localhost only); `make test` installs what the tests need and
# runs them. Everything else is optional.

GO        ?= go
BIN       := bin
PKGS      := ./...
FUZZTIME  ?= 20s
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)

.PHONY: all build run run-bench wsload test test-short soak check fmt vet staticcheck race fuzz bench bench-idle deps tools clean install dist

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/wsgate ./cmd/wsgate

## run: start wsgate on 127.0.0.1:8080 (echo at /echo, rooms at /room/NAME, admin on :9090) in dev mode
run: build
	./$(BIN)/wsgate -listen 127.0.0.1:8080 -admin 127.0.0.1:9090 -dev

## run-bench: wsgate for load tests and wsload's quick starts: as run, plus -no-limits (no rate limits, no connection maxima)
run-bench: build
	./$(BIN)/wsgate -listen 127.0.0.1:8080 -admin 127.0.0.1:9090 -dev -no-limits

## wsload: build the load generator into bin/wsload (wsload -version prints VERSION)
wsload:
	$(GO) build -ldflags "-X github.com/wsgate/wsgate/loadtest.buildVersion=$(VERSION)" -o $(BIN)/wsload ./cmd/wsload

## deps: install test dependencies (Go modules, npm clients, Debian packages); idempotent
deps:
	$(GO) mod download
	./scripts/setup-test-deps.sh

## test: the full test suite, with third-party clients and the race detector; then the
## allocation tests, which the race detector's own allocations make skip, without it
test: deps
	WSGATE_REQUIRE_INTEROP=1 $(GO) test -race -shuffle=on -count=1 -timeout 14m $(PKGS)
	$(GO) test -count=1 -run 'Alloc' $(PKGS)

## test-short: the Go tests alone, without installing anything
test-short:
	$(GO) test -count=1 -short $(PKGS)

## soak: the overload suite at length (about 15 minutes): each overload test 5 times
## (WSGATE_SOAK_ROUNDS), 1,000 stalling clients against a wss listener for a minute
## (WSGATE_SOAK_DURATION) while an honest client times its handshakes, drains during
## publish storms, and the drain repro against a wsgate process 10 times (WSGATE_SOAK_RUNS)
soak:
	$(GO) test -tags soak -run Soak -count=1 -v -timeout 60m ./internal/server ./cmd/wsgate

## check: gofmt, go vet, staticcheck and the race detector
check: fmt vet staticcheck race

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

staticcheck: tools
	$$($(GO) env GOPATH)/bin/staticcheck $(PKGS)

race:
	$(GO) test -race -count=1 -short $(PKGS)

tools:
	./scripts/setup-tools.sh

## fuzz: run every fuzz target for FUZZTIME each
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

## bench: wsgate against every peer server (bench/peers), the full set of
## scenarios, 2 rounds (60-90 minutes), wsload's rows and the neutral
## client's; tables into bench/RESULTS.md, every client JSON kept in
## bench/results/<date>-<commit>/. BENCHFLAGS adds flags
## (e.g. BENCHFLAGS="-profile 5" for wsgate CPU profiles).
.PHONY: bench-quick bench-compare bench-scale
bench:
	$(GO) run ./bench/run $(BENCHFLAGS)

## bench-quick: the reduced set (1,000 connections, 5 s runs, 1 round, 6 servers), about 6 minutes;
## wsload's rows and the neutral client's (bench/peers/cmd/benchclient) side by side
bench-quick:
	$(GO) run ./bench/run -quick $(BENCHFLAGS)

## bench-compare: ratios between two kept runs: make bench-compare OLD=bench/results/A NEW=bench/results/B
bench-compare:
	@test -n "$(OLD)" -a -n "$(NEW)" || { echo "usage: make bench-compare OLD=dir NEW=dir"; exit 2; }
	$(GO) run ./bench/run -compare $(OLD) $(NEW)

bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem ./frame/... ./poller/... ./internal/...

## bench-scale: past one process: 200,000 connections on 11 wsgate processes sharing one
## port on NATS (Debian's nats-server), wsload in 12 processes from 20 source addresses,
## a broadcast to all of them, and the same fan-out on 1 node against 3. Not part of
## make test; a few minutes. SCALEFLAGS adds flags (e.g. SCALEFLAGS="-conns 50000 -nodes 3 -procs 3").
bench-scale:
	$(GO) run ./bench/scale -json bench/results/scale-$$(date -u +%Y%m%d-%H%M).json $(SCALEFLAGS)

## bench-idle: RSS per idle connection, wsgate against a bare nbio TCP server
bench-idle:
	$(GO) run ./bench/idle -conns $${CONNS:-10000}

## install: the binary, the systemd unit, the docs where the unit points, and
## /etc/wsgate/wsgate.toml (every setting, commented out) unless one exists.
## DESTDIR stages the tree; PREFIX (/usr/local) places the binary, and the
## installed unit's ExecStart follows it.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
UNITDIR    ?= /etc/systemd/system
DOCDIR     ?= /usr/share/doc/wsgate
SYSCONFDIR ?= /etc/wsgate
install: build
	install -D -m 0755 $(BIN)/wsgate $(DESTDIR)$(BINDIR)/wsgate
	install -d -m 0755 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)
	sed -e 's|/usr/local/bin/wsgate|$(BINDIR)/wsgate|g' -e 's|/usr/share/doc/wsgate|$(DOCDIR)|g' \
	  deploy/wsgate.service > $(DESTDIR)$(UNITDIR)/wsgate.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/wsgate.service
	install -m 0644 docs/operations.md README.md deploy/wsgate.toml $(DESTDIR)$(DOCDIR)/
	test -e $(DESTDIR)$(SYSCONFDIR)/wsgate.toml || install -m 0644 deploy/wsgate.toml $(DESTDIR)$(SYSCONFDIR)/wsgate.toml
	@echo "installed $(BINDIR)/wsgate ($(VERSION)), $(UNITDIR)/wsgate.service, $(DOCDIR), $(SYSCONFDIR)/wsgate.toml"
	@echo "next: useradd --system --no-create-home wsgate; put keys in $(SYSCONFDIR); wsgate check -config $(SYSCONFDIR)/wsgate.toml; systemctl daemon-reload && systemctl enable --now wsgate"

## dist: versioned tarballs for linux/amd64 and linux/arm64 in dist/, each with
## wsgate, wsload, the unit, the example configuration and the docs, and
## dist/SHA256SUMS. Static binaries (CGO_ENABLED=0), -trimpath, file times
## from the commit, so the same commit gives the same archives.
DIST       ?= dist
DISTARCHES ?= amd64 arm64
dist:
	@set -e; rm -rf $(DIST); mkdir -p $(DIST); \
	mtime="$$(git log -1 --format=%cI 2>/dev/null || date -u +%FT%TZ)"; \
	for arch in $(DISTARCHES); do \
	  name=wsgate-$(VERSION)-linux-$$arch; dir=$(DIST)/$$name; \
	  mkdir -p $$dir/deploy $$dir/docs; \
	  for cmd in wsgate wsload; do \
	    CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags "$(LDFLAGS) -s -w" -o $$dir/$$cmd ./cmd/$$cmd; \
	  done; \
	  cp README.md $$dir/; cp docs/operations.md $$dir/docs/; cp deploy/wsgate.service deploy/wsgate.toml $$dir/deploy/; \
	  tar -C $(DIST) --sort=name --owner=0 --group=0 --numeric-owner --mtime="$$mtime" -czf $(DIST)/$$name.tar.gz $$name; \
	  rm -rf $$dir; \
	done; \
	cd $(DIST) && sha256sum *.tar.gz > SHA256SUMS && cat SHA256SUMS

clean:
	rm -rf $(BIN) $(DIST)
