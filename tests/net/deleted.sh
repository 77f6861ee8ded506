#!/usr/bin/env bash
# `ip link del` under load: tapreflect stops within 1 s with exit status 1,
# says that the device was deleted (not only what the failed read returned),
# and its summary accounts for every frame.
# With "shared", three queues share one worker thread: every one of them ends.
# usage: deleted.sh tap|tun multishot|fixed|sync [shared]
source "$(dirname "$0")/lib.sh"
mode=$1 engine=$2 cpus=$CPU_A
[[ ${3:-} == shared ]] && cpus="$CPU_A,$CPU_A,$CPU_A"
# shellcheck disable=SC2046
start_reflector -m "$mode" -c "$cpus" $(engine_args "$engine")
nsx "$TAPGEN" --dst "$PEER_IP" --flows 16 --rate 20000 --duration 3 --drain 0 --cpu "$CPU_B" \
	>"$TMP/tapgen.out" 2>&1 &
gen=$!
sleep 0.5
t0=$(date +%s%N)
nsx ip link del trf0
rc=0
wait "$RPID" || rc=$?
RPID=""
ms=$((($(date +%s%N) - t0) / 1000000))
wait "$gen" 2>/dev/null || true
[[ $rc == 1 ]] || fail "tapreflect exited with $rc after its device was deleted, expected 1"
grep -q "the device trf0 was deleted" "$TMP/reflector.err" ||
	fail "no word of the deletion: $(cat "$TMP/reflector.err")"
echo "$(grep 'was deleted' "$TMP/reflector.err")"
if [[ ${3:-} == shared ]]; then
	summary '.threads == 1 and all(.per_queue[]; .ended_early)' >/dev/null ||
		fail "shared worker after the deletion: $(summary '[.threads, [.per_queue[].ended_early]]')"
fi
# Deletion wakes every queue at once: the bound is generous, it catches a queue left waiting.
echo "exited ${ms} ms after the deletion"
[[ $ms -le 1000 ]] || fail "tapreflect took ${ms} ms to stop after its device was deleted (promised: 1 s)"
# What was in flight when the queue stopped is counted (aborted), not lost.
summary '.exit_code == 1 and .accounting_exact' >/dev/null ||
	fail "accounting after the deletion: $(summary '[.frames_read, .frames_written, .frames_dropped, .drops.aborted]')"
echo "accounting: $(summary '"read \(.frames_read) = written \(.frames_written) + dropped \(.frames_dropped) (aborted \(.drops.aborted))"')"
