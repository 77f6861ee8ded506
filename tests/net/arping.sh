#!/usr/bin/env bash
# arping the reflector on TAP: it answers with its own MAC; a custom --mac too.
# usage: arping.sh multishot|fixed|sync
source "$(dirname "$0")/lib.sh"
engine=$1
mac=02:00:5e:10:20:30
# shellcheck disable=SC2046
start_reflector -m tap -c "$CPU_A" --mac "$mac" $(engine_args "$engine")
out=$(nsx arping -c 3 -w 5 -I trf0 "$PEER_IP") || fail "arping: $out"
grep -qi "$mac" <<<"$out" || fail "arping reply without $mac: $out"
replies=$(grep -ci "reply from\|bytes from" <<<"$out")
[[ $replies -ge 3 ]] || fail "expected 3 ARP replies, got $replies: $out"
echo "arping: $replies replies from $mac"
# A gratuitous ARP (sender = target) is never answered.
nsx arping -U -c 2 -w 2 -I trf0 "$HOST_IP" >/dev/null 2>&1 || true
stop_reflector
summary '.drops.arp_ignored >= 2' >/dev/null || fail "gratuitous ARP not counted: $(summary .drops)"
