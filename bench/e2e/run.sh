#!/usr/bin/env bash
# End-to-end benchmark: for each scenario (mode x frame size x engine x
# queues), start tapreflect in a private network namespace, find its NDR and
# PDR with tapgen --search, then run tapgen at half the NDR for RTT
# percentiles and the reflector's CPU per frame.  One JSON record per
# scenario; uring/sync ratios are added for scenarios measured in this same
# invocation.  Run as root.
set -euo pipefail

usage() {
	cat <<'TXT'
Usage: bench/e2e/run.sh [--profile quick|full] [--build DIR] [--out FILE] [--metrics FILE]

  --profile quick   tap and tun, 64 B, uring and sync, 1 queue; short trials (about 2 min)
  --profile full    tap and tun x 64/512/1400 B x uring/sync x 1/2 queues (about 30 min)
  --build DIR       build directory (default build)
  --out FILE        scenario records, JSON lines (default: bench-e2e.json)
  --metrics FILE    the same figures as perf-report metrics, JSON lines
                    (e2e/<scenario>/ndr_pps, .../cpu_ns_per_frame, .../rtt_p99_us)

Frame sizes are Ethernet frames with FCS: 64 B = 18 B of UDP payload.  With two
queues on a two-CPU machine the generator shares a CPU with a queue.
TXT
}

PROFILE=quick BUILD=build OUT=bench-e2e.json METRICS=""
while [[ $# -gt 0 ]]; do
	case $1 in
	--profile) PROFILE=$2; shift 2 ;;
	--build) BUILD=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--metrics) METRICS=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
	esac
done
case $PROFILE in
quick) MODES="tap tun" SIZES="64" IOS="uring sync" QUEUES="1" STEPS=5 REPEATS=3 TRIAL=0.5 RTT_TRIAL=2 ;;
full) MODES="tap tun" SIZES="64 512 1400" IOS="uring sync" QUEUES="1 2" STEPS=8 REPEATS=3 TRIAL=2 RTT_TRIAL=5 ;;
*) echo "run.sh: --profile quick or full" >&2; exit 2 ;;
esac
PROG=run.sh
source "$(dirname "$0")/common.sh"
bench_setup

: >"$OUT.tmp"
echo "tapreflect end-to-end benchmark, profile $PROFILE: reflector on CPU $CPU_R, tapgen on CPU $CPU_G;" \
	"search: $STEPS steps, majority of $REPEATS trials of ${TRIAL} s; RTT and CPU at 50 % of NDR for ${RTT_TRIAL} s"
for mode in $MODES; do
	for size in $SIZES; do
		payload=$((size - 46))
		for queues in $QUEUES; do
			for io in $IOS; do
				name="$mode/${size}B/$io/${queues}q"
				printf '%-22s searching...' "$name"
				cpus=$CPU_R
				[[ $queues == 2 ]] && cpus="$CPU_R,$CPU_G"
				start_reflector -m "$mode" --io "$io" -c "$cpus"
				ip netns exec "$NS" "$TAPGEN" --dst 198.18.0.2 --size "$payload" --cpu "$CPU_G" \
					--search --steps "$STEPS" --repeats "$REPEATS" --duration "$TRIAL" --drain 0.2 \
					--json "$TMP/search.json" >"$TMP/search.trace"
				stop_reflector
				ndr=$(jq -r .ndr_pps "$TMP/search.json")
				rate=$(awk -v n="$ndr" 'BEGIN {r = int(n / 2); print (r < 1000 ? 1000 : r)}')
				start_reflector -m "$mode" --io "$io" -c "$cpus"
				ip netns exec "$NS" "$TAPGEN" --dst 198.18.0.2 --size "$payload" --cpu "$CPU_G" \
					--rate "$rate" --duration "$RTT_TRIAL" --json "$TMP/rtt.json" >/dev/null
				stop_reflector
				jq -c --arg name "$name" --arg mode "$mode" --arg io "$io" \
					--argjson size "$size" --argjson queues "$queues" \
					--slurpfile s "$TMP/search.json" --slurpfile t "$TMP/rtt.json" \
					'select(.type == "summary") | {kind: "e2e", scenario: $name, mode: $mode,
					 frame_bytes: $size, io: $io, read: .read, queues: $queues,
					 ndr_pps: $s[0].ndr_pps, pdr_pps: $s[0].pdr_pps, ceiling_pps: $s[0].ceiling_pps,
					 rtt_rate_pps: $t[0].rate_target, rtt_loss_ratio: $t[0].loss_ratio,
					 rtt_p50_us: $t[0].rtt_us.p50, rtt_p99_us: $t[0].rtt_us.p99,
					 cpu_ns_per_frame: .cpu_ns_per_frame, accounting_exact: .accounting_exact}' \
					"$TMP/r.json" >>"$OUT.tmp"
				printf '\r%-22s NDR %7.1f kpps  PDR %7.1f kpps\n' "$name" \
					"$(jq -n "$ndr / 1000")" "$(jq -r '.pdr_pps / 1000' "$TMP/search.json")"
			done
		done
	done
done

# uring/sync ratios for scenarios that differ only in the engine.
jq -sc '. as $all | map(. as $r | ($r.scenario | sub("/uring/"; "/sync/")) as $peer
	| ($all | map(select(.scenario == $peer and $r.io == "uring")) | first) as $s
	| if $s then $r + {ndr_ratio_vs_sync: (if $s.ndr_pps > 0 then $r.ndr_pps / $s.ndr_pps else null end),
	                   pdr_ratio_vs_sync: (if $s.pdr_pps > 0 then $r.pdr_pps / $s.pdr_pps else null end),
	                   cpu_ratio_vs_sync: ($r.cpu_ns_per_frame / $s.cpu_ns_per_frame)} else $r end) | .[]' \
	"$OUT.tmp" >"$OUT"
rm -f "$OUT.tmp"

echo
printf '| %-18s | %9s | %9s | %9s | %9s | %11s | %8s | %8s |\n' scenario "NDR kpps" "PDR kpps" "p50 us" "p99 us" "cpu ns/fr" "NDR/sync" "cpu/sync"
printf '|%s|\n' "--------------------|-----------|-----------|-----------|-----------|-------------|----------|---------"
jq -r '[.scenario, .ndr_pps / 1000, .pdr_pps / 1000, .rtt_p50_us, .rtt_p99_us, .cpu_ns_per_frame,
	(.ndr_ratio_vs_sync // "-"), (.cpu_ratio_vs_sync // "-")] | @tsv' "$OUT" |
	awk -F'\t' '{printf "| %-18s | %9.1f | %9.1f | %9.1f | %9.1f | %11.0f | %8s | %8s |\n", $1, $2, $3, $4, $5, $6,
		($7 == "-" ? "-" : sprintf("%.3f", $7)), ($8 == "-" ? "-" : sprintf("%.3f", $8))}'
echo
echo "records: $OUT"
if [[ -n $METRICS ]]; then
	jq -c '{kind: "timed", name: "e2e/\(.scenario)/ndr_pps", value: .ndr_pps, unit: "pps", better: "higher"},
	       {kind: "timed", name: "e2e/\(.scenario)/cpu_ns_per_frame", value: .cpu_ns_per_frame, unit: "ns/frame", better: "lower"},
	       {kind: "timed", name: "e2e/\(.scenario)/rtt_p99_us", value: .rtt_p99_us, unit: "us", better: "lower"}' \
		"$OUT" >"$METRICS"
	echo "metrics: $METRICS"
fi
jq -se 'all(.accounting_exact)' "$OUT" >/dev/null || { echo "accounting MISMATCH" >&2; exit 1; }
