#!/usr/bin/env bash
# The JSON records are contracts: every record tapreflect and tapgen write in
# a real run (intervals, the summary, UDP/ICMP/TCP trials, a search, the start
# records of --ready-fd) and the metric files perf-report reads validate
# against docs/schemas/; and the validator rejects a record that breaks them
# (a field missing, a drop reason unknown, a wrong type), so that this test
# can fail.  The start record's own terms are checked too: its values are the
# summary's, it is one line on a descriptor that is then closed, a start that
# fails writes none, a bad descriptor is a usage error, and a reader that went
# away kills neither tool.
source "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
SCHEMAS=$SRC/docs/schemas
VALIDATE=$SRC/tests/tools/validate.py
python3 -c 'import jsonschema' 2>/dev/null || skip_or_fail "python3-jsonschema is not installed"

start_reflector -m tap -c "$CPU_A" --stats 0.2 --offload on
rpid=$RPID
# Each tapgen's start record goes to a file of its own (a regular file does as well as a pipe).
nsx "$TAPGEN" --dst "$PEER_IP" --rate 20000 --duration 0.6 --cpu "$CPU_B" --json "$TMP/udp.json" \
	--ready-fd 3 3>"$TMP/udp.start" >/dev/null || fail "tapgen udp"
nsx "$TAPGEN" --icmp --dst "$PEER_IP" --rate 2000 --duration 0.3 --cpu "$CPU_B" --json "$TMP/icmp.json" \
	--ready-fd 3 3>"$TMP/icmp.start" >/dev/null || fail "tapgen icmp"
nsx "$TAPGEN" --dst "$PEER_IP" --search binary --steps 2 --repeats 1 --duration 0.2 --drain 0.1 --cpu "$CPU_B" \
	--json "$TMP/search.json" --ready-fd 3 3>"$TMP/search.start" >/dev/null || fail "tapgen --search"
nsx "$TAPGEN" --dst "$PEER_IP" --search --duration 0.2 --drain 0.1 --width 0.02 --goal 0.01 --cpu "$CPU_B" \
	--json "$TMP/mlr.json" >/dev/null || fail "tapgen --search mlr"
nsx "$TAPGEN" --tcp --flows 2 --bytes 1048576 --dst "$PEER_IP" --duration 10 --cpu "$CPU_B" \
	--json "$TMP/tcp.json" --ready-fd 3 3>"$TMP/tcp.start" >/dev/null || fail "tapgen --tcp"
# A reader that went away (the pipe's read end closed before the start) is
# said, and the tool goes on to its result.
gone_reader() { # CMD...: run CMD --ready-fd N, N the write end of a pipe nobody reads
	timeout 30 python3 -c 'import os, subprocess, sys
r, w = os.pipe()
os.close(r)
rc = subprocess.run(sys.argv[1:] + ["--ready-fd", str(w)], pass_fds=[w]).returncode
sys.exit(128 - rc if rc < 0 else rc)  # killed by a signal: as a shell says it' "$@"
}
gone_reader ip netns exec "$NS" "$TAPGEN" --dst "$PEER_IP" --rate 2000 --duration 0.2 --cpu "$CPU_B" \
	--json "$TMP/gone.json" >/dev/null 2>"$TMP/gone.err" || fail "tapgen with a gone reader: exit $?: $(cat "$TMP/gone.err")"
grep -q "^tapgen: --ready-fd [0-9]*: cannot write the ready record: Broken pipe (going on)$" "$TMP/gone.err" ||
	fail "tapgen did not say the reader went away: $(cat "$TMP/gone.err")"
jq -e '.sent > 0' "$TMP/gone.json" >/dev/null || fail "tapgen with a gone reader sent nothing: $(cat "$TMP/gone.json")"
stop_reflector
[[ $(jq -r .type "$TMP/reflector.json" | grep -c interval) -gt 0 ]] || fail "no interval record: $(jq -r .type "$TMP/reflector.json" | sort | uniq -c)"

python3 "$VALIDATE" "$SCHEMAS" tapreflect "$TMP/reflector.json" "$TMP/reflector.start" || fail "tapreflect records"
python3 "$VALIDATE" "$SCHEMAS" tapgen "$TMP/udp.json" "$TMP/icmp.json" "$TMP/tcp.json" "$TMP/search.json" "$TMP/mlr.json" \
	"$TMP/udp.start" "$TMP/icmp.start" "$TMP/tcp.start" "$TMP/search.start" || fail "tapgen records"

# The start record says what the summary says, in the same names: every
# field of the whole engine, and each queue's of what is in force on it; and
# who is running: the pid lib.sh started.
jq -e -n --arg pid "$rpid" --slurpfile a "$TMP/reflector.start" --slurpfile r "$TMP/reflector.json" '
	$a[0] as $s | ($r[] | select(.type == "summary")) as $m
	| ($a | length) == 1 and $s.pid == ($pid | tonumber) and $s.dev == "trf0" and $s.link == "tap"
	and $s.queues == 1 and $s.vnet_hdr == true and $s.steering == "none" and $s.steering_why == ""
	and ($s.syscall_ns | type) == "number" and $s.syscall_ns > 0
	and all($s | keys[] | select(. != "type" and . != "pid" and . != "per_queue"); $s[.] == $m[.])
	and ($s.per_queue | length) == ($m.per_queue | length)
	and all(range($s.per_queue | length); . as $q
		| all($s.per_queue[$q] | to_entries[]; .value == $m.per_queue[$q][.key]))' >/dev/null ||
	fail "start record and summary disagree: $(cat "$TMP/reflector.start") vs $(summary)"
echo "tapreflect start record: $(cat "$TMP/reflector.start")"
# What a syscall costs, measured once: the start line and the summary say the records' figure.
ns=$(jq -r .syscall_ns "$TMP/reflector.start")
grep -q "^tapreflect: reflecting on trf0 (.*, syscall $ns ns)$" "$TMP/reflector.err" ||
	fail "the start line does not say syscall $ns ns: $(cat "$TMP/reflector.err")"
grep -q "^  cpu: .*, syscall $ns ns$" "$TMP/reflector.out" ||
	fail "the summary does not say syscall $ns ns: $(cat "$TMP/reflector.out")"
echo "a syscall: $ns ns"
for k in udp icmp tcp search; do
	[[ $(wc -l <"$TMP/$k.start") == 1 ]] || fail "tapgen $k: not one start record: $(cat "$TMP/$k.start")"
done
jq -e -s --arg dst "$PEER_IP" --argjson cpu "$CPU_B" 'length == 4 and all(.[]; .dst == $dst and .cpu == $cpu
	and .pid > 1)' "$TMP"/{udp,icmp,tcp,search}.start >/dev/null || fail "tapgen start records: $(cat "$TMP"/*.start)"
jq -e '.proto == "udp" and .flows == 16 and .port == 9000 and .payload == 18 and .rate_target == 20000
	and .search == false' "$TMP/udp.start" >/dev/null || fail "tapgen udp start: $(cat "$TMP/udp.start")"
jq -e '.proto == "icmp" and has("icmp_id") and (has("port") | not)' "$TMP/icmp.start" >/dev/null ||
	fail "tapgen icmp start: $(cat "$TMP/icmp.start")"
jq -e '.proto == "tcp" and .flows == 2 and .bytes == 1048576 and (has("payload") | not)' "$TMP/tcp.start" \
	>/dev/null || fail "tapgen tcp start: $(cat "$TMP/tcp.start")"
jq -e '.proto == "udp" and .search == true and .duration_s == 0.2' "$TMP/search.start" >/dev/null ||
	fail "tapgen search start: $(cat "$TMP/search.start")"
echo "tapgen start record: $(cat "$TMP/udp.start")"

# One line, then the descriptor is closed while tapreflect runs on: a reader
# sees end of file at once (here, cat returns), and the reflector is alive.
mkfifo "$TMP/own.ready"
# Not through nsx: $! must be tapreflect itself (ip netns exec execs it).
ip netns exec "$NS" "$TAPREFLECT" -c "$CPU_A" --stats 0 --duration 60 --ready-fd 3 \
	>/dev/null 2>"$TMP/own.err" 3>"$TMP/own.ready" &
own=$!
timeout 10 cat "$TMP/own.ready" >"$TMP/own.start" || fail "no end of file after the start record: $(cat "$TMP/own.err")"
kill -0 "$own" 2>/dev/null || fail "tapreflect exited after its start record: $(cat "$TMP/own.err")"
kill -TERM "$own"
wait "$own" || fail "tapreflect (own start) exited $?: $(cat "$TMP/own.err")"
[[ $(wc -l <"$TMP/own.start") == 1 ]] || fail "not one line: $(cat "$TMP/own.start")"
python3 "$VALIDATE" "$SCHEMAS" tapreflect "$TMP/own.start" >/dev/null || fail "own start record"
echo "one line, then end of file while running: ok"

# A start that fails writes nothing: the reader sees end of file at once.
nsx ip tuntap add dev trf9 mode tun
rc=0
nsx "$TAPREFLECT" --dev trf9 -m tap -c "$CPU_A" --ready-fd 3 3>"$TMP/fail.start" 2>"$TMP/fail.err" || rc=$?
nsx ip link del trf9
[[ $rc == 1 && ! -s $TMP/fail.start ]] || fail "failed start: exit $rc, record '$(cat "$TMP/fail.start")'"
rc=0
# trf0 is gone with its reflector: no route, no connection, no record.
nsx "$TAPGEN" --tcp --dst "$PEER_IP" --flows 1 --duration 1 --ready-fd 3 3>"$TMP/fail.start" \
	>/dev/null 2>"$TMP/fail.err" || rc=$?
[[ $rc == 1 && ! -s $TMP/fail.start ]] || fail "tapgen failed start: exit $rc, record '$(cat "$TMP/fail.start")'"
echo "failed starts wrote no record: $(head -1 "$TMP/fail.err")"

# A reader that went away is said, and tapreflect runs to its end.
gone_reader ip netns exec "$NS" "$TAPREFLECT" -c "$CPU_A" --stats 0 --duration 0.3 --json "$TMP/gone.json" \
	>/dev/null 2>"$TMP/gone.err" || fail "tapreflect with a gone reader: exit $?: $(cat "$TMP/gone.err")"
grep -q "^tapreflect: --ready-fd [0-9]*: cannot write the ready record: Broken pipe (going on)$" "$TMP/gone.err" ||
	fail "tapreflect did not say the reader went away: $(cat "$TMP/gone.err")"
jq -e 'select(.type == "summary") | .exit_code == 0' "$TMP/gone.json" >/dev/null ||
	fail "tapreflect with a gone reader: no clean summary"
echo "a reader gone: said, and both tools ran on"

# A descriptor that cannot take the record is a usage error, before anything starts.
for tool in "$TAPREFLECT" "$TAPGEN --dst $PEER_IP"; do
	for fd in 2 9 x; do
		rc=0
		# shellcheck disable=SC2086
		nsx $tool --ready-fd "$fd" >/dev/null 2>"$TMP/usage.err" 9>&- || rc=$?
		[[ $rc == 2 ]] && grep -q "bad --ready-fd '$fd'" "$TMP/usage.err" ||
			fail "${tool%% *} --ready-fd $fd: exit $rc: $(cat "$TMP/usage.err")"
	done
done
echo "bad --ready-fd: $(head -1 "$TMP/usage.err")"
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
jq -c 'del(.pid)' "$TMP/reflector.start" >"$TMP/bad6.json"
expect_invalid tapreflect "$TMP/bad6.json" "a start record without its pid"
jq -c '.per_queue[0].cpu = "0"' "$TMP/reflector.start" >"$TMP/bad7.json"
expect_invalid tapreflect "$TMP/bad7.json" "a string for a queue's CPU"
jq -c '.mode = .link | del(.link)' "$TMP/reflector.start" >"$TMP/bad10.json"
expect_invalid tapreflect "$TMP/bad10.json" "a start record with the old name of link"
jq -c 'select(.type == "summary") | .steering = "kernel (steering program refused: x)"' "$TMP/reflector.json" \
	>"$TMP/bad11.json"
expect_invalid tapreflect "$TMP/bad11.json" "the reason of the steering inside steering"
jq -c 'select(.type == "summary") | del(.per_queue[0].fallback)' "$TMP/reflector.json" >"$TMP/bad12.json"
expect_invalid tapreflect "$TMP/bad12.json" "a queue that does not say whether it fell back"
jq -c 'select(.type == "summary") | .io = "sync"' "$TMP/reflector.json" >"$TMP/bad13.json"
expect_invalid tapreflect "$TMP/bad13.json" "ring fields on a queue of the sync engine"
jq -c 'del(.syscall_ns)' "$TMP/reflector.start" >"$TMP/bad14.json"
expect_invalid tapreflect "$TMP/bad14.json" "a start record without syscall_ns"
jq -c 'select(.type == "summary") | .syscall_ns = -1' "$TMP/reflector.json" >"$TMP/bad15.json"
expect_invalid tapreflect "$TMP/bad15.json" "a negative syscall_ns"
jq -c 'select(.type == "summary") | del(.syscall_ns)' "$TMP/reflector.json" >"$TMP/bad16.json"
expect_invalid tapreflect "$TMP/bad16.json" "a summary without syscall_ns"
jq -c '.proto = "sctp"' "$TMP/udp.start" >"$TMP/bad8.json"
expect_invalid tapgen "$TMP/bad8.json" "an unknown proto in a start record"
jq -c 'del(.icmp_id)' "$TMP/icmp.start" >"$TMP/bad9.json"
expect_invalid tapgen "$TMP/bad9.json" "an ICMP start record without its echo id"
echo '{"kind":"timed","name":"x","value":1,"better":"faster"}' >"$TMP/bad4.json"
expect_invalid perf-report "$TMP/bad4.json" "an unknown 'better'"
echo '{"kind":"timed","name":"x","value":1,"pair":"one"}' >"$TMP/bad5.json"
expect_invalid perf-report "$TMP/bad5.json" "a string for a pair number"
