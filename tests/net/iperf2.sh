#!/usr/bin/env bash
# Debian's iperf 2 client against --reflect iperf2, as against a real server:
# - one stream over IPv4 and one over IPv6: each Server Report counts the
#   datagrams the client says it sent (less the final one, as a real server
#   does), loses none at a rate the reflector keeps up with, has a jitter, and
#   no WARNING is printed;
# - four parallel streams (-P 4), and two clients on two ports at once: one
#   correct report per stream;
# - offered beyond what the reflector keeps up with: the loss iperf reports is
#   exactly what the device dropped before the reflector could read it;
# and the reflector's accounting (read = written + consumed + dropped) is
# exact with every data datagram consumed.
# usage: iperf2.sh tap|tun multishot|fixed|sync
source "$(dirname "$0")/lib.sh"
mode=$1 engine=$2
command -v iperf >/dev/null || skip_or_fail "no iperf (Debian package iperf)"
# shellcheck disable=SC2046
start_reflector -m "$mode" -c "$CPU_A" $(engine_args "$engine") --reflect iperf2 \
	--iperf2-ports 5001-5002 --addr 2001:db8::1/64

# check_reports OUT STREAMS LOSS: every stream of the client output in OUT
# has a server report counting its datagrams (sent - 1) and a jitter, their
# losses add up to LOSS ("any": not checked), and nothing warns.
check_reports() {
	local out=$1 streams=$2 loss=$3
	grep -qi "warning" "$out" && fail "iperf warned: $(cat "$out")"
	awk -v streams="$streams" -v loss="$loss" '
		$1 != "[" { next } # "[  1] ...": a stream; "[SUM]" and headers are not
		{ id = $2; sub(/]/, "", id) }
		/ Sent [0-9]+ datagrams/ { sent[id] = $(NF - 1) }
		/Server Report:/ { want[id] = 1; next }
		/ ms +[0-9]+\/[0-9]+ / && want[id] {
			for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\/[0-9]+$/) { split($i, lt, "/"); jit = $(i - 2) }
			reports++
			# The total leaves out the final datagram; but when the device drops that
			# final datagram, the client sends it again numbered one higher, and the
			# total then reaches the count sent (only possible where frames were dropped).
			if (lt[2] != sent[id] - 1 && !(loss != "0" && loss != "any" && lt[2] == sent[id])) {
				print "stream " id ": total " lt[2] ", sent " sent[id]; bad = 1
			}
			lost += lt[1]
			if (jit !~ /^[0-9.]+$/ || jit + 0 > 1000) { print "stream " id ": jitter " jit; bad = 1 }
			delete want[id]
		}
		END {
			if (reports != streams) { print reports + 0 " server report(s), expected " streams; bad = 1 }
			if (loss != "any" && lost != loss) { print "lost " lost + 0 " in all, the device dropped " loss; bad = 1 }
			exit bad
		}' "$out" || fail "server reports: $(cat "$out")"
	grep -E "ms +[0-9]+/[0-9]+ " "$out" | grep -v SUM | sed 's/^/  /'
}

# Every loss iperf reports is a frame the device dropped before the reflector
# could read it (its queue was full): the counts must agree exactly.
dev_drops() { nsx cat /sys/class/net/trf0/statistics/tx_dropped; }
for dst in "$PEER_IP" 2001:db8::2; do
	d0=$(dev_drops)
	nsx iperf -u -c "$dst" -t 2 -b 100M -l 1400 >"$TMP/one.out" 2>&1 || fail "iperf -c $dst: $(cat "$TMP/one.out")"
	echo "iperf -u -c $dst -t 2 -b 100M -l 1400:"
	check_reports "$TMP/one.out" 1 $(($(dev_drops) - d0))
done

d0=$(dev_drops)
nsx iperf -u -c "$PEER_IP" -t 2 -b 20M -l 1400 -P 4 >"$TMP/p4.out" 2>&1 || fail "iperf -P 4: $(cat "$TMP/p4.out")"
echo "iperf -P 4:"
check_reports "$TMP/p4.out" 4 $(($(dev_drops) - d0))

d0=$(dev_drops)
nsx iperf -u -c "$PEER_IP" -p 5001 -t 2 -b 30M -l 1400 >"$TMP/a.out" 2>&1 &
a=$!
nsx iperf -u -c 2001:db8::2 -p 5002 -t 2 -b 30M -l 1400 >"$TMP/b.out" 2>&1 || fail "iperf -p 5002: $(cat "$TMP/b.out")"
wait "$a" || fail "iperf -p 5001: $(cat "$TMP/a.out")"
echo "two clients, ports 5001 and 5002 at once:"
cat "$TMP/a.out" "$TMP/b.out" >"$TMP/ab.out"
check_reports "$TMP/ab.out" 2 $(($(dev_drops) - d0))

# Flat out from the other CPU: more than the reflector keeps up with, as a rule.
d0=$(dev_drops)
nsx taskset -c "$CPU_B" iperf -u -c "$PEER_IP" -t 2 -b 5000M -l 1400 >"$TMP/max.out" 2>&1 ||
	fail "iperf -b 5000M: $(cat "$TMP/max.out")"
drops=$(($(dev_drops) - d0))
echo "iperf -b 5000M (the device dropped $drops):"
check_reports "$TMP/max.out" 1 "$drops"

stop_reflector
summary '.frames_consumed > 0 and .drops.iperf2_table_full == 0' >/dev/null ||
	fail "nothing consumed: $(summary)"
echo "consumed: $(summary .frames_consumed)"
