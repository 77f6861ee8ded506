#!/usr/bin/env bash
# Latency: an unmodified `sockperf ping-pong` client against tapreflect
# --reflect sockperf (TUN), waiting (the default) and busy polling (--poll
# busy), and against a real sockperf server across a veth pair, in the same
# run, interleaved.  Reflector or server on one CPU, client on the other.
# Reports RTT p50 and p99 per setup (median over --reps).  Run as root.
set -euo pipefail

usage() {
	cat <<'TXT'
Usage: bench/e2e/latency.sh [--reps N] [--duration SECS] [--build DIR] [--json FILE]

  --reps N          runs per setup, interleaved (default 3)
  --duration SECS   length of each sockperf ping-pong (default 5)
  --build DIR       build directory (default build)
  --json FILE       every run as JSON lines
TXT
}

REPS=3 DURATION=5 BUILD=build JSON=""
while [[ $# -gt 0 ]]; do
	case $1 in
	--reps) REPS=$2; shift 2 ;;
	--duration) DURATION=$2; shift 2 ;;
	--build) BUILD=$2; shift 2 ;;
	--json) JSON=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "latency.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
	esac
done
command -v sockperf >/dev/null || { echo "latency.sh: needs sockperf (tools/install-deps.sh test)" >&2; exit 1; }
PROG=latency.sh
source "$(dirname "$0")/common.sh"
bench_setup
NS2="$NS-srv" SPID=""
latency_cleanup() {
	[[ -n $SPID ]] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
	ip netns del "$NS2" 2>/dev/null || true
	bench_cleanup
}
trap latency_cleanup EXIT

# A real sockperf server in a second namespace, across a veth pair.
ip netns add "$NS2"
ip netns exec "$NS2" ip link set lo up
ip -n "$NS" link add veth-c type veth peer name veth-s netns "$NS2"
ip -n "$NS" addr add 198.19.0.1/24 dev veth-c
ip -n "$NS" link set veth-c up
ip -n "$NS2" addr add 198.19.0.2/24 dev veth-s
ip -n "$NS2" link set veth-s up

ALL=$TMP/all.json
: >"$ALL"
# pingpong SETUP DST: one ping-pong; its percentiles as a JSON object in $REC.
pingpong() {
	local out
	out=$(ip netns exec "$NS" timeout $((DURATION + 30)) taskset -c "$CPU_G" \
		sockperf ping-pong -i "$2" -p 11111 -t "$DURATION" 2>&1) || { echo "$out" >&2; exit 1; }
	grep -q "# dropped messages = 0" <<<"$out" || { echo "latency.sh: $1: sockperf saw drops: $out" >&2; exit 1; }
	REC=$(jq -cn --arg setup "$1" --argjson p50 "$(grep -oP 'percentile 50.000 =\s*\K[0-9.]+' <<<"$out")" \
		--argjson p99 "$(grep -oP 'percentile 99.000 =\s*\K[0-9.]+' <<<"$out")" \
		'{setup: $setup, p50_us: $p50, p99_us: $p99}')
}
# record: $REC appended to $ALL and shown.
record() { echo "$REC" >>"$ALL"; echo "$REC"; }

echo "sockperf ping-pong, ${DURATION} s x $REPS per setup: reflector/server on CPU $CPU_R, client on CPU $CPU_G"
for ((rep = 1; rep <= REPS; rep++)); do
	for setup in wait busy server; do
		case $setup in
		wait | busy)
			opts=(-m tun --reflect sockperf -c "$CPU_R")
			[[ $setup == busy ]] && opts+=(--poll busy)
			start_reflector "${opts[@]}"
			pingpong "tapreflect $setup" 198.18.0.2
			stop_reflector
			# the reflector's CPU, honestly: a busy worker holds its CPU whatever the load
			REC=$(jq -c --slurpfile r "$TMP/r.json" '. + {cpu_util: ($r | map(select(.type == "summary"))[0]
				| .cpu_s / .elapsed_s)}' <<<"$REC")
			record
			;;
		server)
			ip netns exec "$NS2" taskset -c "$CPU_R" sockperf server -i 198.19.0.2 -p 11111 >/dev/null 2>&1 &
			SPID=$!
			sleep 0.5
			pingpong "sockperf server (veth)" 198.19.0.2
			record
			kill "$SPID"
			wait "$SPID" 2>/dev/null || true
			SPID=""
			;;
		esac
	done
done
[[ -n $JSON ]] && cp "$ALL" "$JSON"
echo
printf '%-24s %10s %10s %14s\n' setup "p50 us" "p99 us" "reflector CPU"
for setup in "tapreflect wait" "tapreflect busy" "sockperf server (veth)"; do
	p50=$(jq -r --arg s "$setup" 'select(.setup == $s) | .p50_us' "$ALL" | median)
	p99=$(jq -r --arg s "$setup" 'select(.setup == $s) | .p99_us' "$ALL" | median)
	util=$(jq -r --arg s "$setup" 'select(.setup == $s) | (.cpu_util // empty)' "$ALL" | median)
	printf '%-24s %10.2f %10.2f %14s\n' "$setup" "$p50" "$p99" \
		"$([[ $setup == tapreflect* ]] && awk -v u="$util" 'BEGIN {printf "%.0f %%", u * 100}' || echo -)"
done
