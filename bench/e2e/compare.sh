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
                     --coalesce USEC, +busy --poll busy (e.g. "multishot multishot+c50")
  --queues LIST      queue counts to sweep, e.g. "1 2 4" (default 1); 16 flows spread
                     over them by the kernel's flow hash
  --queue-cpus one|two
                     one: every queue on the reflector's CPU (default); two: queues
                     alternate between the reflector's CPU and the generator's
  --loads LIST       offered loads (default "max"): max = as fast as tapgen can send,
                     N% = N percent of the first engine's reflected rate at max (on
                     the first queue count; needs max first), or a rate in pps
  --duration SECS    length of each trial (default 3)
  --reps N           trials per engine and load, interleaved; medians are reported (default 1)
  --size BYTES       UDP payload (default 18: 64 B Ethernet frames)
  --flows N          UDP flows (default 16)
  --json FILE        also write every trial as JSON lines
  -h, --help         this help

Example: bench/e2e/compare.sh --loads "max 30%" --reps 3 --duration 5
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
		 frames_read, cpu_ns_per_frame, frames_per_wakeup, wait, accounting_exact, read, ring_flags}' \
		"$rjson" >"$TMP/trial.json"
}

# Ratios and N% loads refer to the first engine of the first queue count (the
# reference: put sync, or the setting to compare against, first).
REF="${ENGINES%% *}@${QUEUES%% *}q"
ALL=$TMP/all.json
: >"$ALL"
echo "tapreflect engine comparison: $MODE, ${SIZE} B UDP payload, $FLOWS flows, ${DURATION} s x $REPS per point," \
	"reflector on CPU $CPU_R, tapgen on CPU $CPU_G"
SYNC_MAX=""
for load in $LOADS; do
	case $load in
	max) rate=0 ;;
	*%)
		[[ -n $SYNC_MAX ]] || { echo "compare.sh: $load needs 'max' first" >&2; exit 2; }
		rate=$(awk -v m="$SYNC_MAX" -v p="${load%\%}" 'BEGIN {printf "%d", m * p / 100}')
		;;
	*) rate=$load ;;
	esac
	for ((rep = 1; rep <= REPS; rep++)); do
		for q in $QUEUES; do for engine in $ENGINES; do
			trial "$engine" "$rate" "$q"
			jq -c --arg load "$load" --argjson rep "$rep" '. + {load: $load, rep: $rep}' "$TMP/trial.json" >>"$ALL"
		done
	done; done
	if [[ $load == max ]]; then
		SYNC_MAX=$(jq -r --arg e "$REF" 'select(.load == "max" and .engine == $e) | .reflected_pps' "$ALL" | median)
	fi
done
[[ -n $JSON ]] && cp "$ALL" "$JSON"

printf '\n%-6s %-20s %12s %12s %8s %10s %7s %10s %10s %9s %9s\n' load engine "offered kpps" "reflect kpps" "loss %" \
	"cpu ns/fr" "batch" "cpu/ref" "pps/ref" "p50 us" "p99 us"
for load in $LOADS; do
	ref_cpu=$(jq -r --arg l "$load" --arg e "$REF" 'select(.load == $l and .engine == $e) | .cpu_ns_per_frame' "$ALL" | median)
	ref_pps=$(jq -r --arg l "$load" --arg e "$REF" 'select(.load == $l and .engine == $e) | .reflected_pps' "$ALL" | median)
	for q in $QUEUES; do for engine in $ENGINES; do
		label="$engine@${q}q"
		sel() { jq -r --arg l "$load" --arg e "$label" "select(.load == \$l and .engine == \$e) | $1" "$ALL" | median; }
		off=$(sel .offered_pps) refl=$(sel .reflected_pps) loss=$(sel .loss_ratio) cpu=$(sel .cpu_ns_per_frame)
		p50=$(sel .rtt_p50_us) p99=$(sel .rtt_p99_us) batch=$(sel '(.frames_per_wakeup // 0)')
		awk -v l="$load" -v e="$label" -v o="$off" -v r="$refl" -v s="$loss" -v c="$cpu" -v sc="$ref_cpu" -v sp="$ref_pps" \
			-v p5="$p50" -v p="$p99" -v b="$batch" \
			'BEGIN {printf "%-6s %-20s %12.1f %12.1f %8.3f %10.0f %7.1f %10s %10s %9.1f %9.1f\n", l, e, o/1e3, r/1e3, s*100, c, b,
				(sc > 0 ? sprintf("%.3f", c/sc) : "-"), (sp > 0 ? sprintf("%.3f", r/sp) : "-"), p5, p}'
	done; done
done
echo "ratios against $REF (the first engine and queue count)"
if [[ $REPS -gt 1 ]]; then
	echo
	echo "spread of cpu ns/frame (min..max over $REPS trials):"
	jq -rs 'group_by(.load + " " + .engine)[] | "  \(.[0].load) \(.[0].engine): \([.[].cpu_ns_per_frame] | min | floor)..\([.[].cpu_ns_per_frame] | max | floor)"' "$ALL"
fi
jq -se 'all(.accounting_exact)' "$ALL" >/dev/null && echo "accounting exact in every trial" ||
	{ echo "accounting MISMATCH in a trial" >&2; exit 1; }
