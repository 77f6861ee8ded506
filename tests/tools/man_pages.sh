#!/usr/bin/env bash
# The man pages render without a warning (man --warnings -l), list every
# option each tool accepts (taken from its own --help: for tapreflect-bench,
# every subcommand's), every drop reason (from the summary schema) and the
# sections a user looks for; tapreflect-bench says the project's version.
set -euo pipefail
build=${1:?build directory}
src=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v man >/dev/null || { [[ ${CI:-} == true ]] && fail "man is not installed"; echo "SKIP: no man" >&2; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check_page() { # page tool-command sections...
	local page=$1 cmd=$2 opts missing=""
	shift 2
	[[ -s $page ]] || fail "$page was not made"
	LC_ALL=C.UTF-8 MANWIDTH=100 man --warnings -E UTF-8 -l "$page" >"$tmp/text" 2>"$tmp/warn" ||
		fail "man -l $page failed: $(cat "$tmp/warn")"
	[[ ! -s $tmp/warn ]] || fail "$page renders with warnings: $(cat "$tmp/warn")"
	# hyphens may come out as U+2010 in the rendering: compare on ASCII
	sed -i 's/\xe2\x80\x90/-/g' "$tmp/text"
	opts=$($cmd --help | grep -oE '^ +(-[A-Za-z], )?--[a-z0-9-]+' | grep -oE -- '--[a-z0-9-]+' | sort -u)
	[[ -n $opts ]] || fail "no option found in $cmd --help"
	for o in $opts; do
		grep -qE -- "(^|[ ,])$o( |,|$)" "$tmp/text" || missing+=" $o"
	done
	[[ -z $missing ]] || fail "$page does not list:$missing"
	for s in "$@"; do
		grep -q "^$s" "$tmp/text" || fail "$page has no $s section"
	done
	echo "$(basename "$page"): $(wc -w <<<"$opts") options, sections ok, no warnings"
}

check_page "$build/man/tapreflect.8" "$build/tools/tapreflect" NAME SYNOPSIS DESCRIPTION OPTIONS "REFLECT MODES" \
	"DROP REASONS" "EXIT STATUS" FILES EXAMPLES "SEE ALSO"
for d in $(jq -r '."$defs".drops.required[]' "$src/docs/schemas/tapreflect-summary.schema.json"); do
	grep -qE "^ +$d( |$)" "$tmp/text" || fail "tapreflect.8 does not explain the drop reason $d"
done
for m in respond macswap sockperf iperf2; do
	grep -qE "^ +$m( |$)" "$tmp/text" || fail "tapreflect.8 does not list the reflect mode $m"
done
check_page "$build/man/tapgen.8" "$build/tools/tapgen" NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES "SEE ALSO"
# tapreflect-bench: the options of every subcommand (and of history's actions).
bench_help() {
	local b=$src/bench/tapreflect-bench c
	"$b" --help
	for c in run compare scaling ab streams latency soak micro report history; do "$b" "$c" --help; done
	for c in show list export import; do "$b" history "$c" --help; done
}
check_page "$build/man/tapreflect-bench.1" bench_help NAME SYNOPSIS DESCRIPTION SUBCOMMANDS FILES "EXIT STATUS" \
	EXAMPLES "SEE ALSO"
for c in run compare scaling ab streams latency soak micro report "history show" "history list" "history export" "history import"; do
	grep -q "^   $c" "$tmp/text" || fail "tapreflect-bench.1 has no subsection for $c"
done
v=$("$build/tools/tapreflect" --version | awk '{print $2}')
[[ $("$src/bench/tapreflect-bench" --version) == "tapreflect-bench $v" ]] || fail "tapreflect-bench's VERSION is not the project's ($v)"
[[ $("$build/tools/tapgen" --version) == "tapgen $v" ]] || fail "tapgen's version is not the project's ($v)"
