#!/usr/bin/env bash
# Registered only in a build with -DTRF_FORCE_NOWAIT_FALLBACK=ON, where every
# RWF_NOWAIT read fails as it does where tun lacks FMODE_NOWAIT: the fixed
# strategy must switch the queue fd to O_NONBLOCK, say so in the summary, and
# reflect as usual.
# usage: nowait_fallback.sh tap|tun
source "$(dirname "$0")/lib.sh"
mode=$1
# The ring alone: --poll hybrid would read blocking at this load, and never try RWF_NOWAIT.
start_reflector -m "$mode" -c "$CPU_A" -q 1 --io uring --read fixed --poll wait
out=$(nsx ping -c 5 -i 0.1 -W 2 "$PEER_IP") || fail "ping: $out"
grep -q ' 0% packet loss' <<<"$out" || fail "ping lost packets: $out"
out=$(nsx ping -f -l 32 -c 20000 -W 2 "$PEER_IP") || fail "ping -f: $out"
grep -q ' 0% packet loss' <<<"$out" || fail "ping -f lost packets: $out"
echo "ping -f -l 32 -c 20000: $(grep -o '[0-9]* packets transmitted.*loss' <<<"$out")"
stop_reflector
summary 'all(.per_queue[]; .read == "fixed-nonblock" and (.fallback | test("RWF_NOWAIT")))' >/dev/null ||
	fail "the fallback was not taken, or not said: $(summary '[.per_queue[] | {read, fallback}]')"
grep -q "fixed-nonblock reads, .*; fell back: --read fixed: the kernel refused RWF_NOWAIT" "$TMP/reflector.out" ||
	fail "the summary line does not say the fallback: $(grep summary "$TMP/reflector.out")"
summary '.frames_written >= 20005' >/dev/null || fail "too few frames reflected: $(summary)"
echo "read strategy in the summary: $(summary '.per_queue[0] | "\(.read) (\(.fallback))"')"
