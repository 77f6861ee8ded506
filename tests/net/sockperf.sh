#!/usr/bin/env bash
# An unmodified sockperf client against --reflect sockperf: ping-pong and
# under-load report latency with no duplicated or reordered messages, and no
# message lost that the kernel did not count as lost (a stall of the machine
# can overflow a queue or a socket buffer on the host's side; the reflector's
# own accounting is checked when it stops).
# usage: sockperf.sh tap|tun multishot|fixed|sync
source "$(dirname "$0")/lib.sh"
mode=$1 engine=$2
# shellcheck disable=SC2046
start_reflector -m "$mode" -c "$CPU_A" --reflect sockperf $(engine_args "$engine")
nsx ping -c 1 -W 2 "$PEER_IP" >/dev/null || fail "ping in sockperf mode"
for run in "ping-pong -t 3" "under-load -t 3 --mps 20000"; do
	before=$(host_losses)
	# shellcheck disable=SC2086
	out=$(nsx timeout 30 taskset -c "$CPU_B" sockperf $run -i "$PEER_IP" -p 11111 2>&1) ||
		fail "sockperf $run: $out"
	counted=$(($(host_losses) - before))
	counts=$(grep -o "# dropped messages = [0-9]*; # duplicated messages = [0-9]*; # out-of-order messages = [0-9]*" <<<"$out") ||
		fail "sockperf $run: no message counts: $out"
	read -r dropped duplicated reordered <<<"$(tr -cs "0-9" " " <<<"$counts")"
	((duplicated == 0 && reordered == 0)) || fail "sockperf $run: $counts"
	((dropped <= counted)) ||
		fail "sockperf $run: $dropped message(s) lost, only $counted counted lost by the kernel: $out"
	grep -q "Summary: Latency is" <<<"$out" || fail "sockperf $run: no latency summary: $out"
	echo "sockperf $run: $(grep -o 'Summary: Latency is.*' <<<"$out"), $(grep -o 'percentile 99.000 = *[0-9.]*' <<<"$out"), $dropped lost ($counted counted by the kernel)"
done
stop_reflector
summary '.frames_written > 1000' >/dev/null || fail "too little traffic: $(summary)"
