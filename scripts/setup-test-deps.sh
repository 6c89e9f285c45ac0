#!/usr/bin/env bash
# setup-test-deps.sh: install the third-party clients that wsgate's tests run
# against the gateway, idempotently, on a Debian machine (run as root).
#
#   Debian packages  python3-websockets python3-autobahn  (for /usr/bin/python3,
#                    not a pyenv or venv python3 that may come first on PATH)
#                    python3-ws4py python3-websocket python3-unittest2
#                                                         (the SockJS protocol suite)
#                    chromium                             (headless browser tests of web/)
#                    prometheus                           (its promtool lints /metrics)
#                    nats-server                          (an external NATS server for the
#                                                          cluster tests)
#   npm packages     test/node/package-lock.json, by `npm ci`: the clients, the
#                    sockjs-node reference server, and playwright-core, terser
#                    and typescript for web/'s tests
#
# Each step checks first and does nothing when its part is already in place, so
# a second run takes well under a second: dpkg-query before apt-get (and
# `apt-get update` only when something is missing), and a stamp in
# test/node/node_modules holding the hash of package.json + package-lock.json +
# the node version, compared before `npm ci`.
#
# Usage: scripts/setup-test-deps.sh [--no-browser] [--force]
#   --no-browser  skip chromium (also WSGATE_BROWSER=0)
#   --force       rerun `npm ci` even when the stamp matches
# One line per step on stdout; a non-zero exit names the step that failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_DIR="$ROOT/test/node"
STAMP="$NODE_DIR/node_modules/.wsgate-setup-stamp"
PY=/usr/bin/python3

browser="${WSGATE_BROWSER:-1}"
force=0
for arg in "$@"; do
	case "$arg" in
	--no-browser) browser=0 ;;
	--with-browser) browser=1 ;;
	--force) force=1 ;;
	-h | --help)
		sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "setup-test-deps: unknown argument $arg" >&2
		exit 2
		;;
	esac
done

step() { printf 'setup-test-deps: %s\n' "$*"; }
die() {
	printf 'setup-test-deps: FAILED: %s\n' "$*" >&2
	exit 1
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }
start="$(now)"

# One setup at a time: a concurrent `npm ci` in the same folder, or a second
# apt-get, would fail or leave a half-built tree.
if command -v flock >/dev/null 2>&1; then
	exec 9>"${TMPDIR:-/tmp}/wsgate-setup-test-deps.lock"
	flock 9
fi

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root (or sudo) for: $*"
	fi
}

# missing_pkgs prints those of its arguments that dpkg does not have fully
# installed, in one dpkg-query.
missing_pkgs() {
	dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null |
		awk -v want="$*" '
			$2 " " $3 " " $4 == "install ok installed" { ok[$1] = 1 }
			END { n = split(want, w, " "); for (i = 1; i <= n; i++) if (!ok[w[i]]) print w[i] }'
}

apt_updated=0
apt_install() {
	local missing
	mapfile -t missing < <(missing_pkgs "$@")
	if [ "${#missing[@]}" -eq 0 ]; then
		step "apt: $* already installed"
		return 0
	fi
	local t
	t="$(now)"
	export DEBIAN_FRONTEND=noninteractive
	if [ "$apt_updated" -eq 0 ]; then
		as_root apt-get update -qq || die "apt-get update"
		apt_updated=1
	fi
	as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]}"
	step "apt: installed ${missing[*]} in $(since "$t")"
}

# 1. Debian packages, in one apt-get: the Python clients for Debian's
#    interpreter, and Chromium for the browser tests (Debian's build: no other
#    can be downloaded here, so playwright-core drives /usr/bin/chromium).
pkgs=(python3-websockets python3-autobahn python3-ws4py python3-websocket python3-unittest2 nats-server)
if [ "$browser" != 0 ]; then pkgs+=(chromium); fi
apt_install "${pkgs[@]}"
pyver="$("$PY" -c 'import websockets, autobahn; print("websockets", websockets.__version__, "autobahn", autobahn.__version__)')" ||
	die "$PY cannot import websockets and autobahn"
"$PY" -c 'import ws4py, websocket, unittest2' ||
	die "$PY cannot import ws4py, websocket and unittest2"
step "python: $PY has $pyver, ws4py, websocket-client, unittest2"
# The tests run nats-server themselves on free ports; the package's own unit
# would hold :4222, the default of -nats-listen, so it is not left running.
if [ "$apt_updated" -eq 1 ] && [ -d /run/systemd/system ]; then
	as_root systemctl disable --now nats-server.service >/dev/null 2>&1 || true
fi
[ -x /usr/sbin/nats-server ] || die "/usr/sbin/nats-server missing after install"
step "nats: /usr/sbin/nats-server $(dpkg-query -W -f='${Version}' nats-server)"
if [ "$browser" != 0 ]; then
	[ -x /usr/bin/chromium ] || die "/usr/bin/chromium missing after install"
	step "browser: /usr/bin/chromium $(dpkg-query -W -f='${Version}' chromium)"
else
	step "browser: skipped (--no-browser or WSGATE_BROWSER=0)"
fi

# 1b. promtool, from Debian's prometheus package, lints /metrics in the tests.
#     The package also brings a Prometheus server whose unit listens on :9090,
#     wsgate's admin port: when this script installs it on a machine that runs
#     systemd, that server is stopped and disabled (promtool is all we need).
if [ -n "$(missing_pkgs prometheus)" ]; then
	apt_install prometheus
	if [ -d /run/systemd/system ]; then
		as_root systemctl disable --now prometheus.service >/dev/null 2>&1 || true
		step "prometheus: server unit disabled (it would hold :9090)"
	fi
fi
command -v promtool >/dev/null 2>&1 || die "promtool missing after installing prometheus"
step "promtool: $(command -v promtool) $(dpkg-query -W -f='${Version}' prometheus)"

# 2. Node and npm (the machine image has them; Debian's own if not).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	apt_install nodejs npm
fi
nodever="$(node --version)"
case "$nodever" in
v1[0-7].* | v[0-9].*) die "node $nodever is too old: ws 8 and playwright-core need node >= 18" ;;
esac
step "node: $(command -v node) $nodever"

# 3. npm clients, exactly as locked. The stamp's first line is the hash that
#    `npm ci` ran for, its second the dependencies package.json named then;
#    `npm ci` runs again unless the hash matches and each of them is still in
#    node_modules (plain file tests: no node start, so the fast path is fast).
[ -f "$NODE_DIR/package-lock.json" ] || die "$NODE_DIR/package-lock.json missing"
want="$(cat "$NODE_DIR/package.json" "$NODE_DIR/package-lock.json" | sha256sum | cut -d' ' -f1) node-$nodever"
stamp_ok() {
	local d deps=()
	[ -f "$STAMP" ] && [ "$(head -n1 "$STAMP")" = "$want" ] || return 1
	read -r -a deps < <(sed -n 2p "$STAMP") || true
	[ "${#deps[@]}" -gt 0 ] || return 1
	for d in "${deps[@]}"; do
		[ -f "$NODE_DIR/node_modules/$d/package.json" ] || return 1
	done
	printf '%s\n' "${deps[*]}"
}
if [ "$force" -eq 0 ] && deps="$(stamp_ok)"; then
	step "npm: test/node/node_modules matches package-lock.json ($deps)"
else
	t="$(now)"
	npm ci --prefix "$NODE_DIR" --no-audit --no-fund --loglevel=error >/dev/null ||
		die "npm ci --prefix test/node"
	deps="$(cd "$NODE_DIR" && node -e '
		const fs = require("fs");
		const deps = Object.keys(require("./package.json").dependencies || {});
		const gone = deps.filter((d) => !fs.existsSync(`node_modules/${d}/package.json`));
		if (gone.length > 0) throw new Error("not installed: " + gone.join(" "));
		console.log(deps.join(" "));
	')" || die "npm ci left test/node/node_modules incomplete"
	printf '%s\n%s\n' "$want" "$deps" >"$STAMP"
	step "npm: npm ci in test/node (npm $(npm --version)) in $(since "$t"): $deps"
fi

step "done in $(since "$start")"
