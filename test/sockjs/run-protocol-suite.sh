#!/usr/bin/env bash
# run-protocol-suite.sh: run the SockJS protocol conformance suite
# (sockjs-protocol, the 0.3.3 definition) against a server, with Debian's
# /usr/bin/python3 (python3-ws4py, python3-websocket, python3-unittest2).
#
# The suite is not stored in this repository (its repository carries no
# license) and no package registry ships it, so it is assembled from a
# git clone of github.com/sockjs/sockjs-protocol given by the caller:
#   sockjs-protocol.py  from commit fdf5b7d (main: the complete suite)
#   utils.py            from commit 921870a (py3: its Python 3 port)
# and protocol-py3.patch (beside this script) fixes what still stops it on
# Python 3. The py3 branch's own sockjs-protocol.py is not used: its port
# dropped two thirds of the tests.
#
# Usage:
#   test/sockjs/run-protocol-suite.sh --git DIR --server reference|go [-- ARGS]
#   test/sockjs/run-protocol-suite.sh --git DIR --url http://127.0.0.1:PORT [-- ARGS]
#     DIR      a git directory (bare or not) holding both commits
#     ARGS     passed to the suite (e.g. -v, or a test name like XhrPolling)
# Environment: SOCKJS_PROTOCOL_GIT may stand for --git.
# Exit status: the suite's (0 all passed, 1 some failed), 2 bad usage or
# missing parts.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY=/usr/bin/python3
MAIN_COMMIT=fdf5b7d719de6bd74ea4aedd264f01814b4f226d
PY3_COMMIT=921870a24b504d9499bc6311ef224cc1aac19f87

git_dir="${SOCKJS_PROTOCOL_GIT:-}"
server=""
url=""
while [ $# -gt 0 ]; do
	case "$1" in
	--git) git_dir="$2"; shift 2 ;;
	--server) server="$2"; shift 2 ;;
	--url) url="$2"; shift 2 ;;
	--) shift; break ;;
	-h | --help) sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "run-protocol-suite: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ -n "$git_dir" ] || { echo "run-protocol-suite: --git DIR (or SOCKJS_PROTOCOL_GIT) is required" >&2; exit 2; }
[ -n "$server$url" ] || { echo "run-protocol-suite: --server or --url is required" >&2; exit 2; }
"$PY" -c 'import ws4py, websocket, unittest2' 2>/dev/null ||
	{ echo "run-protocol-suite: $PY lacks ws4py/websocket/unittest2: run scripts/setup-test-deps.sh" >&2; exit 2; }

work="$(mktemp -d)"
pid=""
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

git --git-dir="$git_dir" show "$MAIN_COMMIT:sockjs-protocol.py" >"$work/sockjs-protocol.py"
git --git-dir="$git_dir" show "$PY3_COMMIT:utils.py" >"$work/utils.py"
(cd "$work" && patch -s -p1 <"$HERE/protocol-py3.patch")

if [ -z "$url" ]; then
	case "$server" in
	reference) node "$HERE/reference_server.js" >"$work/server.out" 2>&1 & ;;
	go)
		(cd "$ROOT" && go build -o "$work/goserver" ./test/sockjs/goserver)
		"$work/goserver" -addr 127.0.0.1:0 >"$work/server.out" 2>&1 &
		;;
	*) echo "run-protocol-suite: --server must be reference or go" >&2; exit 2 ;;
	esac
	pid=$!
	for _ in $(seq 100); do
		grep -q '^listening ' "$work/server.out" && break
		kill -0 "$pid" 2>/dev/null || { cat "$work/server.out" >&2; exit 2; }
		sleep 0.1
	done
	url="$(sed -n 's/^listening //p' "$work/server.out")"
	[ -n "$url" ] || { echo "run-protocol-suite: server did not start" >&2; cat "$work/server.out" >&2; exit 2; }
fi

echo "run-protocol-suite: $url ($server${server:+ server})"
cd "$work"
SOCKJS_URL="$url" "$PY" -W ignore sockjs-protocol.py "$@"
