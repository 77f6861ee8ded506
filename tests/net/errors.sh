#!/usr/bin/env bash
# The errors a user meets: one clear line on stderr and the documented exit code
# (2 bad usage, 1 runtime error).
source "$(dirname "$0")/lib.sh"

# expect CODE PATTERN CMD...: CMD exits with CODE and its stderr matches PATTERN.
expect() {
	local code=$1 pattern=$2 rc=0
	shift 2
	"$@" >"$TMP/stdout" 2>"$TMP/stderr" </dev/null || rc=$?
	[[ $rc == "$code" ]] || fail "'$*' exited $rc, expected $code: $(cat "$TMP/stderr")"
	grep -qE -- "$pattern" "$TMP/stderr" || fail "'$*' said: $(cat "$TMP/stderr"); expected /$pattern/"
	echo "ok ($rc): $(head -1 "$TMP/stderr")"
}

T=$TAPREFLECT
# Bad usage.
expect 2 "bad CPU list 'x'" nsx $T --cpus x
expect 2 "CPU 1000 \(for queue 0\) is not one this process may run on" nsx $T --cpus 1000
expect 2 "bad --queues '0'" nsx $T --queues 0
expect 2 "does not match the 2 CPU\(s\) in --cpus" nsx $T --queues 3 --cpus "$CPU_A,$CPU_B"
expect 2 "bad --mode 'tup': expected tap or tun" nsx $T --mode tup
expect 2 "bad address '198.18.0.1/40'" nsx $T --addr 198.18.0.1/40
expect 2 "bad address '198.18.0/24'" nsx $T --addr 198.18.0/24
expect 2 "address '198.18.0.1' has no prefix length: say which network it is on, e.g. 198.18.0.1/24" \
	nsx $T --addr 198.18.0.1
expect 2 "is a multicast address; a reflector needs a unicast one" nsx $T --mac 01:00:5e:00:00:01
expect 2 "--read applies to --io uring only" nsx $T --io sync --read fixed
expect 2 "bad --workers 'per-core': expected per-cpu or per-queue" nsx $T --workers per-core
expect 2 "--workers per-cpu applies to --io uring only" nsx $T --io sync --workers per-cpu
expect 2 "unknown option '--bogus'" nsx $T --bogus
expect 2 "option '--dev' needs a value" nsx $T --dev
expect 2 "unknown --reflect mode 'nope'" nsx $T --reflect nope
# Captured first: grep -q would stop reading early, and the writer die of SIGPIPE.
help=$(nsx $T --help) || fail "--help exited $?"
grep -q -- "--read auto|multishot|fixed" <<<"$help" || fail "--help lacks --read"
version=$(nsx $T --version) || fail "--version exited $?"
grep -qE "^tapreflect [0-9]" <<<"$version" || fail "--version: $version"

# A device of the same name with other flags, or not a TUN/TAP device at all.
nsx ip tuntap add dev trf0 mode tun
expect 1 "exists as a tun single-queue no_pi device but tapreflect needs tap multi_queue" \
	nsx $T -m tap -c "$CPU_A"
nsx ip link del trf0
nsx ip link add trf0 type veth peer name trf0-peer
expect 1 "it exists and is not a TUN/TAP device" nsx $T -c "$CPU_A"
nsx ip link del trf0

# A persistent multi-queue device of the right kind is attached to and kept.
nsx ip tuntap add dev trf0 mode tun multi_queue
nsx $T -m tun -c "$CPU_A" --duration 0.3 --stats 0 >/dev/null 2>&1 || fail "attach to persistent tun"
nsx ip link show trf0 >/dev/null || fail "persistent device removed"
nsx ip link del trf0

# --offload against a persistent device: its own vnet_hdr flag decides under
# auto; on or off that disagree with it are refused with the fix.
nsx ip tuntap add dev trf0 mode tap multi_queue vnet_hdr
expect 1 "cannot attach to trf0 with --offload off: it was created with vnet_hdr" \
	nsx $T -c "$CPU_A" --offload off
nsx $T -c "$CPU_A" --duration 0.3 --stats 0 2>"$TMP/auto.err" >/dev/null || fail "auto on a vnet_hdr device"
grep -q "offload csum" "$TMP/auto.err" || fail "auto did not follow the device's vnet_hdr: $(cat "$TMP/auto.err")"
nsx ip link del trf0
nsx ip tuntap add dev trf0 mode tap multi_queue
expect 1 "cannot attach to trf0 with --offload on: it was created without vnet_hdr — recreate it" \
	nsx $T -c "$CPU_A" --offload on
nsx $T -c "$CPU_A" --duration 0.3 --stats 0 2>"$TMP/auto.err" >/dev/null || fail "auto on a plain device"
grep -q "offload off" "$TMP/auto.err" || fail "auto did not follow the device's flags: $(cat "$TMP/auto.err")"
nsx ip link del trf0
expect 2 "--offload on needs --frame-size 65600 or more" nsx $T -c "$CPU_A" --offload on --frame-size 16384
expect 2 "bad --offload 'maybe': expected auto, on or off" nsx $T --offload maybe

# No /dev/net/tun, and no permission: a private mount namespace changes /dev/net only for us.
expect 1 "cannot open /dev/net/tun: No such file or directory — load the tun module" \
	nsx unshare -m sh -c "mount -t tmpfs none /dev/net && exec $T -c $CPU_A"
expect 1 "cannot create trf0: Operation not permitted — run as root \(CAP_NET_ADMIN\), or create a persistent device you own" \
	nsx unshare -m sh -c "mount -t tmpfs none /dev/net && mknod -m 666 /dev/net/tun c 10 200 &&
		exec setpriv --reuid=65534 --regid=65534 --clear-groups --bounding-set=-all --inh-caps=-all $T -c $CPU_A"

# An ordinary user, no capability at all, on a persistent device it owns that
# root created and brought up: runs.  The same device down: a clear error.
nsx ip tuntap add dev trf0 mode tap multi_queue user 65534
nsx ip link set trf0 up
as_nobody="mount -t tmpfs none /dev/net && mknod -m 666 /dev/net/tun c 10 200 &&
	exec setpriv --reuid=65534 --regid=65534 --clear-groups --bounding-set=-all --inh-caps=-all $T -c $CPU_A"
nsx unshare -m sh -c "$as_nobody --duration 0.3 --stats 0" >"$TMP/nobody.out" 2>&1 ||
	fail "unprivileged on its own device, up: $(cat "$TMP/nobody.out")"
echo "ok (0): unprivileged user on a device it owns, up"
nsx ip link set trf0 down
expect 1 "cannot bring trf0 up: Operation not permitted — it needs CAP_NET_ADMIN: run \`ip link set trf0 up\` as root" \
	nsx unshare -m sh -c "$as_nobody --duration 0.3"
nsx ip link del trf0

# --user: an unknown user, root itself, and a start that is not root.
expect 2 "bad --user 'no-such-user': no such user" nsx $T --user no-such-user
expect 2 "--user 0: that is root; name an ordinary user" nsx $T --user 0
expect 1 "--user nobody needs tapreflect started as root" \
	nsx setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all $T -c "$CPU_A" --user 65534

# Limits: the largest buffer count a ring can hold, and a --duration beyond
# what poll() can wait in one go (24.8 days).
expect 2 "bad --buffers '32768': a power of two in 2..16384" nsx $T --buffers 32768
nsx $T -c "$CPU_A" --buffers 16384 --frame-size 2048 --duration 0.3 --stats 0 >"$TMP/big.out" 2>&1 ||
	fail "--buffers 16384: $(cat "$TMP/big.out")"
echo "ok (0): --buffers 16384"
# Not through nsx: $! must be tapreflect itself (ip netns exec execs it).
ip netns exec "$NS" "$T" -c "$CPU_A" --duration 3000000 --stats 0 >"$TMP/long.out" 2>&1 &
long=$!
sleep 0.5
kill -0 "$long" 2>/dev/null || fail "--duration 3000000 ended at once: $(cat "$TMP/long.out")"
kill -TERM "$long"
wait "$long" || fail "--duration 3000000 then SIGTERM: exit $?: $(cat "$TMP/long.out")"
echo "ok (0): --duration 3000000, stopped by SIGTERM"

# Locked memory too low for the registered buffers (without CAP_IPC_LOCK it is enforced).
expect 1 "io_uring needs 5.0 MiB of locked memory per queue: the limit is 1024 KiB" \
	nsx setpriv --bounding-set=-ipc_lock --inh-caps=-ipc_lock prlimit --memlock=1048576:1048576 \
	$T -c "$CPU_A" --duration 1
# ... and the same limit is enough with fewer buffers.
nsx setpriv --bounding-set=-ipc_lock --inh-caps=-ipc_lock prlimit --memlock=1048576:1048576 \
	$T -c "$CPU_A" --buffers 8 --frame-size 2048 --duration 0.3 --stats 0 >/dev/null 2>&1 ||
	fail "small buffer set under a 1 MiB memlock limit"
echo "errors: all messages as documented"
