#!/usr/bin/env bash
# ping 56 B and 1472 B, then a 100 000-echo flood with 32 in flight: no loss.
# usage: ping.sh tap|tun multishot|fixed|sync
source "$(dirname "$0")/lib.sh"
mode=$1 engine=$2
# shellcheck disable=SC2046
start_reflector -m "$mode" -c "$CPU_A" $(engine_args "$engine")

for size in 56 1472; do
	out=$(nsx ping -c 5 -i 0.05 -W 2 -s "$size" "$PEER_IP") || fail "ping -s $size: $out"
	grep -q " 0% packet loss" <<<"$out" || fail "ping -s $size lost packets: $out"
	echo "ping -s $size: $(grep 'packet loss' <<<"$out")"
done
out=$(nsx ping -f -l 32 -c 100000 -W 2 "$PEER_IP") || fail "ping -f: $out"
grep -q " 0% packet loss" <<<"$out" || fail "ping -f lost packets: $out"
echo "ping -f -l 32 -c 100000: $(grep 'packet loss' <<<"$out")"

stop_reflector
summary '.frames_written >= 100010' >/dev/null || fail "fewer frames written than echoes: $(summary)"
summary '.drops.truncated == 0 and .drops.write_error == 0 and .drops.malformed == 0' \
	>/dev/null || fail "unexpected drops: $(summary .drops)"
# io_uring rings run restricted to what the engine uses: checked at start (a NOP is refused).
if [[ $engine != sync ]]; then
	summary 'all(.per_queue[]; .ring_restricted == "on")' >/dev/null ||
		fail "ring restrictions: $(summary '[.per_queue[].ring_restricted]')"
fi
