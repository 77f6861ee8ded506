#!/usr/bin/env bash
# Debian's iperf 2 TCP client through the default mode (respond), no server:
# the SYN comes back as the peer's SYN, the connection opens to itself
# (simultaneous open), and whatever the client writes it reads back.  So
# what reads as well as writes works:
# - --full-duplex over IPv4 and IPv6, and -P 2 --full-duplex: every stream
#   carries data both ways, and reads back exactly the bytes it wrote (the
#   reflected FIN ends its read);
# - --bounceback, IPv4 and IPv6: as many round trips as asked (two bursts of
#   10), with a positive RTT; --bounceback-congest beside it: its full-duplex
#   stream carries data both ways;
# - --trip-times --full-duplex: the client reads its own timestamps back and
#   reports a one-way latency;
# and no run prints an error.  The reflector's accounting is exact, offloads
# are as asked (superpackets with, one frame per segment without), it wrote
# back at least every byte the clients read back, and all it dropped are the
# host's own control frames (NDP, MLD; ARP on TAP), which --capture-drops
# shows frame by frame.
# Not tried here, because they cannot work against a reflector: plain
# `iperf -c` (also -P N, --trip-times without --full-duplex) stalls: the client
# never reads, so its own receive buffer fills and the window it advertises
# to itself closes; -r and -d wait for a server that connects back, -R for
# one that sends (docs/benchmarking.md, "Which generator, with which mode").
# Consistency only: no speed thresholds.
# usage: iperf2_tcp.sh tap|tun on|off
TRF_TEST_DEADLINE=${TRF_TEST_DEADLINE:-60}
source "$(dirname "$0")/lib.sh"
mode=$1 offload=$2
command -v iperf >/dev/null || skip_or_fail "no iperf (Debian package iperf)"
command -v tcpdump >/dev/null || skip_or_fail "no tcpdump (Debian package tcpdump)"
mkdir "$TMP/cap"
start_reflector -m "$mode" -c "$CPU_A" --offload "$offload" --addr 2001:db8::1/64 \
	--capture-drops "$TMP/cap/drops.pcap"
if [[ $offload == on ]]; then
	grep -q "offload csum,tso4,tso6" "$TMP/reflector.err" || fail "offloads not granted: $(cat "$TMP/reflector.err")"
else
	grep -q "offload off" "$TMP/reflector.err" || fail "offload not off: $(cat "$TMP/reflector.err")"
fi

SENT=0 # bytes that crossed the reflector, by the clients' reports: it wrote back at least as many

# run_iperf NAME ARGS...: iperf ARGS in the namespace, its output in $TMP/NAME.out;
# fails on a nonzero exit, on one that takes too long, and on any error it prints
# (iperf exits 0 after "written fatal failed" or "expected reverse connect did not occur").
run_iperf() {
	local name=$1 rc=0
	shift
	nsx timeout 20 iperf "$@" >"$TMP/$name.out" 2>&1 || rc=$?
	((rc == 0)) || fail "iperf $* exited with $rc: $(cat "$TMP/$name.out")"
	! grep -Eiq "fatal|fail|error|warn" "$TMP/$name.out" || fail "iperf $*: $(cat "$TMP/$name.out")"
}

# check_duplex NAME STREAMS [ONE_WAY [PARTIAL]]: in NAME's CSV report (-y C:
# time, local address and port, remote address and port, id, interval, bytes,
# bits/s), the total of each stream that writes (remote port 5001) and of each
# that reads (local port 5001): STREAMS of them carry data both ways, and read
# back exactly the bytes they wrote (PARTIAL: no more than they wrote, and
# some: a --bounceback-congest stream stops reading at its end of test, not at
# the reflected FIN); ONE_WAY (default 0) of them only write (a bounceback
# stream, which counts its reads in its writes).
check_duplex() {
	local name=$1 streams=$2 one_way=${3:-0} partial=${4:-} out
	out=$(awk -F, -v streams="$streams" -v one_way="$one_way" -v partial="$partial" '
		NF != 9 || $6 <= 0 { next } # a [SUM] line has id -1
		$7 ~ /^0[.]0-/ { # a total: the last line from 0.0 of its stream and direction
			if ($5 == 5001) sent[$6] = $8 + 0
			else if ($3 == 5001) recv[$6] = $8 + 0
			else { print "neither direction: " $0; bad = 1 }
			id[$6] = 1; bps[$6 "," ($5 == 5001)] = $9
		}
		END {
			for (i in id) {
				if (i in recv) {
					duplex++
					if (!(sent[i] > 0 && recv[i] > 0) || (partial ? recv[i] > sent[i] : recv[i] != sent[i])) {
						print "stream " i ": sent " sent[i] + 0 ", read back " recv[i]; bad = 1
					}
					printf "  stream %s: %.0f B sent, %.0f read back; %.2f Gbit/s sent, %.2f read back\n", i, sent[i], recv[i], bps[i ",1"] / 1e9, bps[i ",0"] / 1e9
					total += recv[i] # what surely crossed the reflector
				} else if (sent[i] > 0) {
					one++
					total += sent[i] / 2 # a round trip: 100 B written and the same 100 B read
				} else { print "stream " i ": no data"; bad = 1 }
			}
			if (duplex != streams || one != one_way) { print duplex + 0 " duplex and " one + 0 " one-way stream(s), expected " streams " and " one_way; bad = 1 }
			printf "total %.0f\n", total
			exit bad
		}' "$TMP/$name.out") || fail "$name: $out
$(cat "$TMP/$name.out")"
	grep -v '^total ' <<<"$out"
	SENT=$((SENT + $(sed -n 's/^total //p' <<<"$out")))
}

# check_bounceback NAME COUNT: NAME's -e report ends in a total of COUNT round
# trips ("[  1] 0.0000-2.0002 sec ... 20=0.041/0.012/0.111/0.027 ms"; beside a
# --bounceback-congest stream its id may be 1 or 2) with a positive RTT;
# COUNT "+" is one burst (10) or more.
check_bounceback() {
	local name=$1 count=$2 line
	line=$({ grep -E '^\[ *[0-9]+\] 0[.]0+-[0-9.]+ sec .* [0-9]+=[0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+ ms' "$TMP/$name.out" || true; } | tail -1)
	[[ -n $line ]] || fail "$name: no bounceback total: $(cat "$TMP/$name.out")"
	awk -v count="$count" '{
		for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+=[0-9.]+\//) { split($i, f, "[=/]") }
		if (count == "+" ? f[1] < 10 : f[1] != count) exit 1
		if (!(f[2] > 0 && f[3] > 0)) exit 1 # avg, min
	}' <<<"$line" || fail "$name: expected ${count/+/10 or more} round trips with a positive RTT: $line"
	echo "  $(sed -E 's/.* ([0-9]+)=([0-9.]+)\/([0-9.]+)\/([0-9.]+)\/([0-9.]+) ms.*/\1 round trips, RTT avg \2 ms, min \3, max \4/' <<<"$line")"
	# 100 B each way per round trip
	SENT=$((SENT + 100 * $(sed -E 's/.* ([0-9]+)=[0-9.]+\/.*/\1/' <<<"$line")))
}

for dst in "$PEER_IP" 2001:db8::2; do
	echo "iperf -c $dst --full-duplex:"
	run_iperf "fd-$dst" -c "$dst" -t 2 --full-duplex -y C
	check_duplex "fd-$dst" 1
	# -t 1.5 ends the test between bursts: bursts at 0 s and 1 s, 10 round trips each.
	echo "iperf -c $dst --bounceback:"
	run_iperf "bb-$dst" -c "$dst" -t 1.5 --bounceback=10 -e
	check_bounceback "bb-$dst" 20
done

echo "iperf -P 2 --full-duplex:"
run_iperf p2 -c "$PEER_IP" -t 2 -P 2 --full-duplex -y C
check_duplex p2 2

# The bounceback stream runs its own bursts to their end: not counted exactly.
echo "iperf --bounceback --bounceback-congest:"
run_iperf congest -c "$PEER_IP" -t 1.5 --bounceback=10 --bounceback-congest -e
check_bounceback congest +
run_iperf congest-csv -c "$PEER_IP" -t 1.5 --bounceback=10 --bounceback-congest -y C
check_duplex congest-csv 1 1 partial

# The read side's "Burst Latency avg/min/max/stdev (cnt/size)": writes timed end to end.
echo "iperf --trip-times --full-duplex:"
run_iperf trip -c "$PEER_IP" -t 2 --trip-times --full-duplex -e
grep -q "Burst Latency" "$TMP/trip.out" || fail "--trip-times: no latency: $(cat "$TMP/trip.out")"
line=$({ grep -E '^\[ \*1\] 0[.]0+-.* ms \([0-9]+/[0-9]+\)' "$TMP/trip.out" || true; } | tail -1)
awk '{ for (i = 1; i < NF; i++) if ($(i + 1) == "ms" && $i ~ /^[0-9.]+\//) { split($i, l, "/"); ok = l[1] > 0 } exit !ok }' \
	<<<"$line" || fail "--trip-times: no positive latency: $(cat "$TMP/trip.out")"
echo "  latency avg/min/max/stdev: $(sed -E 's/.* ([0-9.]+\/[0-9.]+\/[0-9.]+\/[0-9.]+ ms).*/\1/' <<<"$line")"

stop_reflector
# GBs in superpackets, or (off) one frame per segment.
check_segmentation "$offload" "$SENT"
summary ".bytes_written >= $SENT" >/dev/null ||
	fail "the clients read back $SENT B, the reflector wrote $(summary .bytes_written)"
echo "reflector: $(summary '"\(.frames_read) frames read for \(.bytes_read) B, \(.frames_written) written; the clients read back '"$SENT"' B; the device dropped \(.kernel_tx_dropped)"')"

# The only drops: the host's own NDP (router solicitation, DAD) and MLD
# reports, ARP on TAP; each one captured, and tcpdump says what it is.
summary '[.drops | to_entries[] | select(.value > 0) | .key] - ["ndp_ignored", "icmp_not_echo", "arp_ignored"] == []' \
	>/dev/null || fail "drops other than the host's control frames: $(summary .drops)"
summary '.capture.captured == .frames_dropped and .capture.not_captured == 0' >/dev/null ||
	fail "not every drop was captured: $(summary .capture)"
dropped=$(summary .frames_dropped)
if ((dropped > 0)); then
	frames=$(for f in "$TMP"/cap/drops.*.pcap; do tcpdump -r "$f" -nn 2>/dev/null || true; done | { grep -v '^[[:space:]]' || true; })
	[[ $(grep -c . <<<"$frames") == "$dropped" ]] || fail "tcpdump reads not $dropped frame(s): $frames"
	other=$(grep -Ev 'ICMP6, (router solicitation|neighbor solicitation|neighbor advertisement|multicast listener report)|ARP, ' <<<"$frames" || true)
	[[ -z $other ]] || fail "dropped frames that are no control frames of the host: $other"
fi
echo "dropped: $dropped, the host's control frames: $(summary '.drops | with_entries(select(.value > 0))')"
