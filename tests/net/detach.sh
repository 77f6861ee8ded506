#!/usr/bin/env bash
# A queue detached from the device under load (another holder of its fd calls
# TUNSETQUEUE IFF_DETACH_QUEUE) ends that queue only: tapreflect says which
# queue and what happened, the other queue goes on answering, and the run ends
# with status 1 and an exact summary that marks the queue.
# With "shared", both queues are on one CPU and share a worker thread.
# usage: detach.sh tap|tun multishot|fixed|sync [shared]
source "$(dirname "$0")/lib.sh"
mode=$1 engine=$2 cpus="$CPU_A,$CPU_B"
[[ ${3:-} == shared ]] && cpus="$CPU_A,$CPU_A"
# shellcheck disable=SC2046
start_reflector -m "$mode" -c "$cpus" $(engine_args "$engine")
nsx ping -c 1 -W 2 "$PEER_IP" >/dev/null || fail "no reply before the detach"
ip netns exec "$NS" "$TAPGEN" --dst "$PEER_IP" --flows 16 --rate 5000 --duration 600 --drain 0 \
	--cpu "$CPU_B" >/dev/null 2>&1 &
LOAD=$!
sleep 0.3
python3 "$(dirname "$0")/detach_queue.py" "$RPID" 1 || fail "could not detach queue 1"
for _ in $(seq 30); do grep -q "queue 1: detached from trf0" "$TMP/reflector.err" && break; sleep 0.1; done
grep -q "queue 1: detached from trf0 by another holder of its fd" "$TMP/reflector.err" ||
	fail "no word of the detached queue"
grep -q "1 of 2 queue(s) go on" "$TMP/reflector.err" || fail "no word of the queue that goes on"
grep "queue 1:\|go on" "$TMP/reflector.err"
kill -0 "$RPID" 2>/dev/null || fail "tapreflect stopped with one queue left"
out=$(nsx ping -c 3 -i 0.2 -W 2 "$PEER_IP") || fail "no reply from the queue left: $out"
echo "queue 0 still answers: $(grep -o '[0-9]* received' <<<"$out")"
kill "$LOAD"
wait "$LOAD" 2>/dev/null || true
kill -TERM "$RPID"
rc=0
wait "$RPID" || rc=$?
RPID=""
[[ $rc == 1 ]] || fail "exit status $rc after a queue was lost, expected 1"
summary '.per_queue[1].ended_early == true and .per_queue[0].ended_early == false' >/dev/null ||
	fail "the summary does not mark queue 1: $(summary .per_queue)"
[[ ${3:-} != shared ]] || summary '.threads == 1' >/dev/null ||
	fail "the queues did not share a worker: $(summary .threads) threads"
check_accounting
