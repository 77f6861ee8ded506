#!/usr/bin/env bash
# SIGTERM under full load: exit 0 promptly, with an exact accounting.
# usage: sigterm.sh tap|tun multishot|fixed|sync
source "$(dirname "$0")/lib.sh"
mode=$1 engine=$2
# shellcheck disable=SC2046
start_reflector -m "$mode" -c "$CPU_A" $(engine_args "$engine")
ip netns exec "$NS" "$TAPGEN" --dst "$PEER_IP" --flows 16 --duration 8 --drain 0 --cpu "$CPU_B" >"$TMP/tapgen.out" &
gen=$!
sleep 2
summary >/dev/null 2>&1 && fail "summary written before the stop"
t0=$(date +%s%N)
kill -TERM "$RPID"
rc=0
wait "$RPID" || rc=$?
t1=$(date +%s%N)
RPID=""
kill -TERM "$gen" 2>/dev/null || true
wait "$gen" 2>/dev/null || true
[[ $rc == 0 ]] || fail "tapreflect exited with $rc after SIGTERM"
ms=$(((t1 - t0) / 1000000))
echo "stopped ${ms} ms after SIGTERM under load"
# A hang detector, not a speed test: the stop itself takes milliseconds.
[[ $ms -lt 5000 ]] || fail "took ${ms} ms to stop"
check_accounting
summary '.frames_read > 10000' >/dev/null || fail "no load reached the reflector: $(summary)"
