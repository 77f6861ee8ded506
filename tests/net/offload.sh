#!/usr/bin/env bash
# Superpackets through the reflector, with offloads on and off: 256 MiB of TCP
# come back byte-exact (tapgen --tcp checks every byte), and UDP superpackets
# (64 datagrams of 1000 B per send) come back whole, every datagram accounted.
# With offloads the reflector reads them as superpackets (far fewer frames
# than datagrams); without, one frame per segment.  Consistency only: no
# speed thresholds.
# usage: offload.sh tap|tun multishot|fixed|sync on|off
source "$(dirname "$0")/lib.sh"
mode=$1 engine=$2 offload=$3
# shellcheck disable=SC2046
start_reflector -m "$mode" -c "$CPU_A" --offload "$offload" $(engine_args "$engine")
if [[ $offload == on ]]; then
	grep -q "offload csum,tso4,tso6" "$TMP/reflector.err" || fail "offloads not granted: $(cat "$TMP/reflector.err")"
else
	grep -q "offload off" "$TMP/reflector.err" || fail "offload not off: $(cat "$TMP/reflector.err")"
fi

nsx "$TAPGEN" --tcp --bytes 268435456 --flows 2 --dst "$PEER_IP" --duration 60 --cpu "$CPU_B" \
	--json "$TMP/tcp.json" >"$TMP/tcp.out" || fail "tapgen --tcp: $(cat "$TMP/tcp.out")"
jq -e '.ok and .bytes_sent >= 268435456 and .bytes_verified == .bytes_sent' "$TMP/tcp.json" >/dev/null ||
	fail "TCP: $(cat "$TMP/tcp.json")"
cat "$TMP/tcp.out"
# IPv6 too, one flow.
nsx ip addr add 2001:db8::1/64 dev trf0 nodad
nsx "$TAPGEN" --tcp --bytes 33554432 --flows 1 --dst 2001:db8::2 --duration 60 --cpu "$CPU_B" \
	--json "$TMP/tcp6.json" >/dev/null || fail "tapgen --tcp over IPv6: $(cat "$TMP/tcp6.json")"
echo "IPv6: $(jq -r '"\(.bytes_verified) B verified"' "$TMP/tcp6.json")"

# UDP superpackets at a gentle rate: every datagram back, none twice, none foreign.
nsx "$TAPGEN" --dst "$PEER_IP" --gso 64 --size 1000 --rate 4000 --duration 1 --drain 1 --cpu "$CPU_B" \
	--json "$TMP/gso.json" >/dev/null || fail "tapgen --gso"
jq -e '.sent > 0 and .reflected == .sent and .duplicates == 0 and .foreign == 0 and .corrupt == 0' \
	"$TMP/gso.json" >/dev/null ||
	fail "UDP GSO: $(cat "$TMP/gso.json")"
echo "UDP GSO: $(jq -r '"sent \(.sent), reflected \(.reflected)"' "$TMP/gso.json")"
stop_reflector
datagrams=$(jq .sent "$TMP/gso.json")
tcp_bytes=$(jq .bytes_sent "$TMP/tcp.json")
# 256 MiB in superpackets, or (off) one frame per segment and per datagram.
check_segmentation "$offload" "$tcp_bytes" "$datagrams"
summary '.drops.write_error == 0 and .drops.bad_vnet_hdr == 0 and .drops.truncated == 0' >/dev/null ||
	fail "drops: $(summary .drops)"
echo "reflector: $(summary '"\(.frames_read) frames read for \(.bytes_read) B, offloads \(.offloads)"')"
