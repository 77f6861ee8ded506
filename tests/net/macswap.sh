#!/usr/bin/env bash
# --reflect macswap on TAP: frames of any EtherType come back with only the
# Ethernet addresses swapped.
# usage: macswap.sh multishot|fixed|sync
source "$(dirname "$0")/lib.sh"
# shellcheck disable=SC2046
start_reflector -m tap -c "$CPU_A" --reflect macswap $(engine_args "$1")
nsx /usr/bin/python3 "$(dirname "$0")/l2frames.py" trf0 macswap 02:74:72:66:00:01 || fail "macswap"
stop_reflector
summary '.frames_written >= 8' >/dev/null || fail "frames not written: $(summary)"
