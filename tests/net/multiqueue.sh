#!/usr/bin/env bash
# Two queues on two CPUs, 64 UDP flows: both queues reflect traffic, and each
# frame leaves on the queue it came in on (per-queue read = written + dropped).
# usage: multiqueue.sh tap|tun multishot|fixed|sync
source "$(dirname "$0")/lib.sh"
mode=$1 engine=$2
# shellcheck disable=SC2046
start_reflector -m "$mode" -c "$CPU_A,$CPU_B" $(engine_args "$engine")
nsx "$UDP_ECHO" "$PEER_IP" 8000 64 18 1400 || fail "UDP echo over 64 flows"
out=$(nsx ping -c 20 -i 0.01 -W 2 "$PEER_IP") || fail "ping: $out"
stop_reflector
summary '.queues == 2 and all(.per_queue[]; .frames_written > 0)' >/dev/null ||
	fail "a queue carried no traffic: $(summary .per_queue)"
echo "per queue: $(summary '[.per_queue[] | "q\(.queue)@cpu\(.cpu): read \(.frames_read) written \(.frames_written)"] | join(", ")')"
