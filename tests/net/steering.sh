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
summary '.steering == "hash"' >/dev/null || fail "auto as root: steering $(summary .steering)"
grep -q "2 queues, steering hash)" "$TMP/reflector.out" || fail "the summary line: $(grep summary "$TMP/reflector.out")"
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
summary '.steering == "kernel"' >/dev/null || fail "--steering kernel: $(summary .steering)"
echo "kernel steering: frames written per queue $(summary '[.per_queue[].frames_written]')"

# An ordinary user on a persistent device it owns (as in unpriv.sh), with
# fewer buffers: two queues under the default 8 MiB locked-memory limit.
uid=65534
getent passwd $uid >/dev/null || skip_or_fail "no user with uid $uid"
nsx ip tuntap add dev trf0 mode "$mode" multi_queue user $uid
nsx ip addr add "$HOST_IP/24" dev trf0
nsx ip link set trf0 up
chmod 711 "$TMP"
mkdir "$TMP/user" && chown $uid "$TMP/user"
# as_user STEERING: the reflector as that user, in the background ($! is it).
as_user() {
	ip netns exec "$NS" unshare -m sh -c "mount -t tmpfs none /dev/net &&
		mknod -m 666 /dev/net/tun c 10 200 &&
		exec setpriv --reuid=$uid --regid=$uid --clear-groups --bounding-set=-all --inh-caps=-all \
		$TAPREFLECT -m $mode -c $cpus --buffers 32 --steering $1 --stats 0 --json $TMP/user/reflector.json" \
		>"$TMP/reflector.out" 2>"$TMP/reflector.err" &
}
rc=0
as_user hash
wait $! || rc=$?
[[ $rc == 1 ]] || fail "--steering hash as an ordinary user: exit $rc, not 1"
grep -q "steering hash: cannot load the steering program: Operation not permitted" "$TMP/reflector.err" ||
	fail "--steering hash as an ordinary user: $(cat "$TMP/reflector.err")"
as_user auto
RPID=$!
for _ in $(seq 100); do grep -q "reflecting on" "$TMP/reflector.err" && break; sleep 0.1; done
grep -q "reflecting on" "$TMP/reflector.err" || fail "auto as an ordinary user: $(cat "$TMP/reflector.err")"
nsx "$UDP_ECHO" "$PEER_IP" 8000 64 18 200 600 1000 || fail "UDP echo, ordinary user"
kill -TERM "$RPID"
rc=0
wait "$RPID" || rc=$?
RPID=""
[[ $rc == 0 ]] || fail "auto as an ordinary user: exit $rc"
cp "$TMP/user/reflector.json" "$TMP/reflector.json"
check_accounting
summary '.steering == "kernel (steering program refused: Operation not permitted)"' >/dev/null ||
	fail "auto as an ordinary user: steering $(summary .steering)"
nsx ip link del trf0
echo "ordinary user: hash refused with the reason, auto fell back: $(summary .steering)"
