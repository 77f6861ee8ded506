#!/usr/bin/env bash
# Jumbo frames with default settings, the MTU raised after start: ping -s 8972
# -M do at MTU 9000, and 9216 B IP packets at MTU 9216, come back.  With buffers smaller
# than the frames, they are dropped as truncated, never reflected.
# usage: jumbo.sh tap|tun multishot|fixed|sync
source "$(dirname "$0")/lib.sh"
mode=$1 engine=$2
# shellcheck disable=SC2046
start_reflector -m "$mode" -c "$CPU_A" $(engine_args "$engine")
for mtu_size in 9000:8972 9216:9188; do
	mtu=${mtu_size%:*} size=${mtu_size#*:}
	nsx ip link set trf0 mtu "$mtu"
	out=$(nsx ping -c 3 -i 0.1 -W 2 -M do -s "$size" "$PEER_IP") || fail "ping -s $size -M do: $out"
	grep -q " 0% packet loss" <<<"$out" || fail "ping -s $size lost packets: $out"
	echo "mtu $mtu, ping -s $size -M do: $(grep 'packet loss' <<<"$out")"
done
stop_reflector
summary '.drops.truncated == 0' >/dev/null || fail "truncated drops: $(summary .drops)"

# Buffers of 2048 B: a 3000 B frame cannot fit and must be counted, not reflected.
# shellcheck disable=SC2046
start_reflector -m "$mode" -c "$CPU_A" --frame-size 2048 $(engine_args "$engine")
nsx ip link set trf0 mtu 9000
out=$(nsx ping -c 3 -i 0.1 -W 1 -M do -s 3000 "$PEER_IP") && fail "a truncated frame came back: $out"
grep -q "100% packet loss" <<<"$out" || fail "expected no replies: $out"
out=$(nsx ping -c 2 -i 0.1 -W 2 -s 1000 "$PEER_IP") || fail "small ping after truncation: $out"
stop_reflector
summary '.drops.truncated == 3' >/dev/null || fail "expected 3 truncated drops: $(summary .drops)"
echo "3000 B frames into 2048 B buffers: $(summary .drops.truncated) dropped as truncated"

# A frame that fills its buffer was cut by the kernel: dropped as truncated in
# every mode, also where no IP length could tell (macswap reads no header).
if [[ $mode == tap ]]; then
	# shellcheck disable=SC2046
	start_reflector -m tap -c "$CPU_A" --frame-size 2048 --reflect macswap $(engine_args "$engine")
	nsx ip link set trf0 mtu 9000
	# macswap answers no ARP: a static neighbour lets the pings out.
	nsx ip neigh replace "$PEER_IP" lladdr 02:74:72:66:00:01 dev trf0
	nsx ping -c 3 -i 0.1 -W 1 -M do -s 3000 "$PEER_IP" >/dev/null 2>&1 || true
	stop_reflector
	summary '.drops.truncated == 3' >/dev/null || fail "macswap: expected 3 truncated drops: $(summary '[.frames_written, .drops]')"
	echo "macswap, 3000 B frames into 2048 B buffers: $(summary .drops.truncated) dropped as truncated"
fi
