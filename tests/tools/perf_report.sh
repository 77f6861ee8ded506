#!/usr/bin/env bash
# perf-report on hand-made results: an A/A comparison passes ("no change",
# with its interval), an instruction count 5 % up fails (exit 1), a clearly
# slower timed metric is flagged with its interval but does not gate unless
# --gate-timed, too few samples or too wide a spread are "inconclusive" (exit
# 3 when they gate, unless --inconclusive pass), no common metric or an
# unreadable file is bad input (exit 2), Markdown and chart are written, and
# the exact Mann-Whitney p-value is right, and samples taken in pairs are
# judged by the pairs' ratios.
set -euo pipefail
report=${1:?path to tools/perf-report}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

icount() { # file value-of-a value-of-b
	printf '{"kind":"icount","name":"reflect/a","value":%s,"unit":"instructions/frame"}\n' "$2" >"$1"
	printf '{"kind":"icount","name":"reflect/b","value":%s,"unit":"instructions/frame"}\n' "$3" >>"$1"
}
timed() { # file name values...
	local f=$1 n=$2
	shift 2
	for v in "$@"; do
		printf '{"kind":"timed","name":"%s","value":%s,"unit":"ns/frame","better":"lower"}\n' "$n" "$v" >>"$f"
	done
}

icount "$tmp/base" 164 39
timed "$tmp/base" micro/x 10.0 10.2 9.9 10.1 10.05
icount "$tmp/same" 164 39
timed "$tmp/same" micro/x 10.1 9.95 10.15 10.0 10.02
"$report" --baseline "$tmp/base" --current "$tmp/same" --markdown "$tmp/aa.md" >/dev/null ||
	fail "A/A comparison flagged a regression"
grep -q '^\*\*pass\*\*: 3 metrics compared, 0 gating regression(s), 0 non-gating slowdown(s), 0 improvement(s), 0 inconclusive' "$tmp/aa.md" ||
	fail "A/A report: $(cat "$tmp/aa.md")"
# Pairwise ratios of the A/A samples run from 9.95/10.2 to 10.15/9.9: the 99 % interval (5 + 5 samples: min..max).
grep -q '| micro/x | ns/frame | 10.05 | 10.02 | 1.000 | \[0.975, 1.025\] | ±2.5% | ±5% (informs) | 1 | no change |' "$tmp/aa.md" ||
	fail "A/A timed row: $(grep micro/x "$tmp/aa.md")"

icount "$tmp/slow" 173 39
timed "$tmp/slow" micro/x 10.1 9.95 10.15 10.0 10.02
rc=0
"$report" --baseline "$tmp/base" --current "$tmp/slow" --markdown "$tmp/slow.md" --chart "$tmp/chart" >/dev/null || rc=$?
[[ $rc == 1 ]] || fail "a 5.5 % instruction-count regression exited $rc, not 1"
grep -q '| reflect/a | instructions/frame | 164.00 | 173.00 | 1.055 | - | - | ±1.0% | - | REGRESSION |' "$tmp/slow.md" ||
	fail "regression row: $(cat "$tmp/slow.md")"
grep -q '| reflect/b | .* | no change |' "$tmp/slow.md" || fail "unchanged metric not 'no change'"
if command -v gnuplot >/dev/null; then
	[[ -s $tmp/chart.png && -s $tmp/chart.svg ]] || fail "chart not written"
fi

timed "$tmp/slower" micro/x 12.0 12.1 11.9 12.2 12.05
icount "$tmp/slower-i" 164 39
cat "$tmp/slower-i" >>"$tmp/slower"
"$report" --baseline "$tmp/base" --current "$tmp/slower" --markdown "$tmp/t.md" >/dev/null ||
	fail "a timed slowdown gated without --gate-timed"
grep -q '| micro/x | ns/frame | 10.05 | 12.05 | 1.199 | \[1.167, 1.232\] | ±2.8% | ±5% (informs) | 0.00794 | slower (not gating) |' "$tmp/t.md" ||
	fail "timed slowdown row: $(grep micro/x "$tmp/t.md")"
rc=0
"$report" --baseline "$tmp/base" --current "$tmp/slower" --gate-timed >/dev/null || rc=$?
[[ $rc == 1 ]] || fail "--gate-timed did not gate a timed slowdown"

# Too few samples for an interval: inconclusive, never "ok"; it fails (exit 3) only where it would gate.
timed "$tmp/two-a" micro/x 10.0 10.1
timed "$tmp/two-b" micro/x 13.0 13.1
"$report" --baseline "$tmp/two-a" --current "$tmp/two-b" --markdown "$tmp/two.md" >/dev/null ||
	fail "an inconclusive timed metric failed without --gate-timed"
grep -q '| micro/x | .* | inconclusive (too few samples: 2 and 2' "$tmp/two.md" || fail "too few samples: $(cat "$tmp/two.md")"
rc=0
"$report" --baseline "$tmp/two-a" --current "$tmp/two-b" --gate-timed >/dev/null || rc=$?
[[ $rc == 3 ]] || fail "an inconclusive gating metric exited $rc, not 3"
"$report" --baseline "$tmp/two-a" --current "$tmp/two-b" --gate-timed --inconclusive pass >/dev/null ||
	fail "--inconclusive pass still failed"
# Five samples each but spread wide: the interval reaches beyond the threshold.
timed "$tmp/wide-a" micro/x 10 14 9 12 11
timed "$tmp/wide-b" micro/x 11 9.5 13 10 12.5
"$report" --baseline "$tmp/wide-a" --current "$tmp/wide-b" >"$tmp/wide.md" || fail "a wide spread failed without --gate-timed"
grep -q 'inconclusive (the interval reaches beyond ±5%)' "$tmp/wide.md" || fail "wide spread: $(cat "$tmp/wide.md")"

# A metric's own threshold: the same wide spread is "no change" within ±50 %; and a
# metric whose lines say "gate": false is judged but never fails the run.
sed 's/}$/,"threshold":0.5}/' "$tmp/wide-b" >"$tmp/wide-b40"
"$report" --baseline "$tmp/wide-a" --current "$tmp/wide-b40" --gate-timed >"$tmp/wide40.md" ||
	fail "a spread within the metric's own threshold gated"
grep -q '| micro/x | .* | ±50% | .* | no change |' "$tmp/wide40.md" || fail "own threshold: $(cat "$tmp/wide40.md")"
sed 's/}$/,"gate":false}/' "$tmp/slower" >"$tmp/slower-nogate"
"$report" --baseline "$tmp/base" --current "$tmp/slower-nogate" --gate-timed >"$tmp/nogate.md" ||
	fail "a metric marked gate:false failed the run"
grep -q '| micro/x | .* | ±5% (informs) | 0.00794 | slower (not gating) |' "$tmp/nogate.md" ||
	fail "gate:false row: $(grep micro/x "$tmp/nogate.md")"
sed 's/}$/,"gate":false}/' "$tmp/two-b" >"$tmp/two-nogate"
"$report" --baseline "$tmp/two-a" --current "$tmp/two-nogate" --gate-timed >/dev/null ||
	fail "an inconclusive metric marked gate:false failed the run"

# Bad input: no metric in both sets, or a file that cannot be read: exit 2, with what to pass.
echo '{"kind":"timed","name":"other","value":1}' >"$tmp/other"
rc=0
"$report" --baseline "$tmp/base" --current "$tmp/other" >/dev/null 2>"$tmp/err" || rc=$?
[[ $rc == 2 ]] || fail "no common metric exited $rc, not 2"
grep -q "no metric is in both .*--metrics file of bench/e2e/run.sh" "$tmp/err" || fail "no common metric: $(cat "$tmp/err")"
rc=0
"$report" --baseline "$tmp/nonexistent" --current "$tmp/base" >/dev/null 2>"$tmp/err" || rc=$?
[[ $rc == 2 ]] && grep -q "cannot read" "$tmp/err" || fail "unreadable file: exit $rc, $(cat "$tmp/err")"

# Baselines of another machine or configuration are refused (exit 2) unless --force;
# --save-baseline tags the current results with their meta line and round-trips.
meta() { printf '{"kind":"meta","machine":{"id":"%s","cpus":2},"config":{"profile":"quick"}}\n' "$2" >"$1"; }
meta "$tmp/m-here" abc
cat "$tmp/base" >>"$tmp/m-here"
meta "$tmp/m-there" def
cat "$tmp/same" >>"$tmp/m-there"
rc=0
"$report" --baseline "$tmp/m-here" --current "$tmp/m-there" >/dev/null 2>"$tmp/err" || rc=$?
[[ $rc == 2 ]] && grep -q "another machine or configuration (machine.id: 'abc' vs 'def')" "$tmp/err" ||
	fail "another machine: exit $rc, $(cat "$tmp/err")"
"$report" --baseline "$tmp/m-here" --current "$tmp/m-there" --force >/dev/null 2>&1 || fail "--force did not compare"
"$report" --current "$tmp/m-here" --save-baseline "$tmp/saved" 2>/dev/null || fail "--save-baseline"
head -1 "$tmp/saved" | grep -q '"kind": "meta", "machine": {"id": "abc"' || fail "saved baseline lost its meta: $(head -1 "$tmp/saved")"
"$report" --baseline "$tmp/saved" --current "$tmp/m-here" >"$tmp/saved.md" || fail "a saved baseline against its own results"
grep -q '| micro/x | ns/frame | 10.05 | 10.05 | 1.000 |' "$tmp/saved.md" || fail "saved baseline: $(cat "$tmp/saved.md")"
# A saved baseline keeps each metric's own threshold and "gate": false, never its pairs.
{
	meta /dev/stdout abc
	echo '{"kind":"timed","name":"ab/rtt_p99_us","value":100,"unit":"us","gate":false,"pair":1}'
	echo '{"kind":"timed","name":"ab/pdr_pps","value":3e5,"unit":"pps","better":"higher","threshold":0.1,"pair":1}'
} >"$tmp/own"
"$report" --current "$tmp/own" --save-baseline "$tmp/own-saved" 2>/dev/null || fail "--save-baseline of own thresholds"
jq -e -s '(.[1].gate == false) and (.[2].threshold == 0.1) and ([.[] | has("pair")] | any | not)' "$tmp/own-saved" >/dev/null ||
	fail "saved baseline: $(cat "$tmp/own-saved")"

# google-benchmark JSON is read as timed samples.
cat >"$tmp/gb.json" <<'JSON'
{"context": {}, "benchmarks": [
 {"name": "reflect/a", "run_name": "reflect/a", "run_type": "iteration", "real_time": 20.0, "time_unit": "ns"},
 {"name": "reflect/a", "run_name": "reflect/a", "run_type": "iteration", "real_time": 21.0, "time_unit": "ns"},
 {"name": "reflect/a_mean", "run_name": "reflect/a", "run_type": "aggregate", "real_time": 20.5, "time_unit": "ns"}
]}
JSON
"$report" --baseline "$tmp/gb.json" --current "$tmp/gb.json" | grep -q '| micro/reflect/a | ns/frame | 20.50 | 20.50 | 1.000 |' ||
	fail "google-benchmark input not read"
# Paired samples ("pair": the trials of A and B that ran back to back): the
# machine drifts from pair to pair (10 to 14), each pair's ratio stays within
# 2 %.  Unpaired, that spread makes the interval too wide to tell; paired, the
# ratios are what is judged.  8 pairs at 99 %: the exact signed-rank
# distribution puts the interval at the smallest and largest ratio.
paired() { # file with-pairs values...
	local f=$1 with=$2 k=0
	shift 2
	for v in "$@"; do
		k=$((k + 1))
		if [[ $with == yes ]]; then
			printf '{"kind":"timed","name":"e2e/cpu","value":%s,"unit":"ns/frame","better":"lower","pair":%d}\n' "$v" "$k"
		else
			printf '{"kind":"timed","name":"e2e/cpu","value":%s,"unit":"ns/frame","better":"lower"}\n' "$v"
		fi
	done >"$f"
}
drift=(10 14 8 12 11 9 13 10.5)
moved=(10.1 13.86 8 12.24 10.78 9 13.13 10.395) # x 1.01 0.99 1 1.02 0.98 1 1.01 0.99
paired "$tmp/pa" yes "${drift[@]}"
paired "$tmp/pb" yes "${moved[@]}"
"$report" --baseline "$tmp/pa" --current "$tmp/pb" --gate-timed --markdown "$tmp/paired.md" >/dev/null ||
	fail "paired A/A: $(cat "$tmp/paired.md")"
grep -q '| e2e/cpu | ns/frame | .* | 1.000 | \[0.980, 1.020\] (8 pairs) | ±2.0% | ±5% | 0.688 | no change |' "$tmp/paired.md" ||
	fail "paired row: $(grep e2e/cpu "$tmp/paired.md")"
paired "$tmp/ua" no "${drift[@]}"
paired "$tmp/ub" no "${moved[@]}"
rc=0
"$report" --baseline "$tmp/ua" --current "$tmp/ub" --gate-timed --markdown "$tmp/unpaired.md" >/dev/null || rc=$?
[[ $rc == 3 ]] || fail "the same samples unpaired exited $rc, not 3 (inconclusive)"
grep -q '| e2e/cpu | .* | inconclusive (the interval reaches beyond ±5%) |' "$tmp/unpaired.md" ||
	fail "unpaired row: $(grep e2e/cpu "$tmp/unpaired.md")"
# One side without pair numbers: judged unpaired, never half-paired.
rc=0
"$report" --baseline "$tmp/pa" --current "$tmp/ub" --gate-timed >"$tmp/half.md" || rc=$?
[[ $rc == 3 ]] && ! grep -q 'pairs)' "$tmp/half.md" || fail "half-paired input: exit $rc, $(grep e2e/cpu "$tmp/half.md")"
# Every pair 3.5 to 7 % slower on top of the drift: a regression, p from the exact
# distribution (2/256), the interval from the smallest to the largest ratio.
paired "$tmp/ps" yes 10.4 14.63 8.4 12.66 11.66 9.585 13.455 11.235
rc=0
"$report" --baseline "$tmp/pa" --current "$tmp/ps" --gate-timed --timed-threshold 0.03 >"$tmp/ps.md" || rc=$?
[[ $rc == 1 ]] && grep -q '| e2e/cpu | .* | 1.05[0-9] | \[1.035, 1.070\] (8 pairs) | .* | 0.00781 | REGRESSION |' "$tmp/ps.md" ||
	fail "paired slowdown: exit $rc, $(grep e2e/cpu "$tmp/ps.md")"
echo '{"kind":"timed","name":"e2e/cpu","value":1,"pair":"one"}' >"$tmp/badpair"
rc=0
"$report" --baseline "$tmp/badpair" --current "$tmp/pa" 2>"$tmp/badpair.err" >/dev/null || rc=$?
[[ $rc == 2 ]] && grep -q '"pair" must be an integer' "$tmp/badpair.err" || fail "a string pair: exit $rc"

echo "perf-report: A/A no change [0.975, 1.025], icount regression exit 1, timed slowdown [1.167, 1.232] not gating," \
	"too few samples and wide spread inconclusive (exit 3 when gating), own thresholds and gate:false honoured," \
	"bad input exit 2, p = 0.00794 exact, paired samples judged by their pairs' ratios [0.980, 1.020]"
