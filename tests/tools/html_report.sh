#!/usr/bin/env bash
# perf-report's HTML report, loaded in headless Chromium: the rendered DOM
# holds the verdict table (one row per metric, the verdicts right), the ratio
# and per-metric sample charts, the search trace and RTT charts, and the
# configuration; the page logs no console error and asks for nothing from
# the network (Chromium runs in a network namespace of its own, with only
# loopback).  A page with a broken script is caught, so the check can fail.
set -euo pipefail
report=${1:?path to tools/perf-report}
tmp=$(mktemp -d)
NS=""
cleanup() {
	[[ -n $NS ]] && ip netns del "$NS" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
skip_or_fail() {
	[[ ${CI:-} == true ]] && fail "$1 (CI=true: this test must run)"
	echo "SKIP: $1" >&2
	exit 77
}
command -v chromium >/dev/null || skip_or_fail "chromium is not installed (tools/install-deps.sh test)"
[[ $(id -u) == 0 ]] || skip_or_fail "needs root for a network namespace of its own"
NS="trf-html-$$"
ip netns add "$NS" || skip_or_fail "cannot create a network namespace"
ip netns exec "$NS" ip link set lo up

# load PAGE: the DOM after load in $tmp/dom, Chromium's log in $tmp/log.
load() {
	timeout 120 ip netns exec "$NS" chromium --headless=new --no-sandbox --disable-gpu --no-first-run \
		--user-data-dir="$tmp/profile" --enable-logging=stderr --v=0 --dump-dom "file://$1" \
		>"$tmp/dom" 2>"$tmp/log" || fail "chromium failed on $1: $(tail -5 "$tmp/log")"
}
page_errors() { grep -E 'CONSOLE|Uncaught|Failed to load resource|net::ERR_' "$tmp/log" || true; }

# Results of two sides: a timed metric 10 % slower, an unchanged instruction count,
# and a tail latency that only informs.
for v in 10 10.2 9.9 10.1 10.05; do echo "{\"kind\":\"timed\",\"name\":\"ab/cpu_ns_per_frame\",\"value\":$v,\"unit\":\"ns/frame\",\"threshold\":0.05}"; done >"$tmp/a.json"
for v in 11 11.2 10.9 11.1 11.05; do echo "{\"kind\":\"timed\",\"name\":\"ab/cpu_ns_per_frame\",\"value\":$v,\"unit\":\"ns/frame\",\"threshold\":0.05}"; done >"$tmp/b.json"
for v in 100 300 90 2000 150; do echo "{\"kind\":\"timed\",\"name\":\"ab/rtt_p99_us\",\"value\":$v,\"unit\":\"us\",\"gate\":false}"; done >>"$tmp/a.json"
for v in 110 250 95 900 160; do echo "{\"kind\":\"timed\",\"name\":\"ab/rtt_p99_us\",\"value\":$v,\"unit\":\"us\",\"gate\":false}"; done >>"$tmp/b.json"
echo '{"kind":"icount","name":"reflect/udp_64","value":148,"unit":"instructions/frame"}' >>"$tmp/a.json"
echo '{"kind":"icount","name":"reflect/udp_64","value":148,"unit":"instructions/frame"}' >>"$tmp/b.json"
echo '{"kind":"meta","machine":{"id":"abc","cpus":2},"config":{"profile":"quick"}}' >>"$tmp/a.json"
echo '{"kind":"meta","machine":{"id":"abc","cpus":2},"config":{"profile":"quick"}}' >>"$tmp/b.json"
# Traces as tapgen and tapreflect write them (the schemas' shapes).
trace='[{"phase":"ceiling","step":0,"rate_target":0,"offered_pps":400000,"loss_ratio":0.3,"pass":false},
 {"phase":"NDR","step":1,"rate_target":200000,"offered_pps":200000,"loss_ratio":0,"pass":true},
 {"phase":"NDR","step":2,"rate_target":300000,"offered_pps":299000,"loss_ratio":0.002,"pass":false},
 {"phase":"PDR","step":1,"rate_target":250000,"offered_pps":250000,"loss_ratio":0.001,"pass":true}]'
for side in a b; do
	jq -cn --argjson t "$trace" '{type: "search", schema_version: 1, version: "0", flows: 16, payload: 18,
		ndr_pps: 200000, pdr_pps: 250000, pdr_loss: 0.005, ceiling_pps: 400000, steps: 2, repeats: 1,
		trial_s: 0.5, trace: $t}' >"$tmp/$side-search.jsonl"
	jq -cn '{type: "tapgen", schema_version: 1, version: "0", proto: "udp", flows: 16, payload: 18,
		rtt_us: {min: 20, p50: 35, p90: 50, p99: 120, p999: 400, max: 900},
		rtt_hist_us: [[20, 25, 100], [25, 30, 5000], [30, 40, 9000], [40, 50, 400], [100, 120, 9]]}' \
		>"$tmp/$side-rtt.jsonl"
	jq -cn '{type: "summary", schema_version: 1, version: "0", mode: "tun", io: "uring", read: "multishot",
		reflect: "respond", offloads: "off", queues: 1, buffers: 256, frame_size: 16384,
		ring_flags: "x", ring_restricted: "yes", accounting_exact: true}' >"$tmp/$side-reflector.jsonl"
done
"$report" --title "A/B: B / A" --baseline "$tmp/a.json" --current "$tmp/b.json" --html "$tmp/report.html" \
	--trace "$tmp"/{a,b}-search.jsonl "$tmp"/{a,b}-rtt.jsonl "$tmp"/{a,b}-reflector.jsonl >/dev/null 2>&1 ||
	fail "perf-report --html"
grep -qiE '(src|href)="(https?:)?//' "$tmp/report.html" && fail "the report refers to the network"

load "$tmp/report.html"
dom=$tmp/dom
grep -q '<table class="verdicts">' "$dom" || fail "no verdict table in the DOM"
rows=$(grep -o '<td class="verdict"' "$dom" | wc -l)
[[ $rows == 3 ]] || fail "verdict table: $rows rows, not 3"
grep -q 'slower (not gating)</td>' "$dom" || fail "the 10 % slower metric is not shown as slower"
grep -q 'no change</td>' "$dom" || fail "the unchanged instruction count is not 'no change'"
grep -q '±5% (informs)\|(informs)' "$dom" || fail "the informing metric is not marked"
for chart in ratio-chart samples-chart search-chart rtt-chart; do
	grep -q "<figure class=\"$chart\"><svg" "$dom" || fail "no $chart in the DOM"
done
[[ $(grep -o '<figure class="samples-chart">' "$dom" | wc -l) == 2 ]] || fail "expected a sample chart per timed metric"
[[ $(grep -o '<circle' "$dom" | wc -l) -ge 20 ]] || fail "the charts hold too few points"
grep -q '<path d="M' "$dom" || fail "no RTT curve"
grep -q '<table class="reflector">' "$dom" && grep -q 'machine.id' "$dom" || fail "no configuration tables"
errs=$(page_errors)
[[ -z $errs ]] || fail "the page logged errors: $errs"

# A report of current results alone (no baseline) renders too.
"$report" --current "$tmp/b.json" --html "$tmp/alone.html" >/dev/null 2>&1 || fail "perf-report --html without a baseline"
load "$tmp/alone.html"
grep -q '<table class="verdicts">' "$tmp/dom" && grep -q '<figure class="samples-chart">' "$tmp/dom" ||
	fail "current-only report"
[[ -z $(page_errors) ]] || fail "the current-only page logged errors: $(page_errors)"

# The error check itself: a broken page is caught.
echo '<!DOCTYPE html><html><body><p>x</p><script>no_such_function();</script></body></html>' >"$tmp/broken.html"
load "$tmp/broken.html"
[[ -n $(page_errors) ]] || fail "a page with a broken script was not caught"
echo "HTML report: 3 verdict rows, ratio/sample/search/RTT charts, configuration; no page errors; a broken page caught"
