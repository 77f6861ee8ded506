#!/usr/bin/env bash
# tapreflect-bench ab end to end, small: two option sets of one build (B
# reads with --read fixed), 8 fixed-load trials and 2 PDR searches each.
# What is checked is the mechanics, never a verdict (a verdict on 8
# half-second trials is the machine's to give): every trial ran its own
# side's options, A and B alternate A B, B A, ...; the fixed-load samples
# carry their pair and are judged by the 8 pairs' ratios, the PDR samples are
# judged unpaired; the report, the HTML page and the traces are written; the
# run is in the store, whole; the exit status is one of the report's; the
# program's namespace is gone.  About 45 s here; an ASan build's run is
# longer, so more room than lib.sh's default deadline, inside CTest's 180 s.
TRF_TEST_DEADLINE=${TRF_TEST_DEADLINE:-160}
source "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
command -v jq >/dev/null || skip_or_fail "jq is not installed"
OUT=$TMP/ab
DB=$TMP/history.sqlite
rc=0
# In the background for its PID, which names its namespace: only that one is
# checked (another run's, left by a killed process, is not this test's).
"$SRC/bench/tapreflect-bench" ab --build "$BUILD" --b-opts "--read fixed" --reps 8 --pdr-reps 2 --trial 0.5 \
	--out "$OUT" --db "$DB" >"$TMP/ab.log" 2>&1 &
abpid=$!
wait "$abpid" || rc=$?
cat "$TMP/ab.log"
[[ $rc == 0 || $rc == 1 || $rc == 3 ]] || fail "ab exited $rc"
ip netns list | awk '{print $1}' | grep -qx "trf-bench-$abpid" && fail "ab left its namespace trf-bench-$abpid"

jq -s -e '[.[] | select(.trial == "fixed")] | length == 16' "$OUT/trials.json" >/dev/null ||
	fail "fixed-load trials: $(jq -c . "$OUT/trials.json")"
jq -s -e '[.[] | select(.trial == "pdr")] | length == 4' "$OUT/trials.json" >/dev/null || fail "PDR searches"
order=$(jq -r 'select(.trial == "fixed") | .side' "$OUT/trials.json" | tr -d '\n')
[[ $order == ABBAABBAABBAABBA ]] || fail "trial order $order, not A B, B A, ..."
# Each side ran with its own options.
[[ $(jq -r '.per_queue[].read' "$OUT/a-reflector.jsonl" | sort -u) == multishot ]] ||
	fail "A's reflectors: $(jq -r '.per_queue[].read' "$OUT/a-reflector.jsonl" | sort | uniq -c)"
[[ $(jq -r '.per_queue[].read' "$OUT/b-reflector.jsonl" | sort -u) == fixed ]] ||
	fail "B's reflectors: $(jq -r '.per_queue[].read' "$OUT/b-reflector.jsonl" | sort | uniq -c)"
# Fixed-load samples carry pairs 1..8 on both sides; PDR samples none.
for s in a b; do
	[[ $(jq -r 'select(.name == "ab/cpu_ns_per_frame") | .pair' "$OUT/$s.json" | tr '\n' ' ') == "1 2 3 4 5 6 7 8 " ]] ||
		fail "$s.json pairs: $(jq -c 'select(.name == "ab/cpu_ns_per_frame")' "$OUT/$s.json")"
	jq -e 'select(.name == "ab/pdr_pps") | has("pair") | not' "$OUT/$s.json" >/dev/null || fail "$s.json: a PDR sample with a pair"
done
grep -q '^| ab/cpu_ns_per_frame | .* (8 pairs) |' "$OUT/report.md" || fail "CPU row not judged by pairs: $(cat "$OUT/report.md")"
grep -q '^| ab/rtt_p50_us | .* (8 pairs) |' "$OUT/report.md" || fail "RTT p50 row not judged by pairs"
grep '^| ab/pdr_pps |' "$OUT/report.md" | grep -vq 'pairs)' || fail "PDR row: $(grep pdr "$OUT/report.md")"
for f in report.html a-search.jsonl b-search.jsonl a-rtt.jsonl b-rtt.jsonl; do
	[[ -s $OUT/$f ]] || fail "$f not written"
done
# The store holds the run whole: 16 fixed-load trials x 3 metrics + 4 PDR samples, sides marked.
"$SRC/bench/tapreflect-bench" history export --db "$DB" >"$TMP/export.jsonl" || fail "history export"
[[ $(wc -l <"$TMP/export.jsonl") == 1 ]] || fail "$(wc -l <"$TMP/export.jsonl") runs stored, not 1"
jq -e '.kind == "ab" and .complete and (.samples | length) == 52 and (.records | length) == 20
	and ([.samples[] | select(.side == "B")] | length) == 26' "$TMP/export.jsonl" >/dev/null ||
	fail "stored run: $(jq -c '{kind, complete, samples: (.samples | length), records: (.records | length)}' "$TMP/export.jsonl")"
echo "ab: 8 + 8 trials in A B B A order with their own options, judged in 8 pairs, PDR unpaired, stored whole, exit $rc"
