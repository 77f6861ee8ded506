#!/usr/bin/env bash
# Real clients against respond: fragmented pings (3000 and 9000 B), ping -R
# (record route), ping -6 (56 and 3000 B); on TAP also ndisc6, tagged ARP and
# echo (802.1Q, QinQ), and hostile frames that must all be refused and counted.
# usage: protocols.sh tap|tun
source "$(dirname "$0")/lib.sh"
mode=$1
PY=/usr/bin/python3
start_reflector -m "$mode" -c "$CPU_A" --addr 2001:db8::1/64

ping_ok() {
	local out
	out=$(nsx ping "$@" -c 3 -i 0.1 -W 2) || fail "ping $*: $out"
	grep -q " 0% packet loss" <<<"$out" || fail "ping $* lost packets: $out"
	echo "ping $*: $(grep 'packet loss' <<<"$out")"
	PING_OUT=$out
}
ping_ok -s 3000 "$PEER_IP"
ping_ok -s 9000 "$PEER_IP"
ping_ok -R "$PEER_IP"
grep -q "^RR:" <<<"$PING_OUT" || fail "ping -R shows no recorded route: $PING_OUT"
ping_ok -6 2001:db8::2
ping_ok -6 -s 3000 2001:db8::2

if [[ $mode == tap ]]; then
	out=$(nsx ndisc6 -1 -r 3 -w 1000 2001:db8::2 trf0) || fail "ndisc6: $out"
	grep -qi "02:74:72:66:00:01" <<<"$out" || fail "ndisc6 did not learn the reflector's MAC: $out"
	echo "ndisc6: $(grep -i 'link-layer' <<<"$out")"
	nsx "$PY" "$(dirname "$0")/l2frames.py" trf0 vlan 02:74:72:66:00:01 || fail "tagged frames"
	nsx "$PY" "$(dirname "$0")/l2frames.py" trf0 hostile 02:74:72:66:00:01 || fail "hostile frames"
	ping_ok "$PEER_IP" # still answering after the hostile frames
	vnet=false
	if grep -q "offload csum" "$TMP/reflector.err"; then
		vnet=true
		nsx "$PY" "$(dirname "$0")/l2frames.py" trf0 vnet 02:74:72:66:00:01 || fail "frames with virtio-net headers"
		ping_ok "$PEER_IP"
	fi
fi
stop_reflector
if [[ $mode == tap ]]; then
	summary '.drops.runt >= 1 and .drops.truncated >= 1 and .drops.malformed >= 2
		and .drops.vlan_too_deep == 1 and .drops.src_not_unicast >= 2' >/dev/null ||
		fail "hostile frames not counted as expected: $(summary .drops)"
	echo "drops: $(summary .drops)"
	# A header whose checksum is not the transport's is refused, and nothing
	# the reflector wrote back was refused by the kernel.
	if [[ $vnet == true ]]; then
		summary '.drops.bad_vnet_hdr == 2 and .drops.write_error == 0' >/dev/null ||
			fail "virtio-net headers: $(summary '.drops | {bad_vnet_hdr, write_error}')"
	fi
fi
