#!/usr/bin/env bash
# tapgen --imix through the reflector: csit over TUN (IPv4), a mix of
# IPv6-sized frames over TUN, csit over TAP in UDP and in ICMP echo, and a
# search of the mix.  Each trial accounts for every size: each sent its
# weight's share of all sent (within one cycle), each reflected, the sizes'
# sums the trial's totals, nothing corrupt (a reply must have its sequence
# number's size), duplicated or foreign, and the bit rates L1 > L2 > 0 as
# the sizes give them.  The records validate against their schemas; sizes
# too small for IPv6 and --imix with --size, --tcp or --gso are refused.
# Consistency checks only: no speed thresholds.
source "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
"$PY" -c 'import jsonschema' 2>/dev/null || skip_or_fail "python3-jsonschema is not installed"

usage() { # MESSAGE-PATTERN ARGS...: tapgen refuses ARGS with exit status 2 and says why
	local want=$1 rc=0
	shift
	"$TAPGEN" "$@" >/dev/null 2>"$TMP/usage.err" || rc=$?
	[[ $rc == 2 ]] || fail "tapgen $*: exit status $rc, not 2: $(cat "$TMP/usage.err")"
	grep -q -- "$want" "$TMP/usage.err" || fail "tapgen $*: said $(cat "$TMP/usage.err")"
}
usage "not with --size, --tcp or --gso" --dst "$PEER_IP" --imix csit --size 18
usage "not with --size, --tcp or --gso" --dst "$PEER_IP" --imix csit --tcp
usage "not with --size, --tcp or --gso" --dst "$PEER_IP" --imix csit --gso 4
usage "need frames of 82 B or more" --dst 2001:db8::2 --imix csit
usage "ICMP echo over IPv6" --dst 2001:db8::2 --icmp --imix 64,1518
usage "64 B given twice" --dst "$PEER_IP" --imix 64:3,64:4
usage "a 63 B frame" --dst "$PEER_IP" --imix 63:1
echo "refused: $(head -1 "$TMP/usage.err")"

# check NAME ARGS...: one IMIX trial, its record checked; the text output kept in $TMP/NAME.out.
check() {
	local name=$1
	shift
	nsx "$TAPGEN" "$@" --cpu "$CPU_B" --json "$TMP/$name.json" --ready-fd 3 3>"$TMP/$name.start" \
		>"$TMP/$name.out" || fail "tapgen $*"
	# Each size's share of what was sent: floor(sent / cycle) whole cycles of
	# its weight, and of the last, partial cycle at most one weight more.
	jq -e '.sent as $sent | .imix as $m | ($m.sizes | map(.weight) | add) as $cycle
		| ($sent / $cycle | floor) as $cycles
		| $cycle == $m.cycle and $sent > 0 and .corrupt == 0 and .duplicates == 0 and .foreign == 0
		and ($m.sizes | length) > 1
		and all($m.sizes[]; (.sent - .weight * $cycles) as $extra | $extra >= 0 and $extra <= .weight)
		and all($m.sizes[]; .reflected > 0 and .reflected <= .sent and .lost == .sent - .reflected)
		and ($m.sizes | map(.sent) | add) == .sent
		and ($m.sizes | map(.reflected) | add) == .reflected
		and ($m.sizes | map(.lost) | add) == .lost
		and .payload == 0 and (has("frame_bytes") | not)
		and .l1_gbps > .l2_gbps and .l2_gbps > 0 and .offered_l1_gbps > .offered_l2_gbps
		and $m.l2_gbps == .l2_gbps and $m.l1_gbps == .l1_gbps
		and all($m.sizes[]; .rtt_us.p50 > 0 and .rtt_us.max >= .rtt_us.p99)' \
		"$TMP/$name.json" >/dev/null || fail "$name: trial record: $(cat "$TMP/$name.json")"
	# L2 from the sizes by hand: the reflected frames' bytes x 8 over the trial's time.
	jq -e '(([.imix.sizes[] | .reflected * .frame_bytes] | add) * 8 / .duration_s / 1e9) as $l2
		| (([.imix.sizes[] | .reflected * (.frame_bytes + 20)] | add) * 8 / .duration_s / 1e9) as $l1
		| ($l2 - .l2_gbps | fabs) < 1e-3 * $l2 and ($l1 - .l1_gbps | fabs) < 1e-3 * $l1' \
		"$TMP/$name.json" >/dev/null || fail "$name: bit rates: $(jq -c '[.duration_s, .l2_gbps, .l1_gbps, .imix]' "$TMP/$name.json")"
	[[ $(grep -c '^tapgen: imix ' "$TMP/$name.out") == $(jq '.imix.sizes | length' "$TMP/$name.json") ]] ||
		fail "$name: not a line per size: $(cat "$TMP/$name.out")"
	grep -q '^tapgen: reflected [0-9]* frames/s of [0-9.]* B: L2 [0-9.]* Gbit/s, L1 [0-9.]* Gbit/s;' \
		"$TMP/$name.out" || fail "$name: no bit-rate line: $(cat "$TMP/$name.out")"
	echo "--- $name: tapgen $*"
	cat "$TMP/$name.out"
}

start_reflector -m tun -c "$CPU_A" --addr 2001:db8::1/64
# 1518 B frames are 1500 B IP packets: what the device's MTU must carry.
[[ $(nsx cat /sys/class/net/trf0/mtu) -ge 1500 ]] || nsx ip link set trf0 mtu 1500
check tun --dst "$PEER_IP" --imix csit --rate 20000 --duration 1
jq -e '.imix.spec == "csit" and ([.imix.sizes[] | [.frame_bytes, .payload, .weight]]
	== [[64, 18, 7], [570, 524, 4], [1518, 1472, 1]]) and .imix.cycle == 12
	and .imix.mean_frame_bytes == 353.8333' "$TMP/tun.json" >/dev/null ||
	fail "csit over IPv4: $(jq -c .imix "$TMP/tun.json")"
jq -e '.imix == "csit" and .payload == 0' "$TMP/tun.start" >/dev/null || fail "start record: $(cat "$TMP/tun.start")"
# IPv6: 66 B of headers and FCS, so the smallest frame is 82 B (16 B of payload).
check tun6 --dst 2001:db8::2 --imix 82:7,570:4,1518:1 --rate 20000 --duration 1
jq -e '[.imix.sizes[].payload] == [16, 504, 1452]' "$TMP/tun6.json" >/dev/null ||
	fail "payloads over IPv6: $(jq -c .imix "$TMP/tun6.json")"
# A search of the mix: its trials send the mix, and its record says so.
nsx "$TAPGEN" --dst "$PEER_IP" --imix csit --search binary --steps 2 --repeats 1 --duration 0.2 \
	--drain 0.1 --cpu "$CPU_B" --json "$TMP/search.json" >"$TMP/search.out" || fail "tapgen --imix --search"
jq -e '.imix == "csit" and .payload == 0 and (.trace | length) == 5 and .ceiling_pps > 0' \
	"$TMP/search.json" >/dev/null || fail "search record: $(cat "$TMP/search.json")"
tail -1 "$TMP/search.out"
stop_reflector
reflected=$(jq -s 'map(.reflected) | add' "$TMP/tun.json" "$TMP/tun6.json")
summary ".frames_written >= $reflected" >/dev/null || fail "tapgen saw more replies than were written"

start_reflector -m tap -c "$CPU_A"
check tap --dst "$PEER_IP" --imix csit --rate 20000 --duration 1
check tap_icmp --dst "$PEER_IP" --icmp --imix 64:2,570,1518 --rate 5000 --duration 0.5
stop_reflector

"$PY" "$SRC/tests/tools/validate.py" "$SRC/docs/schemas" tapgen "$TMP"/{tun,tun6,tap,tap_icmp,search}.json \
	"$TMP"/{tun,tap,tap_icmp}.start || fail "tapgen IMIX records"
# The schema holds the per-size fields: one without its sizes' RTT is refused.
jq -c 'del(.imix.sizes[0].rtt_us)' "$TMP/tun.json" >"$TMP/bad.json"
if "$PY" "$SRC/tests/tools/validate.py" "$SRC/docs/schemas" tapgen "$TMP/bad.json" >/dev/null 2>&1; then
	fail "an imix size without rtt_us passed validation"
fi
echo "records valid; a size without rtt_us refused"
