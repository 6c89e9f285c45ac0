#!/usr/bin/env bash
# setup-tools.sh: install the Go developer tools that `make lint` uses,
# idempotently, through the Go module proxy.
#
#   staticcheck  honnef.co/go/tools/cmd/staticcheck, pinned to a release that
#                understands the go.mod's Go version (v0.8.2 = 2026.2.2 for
#                Go 1.26); installed into $(go env GOBIN) or $(go env GOPATH)/bin
#
# A run with the pinned version already installed only compares version
# strings (well under a second); otherwise `go install` builds it (about a
# minute and a half on 2 cores).
#
# Usage: scripts/setup-tools.sh    (prints the tool's path on the last line)
set -euo pipefail

STATICCHECK_VERSION=v0.8.2

step() { printf 'setup-tools: %s\n' "$*"; }
die() {
	printf 'setup-tools: FAILED: %s\n' "$*" >&2
	exit 1
}

command -v go >/dev/null 2>&1 || die "go not found on PATH"
bin="$(go env GOBIN)"
[ -n "$bin" ] || bin="$(go env GOPATH)/bin"
sc="$bin/staticcheck"

# `staticcheck -version` prints e.g. "staticcheck 2026.2.2 (0.8.2)".
if [ -x "$sc" ] && "$sc" -version 2>/dev/null | grep -q "(${STATICCHECK_VERSION#v})\$"; then
	step "staticcheck: $("$sc" -version) already installed"
else
	start="$(date +%s)"
	go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION" ||
		die "go install staticcheck@$STATICCHECK_VERSION"
	step "staticcheck: installed $("$sc" -version) in $(($(date +%s) - start))s"
fi
step "staticcheck: $sc"
