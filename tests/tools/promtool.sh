#!/usr/bin/env bash
# The Prometheus files of docs/prometheus/ (docs/metrics.md): promtool accepts
# the scrape configuration (and the rule file it loads) and the rules, and the
# rules' unit tests pass: each alert fires on the synthetic series it is for
# and stays quiet on the others.  Every tapreflect_ or tapgen_ metric the
# rules name is a family the programs serve (tools/tapreflect/telemetry.c,
# capture.c, tools/tapgen/metrics.c), and docs/metrics.md lists every family
# the programs serve, by the name of its samples.  No network, no privileges.
#
#   promtool.sh SOURCE_DIR
set -euo pipefail
src=${1:?usage: promtool.sh SOURCE_DIR}
fail() { echo "FAIL: $*" >&2; exit 1; }
if ! command -v promtool >/dev/null; then
	[[ ${CI:-} == true ]] && fail "promtool is not installed (the prometheus package; CI=true: it must run)"
	echo "SKIP: promtool is not installed (the prometheus package)" >&2
	exit 77
fi
dir=$src/docs/prometheus
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# run WHAT CMD...: quiet when it passes, the tool's whole output when not.
run() {
	local what=$1
	shift
	"$@" >"$out" 2>&1 || { cat "$out" >&2; fail "$what"; }
	echo "ok: $what"
}
run "promtool check config prometheus.yml" promtool check config "$dir/prometheus.yml"
run "promtool check rules tapreflect.rules.yml" promtool check rules "$dir/tapreflect.rules.yml"
run "promtool test rules tapreflect.rules.test.yml" promtool test rules "$dir/tapreflect.rules.test.yml"

# The families, as the programs declare them: "name", TRF_PROM_TYPE.
sources=("$src/tools/tapreflect/telemetry.c" "$src/tools/tapreflect/capture.c" "$src/tools/tapgen/metrics.c")
mapfile -t families < <(cat "${sources[@]}" | tr -d '\n' |
	grep -oP '"(tapreflect|tapgen)[a-z0-9_]*",\s*TRF_PROM_[A-Z]+' | sed -E 's/",\s*TRF_PROM_/ /; s/^"//' | sort -u)
((${#families[@]} >= 30)) || fail "found only ${#families[@]} families in the sources: has their declaration changed?"
declare -A known=()
missing=""
for f in "${families[@]}"; do
	read -r name type <<<"$f"
	known[$name]=1
	case $type in
	COUNTER) sample=${name}_total ;;
	INFO) sample=${name}_info ;;
	*) sample=$name ;;
	esac
	grep -qF "\`$sample" "$src/docs/metrics.md" || missing+=" $sample"
done
[[ -z $missing ]] || fail "docs/metrics.md does not list:$missing"
echo "ok: docs/metrics.md lists all ${#families[@]} families"

# Every metric the rules read (not the recorded series: those have colons).
unknown=""
for m in $(grep -oP '(?<![:\w])(tapreflect|tapgen)_\w+(?![:\w])' "$dir/tapreflect.rules.yml" | sort -u); do
	base=$(sed -E 's/_(total|info|bucket|sum|count)$//' <<<"$m")
	[[ -n ${known[$base]:-} ]] || unknown+=" $m"
done
[[ -z $unknown ]] || fail "tapreflect.rules.yml reads metrics no program serves:$unknown"
echo "ok: every metric the rules read is served"
