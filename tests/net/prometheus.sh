#!/usr/bin/env bash
# tapreflect and tapgen scraped by a real Prometheus server: the test starts
# both with --metrics in its namespace, and Debian's prometheus on a loopback
# port there with a configuration it writes.  After the run (the reflector
# stopped, both lingering with their final values) Prometheus's HTTP API must
# give the same totals as tapreflect's summary and tapgen's report: frames
# read, written, dropped by reason, bytes, and sent, received, lost,
# duplicates, reordered.  A scrape of each passes `promtool check metrics`.
# While traffic runs, a client that sends half a request and 32 scrapers at
# once hold the endpoint: every scrape is still answered and the accounting
# stays exact.  Then the errors: a port that is taken and an address this host
# lacks end the start (1) before the device is made; a malformed one is bad
# usage (2).
#
#   prometheus.sh MODE     (tap or tun)
source "$(dirname "$0")/lib.sh"
command -v prometheus >/dev/null || skip_or_fail "prometheus is not installed"
command -v promtool >/dev/null || skip_or_fail "promtool is not installed (the prometheus package)"
command -v curl >/dev/null || skip_or_fail "curl is not installed"
MODE=${1:?usage: prometheus.sh tap|tun}

R_PORT=9464
G_PORT=9465
P_PORT=9090
# Prometheus, tapgen and the slow client are this script's children: lib.sh's cleanup ends them.
PROM=""
GPID=""
SLOW=""

# A Prometheus of the test's own: scrapes both every 200 ms, keeps its data in $TMP.
cat >"$TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 200ms
  scrape_timeout: 150ms
scrape_configs:
  - job_name: tapreflect
    static_configs:
      - targets: ["127.0.0.1:$R_PORT"]
  - job_name: tapgen
    static_configs:
      - targets: ["127.0.0.1:$G_PORT"]
EOF
promtool check config "$TMP/prometheus.yml" >/dev/null || fail "promtool check config refused the test's configuration"
ip netns exec "$NS" prometheus --config.file="$TMP/prometheus.yml" \
	--storage.tsdb.path="$TMP/tsdb" --web.listen-address="127.0.0.1:$P_PORT" \
	>"$TMP/prometheus.log" 2>&1 &
PROM=$!
for _ in $(seq 100); do
	nsx curl -sf "http://127.0.0.1:$P_PORT/-/ready" >/dev/null 2>&1 && break
	kill -0 "$PROM" 2>/dev/null || fail "prometheus exited: $(tail -5 "$TMP/prometheus.log")"
	sleep 0.1
done
nsx curl -sf "http://127.0.0.1:$P_PORT/-/ready" >/dev/null || fail "prometheus not ready after 10 s"
# Its scrape manager takes up new targets after a few seconds: wait until it has tried both.
targets() {
	nsx curl -sS --max-time 5 "http://127.0.0.1:$P_PORT/api/v1/targets" |
		jq -c '[.data.activeTargets[] | {job: .labels.job, health, lastError}]'
}
for _ in $(seq 300); do
	[[ $(targets | jq '[.[] | select(.health != "unknown")] | length') == 2 ]] && break
	sleep 0.1
done
[[ $(targets | jq '[.[] | select(.health != "unknown")] | length') == 2 ]] ||
	fail "prometheus has not tried both targets after 30 s: $(targets)"

# query PROMQL: the single value Prometheus gives for an instant query ("" if none).
query() {
	nsx curl -sS --max-time 5 "http://127.0.0.1:$P_PORT/api/v1/query" --data-urlencode "query=$1" |
		jq -r 'if .status == "success" and (.data.result | length) == 1
			then .data.result[0].value[1] else "" end'
}

# promtool_ok URL NAME: a scrape in the text format passes promtool's parser and linter, silently.
promtool_ok() {
	local out rc=0
	nsx curl -sS --max-time 5 -o "$TMP/$2.prom" "$1" || fail "curl $1 failed"
	out=$(promtool check metrics <"$TMP/$2.prom" 2>&1) || rc=$?
	[[ $rc == 0 && -z $out ]] || fail "promtool check metrics ($rc) on $2: $out"
}

start_reflector --mode "$MODE" --dev trfp0 --queues 2 --cpus "$CPU_A,$CPU_B" \
	--metrics "127.0.0.1:$R_PORT" --metrics-linger 60
[[ $(jq -r .metrics "$TMP/reflector.start") == "127.0.0.1:$R_PORT" ]] ||
	fail "the start record does not say where the metrics are: $(cat "$TMP/reflector.start")"
grep -qxF "tapreflect: metrics at http://127.0.0.1:$R_PORT/metrics" "$TMP/reflector.err" ||
	fail "stderr does not say where the metrics are: $(cat "$TMP/reflector.err")"
[[ $MODE == tap ]] && nsx ip neigh replace "$PEER_IP" lladdr 02:74:72:66:00:01 dev trfp0

# A client that sends half a request and stays: the server must go on serving the others.
ip netns exec "$NS" /usr/bin/python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
time.sleep(60)' "$R_PORT" &
SLOW=$!

# Not through nsx: $! must be tapgen itself.
ip netns exec "$NS" "$TAPGEN" --dst "$PEER_IP" --cpu "$CPU_B" --rate 20000 --duration 3 --flows 8 \
	--json "$TMP/tapgen.json" --metrics "127.0.0.1:$G_PORT" --metrics-linger 60 \
	>"$TMP/tapgen.out" 2>"$TMP/tapgen.err" &
GPID=$!

# 32 scrapers at once, twice, while the traffic runs: every one is answered.
sleep 0.5
for round in 1 2; do
	pids=()
	for i in $(seq 32); do
		nsx curl -sf --max-time 10 -o "$TMP/many.$round.$i" "http://127.0.0.1:$R_PORT/metrics" &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || fail "scraper $((i + 1)) of 32 (round $round) was not answered"
	done
	grep -q '^tapreflect_frames_read_total{' "$TMP/many.$round.1" || fail "a scrape without tapreflect_frames_read_total"
done
kill -0 "$SLOW" 2>/dev/null || fail "the slow client was closed within the run"

# tapgen is done once its final values are up (tapgen_finished 1).
for _ in $(seq 200); do
	[[ $(nsx curl -sf "http://127.0.0.1:$G_PORT/metrics" | awk '$1 == "tapgen_finished" { print $2 }') == 1 ]] && break
	kill -0 "$GPID" 2>/dev/null || fail "tapgen exited before its linger: $(cat "$TMP/tapgen.err")"
	sleep 0.1
done
jq -e 'select(.type == "tapgen")' "$TMP/tapgen.json" >/dev/null || fail "tapgen wrote no trial record: $(cat "$TMP/tapgen.err")"
promtool_ok "http://127.0.0.1:$G_PORT/metrics" tapgen
promtool_ok "http://127.0.0.1:$R_PORT/metrics" tapreflect

# The reflector stops (the summary is written before the linger) and stays up with its final values.
kill -TERM "$RPID"
for _ in $(seq 100); do
	summary >/dev/null && break
	sleep 0.1
done
summary >/dev/null || fail "no summary 10 s after SIGTERM: $(cat "$TMP/reflector.err")"
check_accounting
kill -0 "$RPID" 2>/dev/null || fail "tapreflect did not linger with --metrics-linger"
stopped=$(date +%s.%N)

# Prometheus's newest samples of the reflector are from after its stop.
for _ in $(seq 100); do
	t=$(query 'max(timestamp(tapreflect_frames_read_total))')
	[[ -n $t ]] && awk -v t="$t" -v s="$stopped" 'BEGIN { exit !(t > s + 0.3) }' && break
	sleep 0.1
done
[[ -n $t ]] || fail "prometheus has no tapreflect_frames_read_total: $(tail -5 "$TMP/prometheus.log")"
[[ $(query 'up{job="tapreflect"}') == 1 && $(query 'up{job="tapgen"}') == 1 ]] ||
	fail "a target is not up in prometheus: $(targets)"

# same WHAT PROMQL VALUE: Prometheus's value equals the report's.
same() {
	local got
	got=$(query "$2")
	[[ -n $got ]] || fail "$1: prometheus has no value for $2"
	awk -v a="$got" -v b="$3" 'BEGIN { exit !(a + 0 == b + 0) }' ||
		fail "$1: prometheus says $got ($2), the report $3"
	echo "$1: $got"
}
same "frames read" 'sum(tapreflect_frames_read_total)' "$(summary .frames_read)"
same "frames written" 'sum(tapreflect_frames_written_total)' "$(summary .frames_written)"
same "frames consumed" 'sum(tapreflect_frames_consumed_total)' "$(summary .frames_consumed)"
same "frames dropped" 'sum(tapreflect_frames_dropped_total)' "$(summary .frames_dropped)"
same "bytes read" 'sum(tapreflect_read_bytes_total)' "$(summary .bytes_read)"
same "bytes written" 'sum(tapreflect_written_bytes_total)' "$(summary .bytes_written)"
same "kernel drops" 'sum(tapreflect_kernel_dropped_frames_total)' "$(summary .kernel_tx_dropped)"
for q in 0 1; do
	same "queue $q read" "tapreflect_frames_read_total{queue=\"$q\"}" "$(summary ".per_queue[$q].frames_read")"
	same "queue $q written" "tapreflect_frames_written_total{queue=\"$q\"}" "$(summary ".per_queue[$q].frames_written")"
done
for reason in $(summary '.drops | keys[]' | jq -r .); do
	same "dropped $reason" "sum(tapreflect_frames_dropped_total{reason=\"$reason\"})" "$(summary ".drops.$reason")"
done
same "wakeups' frames" 'sum(tapreflect_frames_per_wakeup_sum)' "$(summary .frames_read)"
# The syscall cost measured at the start, in seconds: the records' syscall_ns.
same "syscall ns" 'round(tapreflect_syscall_seconds * 1e9)' "$(summary .syscall_ns)"
(($(summary .frames_read) > 0)) || fail "the reflector read nothing"

trial() { jq -r "select(.type == \"tapgen\") | $1" "$TMP/tapgen.json"; }
same "tapgen sent" 'sum(tapgen_datagrams_sent_total)' "$(trial .sent)"
same "tapgen received" 'sum(tapgen_datagrams_received_total)' "$(trial .received)"
same "tapgen lost" 'sum(tapgen_datagrams_lost_total)' "$(trial .lost)"
same "tapgen duplicates" 'sum(tapgen_datagrams_duplicate_total)' "$(trial .duplicates)"
same "tapgen reordered" 'sum(tapgen_datagrams_reordered_total)' "$(trial .reordered)"
same "tapgen RTTs" 'sum(tapgen_rtt_seconds_count)' "$(trial .received)"

# The linger ends at the next signal, with the run's status.
rc=0
kill -TERM "$RPID"
wait "$RPID" || rc=$?
RPID=""
[[ $rc == 0 ]] || fail "tapreflect exited with $rc after its linger"
kill -TERM "$GPID"
wait "$GPID" || fail "tapgen exited with an error after its linger"
GPID=""

# A port that is taken, an address not here: told, status 1, and no device made.
# (Another port than the one scraped: its connections may still be in TIME_WAIT.)
TAKEN=9470
ip netns exec "$NS" /usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(30)' "$TAKEN" &
holder=$!
for _ in $(seq 50); do nsx ss -ltn | grep -q ":$TAKEN " && break; sleep 0.1; done
nsx ss -ltn | grep -q ":$TAKEN " || fail "the port holder did not start"
for spec in "127.0.0.1:$TAKEN" "198.18.99.7:$R_PORT"; do
	rc=0
	nsx "$TAPREFLECT" --mode "$MODE" --dev trfp1 --queues 1 --stats 0 --duration 1 \
		--metrics "$spec" >"$TMP/err.out" 2>"$TMP/err.err" || rc=$?
	[[ $rc == 1 ]] || fail "--metrics $spec: exit $rc, not 1: $(cat "$TMP/err.err")"
	grep -q -- "--metrics $spec: cannot listen there" "$TMP/err.err" ||
		fail "--metrics $spec: no clear error: $(cat "$TMP/err.err")"
	! nsx ip link show trfp1 >/dev/null 2>&1 || fail "--metrics $spec: the device was made before the error"
	echo "--metrics $spec: $(cat "$TMP/err.err")"
done
kill "$holder"
wait "$holder" 2>/dev/null || true
for spec in 99999 "host:1" "::1:9464" "1.2.3:80" "" "--metrics-linger 5"; do
	rc=0
	nsx "$TAPREFLECT" --mode "$MODE" --dev trfp1 --queues 1 --metrics $spec >"$TMP/err.out" 2>"$TMP/err.err" || rc=$?
	[[ $rc == 2 ]] || fail "--metrics '$spec': exit $rc, not 2: $(cat "$TMP/err.err")"
done
rc=0
nsx "$TAPREFLECT" --mode "$MODE" --dev trfp1 --metrics-linger 5 >"$TMP/err.out" 2>"$TMP/err.err" || rc=$?
[[ $rc == 2 ]] || fail "--metrics-linger without --metrics: exit $rc, not 2"
echo "prometheus ($MODE): ok"
