#!/usr/bin/env bash
# tapgen --search mlr (RFC 9971) against the reflector: one search finds the
# NDR, the PDR and a third goal; the record holds every trial (the trace
# agrees with the count and the text, short phases first, the last
# full-length), and each goal's bounds and conditional throughput are what
# the RFC's rules give from that trace (mlr_check.py, worked independently).
# An interrupted search still writes its record, marked incomplete; options
# of the other method are refused.  Consistency checks only: no speed thresholds.
source "$(dirname "$0")/lib.sh"

usage() { # MESSAGE-PATTERN ARGS...: tapgen refuses ARGS with exit status 2 and says why
	local want=$1 rc=0
	shift
	"$TAPGEN" --dst "$PEER_IP" "$@" >/dev/null 2>"$TMP/usage.err" || rc=$?
	[[ $rc == 2 ]] || fail "tapgen $*: exit status $rc, not 2"
	grep -q -- "$want" "$TMP/usage.err" || fail "tapgen $*: said $(cat "$TMP/usage.err")"
}
usage "are for --search binary" --search mlr --steps 3
usage "are for --search binary" --search --repeats 3
usage "are for --search binary" --steps 3
usage "are for --search mlr" --search binary --width 0.01
usage "are for --search mlr" --goal 0.01
usage "expected mlr or binary" --search=bisect
usage "at least the final trial duration" --search --duration 1 --duration-sum 0.5
usage "at most the final one" --search --duration 1 --initial-duration 2
usage "bad --width" --search --width 0.7

start_reflector -m tun -c "$CPU_A"
# A ceiling that leaves nothing to search: said, exit status 1, no record.
rc=0
nsx "$TAPGEN" --dst "$PEER_IP" --search --max-rate 1 --duration 0.2 --json "$TMP/none.json" \
	>/dev/null 2>"$TMP/none.err" || rc=$?
[[ $rc == 1 ]] && grep -q "leaves no load to search" "$TMP/none.err" && [[ ! -s $TMP/none.json ]] ||
	fail "--max-rate 1: exit status $rc, $(cat "$TMP/none.err"), record: $(cat "$TMP/none.json" 2>/dev/null)"
# A bare --search followed by another option: the method is the default.
nsx "$TAPGEN" --dst "$PEER_IP" --search --duration 0.3 --drain 0.1 --goal 0.02 --cpu "$CPU_B" \
	--json "$TMP/mlr.json" >"$TMP/mlr.out" || fail "tapgen --search: $(cat "$TMP/mlr.out")"
jq -e '.method == "mlr" and .complete and ([.goals[].name] == ["NDR", "PDR", "loss<=0.02"])
	and .trace[0].phase == "ceiling" and .trials == (.trace | length) - 1 and .trials > 0
	and .trace[1].duration_s == .goals[0].initial_trial_duration_s and .trace[1].duration_s == 0.05
	and .trace[-1].duration_s == 0.3 and ([.trace[1:][].duration_s] | . == sort)
	and .ndr_pps == (.goals[0].relevant_lower_bound_pps // 0)
	and .pdr_pps == (.goals[1].relevant_lower_bound_pps // 0)
	and all(.goals[]; .complete and .duration_sum_s == 0.9 and .exceed_ratio == 0.5
		and (.relevant_lower_bound_pps == null or .conditional_throughput_pps <= .relevant_lower_bound_pps))
	and .traffic_s > 0 and .wall_s > .traffic_s' "$TMP/mlr.json" >/dev/null ||
	fail "mlr record: $(cat "$TMP/mlr.json")"
# One line of text per trial, and each goal's result.
n=$(jq .trials "$TMP/mlr.json")
[[ $(grep -cE "^tapgen: (NDR|PDR|loss<=0.02) phase [1-3]/3 " "$TMP/mlr.out") == "$n" ]] ||
	fail "expected $n trial lines: $(cat "$TMP/mlr.out")"
grep -q "^tapgen: NDR .* MLRsearch, $n trials" "$TMP/mlr.out" || fail "no summary line: $(tail -3 "$TMP/mlr.out")"
python3 "$(dirname "$0")/mlr_check.py" "$TMP/mlr.json" || fail "the record disagrees with its trace"
tail -1 "$TMP/mlr.out"

# SIGINT mid-search: exit status 130, the record written and marked incomplete.
# The signal goes to tapgen itself (its pid from the start record), not to ip netns exec.
nsx "$TAPGEN" --dst "$PEER_IP" --search mlr --duration 1 --cpu "$CPU_B" --json "$TMP/cut.json" \
	--ready-fd 3 3>"$TMP/cut.start" >"$TMP/cut.out" 2>&1 &
gen=$!
for _ in $(seq 100); do
	grep -q " phase 1/" "$TMP/cut.out" && break
	sleep 0.1
done
grep -q " phase 1/" "$TMP/cut.out" || fail "no trial within 10 s: $(cat "$TMP/cut.out")"
kill -INT "$(jq .pid "$TMP/cut.start")"
rc=0
wait "$gen" || rc=$?
[[ $rc == 130 ]] || fail "interrupted search: exit status $rc, not 130: $(cat "$TMP/cut.out")"
jq -e '.method == "mlr" and .complete == false and all(.goals[]; .complete == false)
	and .trials == (.trace | length) - 1' "$TMP/cut.json" >/dev/null ||
	fail "interrupted search's record: $(cat "$TMP/cut.json")"
echo "interrupted after $(jq .trials "$TMP/cut.json") trial(s): record marked incomplete"
stop_reflector
check_accounting
