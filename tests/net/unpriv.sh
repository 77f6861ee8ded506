#!/usr/bin/env bash
# Least privilege, both ways, with ping answered each time:
# - an ordinary user with no capability at all runs on a persistent device it
#   owns that root prepared (address, link up), under Debian's default 8 MiB
#   locked-memory limit;
# - started as root with --user, every thread of the running reflector has
#   the user's ids, no capability (effective, permitted, inheritable, ambient,
#   bounding) and no_new_privs, read from /proc.
# usage: unpriv.sh tap|tun multishot|fixed|sync
source "$(dirname "$0")/lib.sh"
mode=$1 engine=$2
uid=$USER_UID
user=$(getent passwd $uid | cut -d: -f1)
[[ -n $user ]] || skip_or_fail "no user with uid $uid"

# 1. The device belongs to the user (lib.sh: user_device, start_as_user).
user_device "$mode"
# shellcheck disable=SC2046
start_as_user -m "$mode" -c "$CPU_A" $(engine_args "$engine")
wait_ready "unprivileged start"
grep -q "^CapEff:[[:space:]]*0*$" /proc/"$RPID"/status || fail "the unprivileged run holds capabilities"
out=$(nsx ping -c 3 -i 0.2 -W 2 "$PEER_IP") || fail "unprivileged: no reply: $out"
echo "unprivileged user $user on its own device: $(echo "$out" | grep -o '[0-9]* received')"
stop_as_user
nsx ip link show trf0 >/dev/null || fail "the persistent device was removed"
nsx ip link del trf0

# 2. --user: root creates and configures, then the reflector runs as the user,
# with two queues where there are two CPUs: every worker is checked.
# shellcheck disable=SC2046
start_reflector -m "$mode" -c "$(printf '%s\n' "$CPU_A" "$CPU_B" | sort -u | paste -sd,)" \
	$(engine_args "$engine") --user "$user"
grep -q "as user $user (uid $uid, no capabilities)" "$TMP/reflector.err" ||
	fail "the start line does not say the user: $(cat "$TMP/reflector.err")"
ntask=0
for st in /proc/"$RPID"/task/*/status; do
	ntask=$((ntask + 1))
	awk -v u=$uid '
		/^Uid:/ { for (i = 2; i <= 5; i++) if ($i != u) bad = bad " uid" }
		/^Gid:/ { for (i = 2; i <= 5; i++) if ($i != u) bad = bad " gid" }
		/^Groups:/ { if (NF > 1) bad = bad " groups" }
		/^Cap(Inh|Prm|Eff|Bnd|Amb):/ { if ($2 !~ /^0+$/) bad = bad " " $1 }
		/^NoNewPrivs:/ { if ($2 != 1) bad = bad " no_new_privs" }
		END { if (bad) { print FILENAME ":" bad; exit 1 } }' "$st" ||
		fail "a thread kept a privilege: $(cat "$st")"
done
[[ $ntask -ge 2 ]] || fail "expected the main thread and a worker, found $ntask task(s)"
out=$(nsx ping -c 3 -i 0.2 -W 2 "$PEER_IP") || fail "--user: no reply: $out"
echo "--user $user: $ntask thread(s), every one uid/gid $uid, no capability, no_new_privs; $(echo "$out" | grep -o '[0-9]* received')"
stop_reflector
summary ".user == \"$user\"" >/dev/null || fail "the summary does not name the user"
nsx ip link show trf0 >/dev/null 2>&1 && fail "the device created under --user outlived tapreflect"
echo "--user: the device it created is gone at exit"
