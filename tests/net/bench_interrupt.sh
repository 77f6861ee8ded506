#!/usr/bin/env bash
# SIGINT in the middle of a measuring run of tapreflect-bench, and a second
# one while it cleans up: it exits 130; what it measured is in the store,
# marked incomplete; no result file is left half-written; its namespace is
# deleted and every process it started in it has ended.
TRF_TEST_DEADLINE=${TRF_TEST_DEADLINE:-120}
source "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
command -v jq >/dev/null || skip_or_fail "jq is not installed"
DB=$TMP/history.sqlite
"$SRC/bench/tapreflect-bench" compare --build "$BUILD" --mode tun --engines multishot --reps 40 --duration 0.5 \
	--db "$DB" --json "$TMP/out/trials.json" >"$TMP/compare.log" 2>&1 &
bpid=$!
bns=trf-bench-$bpid
# Two trials done (their lines are in the log): the run is well under way.
for _ in $(seq 600); do
	grep -q '^\[2/40 ' "$TMP/compare.log" && break
	kill -0 "$bpid" 2>/dev/null || { cat "$TMP/compare.log"; fail "compare ended early"; }
	sleep 0.1
done
grep -q '^\[2/40 ' "$TMP/compare.log" || fail "no progress after 60 s: $(cat "$TMP/compare.log")"
pids=$(ip netns pids "$bns" 2>/dev/null | tr '\n' ' ')
kill -INT "$bpid"
kill -INT "$bpid" 2>/dev/null || true # a second Ctrl-C must not cut the cleanup short
rc=0
wait "$bpid" || rc=$?
cat "$TMP/compare.log"
[[ $rc == 130 ]] || fail "exit status $rc after SIGINT, not 130"
ip netns list | awk '{print $1}' | grep -qx "$bns" && fail "namespace $bns left behind"
for p in $pids; do
	kill -0 "$p" 2>/dev/null && fail "process $p ($(cat /proc/"$p"/comm 2>/dev/null)) of the run left running"
done
# Nothing half-written: the trial file is written whole at the end, so an interrupted run has none.
[[ ! -e $TMP/out/trials.json ]] || fail "an interrupted run wrote its trial file"
[[ -z $(find "$TMP/out" -name '*.tmp' 2>/dev/null) ]] || fail "a temporary file was left: $(find "$TMP/out" -name '*.tmp')"
"$SRC/bench/tapreflect-bench" history export --db "$DB" >"$TMP/export.jsonl" || fail "history export"
[[ $(wc -l <"$TMP/export.jsonl") == 1 ]] || fail "$(wc -l <"$TMP/export.jsonl") runs stored, not 1"
n=$(jq '.records | length' "$TMP/export.jsonl")
jq -e --argjson n "$n" '.complete == false and (.note | test("SIGINT")) and $n >= 2
	and (.samples | length) == 2 * $n' "$TMP/export.jsonl" >/dev/null ||
	fail "stored run: $(jq -c '{complete, note, records: (.records | length), samples: (.samples | length)}' "$TMP/export.jsonl")"
echo "SIGINT: exit 130, $n trials stored as an incomplete run, namespace and processes gone (pids: ${pids:-none})"
