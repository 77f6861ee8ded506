#!/usr/bin/env bash
# --steering on two queues:
# - auto (the default, as root): the eBPF program is in force ("hash"), and
#   tapgen's 16 flows (one source port, consecutive destination ports) split
#   evenly: the program folds the ports by XOR, so consecutive ports
#   alternate between two queues (tun's own table places flows by SipHash);
# - kernel: tun's own steering, said so, traffic passes;
# - an ordinary user (who may not load eBPF): auto falls back to the kernel's
#   steering and says why; hash refuses to start, with the reason.
# usage: steering.sh tap|tun
source "$(dirname "$0")/lib.sh"
mode=$1
cpus="$CPU_A,$CPU_B"

start_reflector -m "$mode" -c "$cpus"
nsx "$UDP_ECHO" "$PEER_IP" 8000 64 18 200 600 1000 || fail "UDP echo over 64 flows"
nsx "$TAPGEN" --dst "$PEER_IP" --flows 16 --rate 20000 --duration 0.5 --json "$TMP/gen.json" >/dev/null ||
	fail "tapgen over 16 flows"
stop_reflector
summary '.steering == "hash" and .steering_why == ""' >/dev/null ||
	fail "auto as root: steering $(summary '[.steering, .steering_why]')"
grep -q "2 queues, steering hash, [12] worker threads*)" "$TMP/reflector.out" || fail "the summary line: $(grep summary "$TMP/reflector.out")"
# tapgen sends its flows in turn: 8 flows a queue, an even split (the UDP
# echo's 64 flows, each from a port of its own, and the odd ARP or ND frame
# come on top).
jq -e '.lost == 0' "$TMP/gen.json" >/dev/null || fail "tapgen lost frames: $(jq -c . "$TMP/gen.json")"
split=$(summary '[.per_queue[].frames_written]')
summary '[.per_queue[].frames_written] | (min / max) > 0.85' >/dev/null || fail "uneven split of 16 flows: $split"
echo "hash steering: frames written per queue $split"

start_reflector -m "$mode" -c "$cpus" --steering kernel
nsx "$UDP_ECHO" "$PEER_IP" 8000 64 18 200 600 1000 || fail "UDP echo with --steering kernel"
stop_reflector
summary '.steering == "kernel" and .steering_why == ""' >/dev/null ||
	fail "--steering kernel: $(summary '[.steering, .steering_why]')"
echo "kernel steering: frames written per queue $(summary '[.per_queue[].frames_written]')"

# An ordinary user on a persistent device it owns (lib.sh, as unpriv.sh),
# with fewer buffers: two queues under the 8 MiB locked-memory limit.
getent passwd $USER_UID >/dev/null || skip_or_fail "no user with uid $USER_UID"
user_device "$mode"
rc=0
start_as_user -m "$mode" -c "$cpus" --buffers 32 --steering hash
wait "$RPID" || rc=$?
RPID=""
[[ $rc == 1 ]] || fail "--steering hash as an ordinary user: exit $rc, not 1"
grep -q "steering hash: cannot load the steering program: Operation not permitted" "$TMP/reflector.err" ||
	fail "--steering hash as an ordinary user: $(cat "$TMP/reflector.err")"
start_as_user -m "$mode" -c "$cpus" --buffers 32 --steering auto
wait_ready "auto as an ordinary user"
nsx "$UDP_ECHO" "$PEER_IP" 8000 64 18 200 600 1000 || fail "UDP echo, ordinary user"
stop_as_user
summary '.steering == "kernel" and .steering_why == "steering program refused: Operation not permitted"' \
	>/dev/null || fail "auto as an ordinary user: steering $(summary '[.steering, .steering_why]')"
grep -q "2 queues, steering kernel (steering program refused: Operation not permitted), " "$TMP/reflector.out" ||
	fail "the summary line does not say why: $(grep summary "$TMP/reflector.out")"
nsx ip link del trf0
echo "ordinary user: hash refused with the reason, auto fell back: $(summary '"\(.steering) (\(.steering_why))"')"
