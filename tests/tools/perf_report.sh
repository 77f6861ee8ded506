#!/usr/bin/env bash
# perf-report on hand-made results: an A/A comparison passes, an instruction
# count 5 % up fails (exit 1), a clearly slower timed metric is flagged but
# does not gate unless --gate-timed, noise is not flagged, Markdown and chart
# are written, and the exact Mann-Whitney p-value is right.
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
grep -q '^\*\*pass\*\*: 3 metrics compared, 0 gating' "$tmp/aa.md" || fail "A/A report: $(cat "$tmp/aa.md")"

icount "$tmp/slow" 173 39
timed "$tmp/slow" micro/x 10.1 9.95 10.15 10.0 10.02
rc=0
"$report" --baseline "$tmp/base" --current "$tmp/slow" --markdown "$tmp/slow.md" --chart "$tmp/chart" >/dev/null || rc=$?
[[ $rc == 1 ]] || fail "a 5.5 % instruction-count regression exited $rc, not 1"
grep -q '| reflect/a | instructions/frame | 164.00 | 173.00 | 1.055 | - | REGRESSION |' "$tmp/slow.md" ||
	fail "regression row: $(cat "$tmp/slow.md")"
grep -q '| reflect/b | .* | ok |' "$tmp/slow.md" || fail "unchanged metric not ok"
if command -v gnuplot >/dev/null; then
	[[ -s $tmp/chart.png && -s $tmp/chart.svg ]] || fail "chart not written"
fi

timed "$tmp/slower" micro/x 12.0 12.1 11.9 12.2 12.05
icount "$tmp/slower-i" 164 39
cat "$tmp/slower-i" >>"$tmp/slower"
"$report" --baseline "$tmp/base" --current "$tmp/slower" --markdown "$tmp/t.md" >/dev/null ||
	fail "a timed slowdown gated without --gate-timed"
grep -q '| micro/x | ns/frame | 10.05 | 12.05 | 1.199 | 0.00794 | slower (not gating) |' "$tmp/t.md" ||
	fail "timed slowdown row: $(grep micro/x "$tmp/t.md")"
rc=0
"$report" --baseline "$tmp/base" --current "$tmp/slower" --gate-timed >/dev/null || rc=$?
[[ $rc == 1 ]] || fail "--gate-timed did not gate a timed slowdown"

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
echo "perf-report: A/A pass, icount regression exit 1, timed slowdown reported not gating, p = 0.00794 exact"
