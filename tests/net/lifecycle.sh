#!/usr/bin/env bash
# The device changes under a loaded reflector, which keeps running:
# - link down: the live line says so; frames already queued when the link went
#   down are read and their writes dropped as link_down, counted exactly;
#   replies resume when the link is up again;
# - MTU raised and lowered: frames of the new size are answered, no restart;
# - a persistent device: SIGKILL, then an immediate restart, answers at once.
# usage: lifecycle.sh tap|tun multishot|fixed|sync
source "$(dirname "$0")/lib.sh"
mode=$1 engine=$2
# The link-down count below is exact: no frame of the kernel's own may cross
# the device meanwhile (an IPv6 router solicitation or MLD report comes at a
# random time within a second of the link coming up, and is dropped with a
# reason of its own).
nsx sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
# shellcheck disable=SC2046
start_reflector -m "$mode" -c "$CPU_A" $(engine_args "$engine") --stats 0.2
if [[ $mode == tap ]]; then
	# No ARP while the link flaps: the peer's address is a permanent neighbour.
	nsx ip neigh replace "$PEER_IP" lladdr 02:00:00:00:00:02 dev trf0 nud permanent
fi
ping_ok() { nsx ping -c 1 -W 2 "$@" "$PEER_IP" >/dev/null; }
ping_ok || fail "no reply before any change"

# Background load for the whole run; its sends fail while the link is down.
ip netns exec "$NS" "$TAPGEN" --dst "$PEER_IP" --rate 5000 --duration 600 --drain 0 \
	--cpu "$CPU_B" >/dev/null 2>&1 &
LOAD=$!

# Link down with frames queued: the reflector is stopped while a burst is
# queued, the link goes down, and it goes on: every frame read from then on
# has its write refused, and is counted as link_down.  (tun keeps what it
# queued when the link goes down.)
tx_packets() { nsx cat /sys/class/net/trf0/statistics/tx_packets; }
# read_so_far: the frames read in every interval record so far.
read_so_far() {
	jq -s '[.[] | select(.type == "interval") | .frames_read] | add // 0' "$TMP/reflector.json"
}
kill -STOP "$RPID"
# Stopped for sure (every thread), then the device's count of frames read is still.
for _ in $(seq 50); do
	awk '/^State:/ && !/T \(stopped\)/ { n++ } END { exit n > 0 }' /proc/"$RPID"/task/*/status && break
	sleep 0.1
done
read_before=$(tx_packets)
ip netns exec "$NS" "$TAPGEN" --dst "$PEER_IP" --rate 0 --duration 0.05 --drain 0 --flows 1 \
	--port 7000 --cpu "$CPU_B" >/dev/null 2>&1 || true
nsx ip link set trf0 down
kill -CONT "$RPID"
for _ in $(seq 50); do grep -q "LINK DOWN" "$TMP/reflector.out" && break; sleep 0.1; done
grep -q "LINK DOWN" "$TMP/reflector.out" || fail "the live line never said the link was down"
grep -q "trf0: link down" "$TMP/reflector.err" || fail "no word of the link going down on stderr"
# Nothing is queued any more once the link is down: wait until what was is
# read (the counters are published after the batch's writes are queued; they
# go out with the next submit), then a little longer for that submit.
read_down=0
for _ in $(seq 100); do
	read_down=$(($(tx_packets) - read_before))
	[[ $read_down -gt 0 && $(read_so_far) -ge $((read_before + read_down)) ]] && break
	sleep 0.1
done
[[ $read_down -gt 0 ]] || fail "nothing was queued when the link went down"
sleep 0.5
echo "link down: $read_down queued frame(s) read while it was down"
nsx ip link set trf0 up
[[ $mode == tap ]] && nsx ip neigh replace "$PEER_IP" lladdr 02:00:00:00:00:02 dev trf0 nud permanent
for _ in $(seq 20); do ping_ok && break; sleep 0.1; done
ping_ok || fail "no reply after the link came back"
for _ in $(seq 50); do grep -q "trf0: link up again" "$TMP/reflector.err" && break; sleep 0.1; done
grep -q "trf0: link up again" "$TMP/reflector.err" || fail "no word of the link coming back"
echo "link down and up: replies resumed"

# MTU up and down under load: the largest unfragmented ping of each MTU is answered.
# Each change is said once on stderr (the device is looked at every tick).
hdr=28 # IPv4 + ICMP
old=1500
for mtu in 9000 1280 1500; do
	nsx ip link set trf0 mtu $mtu
	ping_ok -M do -s $((mtu - hdr)) || fail "no reply to a $mtu B packet at MTU $mtu"
	for _ in $(seq 50); do grep -q "MTU $old -> $mtu" "$TMP/reflector.err" && break; sleep 0.1; done
	grep -q "MTU $old -> $mtu" "$TMP/reflector.err" || fail "no word of the MTU change $old -> $mtu"
	echo "MTU $old -> $mtu: a $mtu B packet answered"
	old=$mtu
done

kill "$LOAD"
wait "$LOAD" 2>/dev/null || true
stop_reflector
link_down=$(summary .drops.link_down)
write_error=$(summary .drops.write_error)
echo "summary: $link_down write(s) dropped as link_down, $write_error write error(s)"
[[ $link_down -ge $read_down ]] ||
	fail "$read_down frame(s) read while the link was down, $link_down counted as link_down"
[[ $write_error == 0 ]] || fail "$write_error writes counted as generic write errors"

# A persistent device survives SIGKILL, and a new reflector attaches at once.
nsx ip link del trf0 2>/dev/null || true
nsx ip tuntap add dev trf0 mode "$mode" multi_queue
for i in 1 2 3; do
	# shellcheck disable=SC2046
	start_reflector -m "$mode" -c "$CPU_A" $(engine_args "$engine")
	ping_ok || fail "restart $i: no reply"
	kill -KILL "$RPID"
	wait "$RPID" 2>/dev/null || true
	RPID=""
done
# shellcheck disable=SC2046
start_reflector -m "$mode" -c "$CPU_A" $(engine_args "$engine")
ping_ok || fail "after three SIGKILLs: no reply"
stop_reflector
echo "SIGKILL and immediate restart on a persistent device: 3 times, answered each time"
