#!/usr/bin/env bash
# Same-run A/B: two candidates measured in one run, their trials interleaved
# (A B A B ...) on the same load, so that what changes between trials (the
# machine's other load, its clocks, its caches) falls on both alike.  The
# verdict is tools/perf-report's on the ratios B/A, with their intervals.
# Run as root.
set -euo pipefail

usage() {
	cat <<'TXT'
Usage: bench/e2e/ab.sh [OPTIONS]

Candidates: a side's binary and hook default to the other's, its options to
none, so give only what differs.
  --a-bin PATH, --b-bin PATH     tapreflect binaries (default BUILD/tools/tapreflect)
  --a-opts OPTS, --b-opts OPTS   extra tapreflect options, e.g. --b-opts "--io sync"
  --a-hook CMD, --b-hook CMD     run before each trial of that side, with A or B as
                                 its argument: switch the component under test
                                 (a sysctl, a qdisc, a generator build, ...)

Load and trials:
  --reps N           trials per candidate, interleaved (default 7; 5 is the least
                     for a 99 % interval)
  --mode tap|tun     device mode (default tun)
  --size BYTES       Ethernet frame size, 64..1518 (default 64)
  --rate PPS         fixed load for CPU per frame and RTT (default: half of A's NDR,
                     found by a short search first)
  --trial SECS       length of the fixed-load trial (default 2)
  --build DIR        build directory (default build)
  --out DIR          where results go (default BUILD/ab-results): a.json and b.json (one
                     metric sample per trial), report.md, trials.json
  -h, --help         this help

Per trial: tapgen at the fixed rate (the reflector's CPU per frame, RTT p50 and
p99), then a PDR search (--steps 5, 0.5 s trials).  Reflector on one CPU,
tapgen on another.  Exit status: tools/perf-report's, with every metric gating
(0 no regression, 1 B regressed, 3 inconclusive), 2 bad usage.
TXT
}

BUILD=build REPS=7 MODE=tun SIZE=64 RATE="" TRIAL=2 OUTDIR=""
A_BIN="" B_BIN="" A_OPTS="" B_OPTS="" A_HOOK="" B_HOOK=""
while [[ $# -gt 0 ]]; do
	case $1 in
	--a-bin) A_BIN=$2; shift 2 ;;
	--b-bin) B_BIN=$2; shift 2 ;;
	--a-opts) A_OPTS=$2; shift 2 ;;
	--b-opts) B_OPTS=$2; shift 2 ;;
	--a-hook) A_HOOK=$2; shift 2 ;;
	--b-hook) B_HOOK=$2; shift 2 ;;
	--reps) REPS=$2; shift 2 ;;
	--mode) MODE=$2; shift 2 ;;
	--size) SIZE=$2; shift 2 ;;
	--rate) RATE=$2; shift 2 ;;
	--trial) TRIAL=$2; shift 2 ;;
	--build) BUILD=$2; shift 2 ;;
	--out) OUTDIR=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "ab.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
	esac
done
[[ $MODE == tap || $MODE == tun ]] || { echo "ab.sh: --mode tap or tun" >&2; exit 2; }
OUTDIR=${OUTDIR:-$BUILD/ab-results} # under the build directory: never into the source tree
[[ $REPS =~ ^[0-9]+$ && $REPS -ge 1 ]] || { echo "ab.sh: --reps N, N >= 1" >&2; exit 2; }
[[ $SIZE =~ ^[0-9]+$ && $SIZE -ge 64 && $SIZE -le 1518 ]] || { echo "ab.sh: --size 64..1518" >&2; exit 2; }
PROG=ab.sh
source "$(dirname "$0")/common.sh"
bench_setup
REPORT=$(realpath "$(dirname "$0")/../../tools/perf-report")
A_BIN=$(realpath "${A_BIN:-${B_BIN:-$BUILD/tools/tapreflect}}")
B_BIN=$(realpath "${B_BIN:-$A_BIN}")
payload=$((SIZE - 46))
mkdir -p "$OUTDIR"
: >"$OUTDIR/a.json"
: >"$OUTDIR/b.json"
: >"$OUTDIR/trials.json"

# start SIDE: the reflector of side A or B, after its hook.
start() {
	local side=$1 bin opts hook
	if [[ $side == A ]]; then bin=$A_BIN opts=$A_OPTS hook=${A_HOOK:-$B_HOOK}; else bin=$B_BIN opts=$B_OPTS hook=${B_HOOK:-$A_HOOK}; fi
	[[ -n $hook ]] && { bash -c "$hook \"\$1\"" hook "$side" || { echo "ab.sh: the $side hook failed" >&2; exit 1; }; }
	TAPREFLECT=$bin
	# shellcheck disable=SC2086
	start_reflector -m "$MODE" -c "$CPU_R" $opts
}

echo "tapreflect A/B, $REPS interleaved trial(s) each: $MODE, ${SIZE} B frames, reflector on CPU $CPU_R, tapgen on CPU $CPU_G"
echo "  A: $A_BIN ${A_OPTS:-(default options)}${A_HOOK:+, hook: $A_HOOK}"
echo "  B: $B_BIN ${B_OPTS:-(default options)}${B_HOOK:+, hook: $B_HOOK}"
if [[ -z $RATE ]]; then
	start A
	ip netns exec "$NS" "$TAPGEN" --dst 198.18.0.2 --size "$payload" --cpu "$CPU_G" --search --steps 6 \
		--repeats 1 --duration 0.5 --drain 0.2 --json "$TMP/ndr.json" >/dev/null
	stop_reflector
	RATE=$(jq -r '[(.ndr_pps / 2 | floor), 1000] | max' "$TMP/ndr.json")
	echo "  fixed load: $RATE pps (half of A's NDR, $(jq -r .ndr_pps "$TMP/ndr.json") pps)"
fi

for ((rep = 1; rep <= REPS; rep++)); do
	for side in A B; do
		printf '  trial %d/%d %s: ' "$rep" "$REPS" "$side"
		start "$side"
		ip netns exec "$NS" "$TAPGEN" --dst 198.18.0.2 --size "$payload" --cpu "$CPU_G" --rate "$RATE" \
			--duration "$TRIAL" --json "$TMP/fixed.json" >/dev/null
		stop_reflector
		cp "$TMP/r.json" "$TMP/fixed-r.json"
		start "$side"
		ip netns exec "$NS" "$TAPGEN" --dst 198.18.0.2 --size "$payload" --cpu "$CPU_G" --search --steps 5 \
			--repeats 1 --duration 0.5 --drain 0.2 --json "$TMP/pdr.json" >/dev/null
		stop_reflector
		out=$OUTDIR/$(tr AB ab <<<"$side").json
		jq -c --slurpfile g "$TMP/fixed.json" --slurpfile p "$TMP/pdr.json" '
			select(.type == "summary") |
			{kind: "timed", unit: "ns/frame", better: "lower", name: "ab/cpu_ns_per_frame", value: .cpu_ns_per_frame},
			{kind: "timed", unit: "us", better: "lower", name: "ab/rtt_p50_us", value: $g[0].rtt_us.p50},
			{kind: "timed", unit: "us", better: "lower", name: "ab/rtt_p99_us", value: $g[0].rtt_us.p99},
			{kind: "timed", unit: "pps", better: "higher", name: "ab/pdr_pps", value: $p[0].pdr_pps}' \
			"$TMP/fixed-r.json" >>"$out"
		jq -c --arg side "$side" --argjson rep "$rep" --slurpfile g "$TMP/fixed.json" --slurpfile p "$TMP/pdr.json" \
			'select(.type == "summary") | {side: $side, rep: $rep, rate: $g[0].rate_target,
			 loss_ratio: $g[0].loss_ratio, cpu_ns_per_frame, rtt_us: $g[0].rtt_us,
			 ndr_pps: $p[0].ndr_pps, pdr_pps: $p[0].pdr_pps}' "$TMP/fixed-r.json" >>"$OUTDIR/trials.json"
		tail -1 "$OUTDIR/trials.json" | jq -r '"cpu \(.cpu_ns_per_frame | floor) ns/frame, RTT p50 \(.rtt_us.p50) us, p99 \(.rtt_us.p99) us, PDR \(.pdr_pps | floor) pps"'
	done
done
echo
rc=0
"$REPORT" --title "A/B: B / A" --baseline "$OUTDIR/a.json" --current "$OUTDIR/b.json" --gate-timed \
	--markdown "$OUTDIR/report.md" | sed -n '3p;/^| /p' || rc=$?
echo "results: $OUTDIR/ (report.md, a.json, b.json, trials.json)"
exit "$rc"
