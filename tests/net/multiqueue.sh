#!/usr/bin/env bash
# Two queues on two CPUs, 64 UDP flows: both queues reflect traffic, and each
# frame leaves on the queue it came in on (per-queue read = written + dropped).
# With "shared", four queues on one CPU: io_uring serves them from one worker
# thread (--workers per-cpu), or from four with "perqueue".
# usage: multiqueue.sh tap|tun multishot|fixed|sync [shared|perqueue]
source "$(dirname "$0")/lib.sh"
mode=$1 engine=$2 layout=${3:-}
cpus="$CPU_A,$CPU_B" queues=2 threads=2 extra=()
case $layout in
shared) cpus="$CPU_A,$CPU_A,$CPU_A,$CPU_A" queues=4 threads=1 ;;
perqueue) cpus="$CPU_A,$CPU_A,$CPU_A,$CPU_A" queues=4 threads=4 extra=(--workers per-queue) ;;
esac
# Different CPUs only where the machine has two.
[[ -z $layout && $CPU_A == "$CPU_B" && $engine != sync ]] && threads=1
# shellcheck disable=SC2046
start_reflector -m "$mode" -c "$cpus" $(engine_args "$engine") "${extra[@]}"
nsx "$UDP_ECHO" "$PEER_IP" 8000 64 18 1400 || fail "UDP echo over 64 flows"
out=$(nsx ping -c 20 -i 0.01 -W 2 "$PEER_IP") || fail "ping: $out"
stop_reflector
summary ".queues == $queues and all(.per_queue[]; .frames_written > 0)" >/dev/null ||
	fail "a queue carried no traffic: $(summary .per_queue)"
summary ".threads == $threads" >/dev/null ||
	fail "$(summary .threads) worker thread(s) for $queues queues on CPUs $cpus, expected $threads"
if [[ $threads == 1 ]]; then
	# One thread, one ring: each wakeup counted once, on the first queue.
	summary '.per_queue[0].waits == .wakeups and all(.per_queue[1:][]; .waits == 0)' >/dev/null ||
		fail "wakeups of a shared worker: $(summary '[.wakeups, [.per_queue[].waits]]')"
fi
grep -q "$queues queues, steering [a-z]*.*, $threads worker thread" "$TMP/reflector.out" ||
	fail "the summary line: $(grep summary "$TMP/reflector.out")"
echo "threads: $(summary .threads), wakeups per queue: $(summary '[.per_queue[].waits]')"
echo "per queue: $(summary '[.per_queue[] | "q\(.queue)@cpu\(.cpu): read \(.frames_read) written \(.frames_written)"] | join(", ")')"
