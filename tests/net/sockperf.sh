#!/usr/bin/env bash
# An unmodified sockperf client against --reflect sockperf: ping-pong and
# under-load report latency with no dropped, duplicated or reordered messages.
# usage: sockperf.sh tap|tun multishot|fixed|sync
source "$(dirname "$0")/lib.sh"
mode=$1 engine=$2
# shellcheck disable=SC2046
start_reflector -m "$mode" -c "$CPU_A" --reflect sockperf $(engine_args "$engine")
nsx ping -c 1 -W 2 "$PEER_IP" >/dev/null || fail "ping in sockperf mode"
for run in "ping-pong -t 3" "under-load -t 3 --mps 20000"; do
	# shellcheck disable=SC2086
	out=$(nsx timeout 30 taskset -c "$CPU_B" sockperf $run -i "$PEER_IP" -p 11111 2>&1) ||
		fail "sockperf $run: $out"
	grep -q "# dropped messages = 0; # duplicated messages = 0; # out-of-order messages = 0" <<<"$out" ||
		fail "sockperf $run reported errors: $out"
	grep -q "Summary: Latency is" <<<"$out" || fail "sockperf $run: no latency summary: $out"
	echo "sockperf $run: $(grep -o 'Summary: Latency is.*' <<<"$out"), $(grep -o 'percentile 99.000 = *[0-9.]*' <<<"$out")"
done
stop_reflector
summary '.frames_written > 1000' >/dev/null || fail "too little traffic: $(summary)"
