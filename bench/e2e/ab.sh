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
  --a-bin PATH, --b-bin PATH     tapreflect binaries (default BUILD/tools/tapreflect,
                                 or the installed one under tapreflect-bench)
  --a-opts OPTS, --b-opts OPTS   extra tapreflect options, e.g. --b-opts "--io sync"
  --a-hook CMD, --b-hook CMD     run before each trial of that side, with A or B as
                                 its argument: switch the component under test
                                 (a sysctl, a qdisc, a generator build, ...)

Load and trials:
  --reps N           trials per candidate, interleaved A B B A A B ... (default 20; 5
                     is the least for a 99 % interval)
  --mode tap|tun     device mode (default tun)
  --size BYTES       Ethernet frame size, 64..1518 (default 64)
  --rate PPS         fixed load for CPU per frame and RTT (default: half of A's NDR,
                     found by a short search first)
  --trial SECS       length of the fixed-load trial (default 4)
  --build DIR        build directory (default build)
  --out DIR          where results go (default BUILD/ab-results; ./ab-results
                     under tapreflect-bench): a.json and b.json (one
                     metric sample per trial), report.md, report.html,
                     trials.json, and each side's search traces, RTT
                     histograms and reflector summaries (*.jsonl)
  -h, --help         this help

Per trial: tapgen at the fixed rate (the reflector's CPU per frame: the median
of its half-second figures at the full load; RTT p50 and p99), then a PDR
search (--steps 5, 0.5 s trials).  Reflector on one CPU,
tapgen on another.  The defaults (20 trials of 4 s, about 7 minutes) are sized
so that an A/A run on a noisy 2-vCPU VM gives intervals within +-5 % for CPU
per frame and +-10 % for PDR.  Gating thresholds: CPU per frame 5 %, PDR and
RTT p50 10 %; RTT p99 is reported but does not gate (on a shared machine its
spread is far wider than any change worth catching).
Exit status: tools/perf-report's (0 no regression, 1 B regressed, 3
inconclusive), 2 bad usage.
TXT
}

BUILD=build REPS=20 MODE=tun SIZE=64 RATE="" TRIAL=4 OUTDIR=""
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
[[ $REPS =~ ^[0-9]+$ && $REPS -ge 1 ]] || { echo "ab.sh: --reps N, N >= 1" >&2; exit 2; }
[[ $SIZE =~ ^[0-9]+$ && $SIZE -ge 64 && $SIZE -le 1518 ]] || { echo "ab.sh: --size 64..1518" >&2; exit 2; }
PROG=ab.sh
source "$(dirname "$0")/common.sh"
OUTDIR=${OUTDIR:-$(results_dir)/ab-results}
bench_setup
if [[ -n ${TRF_BIN_DIR:-} ]]; then REPORT=$TRF_BIN_DIR/tapreflect-perf-report; else REPORT=$(realpath "$(dirname "$0")/../../tools/perf-report"); fi
A_BIN=$(realpath "${A_BIN:-${B_BIN:-$TAPREFLECT}}")
B_BIN=$(realpath "${B_BIN:-$A_BIN}")
payload=$((SIZE - 46))
mkdir -p "$OUTDIR"
: >"$OUTDIR/a.json"
: >"$OUTDIR/b.json"
: >"$OUTDIR/trials.json"
for f in search rtt reflector; do : >"$OUTDIR/a-$f.jsonl"; : >"$OUTDIR/b-$f.jsonl"; done

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
	# A B, B A, A B, ...: neither side always goes first, so an order effect
	# (a warm cache, a drift in the machine) falls on both alike.
	order="A B"
	((rep % 2 == 0)) && order="B A"
	for side in $order; do
		printf '  trial %d/%d %s: ' "$rep" "$REPS" "$side"
		RSTATS=0.5 start "$side"
		ip netns exec "$NS" "$TAPGEN" --dst 198.18.0.2 --size "$payload" --cpu "$CPU_G" --rate "$RATE" \
			--duration "$TRIAL" --json "$TMP/fixed.json" >/dev/null
		stop_reflector
		# CPU per frame: the median over the half-second intervals at the full load, so
		# that a burst of interference from the rest of the machine in one of them does
		# not move the trial's figure (the whole run's figure is kept in trials.json).
		cpu=$(jq -r --argjson rate "$RATE" 'select(.type == "interval" and .pps_read >= 0.9 * $rate)
			| .cpu_ns_per_frame' "$TMP/r.json" | median)
		[[ $cpu != 0 ]] || cpu=$(jq 'select(.type == "summary") | .cpu_ns_per_frame' "$TMP/r.json")
		cp "$TMP/r.json" "$TMP/fixed-r.json"
		start "$side"
		ip netns exec "$NS" "$TAPGEN" --dst 198.18.0.2 --size "$payload" --cpu "$CPU_G" --search --steps 5 \
			--repeats 1 --duration 0.5 --drain 0.2 --json "$TMP/pdr.json" >/dev/null
		stop_reflector
		lc=$(tr AB ab <<<"$side")
		out=$OUTDIR/$lc.json
		# for the HTML report: the search traces, RTT histograms and reflector summaries
		cat "$TMP/pdr.json" >>"$OUTDIR/$lc-search.jsonl"
		cat "$TMP/fixed.json" >>"$OUTDIR/$lc-rtt.jsonl"
		jq -c 'select(.type == "summary")' "$TMP/fixed-r.json" >>"$OUTDIR/$lc-reflector.jsonl"
		jq -c --slurpfile g "$TMP/fixed.json" --slurpfile p "$TMP/pdr.json" --argjson cpu "$cpu" '
			select(.type == "summary") |
			{kind: "timed", unit: "ns/frame", better: "lower", name: "ab/cpu_ns_per_frame", value: $cpu, threshold: 0.05},
			{kind: "timed", unit: "us", better: "lower", name: "ab/rtt_p50_us", value: $g[0].rtt_us.p50, threshold: 0.10},
			{kind: "timed", unit: "us", better: "lower", name: "ab/rtt_p99_us", value: $g[0].rtt_us.p99, gate: false},
			{kind: "timed", unit: "pps", better: "higher", name: "ab/pdr_pps", value: $p[0].pdr_pps, threshold: 0.10}' \
			"$TMP/fixed-r.json" >>"$out"
		jq -c --arg side "$side" --argjson rep "$rep" --slurpfile g "$TMP/fixed.json" --slurpfile p "$TMP/pdr.json" \
			--argjson cpu "$cpu" 'select(.type == "summary") | {side: $side, rep: $rep, rate: $g[0].rate_target,
			 loss_ratio: $g[0].loss_ratio, cpu_ns_per_frame: $cpu, cpu_ns_per_frame_whole_run: .cpu_ns_per_frame,
			 rtt_us: $g[0].rtt_us,
			 ndr_pps: $p[0].ndr_pps, pdr_pps: $p[0].pdr_pps}' "$TMP/fixed-r.json" >>"$OUTDIR/trials.json"
		tail -1 "$OUTDIR/trials.json" | jq -r '"cpu \(.cpu_ns_per_frame | floor) ns/frame, RTT p50 \(.rtt_us.p50) us, p99 \(.rtt_us.p99) us, PDR \(.pdr_pps | floor) pps"'
	done
done
echo
rc=0
"$REPORT" --title "A/B: B / A" --baseline "$OUTDIR/a.json" --current "$OUTDIR/b.json" --gate-timed \
	--markdown "$OUTDIR/report.md" --html "$OUTDIR/report.html" \
	--trace "$OUTDIR"/{a,b}-search.jsonl "$OUTDIR"/{a,b}-rtt.jsonl "$OUTDIR"/{a,b}-reflector.jsonl |
	sed -n '3p;/^| /p' || rc=$?
echo "results: $OUTDIR/ (report.md, report.html, a.json, b.json, trials.json, traces *.jsonl)"
exit "$rc"
