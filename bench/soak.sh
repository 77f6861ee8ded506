#!/usr/bin/env bash
# Soak: each engine reflects tapgen's datagrams at about half its no-drop rate
# for a set time, in a private network namespace.  At the end it checks what
# a long run would show first when something leaks or loses count:
# - resident memory of the reflector, start vs end (after a warm-up that has
#   touched every buffer);
# - its open file descriptors, start vs end;
# - exact accounting, end to end: every datagram tapgen sent is a frame the
#   reflector read or one the device dropped; every frame written is a reply
#   tapgen received or one the UDP layer counted as an error; and the
#   reflector's own read = written + dropped.
# Nothing else crosses the device (IPv6 off; on tap a permanent neighbour),
# so the counts must match exactly.  Run as root.  Exit status 1 if a check
# fails.
set -euo pipefail

usage() {
	cat <<'TXT'
Usage: bench/soak.sh [OPTIONS]

  --build DIR        build directory (default build)
  --duration SECS    soak time per engine (default 600)
  --engines LIST     engines, in order (default "uring sync"; also multishot, fixed)
  --mode tap|tun     device mode (default tap)
  --rate PPS         offered rate (default: half the NDR that a short search finds)
  --flows N          UDP flows (default 16)
  --rss-slack KIB    resident memory may grow this much, start to end (default 1024)
  --out FILE         one JSON line per engine (default BUILD/bench-soak.json)
  -h, --help         this help

Reflector on one CPU, tapgen on the other.  Memory and fds are sampled every
10 s; the figures compared are those after the warm-up and at the end.
TXT
}

BUILD=build DURATION=600 ENGINES="uring sync" MODE=tap RATE="" FLOWS=16 RSS_SLACK=1024
OUT=""
while [[ $# -gt 0 ]]; do
	case $1 in
	--build) BUILD=$2; shift 2 ;;
	--duration) DURATION=$2; shift 2 ;;
	--engines) ENGINES=$2; shift 2 ;;
	--mode) MODE=$2; shift 2 ;;
	--rate) RATE=$2; shift 2 ;;
	--flows) FLOWS=$2; shift 2 ;;
	--rss-slack) RSS_SLACK=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "soak.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
	esac
done
[[ $MODE == tap || $MODE == tun ]] || { echo "soak.sh: --mode tap or tun" >&2; exit 2; }
OUT=${OUT:-$BUILD/bench-soak.json} # under the build directory: never into the source tree
PROG=soak.sh
source "$(dirname "$0")/e2e/common.sh"
bench_setup
PEER=198.18.0.2
nsx() { ip netns exec "$NS" "$@"; }
nsx sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1

# The reflector without common.sh's warm-up ping: only tapgen's frames may cross.
start_soak_reflector() {
	rm -f "$TMP"/r.*
	# shellcheck disable=SC2046
	ip netns exec "$NS" "$TAPREFLECT" -m "$MODE" -c "$CPU_R" $(engine_args "$1") \
		--addr 198.18.0.1/24 --stats 10 --json "$TMP/r.json" >"$TMP/r.out" 2>"$TMP/r.err" &
	RPID=$!
	for _ in $(seq 200); do grep -q "reflecting on" "$TMP/r.err" 2>/dev/null && break; sleep 0.05; done
	grep -q "reflecting on" "$TMP/r.err" || { cat "$TMP/r.err" >&2; exit 1; }
	if [[ $MODE == tap ]]; then
		nsx ip neigh replace "$PEER" lladdr 02:00:00:00:00:02 dev trf0 nud permanent
	fi
}
dev_counter() { nsx cat "/sys/class/net/trf0/statistics/$1"; }
udp_counter() {
	nsx cat /proc/net/snmp | awk -v k="$1" \
		'/^Udp:/ { if (!h) { for (i = 2; i <= NF; i++) if ($i == k) c = i; h = 1 } else print $c }'
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$RPID/status"; }
nfds() { find "/proc/$RPID/fd" -mindepth 1 -maxdepth 1 | wc -l; }
# tapgen_trial RATE SECS JSON: one trial of the soak's traffic.
tapgen_trial() {
	nsx "$TAPGEN" --dst "$PEER" --flows "$FLOWS" --rate "$1" --duration "$2" --drain 1 \
		--cpu "$CPU_G" --json "$3" >/dev/null
}

: >"$OUT.tmp"
failed=0
echo "tapreflect soak: ${DURATION} s per engine ($ENGINES), $MODE, reflector on CPU $CPU_R, tapgen on CPU $CPU_G"
for engine in $ENGINES; do
	rate=$RATE
	if [[ -z $rate ]]; then
		start_soak_reflector "$engine"
		nsx "$TAPGEN" --dst "$PEER" --flows "$FLOWS" --search --steps 6 --repeats 1 --duration 0.5 \
			--cpu "$CPU_G" --json "$TMP/search.json" >/dev/null
		stop_reflector
		ndr=$(jq '.ndr_pps' "$TMP/search.json")
		rate=$(jq -n "[($ndr / 2 | floor), 1000] | max")
		echo "$engine: NDR $ndr pps (short search): soaking at $rate pps"
	fi
	start_soak_reflector "$engine"
	declare -A c0=() c1=()
	for c in tx_packets tx_dropped rx_packets rx_dropped; do c0[$c]=$(dev_counter $c); done
	for c in InDatagrams InErrors NoPorts; do c0[$c]=$(udp_counter $c); done
	# Warm-up: every buffer touched, every lazy allocation made.
	tapgen_trial "$rate" 5 "$TMP/warm.json"
	rss0=$(rss_kib) fds0=$(nfds)
	tapgen_trial "$rate" "$DURATION" "$TMP/soak.json" &
	gen=$!
	rss_max=$rss0 fds_max=$fds0
	while kill -0 "$gen" 2>/dev/null; do
		sleep 10 & wait $! || true
		kill -0 "$RPID" 2>/dev/null || break
		r=$(rss_kib) f=$(nfds)
		((r > rss_max)) && rss_max=$r
		((f > fds_max)) && fds_max=$f
	done
	wait "$gen" || { echo "$engine: tapgen failed" >&2; exit 1; }
	rss1=$(rss_kib) fds1=$(nfds)
	for c in tx_packets tx_dropped rx_packets rx_dropped; do c1[$c]=$(dev_counter $c); done
	for c in InDatagrams InErrors NoPorts; do c1[$c]=$(udp_counter $c); done
	stop_reflector
	d() { echo $((c1[$1] - c0[$1])); }
	sent=$(jq -s '[.[].sent] | add' "$TMP/warm.json" "$TMP/soak.json")
	received=$(jq -s '[.[].received] | add' "$TMP/warm.json" "$TMP/soak.json")
	read_=$(jq -r 'select(.type == "summary") | .frames_read' "$TMP/r.json")
	written=$(jq -r 'select(.type == "summary") | .frames_written' "$TMP/r.json")
	exact=$(jq -r 'select(.type == "summary") | .accounting_exact' "$TMP/r.json")
	checks=()
	[[ $exact == true ]] || checks+=("reflector: read != written + dropped")
	[[ $sent == $((read_ + $(d tx_dropped))) ]] ||
		checks+=("sent $sent != read $read_ + device drops $(d tx_dropped)")
	[[ $(d rx_packets) == "$written" && $(d rx_dropped) == 0 ]] ||
		checks+=("written $written != device received $(d rx_packets) (dropped $(d rx_dropped))")
	[[ $written == $((received + $(d InErrors) + $(d NoPorts))) ]] ||
		checks+=("written $written != received $received + UDP errors $(d InErrors) + no port $(d NoPorts)")
	[[ $fds1 == "$fds0" ]] || checks+=("open fds $fds0 -> $fds1")
	((rss1 - rss0 <= RSS_SLACK)) || checks+=("resident memory $rss0 -> $rss1 KiB (slack $RSS_SLACK)")
	verdict=pass
	if ((${#checks[@]})); then
		verdict=FAIL
		failed=1
	fi
	printf '%s: %s s at %s pps: sent %s, read %s (+ %s dropped by the device), written %s, received %s;' \
		"$engine" "$DURATION" "$rate" "$sent" "$read_" "$(d tx_dropped)" "$written" "$received"
	printf ' RSS %s -> %s KiB (max %s), fds %s -> %s (max %s): %s\n' \
		"$rss0" "$rss1" "$rss_max" "$fds0" "$fds1" "$fds_max" "$verdict"
	for m in "${checks[@]}"; do echo "  $m"; done
	jq -cn --arg engine "$engine" --arg mode "$MODE" --arg verdict "$verdict" \
		--argjson duration "$DURATION" --argjson rate "$rate" --argjson sent "$sent" \
		--argjson read "$read_" --argjson written "$written" --argjson received "$received" \
		--argjson dev_tx_dropped "$(d tx_dropped)" --argjson udp_errors "$(d InErrors)" \
		--argjson rss0 "$rss0" --argjson rss1 "$rss1" --argjson rss_max "$rss_max" \
		--argjson fds0 "$fds0" --argjson fds1 "$fds1" --argjson fds_max "$fds_max" \
		'{type: "soak", engine: $engine, mode: $mode, duration_s: $duration, rate_pps: $rate,
		  sent: $sent, read: $read, device_tx_dropped: $dev_tx_dropped, written: $written,
		  received: $received, udp_errors: $udp_errors, rss_kib: {start: $rss0, end: $rss1, max: $rss_max},
		  fds: {start: $fds0, end: $fds1, max: $fds_max}, verdict: $verdict}' >>"$OUT.tmp"
done
mv "$OUT.tmp" "$OUT"
echo "soak: $([[ $failed == 0 ]] && echo "every check held" || echo "CHECKS FAILED") ($OUT)"
exit "$failed"
