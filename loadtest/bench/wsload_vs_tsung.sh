#!/usr/bin/env bash
# wsload against tsung (Debian's package: an established Erlang load tool with
# WebSocket sessions), driving the same load at the same wsgate server.
#
# Two phases per tool, in one run of this script:
#   1. echo: ECHO_CONNS connections, each sending a 64-byte text message every
#      INTERVAL seconds and waiting for its echo, ITER times. Reported: the
#      tool's own CPU seconds (user+sys, from /usr/bin/time) per million
#      messages echoed.
#   2. hold: HOLD_CONNS idle connections held for HOLD_SECS. Reported: the
#      tool's peak RSS and connections held per GiB of it.
#
# Usage: loadtest/bench/wsload_vs_tsung.sh            (defaults below)
#        ECHO_CONNS=2000 HOLD_CONNS=10000 loadtest/bench/wsload_vs_tsung.sh
# Needs: go, tsung (apt-get install -y tsung; installed here if missing), jq.
# Output: a table on stdout; raw files in $OUT (default bench/out/wsload_vs_tsung).
set -euo pipefail

ECHO_CONNS=${ECHO_CONNS:-1000}
INTERVAL=${INTERVAL:-0.5}
ITER=${ITER:-40}
HOLD_CONNS=${HOLD_CONNS:-5000}
HOLD_SECS=${HOLD_SECS:-10}
ARRIVAL=${ARRIVAL:-500}     # new connections per second, both tools
PORT=${PORT:-18181}

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$ROOT/bench/out/wsload_vs_tsung}
mkdir -p "$OUT"
cd "$ROOT"

if ! command -v tsung >/dev/null; then
	apt-get install -y tsung >/dev/null
fi
command -v jq >/dev/null || apt-get install -y jq >/dev/null

go build -o "$OUT/wsgate" ./cmd/wsgate
go build -o "$OUT/wsload" ./cmd/wsload

"$OUT/wsgate" -listen 127.0.0.1:$PORT -idle-timeout 0 -ping-interval 0 >"$OUT/wsgate.log" 2>&1 &
GATE=$!
trap 'kill $GATE 2>/dev/null || true' EXIT
sleep 0.5

msgs_total=$((ECHO_CONNS * ITER))
rate_total=$(awk -v c="$ECHO_CONNS" -v i="$INTERVAL" 'BEGIN{printf "%d", c/i}')
echo_secs=$(awk -v n="$ITER" -v i="$INTERVAL" 'BEGIN{printf "%g", n*i}')
payload=$(printf '%064d' 0)

# timed CMD...: runs CMD under /usr/bin/time; prints "cpu_seconds maxrss_kb".
timed() {
	local f="$OUT/time.$$"
	/usr/bin/time -f "%U %S %M" -o "$f" "$@" >>"$OUT/run.log" 2>&1 || true
	awk '{printf "%.2f %d\n", $1+$2, $3}' "$f"
	rm -f "$f"
}

# ---- wsload ----------------------------------------------------------------
read -r wl_echo_cpu wl_echo_rss < <(timed "$OUT/wsload" echo --quiet --conns "$ECHO_CONNS" \
	--rate "$ARRIVAL" --msg-rate "$rate_total" --duration "${echo_secs}s" --size 64 \
	--json "$OUT/wsload_echo.json" ws://127.0.0.1:$PORT/echo)
wl_msgs=$(jq .counters.delivered "$OUT/wsload_echo.json")
read -r wl_hold_cpu wl_hold_rss < <(timed "$OUT/wsload" connect --quiet --conns "$HOLD_CONNS" \
	--rate "$ARRIVAL" --duration "${HOLD_SECS}s" --json "$OUT/wsload_hold.json" ws://127.0.0.1:$PORT/echo)
wl_held=$(jq .counters.connected "$OUT/wsload_hold.json")

# ---- tsung -----------------------------------------------------------------
tsung_xml() { # users arrival_secs session_body
	cat <<EOF
<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd" []>
<tsung loglevel="warning" version="1.0">
  <clients><client host="localhost" use_controller_vm="true" maxusers="19000"/></clients>
  <servers><server host="127.0.0.1" port="$PORT" type="tcp"/></servers>
  <load>
    <arrivalphase phase="1" duration="$2" unit="second">
      <users maxnumber="$1" arrivalrate="$ARRIVAL" unit="second"/>
    </arrivalphase>
  </load>
  <sessions>
    <session name="s" probability="100" type="ts_websocket">
      <request><websocket type="connect" path="/echo"></websocket></request>
$3
      <request><websocket type="close"></websocket></request>
    </session>
  </sessions>
</tsung>
EOF
}
arrive_secs() { awk -v n="$1" -v r="$ARRIVAL" 'BEGIN{s=int(n/r)+2; print s}'; }

tsung_xml "$ECHO_CONNS" "$(arrive_secs "$ECHO_CONNS")" "      <for from=\"1\" to=\"$ITER\" var=\"i\">
        <request><websocket type=\"message\">$payload</websocket></request>
        <thinktime value=\"$INTERVAL\" random=\"false\"/>
      </for>" >"$OUT/tsung_echo.xml"
tsung_xml "$HOLD_CONNS" "$(arrive_secs "$HOLD_CONNS")" "      <thinktime value=\"$HOLD_SECS\" random=\"false\"/>" >"$OUT/tsung_hold.xml"

rm -rf "$OUT/tsung_log_echo" "$OUT/tsung_log_hold"
read -r ts_echo_cpu ts_echo_rss < <(timed tsung -f "$OUT/tsung_echo.xml" -l "$OUT/tsung_log_echo" start)
ts_log=$(ls -d "$OUT"/tsung_log_echo/*/ | head -1)
# "stats: request N ..." lines hold per-interval counts; each session makes
# ITER message requests plus the connect and close requests.
ts_req=$(awk '$1=="stats:" && $2=="request" {s+=$3} END{print s+0}' "$ts_log/tsung.log")
ts_users=$(awk '$1=="stats:" && $2=="finish_users_count" {s=$4} END{print s+0}' "$ts_log/tsung.log")
ts_msgs=$((ts_req - 2 * ts_users))
read -r ts_hold_cpu ts_hold_rss < <(timed tsung -f "$OUT/tsung_hold.xml" -l "$OUT/tsung_log_hold" start)
ts_hlog=$(ls -d "$OUT"/tsung_log_hold/*/ | head -1)
ts_held=$(awk '$1=="stats:" && $2=="connect" {s+=$3} END{print s+0}' "$ts_hlog/tsung.log")

per_m() { awk -v c="$1" -v m="$2" 'BEGIN{ if (m>0) printf "%.1f", c*1e6/m; else print "n/a"}'; }
per_gib() { awk -v n="$1" -v kb="$2" 'BEGIN{ if (kb>0) printf "%.0f", n/(kb/1048576); else print "n/a"}'; }

{
	echo "wsload vs tsung on $(nproc) cores, $(date -u +%F), load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "echo: $ECHO_CONNS conns x $ITER msgs every ${INTERVAL}s ($rate_total msg/s, $msgs_total planned); hold: $HOLD_CONNS conns for ${HOLD_SECS}s"
	printf "%-8s %12s %10s %16s %12s %12s %14s\n" tool echo_msgs cpu_s cpu_s_per_Mmsg held peak_rss_MiB conns_per_GiB
	printf "%-8s %12s %10s %16s %12s %12.1f %14s\n" wsload "$wl_msgs" "$wl_echo_cpu" "$(per_m "$wl_echo_cpu" "$wl_msgs")" \
		"$wl_held" "$(awk -v k="$wl_hold_rss" 'BEGIN{print k/1024}')" "$(per_gib "$wl_held" "$wl_hold_rss")"
	printf "%-8s %12s %10s %16s %12s %12.1f %14s\n" tsung "$ts_msgs" "$ts_echo_cpu" "$(per_m "$ts_echo_cpu" "$ts_msgs")" \
		"$ts_held" "$(awk -v k="$ts_hold_rss" 'BEGIN{print k/1024}')" "$(per_gib "$ts_held" "$ts_hold_rss")"
} | tee "$OUT/summary.txt"
