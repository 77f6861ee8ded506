#!/usr/bin/env bash
# UDP echo over 32 ports and sizes from 0 B to 20 000 B (fragmented above the
# MTU): every datagram comes back byte for byte.
# usage: udp_echo.sh tap|tun multishot|fixed|sync
source "$(dirname "$0")/lib.sh"
mode=$1 engine=$2
# shellcheck disable=SC2046
start_reflector -m "$mode" -c "$CPU_A" $(engine_args "$engine")
nsx "$UDP_ECHO" "$PEER_IP" 7000 32 0 1 18 100 512 1000 1472 1473 3000 8972 9000 20000 ||
	fail "UDP echo"
stop_reflector
summary '.frames_written >= 32 * 12' >/dev/null || fail "too few frames written: $(summary)"
