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
Usage: bench/e2e/run.sh [--profile quick|full] [--reps N] [--build DIR] [--out FILE] [--metrics FILE]

  --profile quick   tap and tun, 64 B, uring and sync, 1 queue; short trials; and one
                    TCP stream scenario (tap, uring) with --offload on and off (about 3 min)
  --profile full    tap and tun x 64/512/1400 B x uring/sync x 1/2 queues, and TCP and
                    UDP-GSO streams, tap and tun, uring and sync, offload on and off (about 40 min)
  --reps N          repeat every scenario N times, interleaved (uring, sync, uring, ...);
                    the table shows medians and min..max (default 3: one repetition
                    per point is not a measurement)
  --build DIR       build directory (default build)
  --out FILE        scenario records, JSON lines (default: BUILD/bench-e2e.json;
                    ./bench-e2e.json under tapreflect-bench)
  --metrics FILE    the same figures as perf-report metrics, JSON lines
                    (e2e/<scenario>/ndr_pps, .../cpu_ns_per_frame, .../rtt_p99_us)

Frame sizes are Ethernet frames with FCS: 64 B = 18 B of UDP payload.  With two
queues on a two-CPU machine the generator shares a CPU with a queue.
TXT
}

PROFILE=quick BUILD=build OUT="" METRICS="" REPS=3
while [[ $# -gt 0 ]]; do
	case $1 in
	--profile) PROFILE=$2; shift 2 ;;
	--build) BUILD=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--metrics) METRICS=$2; shift 2 ;;
	--reps) REPS=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
	esac
done

case $PROFILE in
quick) MODES="tap tun" SIZES="64" IOS="uring sync" QUEUES="1" STEPS=5 REPEATS=1 TRIAL=0.5 RTT_TRIAL=2
	STREAMS=(--modes tap --traffic tcp --ios uring --duration 2) ;;
full) MODES="tap tun" SIZES="64 512 1400" IOS="uring sync" QUEUES="1 2" STEPS=8 REPEATS=3 TRIAL=2 RTT_TRIAL=5
	STREAMS=(--modes "tap tun" --traffic "tcp gso" --ios "uring sync" --duration 3) ;;
*) echo "run.sh: --profile quick or full" >&2; exit 2 ;;
esac
PROG=run.sh
source "$(dirname "$0")/common.sh"
OUT=${OUT:-$(results_dir)/bench-e2e.json}
bench_setup

: >"$OUT.tmp"
TRACES=${OUT%.json}.traces
rm -rf "$TRACES"
mkdir -p "$TRACES"
echo "tapreflect end-to-end benchmark, profile $PROFILE: reflector on CPU $CPU_R, tapgen on CPU $CPU_G;" \
	"search: $STEPS steps, majority of $REPEATS trials of ${TRIAL} s; RTT and CPU at 50 % of NDR for ${RTT_TRIAL} s;" \
	"$REPS repetition(s)"
for ((rep = 1; rep <= REPS; rep++)); do
for mode in $MODES; do
	for size in $SIZES; do
		payload=$((size - 46))
		for queues in $QUEUES; do
			for io in $IOS; do
				name="$mode/${size}B/$io/${queues}q"
				# On a terminal the line says what runs now and is then overwritten; in a
				# log or a CI job each scenario gets one finished line.
				[[ -t 1 ]] && printf '%-22s #%d searching...' "$name" "$rep"
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
				# for the HTML report: the search trace and RTT histogram of each scenario
				cat "$TMP/search.json" >>"$TRACES/${name//\//-}.search.jsonl"
				cat "$TMP/rtt.json" >>"$TRACES/${name//\//-}.rtt.jsonl"
				jq -c --arg name "$name" --arg mode "$mode" --arg io "$io" \
					--argjson size "$size" --argjson queues "$queues" --argjson rep "$rep" \
					--slurpfile s "$TMP/search.json" --slurpfile t "$TMP/rtt.json" \
					'select(.type == "summary") | {kind: "e2e", scenario: $name, rep: $rep, mode: $mode,
					 frame_bytes: $size, io: $io, read: .read, queues: $queues,
					 ndr_pps: $s[0].ndr_pps, pdr_pps: $s[0].pdr_pps, ceiling_pps: $s[0].ceiling_pps,
					 rtt_rate_pps: $t[0].rate_target, rtt_loss_ratio: $t[0].loss_ratio,
					 rtt_p50_us: $t[0].rtt_us.p50, rtt_p99_us: $t[0].rtt_us.p99,
					 cpu_ns_per_frame: .cpu_ns_per_frame, accounting_exact: .accounting_exact}' \
					"$TMP/r.json" >>"$OUT.tmp"
				[[ -t 1 ]] && printf '\r'
				printf '%-22s #%d NDR %7.1f kpps  PDR %7.1f kpps\n' "$name" "$rep" \
					"$(jq -n "$ndr / 1000")" "$(jq -r '.pdr_pps / 1000' "$TMP/search.json")"
			done
		done
	done
done
done

# Per scenario: medians and spread over repetitions, and uring/sync ratios
# of the medians for scenarios that differ only in the engine.
mv "$OUT.tmp" "$OUT"
jq -sc 'def med: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	group_by(.scenario) | map({scenario: .[0].scenario, io: .[0].io, reps: length,
		ndr: ([.[].ndr_pps] | med), ndr_min: ([.[].ndr_pps] | min), ndr_max: ([.[].ndr_pps] | max),
		pdr: ([.[].pdr_pps] | med), pdr_min: ([.[].pdr_pps] | min), pdr_max: ([.[].pdr_pps] | max),
		p50: ([.[].rtt_p50_us] | med), p99: ([.[].rtt_p99_us] | med),
		cpu: ([.[].cpu_ns_per_frame] | med)})
	| . as $all | map(. as $r | ($all | map(select(.scenario == ($r.scenario | sub("/uring/"; "/sync/"))
		and $r.io == "uring")) | first) as $s
		| $r + (if $s then {ndr_ratio: (if $s.ndr > 0 then $r.ndr / $s.ndr else null end),
			pdr_ratio: (if $s.pdr > 0 then $r.pdr / $s.pdr else null end),
			ndr_noise_bound: ($r.ndr_min <= $s.ndr_max and $s.ndr_min <= $r.ndr_max),
			pdr_noise_bound: ($r.pdr_min <= $s.pdr_max and $s.pdr_min <= $r.pdr_max),
			cpu_ratio: ($r.cpu / $s.cpu)} else {} end)) | .[]' "$OUT" >"$OUT.summary"

echo
printf '| %-18s | %-23s | %-23s | %7s | %7s | %9s | %8s | %8s | %8s |\n' scenario "NDR kpps (min..max)" \
	"PDR kpps (min..max)" "p50 us" "p99 us" "cpu ns/fr" "NDR/sync" "PDR/sync" "cpu/sync"
echo "|--------------------|-------------------------|-------------------------|---------|---------|-----------|----------|----------|----------|"
jq -r '[.scenario, .ndr / 1e3, .ndr_min / 1e3, .ndr_max / 1e3, .pdr / 1e3, .pdr_min / 1e3, .pdr_max / 1e3,
	.p50, .p99, .cpu, (.ndr_ratio // "-"), (.pdr_ratio // "-"), (.cpu_ratio // "-"),
	(.ndr_noise_bound // false), (.pdr_noise_bound // false)] | @tsv' "$OUT.summary" |
	awk -F'\t' 'function r(x, nb) { return x == "-" ? "-" : sprintf("%.3f%s", x, nb == "true" ? "~" : "") }
	{printf "| %-18s | %6.1f (%6.1f..%6.1f) | %6.1f (%6.1f..%6.1f) | %7.1f | %7.1f | %9.0f | %8s | %8s | %8s |\n",
		$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, r($11, $14), r($12, $15), r($13, "")}'
echo
if [[ $REPS -lt 2 ]]; then
	echo "one repetition per scenario: no spread, so no ratio here can be told from noise (use --reps 3 or more)"
elif jq -se 'any(.ndr_noise_bound or .pdr_noise_bound)' "$OUT.summary" >/dev/null; then
	echo "~: noise-bound: the two engines' min..max ranges overlap, so this run cannot tell them apart" \
		"on that figure; more --reps, or bench/e2e/ab.sh for a ratio with an interval"
fi
echo "records: $OUT (per repetition), $OUT.summary (medians), ${OUT%.json}.traces/ (searches, RTT histograms)"
jq -c '{kind: "timed", name: "e2e/\(.scenario)/ndr_pps", value: .ndr_pps, unit: "pps", better: "higher"},
       {kind: "timed", name: "e2e/\(.scenario)/pdr_pps", value: .pdr_pps, unit: "pps", better: "higher"},
       {kind: "timed", name: "e2e/\(.scenario)/cpu_ns_per_frame", value: .cpu_ns_per_frame, unit: "ns/frame", better: "lower"},
       {kind: "timed", name: "e2e/\(.scenario)/rtt_p99_us", value: .rtt_p99_us, unit: "us", better: "lower"}' \
	"$OUT" >"$TMP/metrics.json"
if [[ -n $METRICS ]]; then
	# Where and how these figures were made: perf-report will not compare them
	# with figures from another machine or configuration unless forced.
	jq -cn --arg id "$(sha256sum /etc/machine-id 2>/dev/null | cut -c1-16)" \
		--arg cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" \
		--argjson cpus "$(getconf _NPROCESSORS_ONLN)" --arg kernel "$(uname -r)" \
		--arg build "$("$TAPREFLECT" --version)" --arg profile "$PROFILE" --argjson reps "$REPS" \
		--arg cpu_r "$CPU_R" --arg cpu_g "$CPU_G" \
		'{kind: "meta", machine: {id: $id, cpu: $cpu, cpus: $cpus, kernel: $kernel},
		  config: {build: $build, profile: $profile, reps: $reps, reflector_cpu: $cpu_r, generator_cpu: $cpu_g}}' \
		>"$METRICS"
	grep -v '/pdr_pps"' "$TMP/metrics.json" >>"$METRICS"
	echo "metrics: $METRICS"
fi
jq -se 'all(.accounting_exact)' "$OUT" >/dev/null || { echo "accounting MISMATCH" >&2; exit 1; }

# Streams: superpackets with --offload on against off, interleaved.
echo
"$(dirname "$0")/streams.sh" --build "$BUILD" "${STREAMS[@]}" --reps "$REPS" --out "$OUT.streams"
if [[ -n $METRICS ]]; then
	jq -c '{kind: "timed", name: "e2e/stream/\(.scenario)/offload-\(.offload)/gbps", value: .gbps, unit: "Gbit/s", better: "higher"},
	       {kind: "timed", name: "e2e/stream/\(.scenario)/offload-\(.offload)/cpu_ns_per_kib", value: .cpu_ns_per_kib, unit: "ns/KiB", better: "lower"}' \
		"$OUT.streams" >>"$METRICS"
fi

# The HTML report of this run: its figures, every sample, the search traces
# and RTT distributions by scenario, the reflector's configuration.
if [[ -n ${TRF_BIN_DIR:-} ]]; then REPORT=$TRF_BIN_DIR/tapreflect-perf-report; else REPORT=$(dirname "$0")/../../tools/perf-report; fi
"$REPORT" --title "tapreflect end-to-end benchmark, profile $PROFILE" --current "$TMP/metrics.json" \
	--html "${OUT%.json}.html" --trace "$TRACES"/*.jsonl
