#!/usr/bin/env bash
# Exact instructions per frame for every reflect case, from callgrind: the
# reflect loop minus the same loop's frame copy, divided by the iterations.
# Writes JSON lines {kind:"icount", name, value, unit} to stdout.
# usage: bench/micro/icount.sh BUILD_DIR [ITERATIONS]
set -euo pipefail
build=${1:?build dir}
n=${2:-1000}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/trf-icount.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$tmp/cg" \
	"$build/bench/trf_icount" "$n" >"$tmp/names" 2>"$tmp/valgrind.log" ||
	{ cat "$tmp/valgrind.log" >&2; exit 1; }
# Dumps come in pairs (reflect loop, copy loop), numbered in order.
i=0
while read -r name; do
	i=$((i + 1)); full=$(grep -m1 '^summary:' "$tmp/cg.$i" | awk '{print $2}')
	i=$((i + 1)); copy=$(grep -m1 '^summary:' "$tmp/cg.$i" | awk '{print $2}')
	awk -v name="$name" -v f="$full" -v c="$copy" -v n="$n" \
		'BEGIN {printf "{\"kind\":\"icount\",\"name\":\"reflect/%s\",\"value\":%.2f,\"unit\":\"instructions/frame\",\"better\":\"lower\"}\n", name, (f - c) / n}'
done <"$tmp/names"
