#!/usr/bin/env bash
# tapreflect-bench report's HTML page, loaded in headless Chromium: the
# rendered DOM holds the verdict and the headline ratios before every details
# section, the full verdict table (one row per metric, the verdicts right),
# every chart as inline SVG (ratios, samples, rate search, RTT), and the
# configuration; the page logs no console error and asks for nothing from the
# network (Chromium runs in a network namespace of its own, with only
# loopback). A screenshot of the first screen (1100x800) is taken and must not
# be blank, and must show the verdict banner. A page with a broken script is
# caught, so the error check can fail.
#
# usage: html_report.sh REPOSITORY-ROOT   (TRF_SCREENSHOT_DIR=DIR keeps the screenshots)
set -euo pipefail
root=${1:?path to the repository root}
bench=$root/bench/tapreflect-bench
PYTHON=${PYTHON:-/usr/bin/python3} # Debian's, with python3-matplotlib: what tapreflect-bench runs under
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
[[ -x $bench ]] || fail "$bench is missing"
command -v chromium >/dev/null || skip_or_fail "chromium is not installed (tools/install-deps.sh test)"
[[ $(id -u) == 0 ]] || skip_or_fail "needs root for a network namespace of its own"
NS="trf-html-$$"
ip netns add "$NS" || skip_or_fail "cannot create a network namespace"
ip netns exec "$NS" ip link set lo up

browse() {
	timeout 120 ip netns exec "$NS" chromium --headless=new --no-sandbox --disable-gpu --no-first-run \
		--user-data-dir="$tmp/profile" --hide-scrollbars --enable-logging=stderr --v=0 "$@"
}
# load PAGE: the DOM after load in $tmp/dom, Chromium's log in $tmp/log.
load() {
	browse --dump-dom "file://$1" >"$tmp/dom" 2>"$tmp/log" || fail "chromium failed on $1: $(tail -5 "$tmp/log")"
}
# shoot PAGE PNG: the first screen, as a reader opens the page.
shoot() {
	browse --window-size=1100,800 --screenshot="$2" "file://$1" >/dev/null 2>"$tmp/shot.log" ||
		fail "chromium could not take a screenshot of $1: $(tail -5 "$tmp/shot.log")"
	[[ -s $2 ]] || fail "no screenshot of $1"
	[[ -n ${TRF_SCREENSHOT_DIR:-} ]] && cp "$2" "$TRF_SCREENSHOT_DIR/" || true
}
page_errors() { grep -E 'CONSOLE|Uncaught|Failed to load resource|net::ERR_' "$tmp/log" || true; }

# check_dom DOM [compared]: the page's structure, read with html.parser from Chromium's DOM.
check_dom() {
	"$PYTHON" - "$@" <<'EOF'
import sys
from html.parser import HTMLParser

dom, compared = sys.argv[1], len(sys.argv) > 2
order, errors = {}, []
class Walk(HTMLParser):
    n = 0
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.n += 1
        for key in ["#" + a["id"] if a.get("id") else None, *("." + c for c in (a.get("class") or "").split())]:
            if key:
                order.setdefault(key, []).append((self.n, tag))
        if tag == "script":
            errors.append("the page has a <script>")
        for k, v in attrs:
            if k in ("src", "href", "xlink:href") and v and not v.startswith("#"):
                errors.append(f"<{tag} {k}={v!r}> refers outside the page")
Walk().feed(open(dom, encoding="utf-8").read())
first = lambda key: order[key][0][0] if key in order else None
details = [n for n, _ in order.get(".details", [])]
if not details or first("#configuration") is None:
    errors.append("no details sections, or no configuration")
head = [first(k) for k in (("#verdict", ".headline-ratios", ".ratio-chart") if compared else (".results",))]
if None in head:
    errors.append("the first screen lacks the verdict, the headline ratios or the ratio chart" if compared
                  else "the first screen lacks the results table")
elif details and max(head) > min(details):
    errors.append("a details section comes before the verdict and the headline ratios")
if errors:
    print("\n".join(errors), file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
}

# check_png PNG: a real picture of the page (not one colour), with the verdict banner's
# colour near the top left: the verdict is on the first screen.
check_png() {
	"$PYTHON" - "$@" <<'EOF'
import sys
import numpy as np
from matplotlib import image

png, banner = sys.argv[1], sys.argv[2:]
px = image.imread(png)[..., :3]
h, w = px.shape[:2]
if (w, h) != (1100, 800):
    sys.exit(f"the screenshot is {w}x{h}, not 1100x800")
colours = np.unique((px * 255).round().astype(np.uint8).reshape(-1, 3), axis=0)
if len(colours) < 50:
    sys.exit(f"the screenshot is blank: {len(colours)} colours")
if banner:
    want = np.array([int(banner[0][i:i + 2], 16) for i in (1, 3, 5)]) / 255
    top = px[:250]
    hits = int((np.abs(top - want).max(axis=-1) < 0.03).sum())
    if hits < 150:
        sys.exit(f"the verdict banner ({banner[0]}) is not in the first screen's top: {hits} pixels of it")
EOF
}

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
"$bench" report --title "A/B: B / A" --baseline "$tmp/a.json" --current "$tmp/b.json" --html "$tmp/report.html" \
	--trace "$tmp"/{a,b}-search.jsonl "$tmp"/{a,b}-rtt.jsonl "$tmp"/{a,b}-reflector.jsonl >"$tmp/out" 2>&1 ||
	fail "tapreflect-bench report --html: $(tail -5 "$tmp/out")"
grep -qiE '(src|href)="(https?:)?//' "$tmp/report.html" && fail "the report refers to the network"

load "$tmp/report.html"
dom=$tmp/dom
grep -q '<table class="verdicts">' "$dom" || fail "no verdict table in the DOM"
rows=$(sed -n '/<table class="verdicts">/,/<\/table>/p' "$dom" | grep -o '<td class="verdict' | wc -l)
[[ $rows == 3 ]] || fail "verdict table: $rows rows, not 3"
headline=$(sed -n '/<table class="headline-ratios">/,/<\/table>/p' "$dom" | grep -o '<td class="verdict' | wc -l)
[[ $headline == 2 ]] || fail "headline table: $headline rows, not the 2 timed metrics"
grep -q 'slower (not gating)</td>' "$dom" || fail "the 10 % slower metric is not shown as slower"
grep -q 'no change</td>' "$dom" || fail "the unchanged instruction count is not 'no change'"
grep -q '(informs)' "$dom" || fail "the informing metric is not marked"
grep -q 'id="verdict"' "$dom" && grep -q '<span class="word">pass</span>' "$dom" || fail "no verdict word"
for chart in ratio-chart samples-chart search-chart rtt-chart; do
	grep -q "<figure class=\"chart $chart\"><svg" "$dom" || fail "no $chart as inline SVG in the DOM"
done
[[ $(grep -o '<figure class="chart samples-chart">' "$dom" | wc -l) == 2 ]] ||
	fail "expected a sample chart per timed metric"
[[ $(grep -o '<use ' "$dom" | wc -l) -ge 20 ]] || fail "the charts hold too few points"
grep -Eq '<g id="rtt-[0-9a-f]+-curve-0">' "$dom" || fail "no RTT curve"
grep -q '<table class="reflector">' "$dom" && grep -q 'machine.id' "$dom" || fail "no configuration tables"
grep -q 'No configuration was recorded' "$dom" && fail "the configuration given was not shown"
check_dom "$dom" compared || fail "the report's structure, as Chromium built it"
errs=$(page_errors)
[[ -z $errs ]] || fail "the page logged errors: $errs"
shoot "$tmp/report.html" "$tmp/report-first-screen.png"
check_png "$tmp/report-first-screen.png" "#1e8449" || fail "the report's first screen"

# A report of current results alone (no baseline) renders too, and leads with the results.
"$bench" report --current "$tmp/b.json" --html "$tmp/alone.html" >"$tmp/out" 2>&1 ||
	fail "tapreflect-bench report --html without a baseline: $(tail -5 "$tmp/out")"
load "$tmp/alone.html"
grep -q '<table class="results">' "$tmp/dom" && grep -q '<figure class="chart samples-chart"><svg' "$tmp/dom" ||
	fail "current-only report"
check_dom "$tmp/dom" || fail "the current-only report's structure"
[[ -z $(page_errors) ]] || fail "the current-only page logged errors: $(page_errors)"
shoot "$tmp/alone.html" "$tmp/alone-first-screen.png"
check_png "$tmp/alone-first-screen.png" || fail "the current-only report's first screen"

# The checks themselves: a broken page is caught, and so is a blank screenshot.
echo '<!DOCTYPE html><html><body><p>x</p><script>no_such_function();</script></body></html>' >"$tmp/broken.html"
load "$tmp/broken.html"
[[ -n $(page_errors) ]] || fail "a page with a broken script was not caught"
echo '<!DOCTYPE html><html><body style="background:#fff"></body></html>' >"$tmp/blank.html"
shoot "$tmp/blank.html" "$tmp/blank.png"
check_png "$tmp/blank.png" 2>/dev/null && fail "a blank screenshot was not caught"
echo "HTML report: verdict and headline ratios first, 3 verdict rows, ratio/sample/search/RTT charts as inline SVG," \
	"configuration; no page errors; first screens not blank; a broken page and a blank screenshot caught"
