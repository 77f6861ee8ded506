#!/usr/bin/env bash
# --capture-drops: frames sent into the device for every drop reason the
# outside can provoke (capture_frames.py) end up in one pcap file per reason,
# byte for byte as sent (a truncated read: its first --frame-size bytes; with
# offloads: without the virtio-net header), and each file holds exactly as
# many frames as the summary's drop count of that reason, by tcpdump's count
# and by capture_frames.py's own reading of the file.  Then a flood against
# --capture-limit 5: what is over the limit is counted as not captured, and
# captured + not captured = dropped.  With the multishot engine and no
# offloads also: the files of a --user run are that user's, and the errors
# of bad options and of a directory the files cannot be made in (exit 2 and
# 1, before the device is touched).
# usage: capture.sh tap|tun multishot|fixed|sync on|off
source "$(dirname "$0")/lib.sh"
mode=$1 engine=$2 offload=$3
PY=/usr/bin/python3
FRAMES=$(dirname "$0")/capture_frames.py
MAC=02:74:72:66:00:01
command -v tcpdump >/dev/null || skip_or_fail "tcpdump is not installed"
# Nothing but the test's frames crosses the device: no router solicitation, MLD or DAD.
nsx sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1

# tcpdump_count FILE: the frames tcpdump reads in FILE (its lines, not those of a hex dump).
tcpdump_count() { { tcpdump -r "$1" -nn 2>/dev/null || true; } | { grep -vc '^[[:space:]]' || true; }; }
# tcpdump_link FILE: the link type tcpdump says the file has.
tcpdump_link() { tcpdump -r "$1" -nn 2>&1 >/dev/null | sed -n 's/.*link-type \([A-Z0-9_]*\).*/\1/p'; }

# wait_read N: until the reflector has read N frames (its interval records), 10 s at most.
wait_read() {
	local n=0
	for _ in $(seq 100); do
		# A line being written may be cut short: counted at the next look.
		n=$(jq -s '[.[] | select(.type == "interval") | .frames_read] | add // 0' \
			"$TMP/reflector.json" 2>/dev/null) || n=0
		((n >= $1)) && return 0
		sleep 0.1
	done
	fail "the reflector read $n of $1 frames in 10 s"
}

# shellcheck disable=SC2207
args=(-m "$mode" -c "$CPU_A" $(engine_args "$engine") --offload "$offload" --stats 0.1)
send_opts=()
if [[ $offload == off ]]; then
	# Buffers of 2048 B: a 3000 B frame fills its buffer and is dropped as truncated.
	args+=(--frame-size 2048)
	send_opts+=(--frame-size 2048)
else
	send_opts+=(--vnet)
fi
link=EN10MB
[[ $mode == tun ]] && link=RAW

# Every reason, each frame once.
mkdir "$TMP/cap"
start_reflector "${args[@]}" --capture-drops "$TMP/cap/drops.pcap"
nsx ip link set trf0 mtu 9000
nsx "$PY" "$FRAMES" send "$mode" trf0 "$MAC" "$TMP/sent" "${send_opts[@]}" || fail "sending frames"
wait_read "$(wc -l <"$TMP/sent")"
stop_reflector
summary '.capture.not_captured == 0 and .capture.captured == .frames_dropped and .capture.limit == 100' \
	>/dev/null || fail "not every drop was captured: $(summary .capture)"
for f in "$TMP"/cap/drops.*.pcap; do
	reason=${f##*/drops.}
	reason=${reason%.pcap}
	want=$(summary ".drops.$reason") || fail "$f: no drop reason $reason in $(summary .drops)"
	got=$(tcpdump_count "$f")
	[[ $got == "$want" ]] || fail "$f: tcpdump reads $got frame(s), the summary dropped $want as $reason"
	[[ $(tcpdump_link "$f") == "$link" ]] || fail "$f: link type $(tcpdump_link "$f"), expected $link"
	echo "tcpdump: $reason: $got frame(s), link-type $link"
done
"$PY" "$FRAMES" check "$mode" "$TMP/sent" "$TMP/reflector.json" || fail "the captured frames"
grep -q "^  captured: $(summary .capture.captured) of $(summary .frames_dropped) dropped frame(s); " \
	"$TMP/reflector.out" || fail "the summary does not say what was captured: $(cat "$TMP/reflector.out")"
grep -q "= dropped $(summary .frames_dropped): exact$" "$TMP/reflector.out" ||
	fail "the summary does not add the capture up: $(cat "$TMP/reflector.out")"
[[ $offload == on ]] && { summary '.drops.bad_vnet_hdr == 1' >/dev/null || fail "no bad_vnet_hdr: $(summary .drops)"; }
[[ $offload == off ]] && { summary '.drops.truncated == 2' >/dev/null || fail "not 2 truncated: $(summary .drops)"; }

# A flood over --capture-limit 5: the first frames are captured, the rest counted.
mkdir "$TMP/flood"
start_reflector "${args[@]}" --capture-drops "$TMP/flood/flood" --capture-limit 5
nsx "$PY" "$FRAMES" send "$mode" trf0 "$MAC" "$TMP/sent" --flood 200 || fail "sending the flood"
wait_read 200
stop_reflector
summary '.drops.malformed == 200 and .frames_dropped == 200 and .capture.limit == 5
	and .capture.captured >= 5 and .capture.captured < 200
	and .capture.not_captured_by.limit == 200 - .capture.captured
	and .capture.not_captured_by.full == 0 and .capture.not_captured_by.file_error == 0
	and .capture.captured + .capture.not_captured == .frames_dropped and .capture.exact' >/dev/null ||
	fail "--capture-limit 5: $(summary '[.drops.malformed, .capture]')"
got=$(tcpdump_count "$TMP/flood/flood.malformed.pcap")
[[ $got == "$(summary .capture.captured)" ]] || fail "flood.malformed.pcap: tcpdump reads $got, captured $(summary .capture.captured)"
"$PY" "$FRAMES" check "$mode" "$TMP/sent" "$TMP/reflector.json" || fail "the flood's captured frames"
grep -q "($(summary .capture.not_captured_by.limit) over --capture-limit 5/s," "$TMP/reflector.out" ||
	fail "the summary does not count the frames over the limit: $(cat "$TMP/reflector.out")"

if [[ $engine == multishot && $offload == off ]]; then
	# --user: the files are made after the change of user, and are the user's.
	chmod 711 "$TMP"
	mkdir "$TMP/user" && chown "$USER_UID" "$TMP/user"
	start_reflector "${args[@]}" --user "$USER_UID" --capture-drops "$TMP/user/drops.pcap"
	nsx "$PY" "$FRAMES" send "$mode" trf0 "$MAC" "$TMP/sent" || fail "sending frames (--user)"
	wait_read "$(wc -l <"$TMP/sent")"
	stop_reflector
	"$PY" "$FRAMES" check "$mode" "$TMP/sent" "$TMP/reflector.json" || fail "the captured frames (--user)"
	owner=$(stat -c %u "$TMP/user/drops.malformed.pcap")
	[[ $owner == "$USER_UID" ]] || fail "--user $USER_UID: the file is uid $owner's"
	echo "--user $USER_UID: its files are its own"

	# expect CODE PATTERN ARGS...: tapreflect ARGS exits CODE, says PATTERN, and never made trf0.
	expect() {
		local code=$1 pattern=$2 rc=0
		shift 2
		nsx "$TAPREFLECT" -m "$mode" -c "$CPU_A" --stats 0 "$@" >"$TMP/stdout" 2>"$TMP/stderr" </dev/null || rc=$?
		[[ $rc == "$code" ]] || fail "'$*' exited $rc, expected $code: $(cat "$TMP/stderr")"
		grep -qE -- "$pattern" "$TMP/stderr" || fail "'$*' said: $(cat "$TMP/stderr"); expected /$pattern/"
		! nsx ip link show trf0 >/dev/null 2>&1 || fail "'$*': trf0 was made"
		echo "ok ($rc): $(head -1 "$TMP/stderr")"
	}
	expect 2 "--capture-limit applies to --capture-drops only" --capture-limit 5
	expect 2 "bad --capture-limit '0': expected 1..1000000" --capture-drops "$TMP/x.pcap" --capture-limit 0
	expect 2 "bad --capture-limit '1000001': expected 1..1000000" --capture-drops "$TMP/x.pcap" \
		--capture-limit 1000001
	expect 1 "cannot use the directory $TMP/none: No such file or directory: create it first" \
		--capture-drops "$TMP/none/drops.pcap"
	expect 1 "is a directory: give a file name in it" --capture-drops "$TMP/cap"
	mkdir -m 755 "$TMP/root-only"
	expect 1 "user nobody cannot make files in $TMP/root-only \(Permission denied\)" \
		--user "$USER_UID" --capture-drops "$TMP/root-only/drops.pcap"

	# A file that cannot be written (a file system of 64 KiB, 280 KiB of frames): said once,
	# its frames counted, and the file cut back to the frames counted as captured.
	mkdir "$TMP/small"
	mount -t tmpfs -o size=64k trf-capture "$TMP/small" || skip_or_fail "cannot mount a tmpfs"
	# Unmounted on every exit path too; lib.sh's cleanup then runs with the exit status in $?
	# (an if, so that set -e takes neither the umount nor the status for an error).
	small_cleanup() {
		local rc=$?
		umount -l "$TMP/small" 2>/dev/null || true
		if (exit "$rc"); then cleanup; else cleanup; fi
	}
	trap small_cleanup EXIT
	start_reflector "${args[@]}" --capture-drops "$TMP/small/drops.pcap" --capture-limit 1000
	# 30 frames first, which the writer flushes (44 KiB), then the rest, which do not fit.
	nsx "$PY" "$FRAMES" send "$mode" trf0 "$MAC" "$TMP/sent" --flood 200 --pad 1400 --pause-after 30 ||
		fail "sending"
	wait_read 200
	stop_reflector
	summary '.capture.not_captured_by.file_error > 0 and .capture.not_captured_by.limit == 0
		and .capture.captured + .capture.not_captured_by.file_error == 200
		and .capture.by_reason.malformed.file_errors == .capture.not_captured_by.file_error' \
		>/dev/null || fail "a full file system: $(summary .capture)"
	said=$(grep -c "cannot write $TMP/small/drops.malformed.pcap: No space left on device" "$TMP/reflector.err" || true)
	[[ $said == 1 ]] || fail "the write error was said $said times: $(cat "$TMP/reflector.err")"
	"$PY" "$FRAMES" check "$mode" "$TMP/sent" "$TMP/reflector.json" || fail "the file after the error"
	if [[ -e $TMP/small/drops.malformed.pcap ]]; then
		got=$(tcpdump_count "$TMP/small/drops.malformed.pcap")
		[[ $got == "$(summary .capture.captured)" ]] ||
			fail "after the error tcpdump reads $got frame(s), captured $(summary .capture.captured)"
		tcpdump -r "$TMP/small/drops.malformed.pcap" -nn 2>&1 >/dev/null | grep -qi "truncated" &&
			fail "the file was left with a record cut short"
	fi
	echo "a full file system: $(summary '"\(.capture.captured) captured, \(.capture.not_captured_by.file_error) file errors"')"
	umount "$TMP/small"
fi
