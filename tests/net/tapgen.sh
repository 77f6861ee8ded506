#!/usr/bin/env bash
# tapgen against the reflector: a fixed-rate trial accounts for every datagram
# (no duplicates, nothing foreign, never more replies than the reflector
# wrote), ICMP and ICMPv6 echo flows come back, and --search returns an NDR and a PDR >= NDR with its trace.
# Consistency checks only: no speed thresholds.
source "$(dirname "$0")/lib.sh"
start_reflector -m tun -c "$CPU_A" --addr 2001:db8::1/64
ip netns exec "$NS" "$TAPGEN" --dst "$PEER_IP" --rate 20000 --duration 1 --cpu "$CPU_B" \
	--json "$TMP/trial.json" >"$TMP/trial.out" || fail "tapgen trial"
jq -e '.type == "tapgen" and .sent > 0 and .reflected > 0 and .duplicates == 0 and .foreign == 0
	and .reflected <= .sent and .rtt_us.p50 > 0 and .rtt_us.p99 >= .rtt_us.p50' "$TMP/trial.json" >/dev/null ||
	fail "trial record: $(cat "$TMP/trial.json")"
cat "$TMP/trial.out"
# ICMP echo flows over IPv4 and IPv6 (raw sockets): every reply matched to its request.
for dst in "$PEER_IP" 2001:db8::2; do
	ip netns exec "$NS" "$TAPGEN" --icmp --dst "$dst" --rate 5000 --duration 0.5 --cpu "$CPU_B" \
		--json "$TMP/icmp.json" >/dev/null || fail "tapgen --icmp $dst"
	jq -e '.proto == "icmp" and .sent > 0 and .reflected > 0 and .duplicates == 0
		and .foreign == 0 and .reflected <= .sent' "$TMP/icmp.json" >/dev/null ||
		fail "icmp trial to $dst: $(cat "$TMP/icmp.json")"
	echo "tapgen --icmp $dst: $(jq -r '"sent \(.sent), reflected \(.reflected)"' "$TMP/icmp.json")"
done
# Datagrams larger than a page come back whole and are recognised as ours.
nsx ip link set trf0 mtu 9000
ip netns exec "$NS" "$TAPGEN" --dst "$PEER_IP" --size 8000 --rate 2000 --duration 0.5 --cpu "$CPU_B" \
	--json "$TMP/big.json" >/dev/null || fail "tapgen --size 8000"
jq -e '.reflected > 0 and .foreign == 0 and .duplicates == 0 and .corrupt == 0' "$TMP/big.json" >/dev/null ||
	fail "8000 B datagrams: $(cat "$TMP/big.json")"
echo "tapgen --size 8000: $(jq -r '"sent \(.sent), reflected \(.reflected), foreign \(.foreign)"' "$TMP/big.json")"
ip netns exec "$NS" "$TAPGEN" --dst "$PEER_IP" --search binary --steps 3 --repeats 1 --duration 0.3 \
	--cpu "$CPU_B" --json "$TMP/search.json" >"$TMP/search.out" || fail "tapgen --search"
grep -cE "(NDR|PDR) step [0-9]+:" "$TMP/search.out" | grep -qx 6 || fail "expected 3 NDR + 3 PDR steps: $(cat "$TMP/search.out")"
jq -e '.type == "search" and .ndr_pps >= 0 and .pdr_pps >= .ndr_pps and .ceiling_pps > .pdr_pps' \
	"$TMP/search.json" >/dev/null || fail "search record: $(cat "$TMP/search.json")"
tail -1 "$TMP/search.out"
stop_reflector
reflected=$(jq .reflected "$TMP/trial.json")
summary ".frames_written >= $reflected" >/dev/null || fail "tapgen saw more replies than were written"

# Reordering is counted within each flow: with two queues, 16 flows spread
# over both, and each queue keeps its flows in order, so none is reordered
# (order across flows means nothing).
start_reflector -m tun -c "$CPU_A,$CPU_B"
ip netns exec "$NS" "$TAPGEN" --dst "$PEER_IP" --flows 16 --rate 20000 --duration 1 --cpu "$CPU_B" \
	--json "$TMP/two.json" >/dev/null || fail "tapgen, two queues"
stop_reflector
jq -e '.reordered == 0 and .duplicates == 0 and .reflected > 0' "$TMP/two.json" >/dev/null ||
	fail "two queues, 16 flows: $(cat "$TMP/two.json")"
summary '.per_queue[0].frames_read > 0 and .per_queue[1].frames_read > 0' >/dev/null ||
	fail "the flows did not reach both queues: $(summary '[.per_queue[].frames_read]')"
echo "two queues, 16 flows: $(jq -r '"reflected \(.reflected), lost \(.lost), reordered \(.reordered)"' "$TMP/two.json") (per flow)"

