#!/usr/bin/python3
"""Hand-made Ethernet frames on an AF_PACKET socket, for what no stock client sends.

usage: l2frames.py IFACE vlan|macswap|hostile|vnet REFLECTOR_MAC

  vlan     802.1Q-tagged ARP request and QinQ-tagged ICMP echo; the replies must
           keep their tags.  This kernel moves the outer tag of a received frame
           into PACKET_AUXDATA, so it is read from there; an inner tag stays in
           the frame.
  macswap  frames of a local experimental EtherType come back with only the
           MAC addresses swapped.
  hostile  malformed, truncated, over-tagged and group-source frames: none may
           come back.
  vnet     frames sent with a virtio-net header (PACKET_VNET_HDR) that leaves
           the L4 checksum to the receiver at the right place, at a wrong one,
           or asks for TCP segmentation; the reflector's counters say what
           became of them (the calling test checks them).
Exit 0 on success; on failure a line saying what differed, exit 1.
"""
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_VLAN_VALID = 0x10
TP_STATUS_VLAN_TPID_VALID = 0x40
PACKET_OUTGOING = 4

HOST_IP = bytes([198, 18, 0, 1])
PEER_IP = bytes([198, 18, 0, 2])


def mac_bytes(text):
    return bytes(int(b, 16) for b in text.split(":"))


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ipv4(proto, payload, src=HOST_IP, dst=PEER_IP):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0x1234, 0, 64, proto, 0, src, dst)
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def icmp_echo(ident, seq, data):
    msg = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data
    return msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]


def arp_request(src_mac):
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, src_mac, HOST_IP, b"\0" * 6, PEER_IP)


def tag(tpid, vid):
    return struct.pack("!HH", tpid, vid)


class Port:
    def __init__(self, ifname):
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
        self.sock.bind((ifname, 0))
        self.mac = self.sock.getsockname()[4]

    def send(self, frame):
        self.sock.send(frame)

    def replies(self, seconds):
        """Incoming frames (not our own outgoing ones) for a while: (frame, outer_tag|None)."""
        end = time.monotonic() + seconds
        got = []
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return got
            self.sock.settimeout(left)
            try:
                data, anc, _flags, addr = self.sock.recvmsg(65536, socket.CMSG_SPACE(20))
            except socket.timeout:
                return got
            if addr[2] == PACKET_OUTGOING:
                continue
            outer = None
            for level, ctype, cdata in anc:
                if level == SOL_PACKET and ctype == PACKET_AUXDATA:
                    status, _len, _snap, _mac, _net, tci, tpid = struct.unpack("IIIHHHH", cdata[:20])
                    if status & TP_STATUS_VLAN_VALID:
                        tpid = tpid if status & TP_STATUS_VLAN_TPID_VALID else 0x8100
                        outer = (tpid, tci & 0x0FFF)
            got.append((data, outer))


def fail(msg):
    print(f"l2frames: FAIL: {msg}")
    sys.exit(1)


def test_vlan(port, refl):
    bcast = b"\xff" * 6
    # 802.1Q VID 100: ARP request for PEER_IP.
    port.send(bcast + port.mac + tag(0x8100, 100) + struct.pack("!H", 0x0806) + arp_request(port.mac))
    # QinQ: service tag 0x88a8 VID 200 outside, 802.1Q VID 10 inside, ICMP echo.
    echo = ipv4(1, icmp_echo(0x7272, 1, b"tapreflect-qinq"))
    port.send(refl + port.mac + tag(0x88A8, 200) + tag(0x8100, 10) + struct.pack("!H", 0x0800) + echo)
    arp_ok = echo_ok = False
    for frame, outer in port.replies(2.0):
        if frame[6:12] != refl:
            continue
        etype = struct.unpack("!H", frame[12:14])[0]
        if outer == (0x8100, 100) and etype == 0x0806:
            oper, sha, spa = struct.unpack("!H6s4s", frame[14 + 6 : 14 + 18])
            if oper != 2 or sha != refl or spa != PEER_IP or frame[0:6] != port.mac:
                fail(f"bad tagged ARP reply {frame.hex()}")
            arp_ok = True
            print(f"l2frames: 802.1Q VID 100 ARP reply from {refl.hex(':')} kept its tag")
        elif outer == (0x88A8, 200) and etype == 0x8100:
            inner_vid = struct.unpack("!H", frame[14:16])[0] & 0x0FFF
            ip = frame[18:]
            if inner_vid != 10 or struct.unpack("!H", frame[16:18])[0] != 0x0800:
                fail(f"inner tag lost: {frame.hex()}")
            if ip[9] != 1 or ip[20] != 0 or ip[12:16] != PEER_IP or csum(ip[20:]) != 0:
                fail(f"bad tagged echo reply {frame.hex()}")
            echo_ok = True
            print("l2frames: QinQ (0x88a8 VID 200 / 0x8100 VID 10) echo reply kept both tags")
    if not arp_ok:
        fail("no 802.1Q-tagged ARP reply")
    if not echo_ok:
        fail("no QinQ-tagged echo reply")


def test_macswap(port, refl):
    sent = []
    for i in range(8):
        frame = refl + port.mac + struct.pack("!H", 0x88B5) + bytes((i * 7 + j) & 0xFF for j in range(46 + i * 100))
        sent.append(frame)
        port.send(frame)
    got = [f for f, _ in port.replies(1.5) if f[6:12] == refl]
    for frame in sent:
        want = frame[6:12] + frame[0:6] + frame[12:]
        if want not in got:
            fail(f"no macswapped copy of a {len(frame)} B frame")
    print(f"l2frames: {len(sent)} frames of EtherType 0x88b5 came back with only the MACs swapped")


def test_hostile(port, refl):
    good = ipv4(1, icmp_echo(1, 1, b"x" * 16))
    frames = {
        "runt (Ethernet header only)": refl + port.mac + b"\x08\x00",
        "IPv4 header cut short": refl + port.mac + b"\x08\x00" + good[:12],
        "bad IHL (3)": refl + port.mac + b"\x08\x00" + bytes([0x43]) + good[1:],
        "bad version (5)": refl + port.mac + b"\x08\x00" + bytes([0x55]) + good[1:],
        "total length beyond frame": refl + port.mac + b"\x08\x00" + good[:2] + struct.pack("!H", 400) + good[4:],
        "three VLAN tags": refl + port.mac + tag(0x88A8, 1) + tag(0x8100, 2) + tag(0x8100, 3) + b"\x08\x00" + good,
        "broadcast source MAC": refl + b"\xff" * 6 + b"\x08\x00" + good,
        "multicast source IP": refl + port.mac + b"\x08\x00" + ipv4(1, icmp_echo(1, 1, b"y"), src=bytes([224, 0, 0, 9])),
        "ICMP error": refl + port.mac + b"\x08\x00" + ipv4(1, b"\x03\x01" + b"\0" * 30),
        "random bytes": refl + port.mac + bytes((i * 151 + 7) & 0xFF for i in range(120)),
    }
    for frame in frames.values():
        port.send(frame)
    back = [f for f, _ in port.replies(1.5) if f[6:12] == refl or f[0:6] == port.mac]
    for name, frame in frames.items():
        for reply in back:
            if reply[14:] == frame[14:] or (len(frame) > 14 and reply[12:] == frame[12:]):
                fail(f"hostile frame '{name}' was reflected")
    if back:
        fail(f"{len(back)} frame(s) came back after hostile input: {[f.hex() for f in back]}")
    print(f"l2frames: {len(frames)} hostile frames sent, none reflected")


PACKET_VNET_HDR = 15


def vnet_hdr(flags=0, gso_type=0, hdr_len=0, gso_size=0, csum_start=0, csum_offset=0):
    return struct.pack("=BBHHHH", flags, gso_type, hdr_len, gso_size, csum_start, csum_offset)


def pseudo_sum(proto, length, src=HOST_IP, dst=PEER_IP):
    """The non-complemented IPv4 pseudo-header sum a NEEDS_CSUM sender leaves in the field."""
    data = src + dst + struct.pack("!BBH", 0, proto, length)
    s = sum(struct.unpack("!6H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def test_vnet(port, refl):
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
    sock.bind((port.sock.getsockname()[0], 0))
    eth = refl + port.mac + b"\x08\x00"

    def udp(payload, sport=40000, dport=9000):
        length = 8 + len(payload)
        return struct.pack("!HHHH", sport, dport, length, pseudo_sum(17, length)) + payload

    def tcp(payload):
        length = 20 + len(payload)
        return struct.pack("!HHIIBBHHH", 40001, 9001, 1, 0, 0x50, 0x18, 65535, pseudo_sum(6, length), 0) + payload

    echo = icmp_echo(0x7273, 1, b"vnet" * 8)
    sent = {
        # Reflected: the checksum left to complete is the transport's own.
        "udp, checksum to complete": (vnet_hdr(1, 0, 0, 0, 34, 6), eth + ipv4(17, udp(b"u" * 100))),
        "icmp echo, checksum to complete": (vnet_hdr(1, 0, 0, 0, 34, 2),
                                            eth + ipv4(1, echo[:2] + b"\0\0" + echo[4:])),
        # Dropped as bad_vnet_hdr: the checksum is not the transport's.
        "udp, checksum inside the IP header": (vnet_hdr(1, 0, 0, 0, 24, 6), eth + ipv4(17, udp(b"v" * 100))),
        "tcp, checksum at UDP's offset": (vnet_hdr(1, 0, 0, 0, 34, 6), eth + ipv4(6, tcp(b"w" * 100))),
        # A TCP superpacket: passed whole or cut by the kernel; never written back malformed.
        "tcp superpacket": (vnet_hdr(1, 1, 54, 1448, 34, 16), eth + ipv4(6, tcp(bytes(range(256)) * 40))),
    }
    refused = 0
    for name, (hdr, frame) in sent.items():
        try:
            sock.send(hdr + frame)
        except OSError as e:
            refused += 1
            print(f"l2frames: the kernel refused to send '{name}': {e.strerror}")
    time.sleep(0.5)
    print(f"l2frames: {len(sent) - refused} frames with virtio-net headers sent")


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    port = Port(sys.argv[1])
    refl = mac_bytes(sys.argv[3])
    {"vlan": test_vlan, "macswap": test_macswap, "hostile": test_hostile, "vnet": test_vnet}[sys.argv[2]](port, refl)
    return 0


if __name__ == "__main__":
    sys.exit(main())
