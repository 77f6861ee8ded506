#!/usr/bin/env bash
# The JSON records are contracts: every record tapreflect and tapgen write in
# a real run (intervals, the summary, UDP/ICMP/TCP trials, a search) and the
# metric files perf-report reads validate against docs/schemas/; and the
# validator rejects a record that breaks them (a field missing, a drop reason
# unknown, a wrong type), so that this test can fail.
source "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
SCHEMAS=$SRC/docs/schemas
VALIDATE=$SRC/tests/tools/validate.py
python3 -c 'import jsonschema' 2>/dev/null || skip_or_fail "python3-jsonschema is not installed"

start_reflector -m tap -c "$CPU_A" --stats 0.2 --offload on
nsx "$TAPGEN" --dst "$PEER_IP" --rate 20000 --duration 0.6 --cpu "$CPU_B" --json "$TMP/udp.json" >/dev/null ||
	fail "tapgen udp"
nsx "$TAPGEN" --icmp --dst "$PEER_IP" --rate 2000 --duration 0.3 --cpu "$CPU_B" --json "$TMP/icmp.json" >/dev/null ||
	fail "tapgen icmp"
nsx "$TAPGEN" --dst "$PEER_IP" --search --steps 2 --repeats 1 --duration 0.2 --drain 0.1 --cpu "$CPU_B" \
	--json "$TMP/search.json" >/dev/null || fail "tapgen --search"
nsx "$TAPGEN" --tcp --flows 2 --bytes 1048576 --dst "$PEER_IP" --duration 10 --cpu "$CPU_B" \
	--json "$TMP/tcp.json" >/dev/null || fail "tapgen --tcp"
stop_reflector
[[ $(jq -r .type "$TMP/reflector.json" | grep -c interval) -gt 0 ]] || fail "no interval record: $(jq -r .type "$TMP/reflector.json" | sort | uniq -c)"

python3 "$VALIDATE" "$SCHEMAS" tapreflect "$TMP/reflector.json" || fail "tapreflect records"
python3 "$VALIDATE" "$SCHEMAS" tapgen "$TMP/udp.json" "$TMP/icmp.json" "$TMP/tcp.json" "$TMP/search.json" ||
	fail "tapgen records"
# The search record holds its whole trace: the ceiling trial and 2 + 2 steps.
jq -e '(.trace | length) == 5 and .trace[0].phase == "ceiling"' "$TMP/search.json" >/dev/null ||
	fail "search trace: $(jq -c .trace "$TMP/search.json")"
jq -e '(.rtt_hist_us | map(.[2]) | add) == .received' "$TMP/udp.json" >/dev/null ||
	fail "the RTT histogram does not count every reply: $(jq -c '[.received, .rtt_hist_us]' "$TMP/udp.json")"

# perf-report's inputs: the committed baselines, a same-run A/B line, a meta line.
{
	cat "$SRC"/bench/baselines/icount.json
	echo '{"kind":"timed","unit":"ns/frame","better":"lower","name":"ab/cpu_ns_per_frame","value":3512.4,"threshold":0.05,"pair":7}'
	echo '{"kind":"timed","unit":"us","better":"lower","name":"ab/rtt_p99_us","value":120.5,"gate":false}'
	echo '{"kind":"meta","machine":{"id":"abc","cpus":2},"config":{"profile":"quick"}}'
} >"$TMP/metrics.json"
python3 "$VALIDATE" "$SCHEMAS" perf-report "$TMP/metrics.json" || fail "perf-report inputs"

# Broken records are refused.
expect_invalid() { # kind file what
	if python3 "$VALIDATE" "$SCHEMAS" "$1" "$2" >"$TMP/v.out" 2>&1; then
		fail "a record with $3 passed validation"
	fi
	echo "refused ($3): $(cat "$TMP/v.out")"
}
jq -c 'select(.type == "summary") | del(.accounting_exact)' "$TMP/reflector.json" >"$TMP/bad1.json"
expect_invalid tapreflect "$TMP/bad1.json" "no accounting_exact"
jq -c 'select(.type == "summary") | .drops.made_up = 1' "$TMP/reflector.json" >"$TMP/bad2.json"
expect_invalid tapreflect "$TMP/bad2.json" "an unknown drop reason"
jq -c '.loss_ratio = "none"' "$TMP/udp.json" >"$TMP/bad3.json"
expect_invalid tapgen "$TMP/bad3.json" "a string for a number"
echo '{"kind":"timed","name":"x","value":1,"better":"faster"}' >"$TMP/bad4.json"
expect_invalid perf-report "$TMP/bad4.json" "an unknown 'better'"
echo '{"kind":"timed","name":"x","value":1,"pair":"one"}' >"$TMP/bad5.json"
expect_invalid perf-report "$TMP/bad5.json" "a string for a pair number"
