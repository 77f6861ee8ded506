#!/usr/bin/env bash
# tapreflect-bench compare end to end, small: two engines (one coalescing),
# one and two queues, three loads (max, a share of the calibration, a fixed
# rate), two repetitions.  What is checked is the mechanics, never a speed:
# every load of a repetition runs before the next repetition starts; N% is N
# percent of the calibration trial's rate; each setting reached the
# reflector; accounting is exact; the program's namespace is gone.  (The
# paired ratios of its table are compare.table's, tested as numbers in
# tests/bench.)
TRF_TEST_DEADLINE=${TRF_TEST_DEADLINE:-160}
source "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
command -v jq >/dev/null || skip_or_fail "jq is not installed"
J=$TMP/compare.json
rc=0
# In the background for its PID, which names its namespace.
"$SRC/bench/tapreflect-bench" compare --build "$BUILD" --mode tun --engines "multishot multishot+c200" --queues "1 2" \
	--loads "max 30% 20000" --reps 2 --duration 0.5 --json "$J" --no-store >"$TMP/compare.log" 2>&1 &
cpid=$!
wait "$cpid" || rc=$?
cat "$TMP/compare.log"
[[ $rc == 0 ]] || fail "compare exited $rc"
ip netns list | awk '{print $1}' | grep -qx "trf-bench-$cpid" && fail "compare left its namespace trf-bench-$cpid"
grep -q '^accounting exact in every trial$' "$TMP/compare.log" || fail "accounting line missing"

# 2 engines x 2 queue counts x 3 loads x 2 repetitions, loads interleaved.
[[ $(jq -s length "$J") == 24 ]] || fail "$(jq -s length "$J") trials, not 24"
order=$(jq -r '"\(.rep)/\(.load)"' "$J" | uniq -c | awk '{printf "%s%s ", $1, $2}')
[[ $order == "41/max 41/30% 41/20000 42/max 42/30% 42/20000 " ]] || fail "trial order: $order"
[[ $(jq -r '.engine' "$J" | head -4 | tr '\n' ' ') == "multishot@1q multishot+c200@1q multishot@2q multishot+c200@2q " ]] ||
	fail "engines and queue counts: $(jq -r .engine "$J" | head -4 | tr '\n' ' ')"
# The rates: 0 (max), 30 % of the calibration (integer arithmetic, as the program does), 20000.
cal=$(sed -n 's/^calibration: multishot@1q reflected \([0-9]*\) pps at max$/\1/p' "$TMP/compare.log")
[[ -n $cal ]] || fail "no calibration line"
want=$((cal * 30 / 100))
[[ $(jq -r 'select(.load == "30%") | .rate_target' "$J" | sort -u) == "$want" ]] ||
	fail "30% ran at $(jq -r 'select(.load == "30%") | .rate_target' "$J" | sort -u | tr '\n' ' '), not $want"
[[ $(jq -r 'select(.load == "20000") | .rate_target' "$J" | sort -u) == 20000 ]] || fail "the fixed load's rate"
[[ $(jq -r 'select(.load == "max") | .rate_target' "$J" | sort -u) == 0 ]] || fail "max's rate"
# Each setting reached the reflector.
[[ $(jq -r 'select(.engine | startswith("multishot+c200")) | .wait' "$J" | sort -u) == "coalesce 200us" ]] ||
	fail "coalescing trials waited: $(jq -r 'select(.engine | startswith("multishot+c200")) | .wait' "$J" | sort -u)"
# One queue on its worker waits as --poll hybrid (the default) says; two share a worker: the ring.
[[ $(jq -r 'select(.engine == "multishot@1q") | .wait' "$J" | sort -u) == hybrid ]] || fail "1 queue's plain wait"
[[ $(jq -r 'select(.engine == "multishot@2q") | .wait' "$J" | sort -u) == sleep ]] || fail "2 queues' plain wait"
[[ $(jq -r 'select(.engine | endswith("@2q")) | .threads' "$J" | sort -u) == 1 ]] || fail "2 queues on one CPU: one thread"
jq -e -s 'all(.accounting_exact)' "$J" >/dev/null || fail "accounting"
# The reference against itself, paired, is exactly 1 in every repetition: the table's row says so.
grep -qE '^max +multishot@1q .* 1\.000 \[1\.00\.\.1\.00\] +1\.000 \[1\.00\.\.1\.00\] ' "$TMP/compare.log" ||
	fail "reference row: $(grep '^max *multishot@1q' "$TMP/compare.log")"
echo "compare: 24 trials, loads interleaved per repetition, 30% = $want pps, settings reached the reflector"
