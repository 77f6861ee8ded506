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
                     fixed:N = --read fixed --fixed-reads N
  --loads LIST       offered loads (default "max"): max = as fast as tapgen can send,
                     N% = N percent of the sync engine's reflected rate at max (needs
                     max first and sync among the engines), or a rate in pps
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
	-h | --help) usage; exit 0 ;;
	*) echo "compare.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
	esac
done
PROG=compare.sh
source "$(dirname "$0")/common.sh"
bench_setup

# trial ENGINE RATE → one JSON line in $TMP/trial.json.  Not run in a
# subshell, so that cleanup always knows the reflector's PID.
trial() {
	local engine=$1 rate=$2 rjson=$TMP/r.json gjson=$TMP/g.json
	rm -f "$gjson"
	# shellcheck disable=SC2046
	start_reflector -m "$MODE" -c "$CPU_R" $(engine_args "$engine")
	ip netns exec "$NS" "$TAPGEN" --dst 198.18.0.2 --flows "$FLOWS" --size "$SIZE" \
		--rate "$rate" --duration "$DURATION" --cpu "$CPU_G" --json "$gjson" >/dev/null
	stop_reflector
	jq -c --arg engine "$engine" --arg mode "$MODE" --argjson rate "$rate" --slurpfile g "$gjson" \
		'select(.type == "summary") | {engine: $engine, mode: $mode, rate_target: $rate,
		 offered_pps: $g[0].offered_pps, reflected_pps: $g[0].reflected_pps,
		 loss_ratio: $g[0].loss_ratio, rtt_p50_us: $g[0].rtt_us.p50, rtt_p99_us: $g[0].rtt_us.p99,
		 frames_read, cpu_ns_per_frame, accounting_exact, read, ring_flags}' "$rjson" >"$TMP/trial.json"
}

ALL=$TMP/all.json
: >"$ALL"
echo "tapreflect engine comparison: $MODE, ${SIZE} B UDP payload, $FLOWS flows, ${DURATION} s x $REPS per point," \
	"reflector on CPU $CPU_R, tapgen on CPU $CPU_G"
SYNC_MAX=""
for load in $LOADS; do
	case $load in
	max) rate=0 ;;
	*%)
		[[ -n $SYNC_MAX ]] || { echo "compare.sh: $load needs 'max' first and the sync engine" >&2; exit 2; }
		rate=$(awk -v m="$SYNC_MAX" -v p="${load%\%}" 'BEGIN {printf "%d", m * p / 100}')
		;;
	*) rate=$load ;;
	esac
	for ((rep = 1; rep <= REPS; rep++)); do
		for engine in $ENGINES; do
			trial "$engine" "$rate"
			jq -c --arg load "$load" --argjson rep "$rep" '. + {load: $load, rep: $rep}' "$TMP/trial.json" >>"$ALL"
		done
	done
	if [[ $load == max ]] && grep -q '"engine":"sync"' "$ALL"; then
		SYNC_MAX=$(jq -r 'select(.load == "max" and .engine == "sync") | .reflected_pps' "$ALL" | median)
	fi
done
[[ -n $JSON ]] && cp "$ALL" "$JSON"

printf '\n%-6s %-10s %12s %12s %8s %10s %10s %10s %10s\n' load engine "offered kpps" "reflect kpps" "loss %" "cpu ns/fr" "cpu/sync" "pps/sync" "p99 us"
for load in $LOADS; do
	sync_cpu=$(jq -r --arg l "$load" 'select(.load == $l and .engine == "sync") | .cpu_ns_per_frame' "$ALL" | median)
	sync_pps=$(jq -r --arg l "$load" 'select(.load == $l and .engine == "sync") | .reflected_pps' "$ALL" | median)
	for engine in $ENGINES; do
		sel() { jq -r --arg l "$load" --arg e "$engine" "select(.load == \$l and .engine == \$e) | $1" "$ALL" | median; }
		off=$(sel .offered_pps) refl=$(sel .reflected_pps) loss=$(sel .loss_ratio) cpu=$(sel .cpu_ns_per_frame) p99=$(sel .rtt_p99_us)
		awk -v l="$load" -v e="$engine" -v o="$off" -v r="$refl" -v s="$loss" -v c="$cpu" -v sc="$sync_cpu" -v sp="$sync_pps" -v p="$p99" \
			'BEGIN {printf "%-6s %-10s %12.1f %12.1f %8.3f %10.0f %10s %10s %10.1f\n", l, e, o/1e3, r/1e3, s*100, c,
				(sc > 0 ? sprintf("%.3f", c/sc) : "-"), (sp > 0 ? sprintf("%.3f", r/sp) : "-"), p}'
	done
done
if [[ $REPS -gt 1 ]]; then
	echo
	echo "spread of cpu ns/frame (min..max over $REPS trials):"
	jq -rs 'group_by(.load + " " + .engine)[] | "  \(.[0].load) \(.[0].engine): \([.[].cpu_ns_per_frame] | min | floor)..\([.[].cpu_ns_per_frame] | max | floor)"' "$ALL"
fi
jq -se 'all(.accounting_exact)' "$ALL" >/dev/null && echo "accounting exact in every trial" ||
	{ echo "accounting MISMATCH in a trial" >&2; exit 1; }
