#!/usr/bin/env bash
# End-to-end accounting under saturation: every datagram tapgen sent is a
# frame the reflector read or one the device dropped before it was read, and
# every frame the reflector wrote is a reply tapgen received or one the
# namespace's UDP layer counted as an error.  Nothing else crosses the device:
# IPv6 is off and, on tap, the peer's address is a permanent neighbour, so no
# ARP or NDP frame joins the count.
# usage: reconcile.sh tap|tun multishot|fixed|sync [TAPREFLECT OPTIONS...]
source "$(dirname "$0")/lib.sh"
mode=$1 engine=$2
shift 2
nsx sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
# shellcheck disable=SC2046
start_reflector -m "$mode" -c "$CPU_A" $(engine_args "$engine") "$@"
if [[ $mode == tap ]]; then
	nsx ip neigh replace "$PEER_IP" lladdr 02:00:00:00:00:02 dev trf0 nud permanent
fi

# dev_counter NAME: the device's own counter (statistics/NAME).
dev_counter() { nsx cat "/sys/class/net/trf0/statistics/$1"; }
# udp_counter NAME: the namespace's UDP MIB counter NAME.
udp_counter() {
	nsx cat /proc/net/snmp | awk -v k="$1" \
		'/^Udp:/ { if (!h) { for (i = 2; i <= NF; i++) if ($i == k) c = i; h = 1 } else print $c }'
}
declare -A before after
snapshot() {
	local -n s=$1
	for c in tx_packets tx_dropped rx_packets rx_dropped; do s[$c]=$(dev_counter $c); done
	for c in InDatagrams InErrors NoPorts; do s[$c]=$(udp_counter $c); done
}
snapshot before
# As fast as tapgen can send, from the other CPU.
ip netns exec "$NS" "$TAPGEN" --dst "$PEER_IP" --rate 0 --duration 2 --drain 0.5 --cpu "$CPU_B" \
	--json "$TMP/trial.json" >/dev/null || fail "tapgen"
snapshot after
stop_reflector

d() { echo $((after[$1] - before[$1])); }
sent=$(jq .sent "$TMP/trial.json")
received=$(jq .received "$TMP/trial.json")
read_=$(summary .frames_read)
written=$(summary .frames_written)
echo "tapgen sent $sent = reflector read $read_ + device dropped $(d tx_dropped)"
echo "reflector wrote $written = device received $(d rx_packets) = tapgen received $received" \
	"+ UDP errors $(d InErrors) + no port $(d NoPorts)"
[[ $(d tx_dropped) -gt 0 ]] && echo "saturated: the device dropped $(d tx_dropped) frame(s) the reflector could not take in time"
jq -e '.send_errors == 0 and .duplicates == 0 and .foreign == 0 and .corrupt == 0' \
	"$TMP/trial.json" >/dev/null || fail "tapgen trial: $(cat "$TMP/trial.json")"
[[ $sent == $((read_ + $(d tx_dropped))) ]] ||
	fail "sent $sent != read $read_ + device drops $(d tx_dropped)"
[[ $(d tx_packets) == "$read_" ]] || fail "device handed over $(d tx_packets) frames, reflector read $read_"
[[ $(d rx_packets) == "$written" && $(d rx_dropped) == 0 ]] ||
	fail "reflector wrote $written, device took $(d rx_packets) and dropped $(d rx_dropped)"
[[ $written == $((received + $(d InErrors) + $(d NoPorts))) ]] ||
	fail "wrote $written != tapgen received $received + UDP errors $(d InErrors) + no port $(d NoPorts)"
[[ $(d InDatagrams) == "$received" ]] || fail "UDP delivered $(d InDatagrams), tapgen received $received"
