#!/usr/bin/env bash
# Timed micro benchmarks as perf-report samples: the suite runs N times, each
# in a fresh process, so that the samples include what differs between
# processes (code and data layout, address randomization), not only the
# jitter inside one.  Writes JSON lines {kind:"timed", name, value, unit}.
# usage: bench/micro/timed.sh BUILD_DIR [N] > micro.json
set -euo pipefail
build=${1:?build dir}
n=${2:-5}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/trf-micro.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for ((i = 1; i <= n; i++)); do
	"$build/bench/trf_micro" --benchmark_min_time=0.1 --benchmark_format=json \
		--benchmark_out="$tmp/run.json" --benchmark_out_format=json >/dev/null
	jq -c '.benchmarks[] | select(.run_type == "iteration") | {kind: "timed", name: ("micro/" + .run_name),
		value: (.real_time * 100 | round / 100), unit: "ns/frame", better: "lower"}' "$tmp/run.json"
done
