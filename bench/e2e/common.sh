# shellcheck shell=bash
# Shared by the end-to-end benchmark scripts: a private network namespace for
# the device, the reflector started in it, and cleanup on every exit path.
# Before sourcing set PROG (for messages) and BUILD; after bench_setup:
# NS, TMP, CPU_R (reflector), CPU_G (generator), TAPREFLECT, TAPGEN.
# With TRF_BIN_DIR set (the installed tapreflect-bench), the tools come from
# there and results go to the current directory; else from BUILD, and results
# under BUILD: never into the source tree.

# results_dir: where results go unless the user says otherwise.
results_dir() { if [[ -n ${TRF_BIN_DIR:-} ]]; then echo .; else echo "$BUILD"; fi; }

bench_setup() {
	[[ $(id -u) == 0 ]] || { echo "$PROG: run as root (network namespaces, TUN/TAP)" >&2; exit 1; }
	if [[ -n ${TRF_BIN_DIR:-} ]]; then # installed: tapreflect-bench sets it
		TAPREFLECT=$TRF_BIN_DIR/tapreflect TAPGEN=$TRF_BIN_DIR/tapgen
	else
		TAPREFLECT=$(realpath "$BUILD/tools/tapreflect")
		TAPGEN=$(realpath "$BUILD/tools/tapgen")
	fi
	[[ -x $TAPREFLECT && -x $TAPGEN ]] || { echo "$PROG: build first (cmake --build $BUILD)" >&2; exit 1; }
	NS="trf-bench-$$"
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/trf-bench.XXXXXX")
	RPID=""
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
	ip netns add "$NS"
	ip netns exec "$NS" ip link set lo up
	local cpus
	read -r -a cpus <<<"$(taskset -pc $$ | sed 's/.*: //' | tr ',' ' ' |
		awk '{for(i=1;i<=NF;i++){n=split($i,r,"-"); if(n==2){for(c=r[1];c<=r[2];c++) printf "%d ",c} else printf "%d ",$i}}')"
	CPU_R=${cpus[0]}
	CPU_G=${cpus[1]:-${cpus[0]}}
	if [[ $CPU_R == "$CPU_G" ]]; then
		echo "$PROG: warning: one CPU only: tapgen and the reflector share CPU $CPU_R and compete for it" >&2
	fi
}

bench_cleanup() {
	[[ -n $RPID ]] && kill -TERM "$RPID" 2>/dev/null && wait "$RPID" 2>/dev/null
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$TMP"
}

# start_reflector ARGS...: tapreflect with a host address and a JSON summary in
# $TMP/r.json (with interval records every $RSTATS seconds if set); returns
# once it is ready and ARP/first-packet paths are warm.
# Not to be called in a subshell: cleanup must know RPID.
start_reflector() {
	rm -f "$TMP"/r.* # a stale ready line would race the new reflector
	ip netns exec "$NS" "$TAPREFLECT" "$@" --addr 198.18.0.1/24 --stats "${RSTATS:-0}" --json "$TMP/r.json" \
		>"$TMP/r.out" 2>"$TMP/r.err" &
	RPID=$!
	for _ in $(seq 200); do grep -q "reflecting on" "$TMP/r.err" 2>/dev/null && break; sleep 0.05; done
	grep -q "reflecting on" "$TMP/r.err" || { cat "$TMP/r.err" >&2; exit 1; }
	ip netns exec "$NS" ping -c 1 -W 2 198.18.0.2 >/dev/null
}

stop_reflector() {
	kill -TERM "$RPID"
	wait "$RPID"
	RPID=""
}

# engine_args NAME[+MOD...]: the tapreflect options for an engine name, with
# modifiers: +cUSEC (--coalesce USEC), +busy (--poll busy), +hash and +kernel
# (--steering hash or kernel), +bN (--buffers N), +perqueue (--workers
# per-queue).
engine_args() {
	local name=${1%%+*} mods args mod
	mods=${1#"$name"}
	case $name in
	sync) args="--io sync" ;;
	uring) args="--io uring" ;;
	multishot) args="--io uring --read multishot" ;;
	fixed) args="--io uring --read fixed" ;;
	fixed:[0-9]*) args="--io uring --read fixed --fixed-reads ${name#fixed:}" ;;
	*) echo "$PROG: unknown engine $1" >&2; exit 2 ;;
	esac
	while [[ -n $mods ]]; do
		mods=${mods#+}
		mod=${mods%%+*}
		mods=${mods#"$mod"}
		case $mod in
		c[0-9]*) args+=" --coalesce ${mod#c}" ;;
		busy) args+=" --poll busy" ;;
		hash | kernel) args+=" --steering $mod" ;;
		b[0-9]*) args+=" --buffers ${mod#b}" ;;
		perqueue) args+=" --workers per-queue" ;;
		*) echo "$PROG: unknown engine modifier +$mod in $1 (+cUSEC, +busy, +hash, +kernel, +bN, +perqueue)" >&2; exit 2 ;;
		esac
	done
	echo "$args"
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
