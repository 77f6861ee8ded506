#!/usr/bin/env bash
# Same-run engine comparison: tapreflect with each engine in turn (interleaved
# A B C A B C ...) against the same tapgen load, in a private network
# namespace, reflector and generator pinned to different CPUs.
#
# Reports per engine and load: offered and reflected rate, loss, and the
# reflector's CPU time per frame, with ratios against --io sync (the
# original blocking design).  Run as root.
set -euo pipefail

usage() {
	cat <<'TXT'
Usage: bench/e2e/compare.sh [OPTIONS]

  --build DIR        build directory with tools/tapreflect and tools/tapgen (default: build)
  --mode tap|tun     device mode (default tap)
  --engines LIST     engines to compare, space separated (default "sync multishot fixed");
                     sync = --io sync, multishot/fixed = --io uring --read ...,
                     fixed:N = --read fixed --fixed-reads N; modifiers: +cUSEC adds
                     --coalesce USEC, +busy --poll busy, +hash/+kernel --steering
                     hash/kernel, +bN --buffers N, +perqueue --workers per-queue
                     (e.g. "multishot multishot+c50 multishot+kernel")
  --queues LIST      queue counts to sweep, e.g. "1 2 4" (default 1); 16 flows spread
                     over them by the kernel's flow hash
  --queue-cpus one|two
                     one: every queue on the reflector's CPU (default); two: queues
                     alternate between the reflector's CPU and the generator's
  --loads LIST       offered loads (default "max"): max = as fast as tapgen can send,
                     N% = N percent of what the reference (the first engine, first
                     queue count) reflected in one calibration trial at max, or a rate
                     in pps
  --duration SECS    length of each trial (default 3)
  --reps N           repetitions; each runs every load, queue count and engine once, in
                     that order, so that a drift of the machine falls on all points
                     alike; medians are reported (default 1)
  --size BYTES       UDP payload (default 18: 64 B Ethernet frames)
  --flows N          UDP flows (default 16)
  --json FILE        also write every trial as JSON lines
  -h, --help         this help

Ratios are paired: within a repetition each point's CPU per frame is divided
by the reference's at the same load (cpu/ref) and at the first load (cpu/first:
with --loads "max 30%", the cost at 30 % as a multiple of the saturation cost),
and the table gives the median of those per-repetition ratios with their range.

Example: bench/e2e/compare.sh --loads "max 30%" --reps 5 --duration 3
TXT
}

BUILD=build MODE=tap ENGINES="sync multishot fixed" LOADS=max DURATION=3 REPS=1 SIZE=18 FLOWS=16 JSON=""
QUEUES=1 QCPUS=one
while [[ $# -gt 0 ]]; do
	case $1 in
	--build) BUILD=$2; shift 2 ;;
	--mode) MODE=$2; shift 2 ;;
	--engines) ENGINES=$2; shift 2 ;;
	--loads) LOADS=$2; shift 2 ;;
	--duration) DURATION=$2; shift 2 ;;
	--reps) REPS=$2; shift 2 ;;
	--size) SIZE=$2; shift 2 ;;
	--flows) FLOWS=$2; shift 2 ;;
	--json) JSON=$2; shift 2 ;;
	--queues) QUEUES=$2; shift 2 ;;
	--queue-cpus) QCPUS=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "compare.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
	esac
done
PROG=compare.sh
source "$(dirname "$0")/common.sh"
bench_setup

[[ $QCPUS == one || $QCPUS == two ]] || { echo "compare.sh: --queue-cpus one or two" >&2; exit 2; }

# cpus_for N: the --cpus list of N queues.
cpus_for() {
	local list="" i
	for ((i = 0; i < $1; i++)); do
		if [[ $QCPUS == two && $((i % 2)) == 1 ]]; then list+=${list:+,}$CPU_G; else list+=${list:+,}$CPU_R; fi
	done
	echo "$list"
}

# trial ENGINE RATE QUEUES → one JSON line in $TMP/trial.json.  Not run in a
# subshell, so that cleanup always knows the reflector's PID.
trial() {
	local engine=$1 rate=$2 queues=${3:-1} rjson=$TMP/r.json gjson=$TMP/g.json
	rm -f "$gjson"
	# shellcheck disable=SC2046
	start_reflector -m "$MODE" -c "$(cpus_for "$queues")" $(engine_args "$engine")
	ip netns exec "$NS" "$TAPGEN" --dst 198.18.0.2 --flows "$FLOWS" --size "$SIZE" \
		--rate "$rate" --duration "$DURATION" --cpu "$CPU_G" --json "$gjson" >/dev/null
	stop_reflector
	jq -c --arg engine "$engine@${queues}q" --arg mode "$MODE" --argjson rate "$rate" --slurpfile g "$gjson" \
		'select(.type == "summary") | {engine: $engine, mode: $mode, rate_target: $rate,
		 offered_pps: $g[0].offered_pps, reflected_pps: $g[0].reflected_pps,
		 loss_ratio: $g[0].loss_ratio, rtt_p50_us: $g[0].rtt_us.p50, rtt_p99_us: $g[0].rtt_us.p99,
		 frames_read, cpu_ns_per_frame, frames_per_wakeup, wait, steering, threads, accounting_exact, read, ring_flags}' \
		"$rjson" >"$TMP/trial.json"
}

# Ratios and N% loads refer to the first engine of the first queue count (the
# reference: put sync, or the setting to compare against, first).
REF="${ENGINES%% *}@${QUEUES%% *}q"
ALL=$TMP/all.json
: >"$ALL"
echo "tapreflect engine comparison: $MODE, ${SIZE} B UDP payload, $FLOWS flows, ${DURATION} s x $REPS per point," \
	"reflector on CPU $CPU_R, tapgen on CPU $CPU_G"
# The rate of every load, known before the first repetition so that loads can
# be interleaved: N% needs one calibration trial of the reference at max.
declare -A RATE_OF
for load in $LOADS; do
	if [[ $load == max ]]; then
		RATE_OF[$load]=0
	elif [[ $load =~ ^[0-9]+%$ ]]; then
		if [[ -z ${CAL_PPS:-} ]]; then
			trial "${ENGINES%% *}" 0 "${QUEUES%% *}"
			CAL_PPS=$(jq -r '.reflected_pps | floor' "$TMP/trial.json")
			echo "calibration: $REF reflected $CAL_PPS pps at max"
		fi
		RATE_OF[$load]=$(awk -v m="$CAL_PPS" -v p="${load%\%}" 'BEGIN {printf "%d", m * p / 100}')
	elif [[ $load =~ ^[0-9]+$ ]]; then
		RATE_OF[$load]=$load
	else
		echo "compare.sh: a load is max, N% or a rate in pps, not $load" >&2
		exit 2
	fi
done
for ((rep = 1; rep <= REPS; rep++)); do
	for load in $LOADS; do for q in $QUEUES; do for engine in $ENGINES; do
		trial "$engine" "${RATE_OF[$load]}" "$q"
		jq -c --arg load "$load" --argjson rep "$rep" '. + {load: $load, rep: $rep}' "$TMP/trial.json" >>"$ALL"
	done; done; done
	[[ -t 1 ]] && printf '\r  repetition %d/%d ' "$rep" "$REPS"
done
[[ -t 1 ]] && echo
[[ -n $JSON ]] && cp "$ALL" "$JSON"

FIRST=${LOADS%% *}
# paired LOAD LABEL REFLOAD: each repetition's CPU per frame of the point over
# the reference's at REFLOAD in the same repetition, one ratio a line.
paired() {
	jq -rs --arg l "$1" --arg e "$2" --arg rl "$3" --arg r "$REF" '
		(map(select(.load == $rl and .engine == $r) | {key: "\(.rep)", value: .cpu_ns_per_frame}) | from_entries) as $ref
		| .[] | select(.load == $l and .engine == $e and ($ref["\(.rep)"] // 0) > 0)
		| .cpu_ns_per_frame / $ref["\(.rep)"]' "$ALL"
}
# ratio LOAD LABEL REFLOAD: "median" or "median [min..max]" of the paired ratios.
ratio() {
	local r
	r=$(paired "$@")
	[[ -n $r ]] || { echo "-"; return; }
	awk -v m="$(median <<<"$r")" '{v[NR] = $1} END {lo = v[1]; hi = v[1]; for (i in v) {if (v[i] < lo) lo = v[i]; if (v[i] > hi) hi = v[i]}
		if (NR > 1) printf "%.3f [%.2f..%.2f]", m, lo, hi; else printf "%.3f", m}' <<<"$r"
}
printf '\n%-6s %-20s %12s %12s %8s %10s %7s %-20s %-20s %8s %9s %9s\n' load engine "offered kpps" "reflect kpps" "loss %" \
	"cpu ns/fr" "batch" "cpu/ref" "cpu/first" "pps/ref" "p50 us" "p99 us"
for load in $LOADS; do
	ref_pps=$(jq -r --arg l "$load" --arg e "$REF" 'select(.load == $l and .engine == $e) | .reflected_pps' "$ALL" | median)
	for q in $QUEUES; do for engine in $ENGINES; do
		label="$engine@${q}q"
		sel() { jq -r --arg l "$load" --arg e "$label" "select(.load == \$l and .engine == \$e) | $1" "$ALL" | median; }
		off=$(sel .offered_pps) refl=$(sel .reflected_pps) loss=$(sel .loss_ratio) cpu=$(sel .cpu_ns_per_frame)
		p50=$(sel .rtt_p50_us) p99=$(sel .rtt_p99_us) batch=$(sel '(.frames_per_wakeup // 0)')
		awk -v l="$load" -v e="$label" -v o="$off" -v r="$refl" -v s="$loss" -v c="$cpu" \
			-v rr="$(ratio "$load" "$label" "$load")" -v rf="$(ratio "$load" "$label" "$FIRST")" -v sp="$ref_pps" \
			-v p5="$p50" -v p="$p99" -v b="$batch" \
			'BEGIN {printf "%-6s %-20s %12.1f %12.1f %8.3f %10.0f %7.1f %-20s %-20s %8s %9.1f %9.1f\n", l, e, o/1e3, r/1e3, s*100, c, b,
				rr, rf, (sp > 0 ? sprintf("%.3f", r/sp) : "-"), p5, p}'
	done; done
done
echo "cpu/ref: against $REF at the same load; cpu/first: against $REF at $FIRST; medians of the $REPS repetitions' ratios [range];"
echo "pps/ref: median reflected rate against $REF's at the same load"
if [[ $REPS -gt 1 ]]; then
	echo
	echo "spread of cpu ns/frame (min..max over $REPS trials):"
	jq -rs 'group_by(.load + " " + .engine)[] | "  \(.[0].load) \(.[0].engine): \([.[].cpu_ns_per_frame] | min | floor)..\([.[].cpu_ns_per_frame] | max | floor)"' "$ALL"
fi
jq -se 'all(.accounting_exact)' "$ALL" >/dev/null && echo "accounting exact in every trial" ||
	{ echo "accounting MISMATCH in a trial" >&2; exit 1; }
