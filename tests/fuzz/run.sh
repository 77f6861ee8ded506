#!/usr/bin/env bash
# Run every libFuzzer target for a bounded time on a scratch copy of the
# committed seed corpus; fail on any finding.  Prints executions per target.
# usage: tests/fuzz/run.sh BUILD_FUZZ_DIR SECONDS [PARALLEL]
#   e.g. tests/fuzz/run.sh build-fuzz 60      (CI)
#        tests/fuzz/run.sh build-fuzz 600 2   (a longer run)
set -euo pipefail
build=${1:?build dir}
seconds=${2:?seconds per target}
parallel=${3:-1}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/trf-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

run_one() {
	local target=$1 link=${1##*_} dir=$work/$1
	mkdir -p "$dir/corpus" "$dir/artifacts"
	if [[ $target == iperf2_* ]]; then
		cp "$here/corpus/iperf2_$link"/* "$dir/corpus/"
	elif [[ $target == *_vnet_* ]]; then
		# Every plain seed behind a plain header, and the offload seeds.
		for s in "$here/corpus/$link"/*; do
			{ head -c 10 /dev/zero; cat "$s"; } >"$dir/corpus/plain-$(basename "$s")"
		done
		cp "$here/corpus/${link}_vnet"/* "$dir/corpus/"
	else
		cp "$here/corpus/$link"/* "$dir/corpus/"
	fi
	local rc=0
	"$build/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -max_len=16384 -print_final_stats=1 \
		-artifact_prefix="$dir/artifacts/" "$dir/corpus" >"$dir/log" 2>&1 || rc=$?
	local execs
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log")
	if [[ $rc != 0 ]] || compgen -G "$dir/artifacts/*" >/dev/null; then
		echo "fuzz_$target: FINDING (exit $rc) after ${execs:-?} executions"
		grep -E "ERROR|SUMMARY" "$dir/log" | head -5
		for a in "$dir"/artifacts/*; do echo "--- $(basename "$a")"; xxd "$a" | head -8; done
		return 1
	fi
	echo "fuzz_$target: ${execs} executions in ${seconds} s, 0 findings"
}

targets=(respond_tap respond_tun macswap_tap sockperf_tap sockperf_tun
	respond_vnet_tap respond_vnet_tun macswap_vnet_tap sockperf_vnet_tun iperf2_tap iperf2_tun)
fail=0
for ((i = 0; i < ${#targets[@]}; i += parallel)); do
	pids=()
	for t in "${targets[@]:i:parallel}"; do
		run_one "$t" >"$work/$t.result" 2>&1 &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || fail=1; done
	for t in "${targets[@]:i:parallel}"; do cat "$work/$t.result"; done
done
exit $fail
