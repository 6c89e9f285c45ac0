#!/usr/bin/env bash
# bench/sockjs/run.sh: the SockJS fallback's cost next to WebSocket, on one
# wsgate process.
#
#   1. Fan-out: two rooms on the same server at the same time, one of N
#      xhr-streaming SockJS sessions and one of N WebSocket members, each
#      fed by one WebSocket publisher at RATE msgs/s (64-byte text); wsload
#      reports deliveries/s and delivery latency for each.
#   2. Idle memory: wsgate's RSS (GOGC=5, so RSS follows the live heap)
#      with N idle xhr-streaming sessions, and with N idle WebSocket
#      connections, over its RSS before; per connection.
#
# Usage: bench/sockjs/run.sh [N] [RATE] [DURATION]   (defaults 5000 20 20s)
# Prints markdown rows for bench/RESULTS.md. Loopback only; every run is
# bounded by DURATION; processes are stopped by pid.
set -euo pipefail

N="${1:-5000}"
RATE="${2:-20}"
DUR="${3:-20s}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(mktemp -d)"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

(cd "$ROOT" && go build -o "$work/wsgate" ./cmd/wsgate && go build -o "$work/wsload" ./cmd/wsload)
PORT=$((20000 + RANDOM % 20000))

start_gate() {
	GOGC="${1:-100}" "$work/wsgate" -listen 127.0.0.1:$PORT -admin "" -anonymous -no-limits -sockjs \
		-ping-interval 0 -idle-timeout 0 -workers 2 >"$work/gate.log" 2>&1 &
	gate=$!
	pids+=("$gate")
	for _ in $(seq 50); do
		grep -q "addr=" "$work/gate.log" 2>/dev/null && return
		sleep 0.1
	done
	echo "wsgate did not start" >&2
	exit 1
}
stop_gate() { kill "$gate"; wait "$gate" 2>/dev/null || true; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# 1. Fan-out, both rooms at once.
start_gate
common=(broadcast -conns "$N" -rate 1000 -publishers 1 -pub-rate "$RATE" -size 64 -duration "$DUR" -drain 5s -quiet)
"$work/wsload" "${common[@]}" -room sj -transport xhr-streaming -json "$work/sj.json" "ws://127.0.0.1:$PORT" >"$work/sj.txt" 2>&1 &
a=$!
"$work/wsload" "${common[@]}" -room ws -json "$work/ws.json" "ws://127.0.0.1:$PORT" >"$work/ws.txt" 2>&1 &
b=$!
pids+=("$a" "$b")
wait "$a" "$b" || true
stop_gate
echo "| transport | members | published/s | deliveries/s | delivered/expected | p50 | p99 | p99.9 |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for t in sj ws; do
	name=WebSocket
	[ "$t" = sj ] && name=xhr-streaming
	python3 - "$work/$t.json" "$name" "$N" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
c = s["counters"]; m = s.get("measured_s") or 1
lat = s["latency"]["message"]
def ms(v): return f"{v:.1f} ms"
print(f"| {sys.argv[2]} | {sys.argv[3]} | {c['published']/m:.0f} | {c['delivered']/m:,.0f} | {c['delivered']:,} / {c.get('expected', 0):,} | {ms(lat['p50_ms'])} | {ms(lat['p99_ms'])} | {ms(lat['p999_ms'])} |")
PY
done

# 2. Idle memory.
echo
echo "| idle connections | kind | wsgate RSS before | with them | per connection |"
echo "|---:|---|---:|---:|---:|"
for kind in xhr-streaming websocket; do
	start_gate 5
	sleep 1
	before=$(rss_kib "$gate")
	path=/echo
	"$work/wsload" connect -conns "$N" -rate 2000 -duration 15s -quiet -transport "$kind" "ws://127.0.0.1:$PORT$path" >"$work/idle.txt" 2>&1 &
	l=$!
	pids+=("$l")
	sleep 12
	with=$(rss_kib "$gate")
	wait "$l" || true
	stop_gate
	awk -v n="$N" -v k="$kind" -v b="$before" -v w="$with" 'BEGIN { printf "| %d | %s | %.1f MiB | %.1f MiB | %.2f KiB |\n", n, k, b/1024, w/1024, (w-b)/n }'
done
