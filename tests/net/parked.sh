#!/usr/bin/env bash
# At most one read is ever parked on a queue (DESIGN: every parked read is a
# waiter that each packet wakes).  The kernel lists a ring's parked requests
# under "PollList:" in its fdinfo, one "op=N" line each: the fixed strategy
# must show only its two polls (the stop eventfd and the queue's readiness,
# IORING_OP_POLL_ADD = 6) and no READ_FIXED (4), even with --fixed-reads 16;
# the multishot strategy its one READ_MULTISHOT (49) and the stop poll.
# Checked idle, and repeatedly under load.
# usage: parked.sh tap|tun multishot|fixed
source "$(dirname "$0")/lib.sh"
mode=$1 engine=$2
# Under load a sample may also catch a moment with the read not parked at
# all: the multishot read ends when its buffer ring runs dry (-ENOBUFS) and is
# re-armed by the next submit.  Never more than one.
case $engine in
fixed) extra="--fixed-reads 16" want="6 6" also="6 6" ;;
multishot) extra="" want="6 49" also="6" ;;
*) fail "unknown engine $engine" ;;
esac
# shellcheck disable=SC2046,SC2086
start_reflector -m "$mode" -c "$CPU_A" -q 1 $(engine_args "$engine") $extra

ring_fd() {
	local f
	for f in /proc/"$RPID"/fd/*; do
		[[ $(readlink "$f" 2>/dev/null) == "anon_inode:[io_uring]" ]] && { echo "${f##*/}"; return; }
	done
}
fd=$(ring_fd)
[[ -n $fd ]] || fail "no io_uring fd in /proc/$RPID/fd"
grep -q '^PollList:' "/proc/$RPID/fdinfo/$fd" || fail "this kernel's io_uring fdinfo has no PollList"

# The ops parked on the ring, sorted numerically, one line; "busy" when the
# kernel listed nothing because the worker held the ring's lock: fdinfo walks
# the ring's tables (its registered files, its PollList) only when a trylock
# of that lock succeeds, so a sample taken while the worker is inside
# io_uring_enter shows neither.
parked() {
	awk '/^UserFiles:/ {f = 1; next} f && /^ +0: / {locked = 1} /^[^ \t]/ {f = 0}
		/^PollList:/ {p = 1; next} /^[^ \t]/ {p = 0}
		p && match($0, /op=[0-9]+/) {ops = ops " " substr($0, RSTART + 3, RLENGTH - 3)}
		END {if (!locked) print "busy"; else print ops}' "/proc/$RPID/fdinfo/$fd" |
		tr ' ' '\n' | sed '/^$/d' | sort -n | tr '\n' ' ' | sed 's/ $//'
}
# check WHAT [ALSO]: the parked ops are $want (or ALSO, under load).
check() {
	local got
	for _ in $(seq 100); do
		got=$(parked)
		[[ $got == busy ]] || break
		sleep 0.01
	done
	[[ $got == "$want" || (-n ${2:-} && $got == "$2") ]] || fail "$1: parked ops '$got', expected '$want'"
}

nsx ping -c 3 -i 0.2 -W 2 "$PEER_IP" >/dev/null || fail "ping before the check"
check idle
nsx "$TAPGEN" --dst "$PEER_IP" --flows 16 --rate 50000 --duration 3 --drain 0 --cpu "$CPU_B" >"$TMP/tapgen.out" &
gen=$!
sleep 0.5
for i in $(seq 20); do
	check "under load, sample $i" "$also"
	sleep 0.1
done
wait "$gen" || fail "tapgen failed: $(cat "$TMP/tapgen.out")"
check "idle after load"
echo "parked ops, idle and under load: $want"
stop_reflector
summary '.frames_read > 10000' >/dev/null || fail "no load reached the reflector: $(summary)"
