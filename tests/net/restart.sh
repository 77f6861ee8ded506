#!/usr/bin/env bash
# When tapreflect has exited, the device it created is gone, so the next one
# can start at once, in the other mode too.  (An io_uring keeps a reference to
# its fixed files until its asynchronous teardown; tapreflect drops it first.)
source "$(dirname "$0")/lib.sh"
for run in tun:multishot tap:fixed tun:sync tap:multishot tun:fixed tap:sync; do
	mode=${run%:*} engine=${run#*:}
	# shellcheck disable=SC2046
	start_reflector -m "$mode" -c "$CPU_A" $(engine_args "$engine")
	out=$(nsx ping -c 1 -W 2 "$PEER_IP") || fail "$run: no reply: $out"
	# Check the device the moment the process is gone, before anything else.
	kill -TERM "$RPID"
	rc=0
	wait "$RPID" || rc=$?
	RPID=""
	if ip netns exec "$NS" ip link show trf0 >/dev/null 2>&1; then
		fail "$run: trf0 still exists after tapreflect exited"
	fi
	[[ $rc == 0 ]] || fail "$run: exit status $rc"
	check_accounting >/dev/null
	echo "$run: started, answered, stopped, device gone"
done
