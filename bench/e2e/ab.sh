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

Candidates: each side's binary defaults to BUILD/tools/tapreflect (the
installed one under tapreflect-bench), its options to none, and a hook given
for one side runs for both (with A or B as its argument): give only what
differs.  With nothing different it is an A/A run, and says so.
  --a-bin PATH, --b-bin PATH     tapreflect binaries
  --a-opts OPTS, --b-opts OPTS   extra tapreflect options, e.g. --b-opts "--io sync"
  --a-hook CMD, --b-hook CMD     run before each trial of that side, with A or B as
                                 its argument: switch the component under test
                                 (a sysctl, a qdisc, a generator build, ...)

Load and trials:
  --reps N           fixed-load trials per candidate, in A B, B A, ... order (default
                     60; 8 is the least for a 99 % interval of their pairs)
  --pdr-reps N       PDR searches per candidate, in the same order (default 20; 5 is
                     the least for a 99 % interval; 0: none)
  --mode tap|tun     device mode (default tun)
  --size BYTES       Ethernet frame size, 64..1518 (default 64)
  --rate PPS         fixed load for CPU per frame and RTT (default: half of A's NDR,
                     found by a short search first)
  --trial SECS       length of a fixed-load trial (default 1)
  --build DIR        build directory (default build)
  --out DIR          where results go (default BUILD/ab-results; ./ab-results
                     under tapreflect-bench): a.json and b.json (one
                     metric sample per trial), report.md, report.html,
                     trials.json, and each side's search traces, RTT
                     histograms and reflector summaries (*.jsonl)
  -h, --help         this help

Every trial starts its side's reflector afresh (after the side's hook) on one
CPU, with tapgen on another.  First the fixed-load trials: tapgen at --rate
for --trial seconds; the reflector's CPU per frame (its own figure for the
trial), RTT p50 and p99.  Then the PDR searches (--steps 5, 0.5 s trials,
the ceiling fixed at what an unlimited trial of A offered, so that every
search bisects the same range).

Why many short trials, in pairs: on a shared VM the CPU per frame wanders
by +-10 % over seconds, the same within one reflector's run as across runs.
A trial longer than a second does not average that out; many trials do, and
the A and B trial of a repetition, run back to back, share most of it.  So
each fixed-load sample carries its repetition as "pair", and perf-report
judges the ratios of the pairs (Hodges-Lehmann with the signed-rank
interval).  PDR samples are judged unpaired: a search's spread comes from its
own pass/fail steps more than from the drift.  The defaults (60 trials of 1 s
and 20 searches per side, about 7 minutes) are sized so that an A/A run on a
noisy 2-vCPU VM gives intervals within +-5 % for CPU per frame and +-10 % for
PDR.  Gating thresholds: CPU per frame 5 %, PDR and RTT p50 10 %; RTT p99 is
reported but does not gate (on a shared machine its spread is far wider than
any change worth catching).
Exit status: tools/perf-report's (0 no regression, 1 B regressed, 3
inconclusive), 2 bad usage.
TXT
}

BUILD=build REPS=60 PDR_REPS=20 MODE=tun SIZE=64 RATE="" TRIAL=1 OUTDIR=""
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
	--pdr-reps) PDR_REPS=$2; shift 2 ;;
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
[[ $PDR_REPS =~ ^[0-9]+$ ]] || { echo "ab.sh: --pdr-reps N, N >= 0" >&2; exit 2; }
[[ $TRIAL =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "ab.sh: --trial SECS" >&2; exit 2; }
[[ $SIZE =~ ^[0-9]+$ && $SIZE -ge 64 && $SIZE -le 1518 ]] || { echo "ab.sh: --size 64..1518" >&2; exit 2; }
PROG=ab.sh
source "$(dirname "$0")/common.sh"
OUTDIR=${OUTDIR:-$(results_dir)/ab-results}
bench_setup
if [[ -n ${TRF_BIN_DIR:-} ]]; then REPORT=$TRF_BIN_DIR/tapreflect-perf-report; else REPORT=$(realpath "$(dirname "$0")/../../tools/perf-report"); fi
A_BIN=$(realpath "${A_BIN:-$TAPREFLECT}")
B_BIN=$(realpath "${B_BIN:-$TAPREFLECT}")
for f in "$A_BIN" "$B_BIN"; do [[ -x $f ]] || { echo "ab.sh: $f is not an executable" >&2; exit 2; }; done
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

echo "tapreflect A/B: $REPS fixed-load trial(s) of $TRIAL s and $PDR_REPS PDR search(es) each, interleaved: $MODE, ${SIZE} B frames, reflector on CPU $CPU_R, tapgen on CPU $CPU_G"
echo "  A: $A_BIN ${A_OPTS:-(default options)}${A_HOOK:+, hook: $A_HOOK}"
echo "  B: $B_BIN ${B_OPTS:-(default options)}${B_HOOK:+, hook: $B_HOOK}"
if [[ $A_BIN == "$B_BIN" && $A_OPTS == "$B_OPTS" && -z $A_HOOK$B_HOOK ]]; then
	echo "  A and B are the same binary with the same options: an A/A run (what the noise alone gives)"
fi
CEILING=0
if [[ -z $RATE || $PDR_REPS -gt 0 ]]; then
	start A
	ip netns exec "$NS" "$TAPGEN" --dst 198.18.0.2 --size "$payload" --cpu "$CPU_G" --search --steps 6 \
		--repeats 1 --duration 0.5 --drain 0.2 --json "$TMP/ndr.json" >/dev/null
	stop_reflector
	CEILING=$(jq -r '.ceiling_pps | floor' "$TMP/ndr.json")
	if [[ -z $RATE ]]; then
		RATE=$(jq -r '[(.ndr_pps / 2 | floor), 1000] | max' "$TMP/ndr.json")
		echo "  fixed load: $RATE pps (half of A's NDR, $(jq -r .ndr_pps "$TMP/ndr.json") pps)"
	fi
	[[ $PDR_REPS -gt 0 ]] && echo "  PDR search ceiling: $CEILING pps (what an unlimited trial of A offered)"
fi

# order REP: "A B" on odd repetitions, "B A" on even ones, so that neither side
# always goes first and an order effect (a warm cache, a drift in the machine)
# falls on both alike.
order() { if (($1 % 2)); then echo "A B"; else echo "B A"; fi; }
lc() { tr AB ab <<<"$1"; }
progress() { [[ -t 1 ]] && printf '\r  %s %d/%d %s ' "$1" "$2" "$3" "$4"; return 0; }

[[ -t 1 ]] || echo "  fixed-load trials at $RATE pps ..."
for ((rep = 1; rep <= REPS; rep++)); do
	for side in $(order "$rep"); do
		progress "fixed-load trial" "$rep" "$REPS" "$side"
		start "$side"
		ip netns exec "$NS" "$TAPGEN" --dst 198.18.0.2 --size "$payload" --cpu "$CPU_G" --rate "$RATE" \
			--duration "$TRIAL" --drain 0.1 --json "$TMP/fixed.json" >/dev/null
		stop_reflector
		ls=$(lc "$side")
		cat "$TMP/fixed.json" >>"$OUTDIR/$ls-rtt.jsonl"
		jq -c 'select(.type == "summary")' "$TMP/r.json" >>"$OUTDIR/$ls-reflector.jsonl"
		# CPU per frame: the reflector's own figure for the trial (its start-up and
		# the one ping before the load are under 0.5 % of it at the default load).
		rec=$(jq -c --arg side "$side" --argjson rep "$rep" --slurpfile g "$TMP/fixed.json" 'select(.type == "summary") |
			{trial: "fixed", side: $side, rep: $rep, rate: $g[0].rate_target, loss_ratio: $g[0].loss_ratio,
			 cpu_ns_per_frame: .cpu_ns_per_frame, frames_per_wakeup: .frames_per_wakeup, rtt_us: $g[0].rtt_us}' "$TMP/r.json")
		echo "$rec" >>"$OUTDIR/trials.json"
		# "pair": the repetition, in which A and B ran back to back (perf-report
		# then judges the ratio of each pair)
		jq -c '{kind: "timed", unit: "ns/frame", better: "lower", name: "ab/cpu_ns_per_frame", value: .cpu_ns_per_frame, threshold: 0.05, pair: .rep},
			{kind: "timed", unit: "us", better: "lower", name: "ab/rtt_p50_us", value: .rtt_us.p50, threshold: 0.10, pair: .rep},
			{kind: "timed", unit: "us", better: "lower", name: "ab/rtt_p99_us", value: .rtt_us.p99, gate: false, pair: .rep}' \
			<<<"$rec" >>"$OUTDIR/$ls.json"
	done
done
[[ -t 1 ]] && echo
[[ -t 1 || $PDR_REPS == 0 ]] || echo "  PDR searches ..."
for ((rep = 1; rep <= PDR_REPS; rep++)); do
	for side in $(order "$rep"); do
		progress "PDR search" "$rep" "$PDR_REPS" "$side"
		start "$side"
		ip netns exec "$NS" "$TAPGEN" --dst 198.18.0.2 --size "$payload" --cpu "$CPU_G" --search --steps 5 \
			--repeats 1 --duration 0.5 --drain 0.2 --max-rate "$CEILING" --json "$TMP/pdr.json" >/dev/null
		stop_reflector
		ls=$(lc "$side")
		cat "$TMP/pdr.json" >>"$OUTDIR/$ls-search.jsonl"
		rec=$(jq -c --arg side "$side" --argjson rep "$rep" '{trial: "pdr", side: $side, rep: $rep,
			ndr_pps: .ndr_pps, pdr_pps: .pdr_pps, ceiling_pps: .ceiling_pps}' "$TMP/pdr.json")
		echo "$rec" >>"$OUTDIR/trials.json"
		# no "pair": a search's spread comes from its own pass/fail steps more than
		# from the machine's drift, so all pairwise ratios tell more than the pairs'
		jq -c '{kind: "timed", unit: "pps", better: "higher", name: "ab/pdr_pps", value: .pdr_pps, threshold: 0.10}' \
			<<<"$rec" >>"$OUTDIR/$ls.json"
	done
done
[[ -t 1 ]] && echo
# the medians of each side, as a line of text for logs that are not a terminal
# med SIDE TRIAL FIELD: the median of FIELD over that side's trials of that kind
med() { jq -r --arg side "$1" --arg t "$2" "select(.side == \$side and .trial == \$t) | $3" "$OUTDIR/trials.json" | median; }
for side in A B; do
	printf '  %s: CPU %.0f ns/frame, RTT p50 %s us, PDR %.0f pps (medians)\n' "$side" \
		"$(med "$side" fixed .cpu_ns_per_frame)" "$(med "$side" fixed .rtt_us.p50)" "$(med "$side" pdr .pdr_pps)"
done
echo
rc=0
"$REPORT" --title "A/B: B / A" --baseline "$OUTDIR/a.json" --current "$OUTDIR/b.json" --gate-timed \
	--markdown "$OUTDIR/report.md" --html "$OUTDIR/report.html" \
	--trace "$OUTDIR"/{a,b}-search.jsonl "$OUTDIR"/{a,b}-rtt.jsonl "$OUTDIR"/{a,b}-reflector.jsonl |
	sed -n '3p;/^| /p' || rc=$?
echo "results: $OUTDIR/ (report.md, report.html, a.json, b.json, trials.json, traces *.jsonl)"
exit "$rc"
