# shellcheck shell=bash
# Shared set-up for the network tests: a private network namespace holding the
# device, the reflector started inside it, and cleanup on every exit path.
#
# Environment: TRF_BUILD_DIR (set by CTest); TRF_TEST_OFFLOAD=on|off runs every
# reflector started here with that --offload (a test's own options come after
# and win); TRF_TEST_COALESCE=USEC runs every io_uring reflector with that
# --coalesce.  Under CI=true a machine that cannot run these tests is a failure,
# not a skip.
set -euo pipefail

BUILD=${TRF_BUILD_DIR:?TRF_BUILD_DIR must point at the build directory}
TAPREFLECT=$BUILD/tools/tapreflect
TAPGEN=$BUILD/tools/tapgen
UDP_ECHO=$BUILD/tests/net/udp_echo
HOST_IP=198.18.0.1
PEER_IP=198.18.0.2
NS=""
RPID=""
READY_FD="" # the read end of the reflector's ready FIFO, between its start and wait_ready
TMP=$(mktemp -d "${TMPDIR:-/tmp}/trf-net.XXXXXX")

skip_or_fail() {
	if [[ ${CI:-} == true ]]; then
		echo "FAIL: $1 (CI=true: network tests must run)" >&2
		exit 1
	fi
	echo "SKIP: $1" >&2
	exit 77
}

fail() {
	echo "FAIL: $*" >&2
	for f in "$TMP"/reflector.err "$TMP"/reflector.out; do
		[[ -s $f ]] && { echo "--- $(basename "$f")"; tail -20 "$f"; } >&2
	done
	exit 1
}

# On every exit path.  Bounded: a reflector that ignores SIGTERM for 5 s is killed.
cleanup() {
	local rc=$?
	if [[ -n $WATCHDOG ]]; then
		pkill -P "$WATCHDOG" 2>/dev/null || true # its sleep
		kill "$WATCHDOG" 2>/dev/null || true
	fi
	if [[ -n $RPID ]] && kill -0 "$RPID" 2>/dev/null; then
		kill -TERM "$RPID" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$RPID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$RPID" 2>/dev/null || true
		wait "$RPID" 2>/dev/null || true
	fi
	# Whatever else the test left running (a load generator, a sniffer, a
	# script with namespaces of its own): SIGTERM first, so that a script can
	# clean up after itself, then SIGKILL after 5 s.
	if pgrep -P $$ >/dev/null; then
		pkill -TERM -P $$ 2>/dev/null || true
		for _ in $(seq 50); do pgrep -P $$ >/dev/null || break; sleep 0.1; done
		pkill -KILL -P $$ 2>/dev/null || true
	fi
	[[ -n $NS ]] && ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# CTest ends a test that outlives its TIMEOUT with SIGKILL, which leaves no
# chance to delete the namespace.  This watchdog ends it first, well inside
# that limit, through the EXIT trap: SIGTERM to the script, then to its
# children, so that a hung foreground command returns and the trap runs.
TRF_TEST_DEADLINE=${TRF_TEST_DEADLINE:-120}
WATCHDOG=""
watchdog() {
	local s
	sleep "$TRF_TEST_DEADLINE" &
	s=$!
	trap 'kill "$s" 2>/dev/null; exit 0' TERM
	wait "$s" || exit 0
	echo "FAIL: still running after $TRF_TEST_DEADLINE s: stopping the test" >&2
	kill -TERM $$ 2>/dev/null
	pkill -TERM -P $$ 2>/dev/null
}
watchdog &
WATCHDOG=$!

[[ $(id -u) == 0 ]] || skip_or_fail "needs root (CAP_NET_ADMIN) for namespaces and TUN/TAP"
[[ -c /dev/net/tun ]] || skip_or_fail "no /dev/net/tun"
NS="trf-test-$$-$RANDOM"
ip netns add "$NS" || { NS=""; skip_or_fail "cannot create a network namespace"; }
ip netns exec "$NS" ip link set lo up

nsx() { ip netns exec "$NS" "$@"; }

# The CPUs the tests may use: the first two this process may run on.
read -r -a CPUS <<<"$(taskset -pc $$ | sed 's/.*: //' | tr ',' ' ' |
	awk '{for(i=1;i<=NF;i++){n=split($i,r,"-"); if(n==2){for(c=r[1];c<=r[2];c++) printf "%d ",c} else printf "%d ",$i}}')"
CPU_A=${CPUS[0]}
CPU_B=${CPUS[1]:-${CPUS[0]}}

# The reflector says it is ready with its start record (--ready-fd 3) on a
# FIFO.  ready_fifo makes a fresh one before the reflector is started with
# 3>"$TMP/reflector.ready"; ready_open then opens its read end, which waits
# for the child's shell to open the write end: both opens return together, so
# the reflector never writes into a FIFO nobody has open, and it is the only
# writer there is.  wait_ready reads the record, or end of file when the
# reflector exited without being ready.
ready_fifo() {
	ready_close
	rm -f "$TMP/reflector.ready" "$TMP/reflector.start"
	mkfifo "$TMP/reflector.ready"
}
ready_open() { exec {READY_FD}<"$TMP/reflector.ready"; }
ready_close() {
	[[ -z $READY_FD ]] || exec {READY_FD}<&-
	READY_FD=""
}

# start_reflector ARGS...: run tapreflect in the namespace and wait until it is ready.
start_reflector() {
	# Output left by an earlier reflector would be taken for this one's: the
	# redirections below truncate only once the child runs.
	rm -f "$TMP/reflector.out" "$TMP/reflector.err" "$TMP/reflector.json"
	ready_fifo
	# Not through nsx: $! must be tapreflect itself (ip netns exec execs it).
	local coalesce=()
	# not for the sync engine or busy polling, which refuse it, nor where the test sets its own
	[[ -n ${TRF_TEST_COALESCE:-} && " $* " != *" sync "* && " $* " != *" busy "* && " $* " != *" --coalesce "* ]] &&
		coalesce=(--coalesce "$TRF_TEST_COALESCE")
	ip netns exec "$NS" "$TAPREFLECT" --addr "$HOST_IP/24" --stats 0 --json "$TMP/reflector.json" \
		${TRF_TEST_OFFLOAD:+--offload "$TRF_TEST_OFFLOAD"} "${coalesce[@]}" --ready-fd 3 "$@" \
		>"$TMP/reflector.out" 2>"$TMP/reflector.err" 3>"$TMP/reflector.ready" &
	RPID=$!
	ready_open
	wait_ready "tapreflect $*"
}

# wait_ready WHAT: until the reflector $RPID writes its start record (kept in
# $TMP/reflector.start); fails at once if it exits first, or after 10 s.
wait_ready() {
	local line="" rc=0 status=0
	[[ -n $READY_FD ]] || fail "$1: no reflector is starting"
	read -r -t 10 -u "$READY_FD" line || rc=$?
	ready_close
	((rc <= 128)) || fail "$1 not ready after 10 s"
	if ((rc != 0)); then
		# End of file: the reflector was the FIFO's only writer, so it has exited.
		wait "$RPID" || status=$?
		RPID=""
		fail "$1 exited during start-up (status $status), without a start record${line:+: $line}"
	fi
	[[ $line == '{"type":"start",'* ]] || fail "$1: not a start record: $line"
	printf '%s\n' "$line" >"$TMP/reflector.start"
}

# stop_reflector [JSON]: SIGTERM, expect exit 0 and an exact accounting in the
# summary (read from JSON when the reflector wrote it elsewhere).
stop_reflector() {
	local rc=0
	kill -TERM "$RPID"
	wait "$RPID" || rc=$?
	RPID=""
	[[ $rc == 0 ]] || fail "tapreflect exited with $rc"
	[[ -z ${1:-} ]] || cp "$1" "$TMP/reflector.json"
	summary >/dev/null || fail "no JSON summary"
	check_accounting
}

# summary [JQ_FILTER]: query the final JSON record.
# Fails when there is no summary or the filter yields false/null (jq 1.6's -e
# does not fail on empty input).
summary() {
	local out
	out=$(jq -c "select(.type == \"summary\") | ${1:-.}" "$TMP/reflector.json" 2>/dev/null) || return 1
	[[ -n $out && $out != false && $out != null ]] || return 1
	echo "$out"
}

check_accounting() {
	summary '.accounting_exact == true
		and .frames_read == .frames_written + .frames_consumed + .frames_dropped
		and .frames_dropped == ([.drops[]] | add)
		and all(.per_queue[]; .frames_read == .frames_written + .frames_consumed + .frames_dropped
			and .frames_dropped == ([.drops[]] | add))' >/dev/null ||
		fail "accounting does not hold: $(summary)"
	echo "accounting: $(summary '"read \(.frames_read) = written \(.frames_written) + \(if .frames_consumed > 0 then "consumed \(.frames_consumed) + " else "" end)dropped \(.frames_dropped)"')"
}

# host_losses [DEV]: frames the kernel itself counted as lost in the namespace
# and on its way in or out of DEV (trf0): the device's qdisc and queue drops
# (frames the reflector never got to read), its receive drops (written, then
# refused), the stack's input backlog (softnet_stat, machine-wide) and UDP
# receive errors (a full socket buffer).  A client's loss count is judged
# against the growth of this sum: what the kernel counted is said, and only
# a loss nobody counted is the reflector's.
host_losses() {
	local dev=${1:-trf0} qdisc link udp softnet d
	qdisc=$(nsx tc -s -j qdisc show dev "$dev" | jq '[.[] | select(.root) | .drops] | add // 0')
	link=$(nsx ip -s -j link show dev "$dev" | jq '.[0].stats64 | .tx.dropped + .rx.dropped')
	# InErrors, which RcvbufErrors is a part of
	# shellcheck disable=SC2016
	udp=$(nsx awk '$1 == "Udp:" && $2 ~ /^[0-9]+$/ {print $4}' /proc/net/snmp)
	softnet=0
	while read -r _ d _; do softnet=$((softnet + 16#$d)); done </proc/net/softnet_stat
	echo $((qdisc + link + udp + softnet))
}

# check_segmentation on|off BYTES [FRAMES]: BYTES of TCP went through the
# stopped reflector in superpackets with offloads on (far fewer frames than
# 1448 B segments would take), one frame per segment with them off (at least
# BYTES / 1500 frames, and FRAMES more of other traffic).
check_segmentation() {
	local offload=$1 bytes=$2 frames=${3:-0}
	if [[ $offload == on ]]; then
		summary ".vnet_hdr and .frames_read < ($bytes / 1448 / 4)" >/dev/null ||
			fail "superpackets did not pass whole: $(summary '[.frames_read, .offloads]')"
	else
		summary ".vnet_hdr == false and .frames_read >= ($bytes / 1500) + $frames" >/dev/null ||
			fail "expected one frame per segment: $(summary '[.frames_read, .offloads]')"
	fi
}

# An ordinary user's reflector (unpriv.sh, steering.sh): tapreflect as uid
# 65534 with no capability, under Debian's default 8 MiB locked-memory
# limit, on a persistent device in the namespace that the user owns.
# /dev/net/tun is opened up in a private mount namespace only (the machine's
# own node keeps its mode); the JSON goes to a directory of the user's.
USER_UID=65534
# user_device MODE: trf0, owned by the user, with the host address, up.
user_device() {
	nsx ip tuntap add dev trf0 mode "$1" multi_queue user $USER_UID
	nsx ip addr add "$HOST_IP/24" dev trf0
	nsx ip link set trf0 up
	chmod 711 "$TMP"
	mkdir -p "$TMP/user" && chown $USER_UID "$TMP/user"
}
# start_as_user ARGS...: in the background, $RPID the reflector; returns at
# once (wait_ready waits for it; a test that expects it to fail waits for
# $RPID instead).  The ready FIFO is opened by root's shell and inherited.
start_as_user() {
	rm -f "$TMP/reflector.out" "$TMP/reflector.err" "$TMP/user/reflector.json"
	ready_fifo
	# Not through nsx: $! must be the reflector (each wrapper execs the next).
	ip netns exec "$NS" unshare -m sh -c "mount -t tmpfs none /dev/net &&
		mknod -m 666 /dev/net/tun c 10 200 &&
		exec setpriv --reuid=$USER_UID --regid=$USER_UID --clear-groups --bounding-set=-all \
		--inh-caps=-all prlimit --memlock=8388608:8388608 \
		$TAPREFLECT $* --stats 0 --json $TMP/user/reflector.json --ready-fd 3" \
		>"$TMP/reflector.out" 2>"$TMP/reflector.err" 3>"$TMP/reflector.ready" &
	RPID=$!
	ready_open
}
# stop_as_user: stop_reflector, with the summary from the user's directory.
stop_as_user() { stop_reflector "$TMP/user/reflector.json"; }

# engine_args NAME: the tapreflect options for one engine of the test matrix:
# the two read strategies in the ring alone (--poll wait), the default
# (--poll hybrid: blocking reads while the queue keeps emptying), and sync.
engine_args() {
	case $1 in
	multishot) echo "--io uring --read multishot --poll wait" ;;
	fixed) echo "--io uring --read fixed --poll wait" ;;
	hybrid) echo "--io uring" ;;
	sync) echo "--io sync" ;;
	*) fail "unknown engine $1" ;;
	esac
}
