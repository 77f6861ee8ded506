#!/usr/bin/env bash
# tapgen --metrics against the reflector: the port given as 0 is told (stderr
# and the start record), scrapes during and after the run pass `promtool
# check metrics`, OpenMetrics is served when asked for, and the final values
# are tapgen's own report: a trial's totals and RTT buckets are its JSON
# record's, a search's counters add up every trial of its trace, --tcp's bytes
# are the stream record's.  A taken port and an address this host lacks are
# runtime errors (1), a malformed one a usage error (2).  A signal during
# --metrics-linger ends it without changing the exit status.
source "$(dirname "$0")/lib.sh"
command -v promtool >/dev/null || skip_or_fail "promtool is not installed (the prometheus package)"
command -v curl >/dev/null || skip_or_fail "curl is not installed"
/usr/bin/python3 -c 'import jsonschema' 2>/dev/null || skip_or_fail "python3-jsonschema is not installed"

GPID=""
# start_tapgen NAME ARGS...: tapgen in the namespace with --metrics on any free
# port, in the background ($GPID); waits for its start record and sets $URL.
start_tapgen() {
	local name=$1 line="" fd
	shift
	rm -f "$TMP/$name.ready"
	mkfifo "$TMP/$name.ready"
	# Not through nsx: $! must be tapgen itself.
	ip netns exec "$NS" "$TAPGEN" --dst "$PEER_IP" --cpu "$CPU_B" --json "$TMP/$name.json" \
		--metrics 127.0.0.1:0 --metrics-linger 60 --ready-fd 3 "$@" \
		>"$TMP/$name.out" 2>"$TMP/$name.err" 3>"$TMP/$name.ready" &
	GPID=$!
	exec {fd}<"$TMP/$name.ready"
	read -r -t 10 -u "$fd" line || true
	exec {fd}<&-
	[[ $line == '{"type":"start",'* ]] || fail "tapgen $name: no start record: $line $(cat "$TMP/$name.err")"
	printf '%s\n' "$line" >"$TMP/$name.start"
	local at
	at=$(jq -r .metrics "$TMP/$name.start")
	[[ $at =~ ^127\.0\.0\.1:[0-9]+$ && ${at#*:} != 0 ]] ||
		fail "tapgen $name: start record says metrics at '$at'"
	grep -qxF "tapgen: metrics at http://$at/metrics" "$TMP/$name.err" ||
		fail "tapgen $name: stderr does not say where the metrics are: $(cat "$TMP/$name.err")"
	URL=http://$at/metrics
}

# scrape FILE [CURL_ARGS...]: GET $URL into FILE; the content type goes to FILE.type.
scrape() {
	local f=$1
	shift
	nsx curl -sS --max-time 5 -o "$f" -w '%{http_code} %{content_type}' "$@" "$URL" >"$f.type" ||
		fail "curl $URL failed"
	[[ $(cut -d' ' -f1 "$f.type") == 200 ]] || fail "$URL: $(cat "$f.type")"
}

# promtool_ok FILE: the text format passes promtool's parser and linter, saying nothing.
promtool_ok() {
	local out rc=0
	out=$(promtool check metrics <"$1" 2>&1) || rc=$?
	[[ $rc == 0 && -z $out ]] || fail "promtool check metrics ($rc) on $1: $out"$'\n'"$(cat "$1")"
}

# sample FILE NAME: the value of the sample named exactly NAME (with its labels).
sample() {
	awk -v n="$2" '$1 == n { print $2; found = 1; exit } END { exit !found }' "$1" ||
		fail "no sample $2 in $1"
}

# wait_finished: scrape until tapgen_finished is 1 (its reports are then written).
wait_finished() {
	for _ in $(seq 300); do
		scrape "$TMP/final.prom"
		[[ $(sample "$TMP/final.prom" tapgen_finished) == 1 ]] && return 0
		kill -0 "$GPID" 2>/dev/null || fail "tapgen exited before its linger"
		sleep 0.1
	done
	fail "tapgen_finished is still 0 after 30 s"
}

# stop_tapgen: SIGTERM during the linger: the run's status (0) stands.
stop_tapgen() {
	local rc=0
	kill -TERM "$GPID"
	wait "$GPID" || rc=$?
	GPID=""
	[[ $rc == 0 ]] || fail "tapgen ended its linger with status $rc: $(cat "$TMP"/*.err)"
}

start_reflector -m tun -c "$CPU_A"

# One trial: scraped while it runs, then its final values against its record.
start_tapgen trial --rate 20000 --duration 2
scrape "$TMP/during.prom"
grep -q '^text/plain; version=0.0.4' <(cut -d' ' -f2- "$TMP/during.prom.type") ||
	fail "text format's content type: $(cat "$TMP/during.prom.type")"
promtool_ok "$TMP/during.prom"
[[ $(sample "$TMP/during.prom" tapgen_finished) == 0 ]] || fail "finished during the trial"
scrape "$TMP/during.om" -H 'Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5'
grep -q '^application/openmetrics-text; version=1.0.0' <(cut -d' ' -f2- "$TMP/during.om.type") ||
	fail "OpenMetrics' content type: $(cat "$TMP/during.om.type")"
[[ $(tail -1 "$TMP/during.om") == "# EOF" ]] || fail "OpenMetrics without # EOF: $(tail -3 "$TMP/during.om")"
grep -qx '# TYPE tapgen_datagrams_sent counter' "$TMP/during.om" || fail "OpenMetrics family names: $(head "$TMP/during.om")"
wait_finished
promtool_ok "$TMP/final.prom"
# Another tapgen on the port this one holds: refused before any traffic, naming the port.
port=${URL##*:}
port=${port%%/*}
rc=0
nsx "$TAPGEN" --dst "$PEER_IP" --duration 0.1 --metrics "127.0.0.1:$port" >"$TMP/taken.out" 2>"$TMP/taken.err" || rc=$?
[[ $rc == 1 ]] || fail "a taken --metrics port: exit $rc, not 1: $(cat "$TMP/taken.err")"
grep -q "127.0.0.1:$port.*Address already in use" "$TMP/taken.err" || fail "taken port: $(cat "$TMP/taken.err")"
[[ ! -s $TMP/taken.out ]] || fail "a trial ran despite the taken port: $(cat "$TMP/taken.out")"
stop_tapgen
jq -e '.type == "tapgen" and .sent > 0 and .reflected > 0' "$TMP/trial.json" >/dev/null ||
	fail "trial record: $(cat "$TMP/trial.json")"
/usr/bin/python3 - "$TMP/final.prom" "$TMP/trial.json" "$PEER_IP" <<'EOF' || fail "metrics and the trial record disagree"
import json, sys

samples = {}
for line in open(sys.argv[1]):
    if line.strip() and not line.startswith("#"):
        name, value = line.rsplit(" ", 1)
        samples[name] = float(value)
rec = json.load(open(sys.argv[2]))
bad = []
def same(metric, want):
    got = samples.get(metric)
    if got != want:
        bad.append(f"{metric} = {got}, the report says {want}")
for field, fam in [("sent", "datagrams_sent"), ("send_errors", "send_errors"),
                   ("received", "datagrams_received"), ("reflected", "datagrams_reflected"),
                   ("lost", "datagrams_lost"), ("duplicates", "datagrams_duplicate"),
                   ("reordered", "datagrams_reordered"), ("foreign", "datagrams_foreign"),
                   ("late", "datagrams_late"), ("corrupt", "datagrams_corrupt")]:
    same(f'tapgen_{fam}_total{{proto="udp"}}', rec[field])
same('tapgen_rtt_seconds_count{proto="udp"}', rec["received"])
same('tapgen_rtt_seconds_bucket{proto="udp",le="+Inf"}', rec["received"])
same("tapgen_trials_total", 1)
same("tapgen_trial", 1)
same('tapgen_target_datagrams_per_second{proto="udp"}', rec["rate_target"])
same(f'tapgen_info{{version="{rec["version"]}",proto="udp",dst="{sys.argv[3]}",search="false"}}', 1)
# A bucket holds the rtt_hist_us bins that end at or below its bound: exactly
# up to 20 us (every edge there is a bound of tapgen's histogram's buckets),
# above it give or take the replies within 0.05 % of the bound, which are in
# the bin just below or just above it.
buckets = {n: v for n, v in samples.items() if n.startswith("tapgen_rtt_seconds_bucket")}
if len(buckets) != 20:
    bad.append(f"{len(buckets)} buckets, not 19 + Inf")
for name, v in buckets.items():
    le = name.split('le="')[1].rstrip('"}')
    if le != "+Inf":
        bound_us = round(float(le) * 1e6)
        want = sum(n for lo, hi, n in rec["rtt_hist_us"] if hi <= bound_us)
        left = sum(n for lo, hi, n in rec["rtt_hist_us"] if hi == bound_us)
        right = sum(n for lo, hi, n in rec["rtt_hist_us"] if lo == bound_us)
        ok = v == want if bound_us <= 20 else want - left <= v <= want + right
        if not ok:
            bad.append(f"{name} = {v}, rtt_hist_us has {want} below {bound_us} us "
                       f"({left} in the bin below, {right} in the bin above)")
mean_us = samples['tapgen_rtt_seconds_sum{proto="udp"}'] / rec["received"] * 1e6
if not rec["rtt_us"]["min"] - 1 <= mean_us <= rec["rtt_us"]["max"] + 1:
    bad.append(f"mean RTT {mean_us} us outside min..max {rec['rtt_us']}")
print("\n".join(bad) or f"trial: {rec['sent']} sent, {rec['reflected']} reflected: the metrics agree")
sys.exit(1 if bad else 0)
EOF

# ICMP echo: the same families, labelled icmp.
start_tapgen icmp --icmp --rate 5000 --duration 0.5
wait_finished
promtool_ok "$TMP/final.prom"
stop_tapgen
for field in sent:datagrams_sent received:datagrams_received reflected:datagrams_reflected; do
	got=$(sample "$TMP/final.prom" "tapgen_${field#*:}_total{proto=\"icmp\"}")
	want=$(jq ".${field%%:*}" "$TMP/icmp.json")
	[[ $got == "$want" && $want -gt 0 ]] || fail "icmp ${field%%:*}: $got in the metrics, $want in the record"
done
echo "icmp: $(jq -r '"sent \(.sent), reflected \(.reflected)"' "$TMP/icmp.json"): the metrics agree"

# A search: the counters add up every trial of its trace.
start_tapgen search --search binary --steps 2 --repeats 1 --duration 0.2 --drain 0.1
wait_finished
promtool_ok "$TMP/final.prom"
stop_tapgen
trials=$(jq '.trace | length' "$TMP/search.json")
[[ $(sample "$TMP/final.prom" tapgen_trials_total) == "$trials" && $(sample "$TMP/final.prom" tapgen_trial) == "$trials" ]] ||
	fail "search of $trials trials: $(grep '^tapgen_trial' "$TMP/final.prom")"
sent=$(sample "$TMP/final.prom" 'tapgen_datagrams_sent_total{proto="udp"}')
reflected=$(sample "$TMP/final.prom" 'tapgen_datagrams_reflected_total{proto="udp"}')
lost=$(sample "$TMP/final.prom" 'tapgen_datagrams_lost_total{proto="udp"}')
((sent > 0 && lost == sent - reflected)) || fail "search: sent $sent, reflected $reflected, lost $lost"
grep -q '^tapgen_info{.*search="true"} 1$' "$TMP/final.prom" || fail "search: $(grep ^tapgen_info "$TMP/final.prom")"
echo "search: $trials trials, sent $sent, reflected $reflected, lost $lost"

# --tcp: the streams' bytes.
start_tapgen tcp --tcp --flows 2 --bytes 1048576 --duration 10
wait_finished
promtool_ok "$TMP/final.prom"
stop_tapgen
for pair in sent:bytes_sent verified:bytes_verified; do
	got=$(sample "$TMP/final.prom" "tapgen_tcp_${pair%%:*}_bytes_total{proto=\"tcp\"}")
	want=$(jq ".${pair#*:}" "$TMP/tcp.json")
	[[ $got == "$want" ]] || fail "tcp ${pair%%:*}: $got in the metrics, $want in the record"
done
grep -q '^tapgen_datagrams' "$TMP/final.prom" && fail "--tcp exports datagram families"
echo "tcp: $(jq -r '"sent \(.bytes_sent) B, verified \(.bytes_verified) B"' "$TMP/tcp.json"): the metrics agree"
stop_reflector
# The start records, with their "metrics", hold to the schema.
SRC=$(cd "$(dirname "$0")/../.." && pwd)
/usr/bin/python3 "$SRC/tests/tools/validate.py" "$SRC/docs/schemas" tapgen "$TMP"/{trial,icmp,search,tcp}.start \
	"$TMP"/{trial,icmp,search,tcp}.json || fail "tapgen records with --metrics"

# Addresses: malformed is bad usage, one this host (namespace) lacks a runtime error.
for bad in 99999 abc ::1:9100 1.2.3:80 ""; do
	rc=0
	nsx "$TAPGEN" --dst "$PEER_IP" --duration 0.1 --metrics "$bad" >/dev/null 2>"$TMP/bad.err" || rc=$?
	[[ $rc == 2 ]] || fail "--metrics '$bad': exit $rc, not 2: $(cat "$TMP/bad.err")"
	grep -q "^tapgen: bad --metrics" "$TMP/bad.err" || fail "--metrics '$bad': $(cat "$TMP/bad.err")"
done
rc=0
nsx "$TAPGEN" --dst "$PEER_IP" --duration 0.1 --metrics 198.51.100.7:0 >/dev/null 2>"$TMP/absent.err" || rc=$?
[[ $rc == 1 ]] || fail "--metrics on an address not here: exit $rc, not 1: $(cat "$TMP/absent.err")"
grep -q "198.51.100.7:0: cannot listen there" "$TMP/absent.err" ||
	fail "--metrics on an address not here: $(cat "$TMP/absent.err")"
rc=0
nsx "$TAPGEN" --dst "$PEER_IP" --duration 0.1 --metrics-linger 1 >/dev/null 2>"$TMP/linger.err" || rc=$?
[[ $rc == 2 ]] || fail "--metrics-linger without --metrics: exit $rc: $(cat "$TMP/linger.err")"
echo "--metrics: taken port, absent and malformed addresses refused"
