#!/usr/bin/env bash
# --poll hybrid (the default): a worker of one queue reads with a blocking
# read() while its queue keeps emptying, goes over to the ring when frames
# queue up, and back when they stop queuing; nothing is lost or counted twice
# on the way.  The backlog is made, not hoped for: the reflector is stopped
# (SIGSTOP) while tapgen sends, so that the queue holds hundreds of frames
# when it goes on (SIGCONT), whatever the speed of this machine.  Then a light
# load (5 kpps: one frame per wakeup) must bring the worker back to blocking.
# The switching needs a syscall of 150 ns or more (under it the blocking loop
# keeps every load), so the cost is given, not measured: the same rule on every
# machine.  Last, with a cheap syscall given, the same backlog stays blocking.
# usage: hybrid.sh tap|tun multishot|fixed
source "$(dirname "$0")/lib.sh"
mode=$1 read=$2
nsx sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1

# start SYSCALL_NS: the reflector, with a syscall taken to cost SYSCALL_NS.
start() {
	start_reflector -m "$mode" -c "$CPU_A" -q 1 --io uring --read "$read" --stats 0.2 \
		--syscall-ns "$1"
	if [[ $mode == tap ]]; then
		nsx ip neigh replace "$PEER_IP" lladdr 02:00:00:00:00:02 dev trf0 nud permanent
	fi
	# Room for a backlog of more than one window whatever came before it (tun's queue is 500 frames).
	nsx ip link set trf0 txqueuelen 5000
	jq -e ".per_queue[0].wait == \"hybrid\" and .syscall_ns == $1" "$TMP/reflector.start" \
		>/dev/null || fail "not hybrid at the start: $(cat "$TMP/reflector.start")"
}
start 200
jq -e '.per_queue[0].fallback == ""' "$TMP/reflector.start" >/dev/null ||
	fail "a fallback at 200 ns: $(cat "$TMP/reflector.start")"
grep -q ", syscall 200 ns (given))$" "$TMP/reflector.err" ||
	fail "the start line does not say the syscall cost was given: $(cat "$TMP/reflector.err")"

# gen RATE SECS NAME: tapgen from the other CPU, its trial in NAME.json.
gen() {
	ip netns exec "$NS" "$TAPGEN" --dst "$PEER_IP" --rate "$1" --duration "$2" --drain 0.5 \
		--cpu "$CPU_B" --json "$TMP/$3.json" >/dev/null || fail "tapgen $3"
}
# latest FIELD: queue 0's FIELD so far, the sum of the interval records' (each an interval's own).
latest() { jq -s -r "[.[] | select(.type == \"interval\") | .per_queue[0].$1] | add // 0" "$TMP/reflector.json"; }

# 1. Light: every frame through the blocking read, no switch.
gen 5000 1 light1
sleep 0.5
[[ $(latest hybrid_switches) == 0 ]] || fail "switched at 5 kpps: $(latest hybrid_switches) switch(es)"
light_read=$(latest frames_read)
[[ $(latest frames_blocking) == "$light_read" ]] ||
	fail "at 5 kpps $(latest frames_blocking) of $light_read frames were read blocking"

# 2. A backlog: the queue fills while the reflector is stopped (15 000 frames
# sent, 5 000 queued: the rest are the device's drops), then nothing more.
backlog() {
	kill -STOP "$RPID"
	gen 50000 0.3 backlog &
	local g=$!
	sleep 0.6
	kill -CONT "$RPID"
	wait "$g" || fail "tapgen backlog"
	sleep 0.5
}
backlog
switches=$(latest hybrid_switches)
[[ $switches == 1 ]] || fail "after a backlog: $switches switch(es), not 1 (to the ring)"
ring=$(($(latest frames_read) - $(latest frames_blocking)))
((ring > 0)) || fail "the backlog was read blocking too"
echo "backlog: $switches switch(es), $ring frame(s) through the ring"

# 3. Light again: back to blocking.
gen 5000 2 light2
sleep 0.5
back=$(latest hybrid_switches)
((back > switches)) || fail "still in the ring at 5 kpps ($back switch(es))"
blocking_before=$(latest frames_blocking)
gen 5000 1 light3
sleep 0.5
(($(latest frames_blocking) - blocking_before >= 4000)) ||
	fail "the last 5000 frames at 5 kpps: only $(($(latest frames_blocking) - blocking_before)) read blocking"
stop_reflector

# Every frame is counted once (stop_reflector checked the accounting), and
# what came back to the three light runs came back whole.  A reply the host's
# own stack loses after the reflector wrote it (a full backlog on a busy VM)
# is not the reflector's: tapgen's count is said, not judged; nor are the
# interval records' counts, whose windows do not line up with a run's.
for t in light1 light2 light3; do
	jq -e '.duplicates == 0 and .corrupt == 0 and .foreign == 0 and .reflected <= .sent' \
		"$TMP/$t.json" >/dev/null || fail "$t: $(cat "$TMP/$t.json")"
	echo "$t: sent $(jq .sent "$TMP/$t.json"), received back $(jq .reflected "$TMP/$t.json")"
done
summary '.per_queue[0].frames_blocking < .per_queue[0].frames_read and .per_queue[0].wait == "hybrid"' \
	>/dev/null || fail "summary: $(summary .per_queue)"
echo "summary: $(summary '.per_queue[0] | "read \(.frames_read), blocking \(.frames_blocking), \(.hybrid_switches) switches"')"

# 4. A cheap syscall (as a machine under 150 ns measures it): the same backlog
# is read blocking, no switch, and the start record says why.
start 60
jq -e '.per_queue[0].fallback | test("a syscall costs 60 ns here \\(under 150\\): the blocking loop at every load")' \
	"$TMP/reflector.start" >/dev/null || fail "no fallback at 60 ns: $(cat "$TMP/reflector.start")"
backlog
[[ $(latest hybrid_switches) == 0 ]] || fail "switched at 60 ns: $(latest hybrid_switches) switch(es)"
cheap_read=$(latest frames_read)
((cheap_read > 1000)) || fail "the backlog at 60 ns: only $cheap_read frame(s) read"
[[ $(latest frames_blocking) == "$cheap_read" ]] ||
	fail "at 60 ns $(latest frames_blocking) of $cheap_read frames were read blocking"
echo "backlog at 60 ns: $cheap_read frame(s), all read blocking"
stop_reflector
