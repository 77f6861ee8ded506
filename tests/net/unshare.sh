#!/usr/bin/env bash
# Device state comes from the process's own network namespace, not from sysfs.
# Under `unshare -n` without a /sys remount, /sys/class/net still shows the
# namespace the test made; tapreflect must see the new one: which device exists
# and is persistent, what kind it is, its drop counter, and when a device it
# created is gone.
source "$(dirname "$0")/lib.sh"

# In the test's namespace (the one /sys shows inside unshare): a persistent
# tap multi_queue device called trfu0.  The unshared namespace has none.
nsx ip tuntap add dev trfu0 mode tap multi_queue

# in_unshared SCRIPT: run a shell script in a fresh network namespace, /sys not remounted.
in_unshared() {
	nsx unshare -n env T="$TAPREFLECT" CPU="$CPU_A" D="$TMP" bash -euo pipefail -c "ip link set lo up; $1"
}

# 1. A persistent device that exists only in the unshared namespace is
#    attached to, reported persistent, carries traffic, and is kept.
in_unshared '
	ip tuntap add dev trfu1 mode tap multi_queue
	# Ready as in lib.sh: the start record on a FIFO, or end of file if it exits first.
	mkfifo "$D/u1.ready"
	"$T" --dev trfu1 -c "$CPU" --addr 198.18.0.1/24 --stats 0 --json "$D/u1.json" --ready-fd 3 \
		>"$D/u1.out" 2>"$D/u1.err" 3>"$D/u1.ready" &
	pid=$!
	# Not a child of the test script, so out of reach of its cleanup: stopped here on every exit.
	trap "kill -TERM $pid 2>/dev/null || true" EXIT
	read -r -t 10 line <"$D/u1.ready" || { echo "tapreflect on trfu1: no start record (status $?)" >&2; exit 1; }
	[[ $line == *"\"dev\":\"trfu1\",\"dev_persistent\":true"* ]] || { echo "start record: $line" >&2; exit 1; }
	ping -c 3 -i 0.2 -W 2 198.18.0.2 >"$D/u1.ping"
	kill -TERM $pid; wait $pid
	ip link show trfu1 >/dev/null && echo kept >"$D/u1.kept"
' || fail "attach under unshare -n: $(cat "$TMP"/u1.err "$TMP"/u1.ping 2>/dev/null)"
jq -e 'select(.type == "summary") | .dev_persistent == true and .frames_written >= 3
	and .accounting_exact' "$TMP/u1.json" >/dev/null || fail "trfu1 summary: $(cat "$TMP/u1.json")"
[[ -f $TMP/u1.kept ]] || fail "the persistent device trfu1 was removed"
grep -q "kernel: [0-9]* frame(s) dropped by trfu1" "$TMP/u1.out" ||
	fail "no drop counter for trfu1 (read from another namespace?): $(cat "$TMP/u1.out")"
echo "persistent device in the unshared namespace: attached, kept, $(grep -o '[0-9]* received' "$TMP/u1.ping")"

# 2. A name that is a persistent device only in the namespace /sys shows is
#    created anew here, reported as created, and gone when tapreflect exits.
in_unshared '
	"$T" --dev trfu0 -c "$CPU" --duration 0.3 --stats 0 --json "$D/u0.json" >/dev/null 2>"$D/u0.err"
	if ip link show trfu0 >/dev/null 2>&1; then echo present; else echo gone; fi >"$D/u0.after"
' || fail "create under unshare -n: $(cat "$TMP/u0.err")"
jq -e 'select(.type == "summary") | .dev_persistent == false' "$TMP/u0.json" >/dev/null ||
	fail "trfu0 was taken for the persistent device of another namespace: $(cat "$TMP/u0.json")"
[[ $(cat "$TMP/u0.after") == gone ]] || fail "the created device trfu0 outlived tapreflect"
nsx ip link show trfu0 >/dev/null || fail "the other namespace's trfu0 was touched"
echo "created device in the unshared namespace: reported created, gone at exit"

# 3. A device of the wrong kind in the unshared namespace is described as it is.
in_unshared '
	ip tuntap add dev trfu2 mode tun
	"$T" --dev trfu2 -m tap -c "$CPU" --duration 0.3 2>"$D/u2.err" && exit 1
	exit 0
' || fail "tapreflect attached to a single-queue tun device as tap"
grep -q "cannot attach to trfu2: it exists as a tun single-queue no_pi device" "$TMP/u2.err" ||
	fail "wrong description of trfu2: $(cat "$TMP/u2.err")"
echo "wrong kind in the unshared namespace: $(head -1 "$TMP/u2.err" | cut -c1-90)…"
nsx ip link del trfu0
