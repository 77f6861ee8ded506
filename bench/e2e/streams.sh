#!/usr/bin/env bash
# Stream benchmark: TCP (tapgen --tcp, every byte verified) and UDP
# superpackets (tapgen --gso) through tapreflect with --offload on and off,
# interleaved (on off on off ...) on the same machine, in a private network
# namespace.  Reports goodput, the reflector's CPU per byte and per frame,
# and on/off ratios of the medians.  Run as root.
set -euo pipefail

usage() {
	cat <<'TXT'
Usage: bench/e2e/streams.sh [OPTIONS]

  --build DIR        build directory (default build)
  --modes LIST       device modes (default "tap tun")
  --traffic LIST     tcp and/or gso (default "tcp gso")
  --ios LIST         uring and/or sync (default "uring sync")
  --reps N           trials per scenario and offload setting, interleaved (default 5)
  --duration SECS    length of a trial (default 3)
  --flows N          TCP connections / UDP flows (default 2)
  --gso-rate PPS     UDP datagrams per second for gso (default 0 = as fast as possible)
  --out FILE         every trial as JSON lines (default BUILD/bench-streams.json;
                     ./bench-streams.json under tapreflect-bench)
  -h, --help         this help

gso sends 64 datagrams of 1000 B per send (UDP_SEGMENT).  Reflector on one CPU,
tapgen on the other.
TXT
}

BUILD=build MODES="tap tun" TRAFFIC="tcp gso" IOS="uring sync" REPS=5 DURATION=3 FLOWS=2 GSO_RATE=0
OUT=""
while [[ $# -gt 0 ]]; do
	case $1 in
	--build) BUILD=$2; shift 2 ;;
	--modes) MODES=$2; shift 2 ;;
	--traffic) TRAFFIC=$2; shift 2 ;;
	--ios) IOS=$2; shift 2 ;;
	--reps) REPS=$2; shift 2 ;;
	--duration) DURATION=$2; shift 2 ;;
	--flows) FLOWS=$2; shift 2 ;;
	--gso-rate) GSO_RATE=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "streams.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
	esac
done
PROG=streams.sh
source "$(dirname "$0")/common.sh"
OUT=${OUT:-$(results_dir)/bench-streams.json}
bench_setup

# trial MODE TRAFFIC IO OFFLOAD REP: one JSON line appended to $OUT.tmp.
trial() {
	local mode=$1 traffic=$2 io=$3 offload=$4 rep=$5 g=$TMP/g.json
	rm -f "$g"
	start_reflector -m "$mode" --io "$io" -c "$CPU_R" --offload "$offload"
	if [[ $traffic == tcp ]]; then
		ip netns exec "$NS" "$TAPGEN" --tcp --dst 198.18.0.2 --flows "$FLOWS" --duration "$DURATION" \
			--cpu "$CPU_G" --json "$g" >/dev/null
	else
		ip netns exec "$NS" "$TAPGEN" --dst 198.18.0.2 --gso 64 --size 1000 --flows "$FLOWS" \
			--rate "$GSO_RATE" --duration "$DURATION" --cpu "$CPU_G" --json "$g" >/dev/null
	fi
	stop_reflector
	jq -c --arg mode "$mode" --arg traffic "$traffic" --arg io "$io" --arg offload "$offload" \
		--argjson rep "$rep" --slurpfile g "$g" \
		'select(.type == "summary") | {scenario: "\($mode)/\($traffic)/\($io)", mode: $mode,
		 traffic: $traffic, io: $io, offload: $offload, rep: $rep, offloads: .offloads,
		 gbps: (if $traffic == "tcp" then $g[0].goodput_gbps
			else $g[0].reflected * 1000 * 8 / $g[0].duration_s / 1e9 end),
		 sent_gbps: (if $traffic == "tcp" then $g[0].goodput_gbps
			else $g[0].sent * 1000 * 8 / $g[0].duration_s / 1e9 end),
		 loss_ratio: (if $traffic == "tcp" then 0 else $g[0].loss_ratio end),
		 verified: (if $traffic == "tcp" then $g[0].ok else ($g[0].duplicates == 0 and $g[0].foreign == 0) end),
		 frames_read, bytes_read, cpu_s, kernel_tx_dropped,
		 cpu_ns_per_kib: (if .bytes_read > 0 then .cpu_s * 1e9 / (.bytes_read / 1024) else null end),
		 cpu_ns_per_frame, accounting_exact}' "$TMP/r.json" >>"$OUT.tmp"
}

: >"$OUT.tmp"
echo "tapreflect stream benchmark: $REPS interleaved trial(s) of ${DURATION} s per point, $FLOWS flow(s)," \
	"reflector on CPU $CPU_R, tapgen on CPU $CPU_G"
for mode in $MODES; do
	for traffic in $TRAFFIC; do
		for io in $IOS; do
			for ((rep = 1; rep <= REPS; rep++)); do
				for offload in on off; do
					# progress on a terminal only: a log gets the table below
					[[ -t 1 ]] && printf '\r%-18s %-3s #%d ' "$mode/$traffic/$io" "$offload" "$rep"
					trial "$mode" "$traffic" "$io" "$offload" "$rep"
				done
			done
		done
	done
done
if [[ -t 1 ]]; then printf '\r%40s\r' ""; fi
mv "$OUT.tmp" "$OUT"

jq -rs 'def med: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	group_by(.scenario)[] | . as $g
	| ([$g[] | select(.offload == "on")]) as $on | ([$g[] | select(.offload == "off")]) as $off
	| {scenario: $g[0].scenario,
	   on_gbps: ([$on[].gbps] | med), off_gbps: ([$off[].gbps] | med),
	   on_min: ([$on[].gbps] | min), on_max: ([$on[].gbps] | max),
	   off_min: ([$off[].gbps] | min), off_max: ([$off[].gbps] | max),
	   on_loss: ([$on[].loss_ratio] | med), off_loss: ([$off[].loss_ratio] | med),
	   on_cpu: ([$on[].cpu_ns_per_kib] | med), off_cpu: ([$off[].cpu_ns_per_kib] | med)}
	| [.scenario, .on_gbps, .on_min, .on_max, .off_gbps, .off_min, .off_max, .on_loss * 100,
	   .off_loss * 100, .on_cpu, .off_cpu] | @tsv' "$OUT" |
	awk -F'\t' 'BEGIN {
		printf "\n| %-16s | %-21s | %-21s | %8s | %8s | %10s | %10s | %8s | %8s |\n", "scenario",
			"on Gbit/s (min..max)", "off Gbit/s (min..max)", "on loss%", "off loss%",
			"on ns/KiB", "off ns/KiB", "Gbit/s x", "CPU/B x"
		print "|------------------|-----------------------|-----------------------|----------|----------|------------|------------|----------|----------|" }
	{ printf "| %-16s | %6.2f (%5.2f..%5.2f) | %6.2f (%5.2f..%5.2f) | %8.3f | %8.3f | %10.1f | %10.1f | %8.2f | %8.2f |\n",
		$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, ($5 > 0 ? $2 / $5 : 0), ($10 > 0 ? $11 / $10 : 0) }'
echo
echo "Gbit/s: TCP goodput (verified bytes), UDP reflected payload; ns/KiB: reflector CPU per KiB read;"
echo "Gbit/s x = on/off; CPU/B x = off/on (higher is better for both).  Records: $OUT"
jq -se 'all(.accounting_exact) and all(.verified)' "$OUT" >/dev/null ||
	{ echo "accounting mismatch or unverified data in a trial" >&2; exit 1; }
