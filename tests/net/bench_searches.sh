#!/usr/bin/env bash
# tapreflect-bench searches end to end, in its own namespace: one binary and
# one MLRsearch search, short; each search's record has its method, an NDR and
# a PDR >= NDR under the one ceiling fixed before the first search, its trials
# counted from tapgen's trace; the table has a row per method and the verdict
# line compares MLRsearch's NDR with binary's spread; the store holds the run
# whole with three samples per search.  Consistency only: no speed thresholds.
TRF_TEST_DEADLINE=${TRF_TEST_DEADLINE:-180}
source "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
command -v jq >/dev/null || skip_or_fail "jq is not installed"
DB=$TMP/history.sqlite
"$SRC/bench/tapreflect-bench" searches --build "$BUILD" --mode tun --reps 1 --duration 0.2 \
	--binary-opts "--steps 2 --repeats 1 --drain 0.1" --mlr-opts "--drain 0.1" \
	--db "$DB" --json "$TMP/searches.json" >"$TMP/searches.log" 2>&1 ||
	fail "tapreflect-bench searches: $(cat "$TMP/searches.log")"
cat "$TMP/searches.log"
[[ $(wc -l <"$TMP/searches.json") == 2 ]] || fail "expected 2 search records: $(cat "$TMP/searches.json")"
ceiling=$(grep -oE 'ceiling: [0-9]+ pps' "$TMP/searches.log" | grep -oE '[0-9]+')
[[ -n $ceiling && $ceiling -gt 0 ]] || fail "no ceiling line"
jq -se --argjson c "$ceiling" '([.[].method] | sort) == ["binary", "mlr"]
	and all(.[]; .ndr_pps >= 0 and .pdr_pps >= .ndr_pps and .ceiling_pps == $c and .pdr_pps <= $c
		and .trials >= 1 and .wall_s > 0 and .complete)
	and (.[] | select(.method == "binary") | .trials) == 4' "$TMP/searches.json" >/dev/null ||
	fail "search records: $(cat "$TMP/searches.json")"
grep -qE '^binary +1 ' "$TMP/searches.log" && grep -qE '^mlr +1 ' "$TMP/searches.log" ||
	fail "no table row per method"
grep -qE "^mlr: NDR median .* (within|OUTSIDE) binary's spread" "$TMP/searches.log" || fail "no verdict line"
"$SRC/bench/tapreflect-bench" history export --db "$DB" >"$TMP/export.jsonl" || fail "history export"
jq -e '.kind == "searches" and .complete and (.records | length) == 2 and (.samples | length) == 6' \
	"$TMP/export.jsonl" >/dev/null || fail "stored run: $(cat "$TMP/export.jsonl")"
echo "PASS"
