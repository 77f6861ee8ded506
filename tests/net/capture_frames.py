#!/usr/bin/python3
"""Frames for every drop reason the outside can provoke, and a check of --capture-drops' files.

usage: capture_frames.py send tap|tun IFACE MAC SENT [--frame-size N] [--vnet]
                                                        [--flood N [--pad B] [--pause-after K]]
       capture_frames.py check tap|tun SENT SUMMARY

  send   writes hand-made frames into the device from its far side (AF_PACKET on
         IFACE; on tun bare IP packets), each unique, for each reason this link
         can be dropped for (see FRAMES); with --frame-size N also one frame of
         N + 952 bytes, which fills its buffer (truncated: the capture holds its
         first N bytes); with --vnet also a frame whose virtio-net header does not
         fit it (bad_vnet_hdr: the capture holds the frame without the header).
         --flood N sends N malformed frames instead (of B more bytes each with
         --pad; a pause of 0.2 s after the first K with --pause-after).  SENT
         gets one JSON line
         per frame: reason, the bytes sent and the bytes its capture must hold.
  check  reads SUMMARY (the reflector's JSON summary record) and each reason's
         pcap file, parsed here (the format is simple: a global header, then a
         header per record), and checks that every file holds exactly as many
         frames as the summary's drop count of its reason, with the right link
         type and nanosecond timestamps; that no reason without drops has a file;
         that the frames are those sent, byte for byte, each in its reason's
         file (all of them; or those the limit let through, or that the file
         took before it could not be written, in the order sent); and that
         captured + not captured = dropped.
Exit 0 on success; on failure a line saying what differed, exit 1.
"""
import json
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
SOL_PACKET = 263
PACKET_VNET_HDR = 15
LINKTYPE = {"tap": 1, "tun": 101}  # EN10MB, RAW
PCAP_NSEC_MAGIC = 0xA1B23C4D

HOST_IP = bytes([198, 18, 0, 1])
PEER_IP = bytes([198, 18, 0, 2])
LL_SRC = bytes.fromhex("fe800000000000000000000000000001")
ALL_ROUTERS = bytes.fromhex("ff020000000000000000000000000002")


def fail(msg):
    print(f"capture_frames: FAIL: {msg}")
    sys.exit(1)


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ipv4(proto, payload, src=HOST_IP, dst=PEER_IP, ident=0x1234):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF, 0, 64, proto, 0, src, dst)
    return hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:] + payload


def icmp(kind, seq, data):
    msg = struct.pack("!BBHHH", kind, 0, 0, 0x7263, seq) + data
    return msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]


def udp(payload, sport=40000, dport=9000):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def router_solicitation():
    rs = struct.pack("!BBHI", 133, 0, 0, 0)
    return struct.pack("!IHBB16s16s", 6 << 28, len(rs), 58, 255, LL_SRC, ALL_ROUTERS) + rs


def frames(link, refl, mine):
    """(reason, packet) for each reason this link's respond mode drops for; each packet unique."""
    tag = b"capture-test"
    good = ipv4(1, icmp(8, 1, tag))
    ip = [
        ("runt", good[:10]),
        ("truncated", good[:2] + struct.pack("!H", 400) + good[4:]),  # IP length beyond the frame
        ("malformed", bytes([0x43]) + good[1:]),  # IHL 3
        ("malformed", bytes([0x55]) + good[1:]),  # version 5
        ("icmp_not_echo", ipv4(1, icmp(3, 2, tag))),
        ("src_not_unicast", ipv4(1, icmp(8, 3, tag), src=bytes([224, 0, 0, 9]))),
        ("dst_not_unicast", ipv4(1, icmp(8, 4, tag), dst=bytes([224, 0, 0, 1]))),
        ("ndp_ignored", router_solicitation()),
    ]
    if link == "tun":
        return ip
    eth = refl + mine + b"\x08\x00"
    out = [(r, (refl + mine + b"\x86\xdd" if p[0] >> 4 == 6 and r == "ndp_ignored" else eth) + p)
           for r, p in ip if r != "runt"]
    arp_reply = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 2, mine, HOST_IP, refl, PEER_IP)
    return out + [
        ("runt", eth),  # the Ethernet header alone
        ("runt", eth + good[:12]),
        ("unsupported", refl + mine + b"\x88\xb6" + tag * 4),
        ("vlan_too_deep", refl + mine + b"\x88\xa8\x00\x01\x81\x00\x00\x02\x81\x00\x00\x03\x08\x00" + good),
        ("arp_ignored", refl + mine + b"\x08\x06" + arp_reply),
        ("src_not_unicast", refl + b"\xff" * 6 + b"\x08\x00" + ipv4(1, icmp(8, 5, tag))),
    ]


def vnet_hdr(flags=0, gso_type=0, hdr_len=0, gso_size=0, csum_start=0, csum_offset=0):
    return struct.pack("=BBHHHH", flags, gso_type, hdr_len, gso_size, csum_start, csum_offset)


def send(args):
    link, ifname, mac, sent_path = args[:4]
    opts = args[4:]
    frame_size = int(opts[opts.index("--frame-size") + 1]) if "--frame-size" in opts else 0
    flood = int(opts[opts.index("--flood") + 1]) if "--flood" in opts else 0
    pause_after = int(opts[opts.index("--pause-after") + 1]) if "--pause-after" in opts else -1
    pad = bytes(i * 13 & 0xFF for i in range(int(opts[opts.index("--pad") + 1]))) if "--pad" in opts else b""
    refl = bytes(int(b, 16) for b in mac.split(":")) if link == "tap" else b""
    if link == "tap":
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        sock.bind((ifname, 0))
        mine = sock.getsockname()[4]
    else:
        # No link header on tun (ARPHRD_NONE): a raw packet socket sends the bare packet.
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
        mine = b""

    def out(packet, vnet=None):
        s = sock
        if vnet is not None:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                              socket.htons(ETH_P_ALL if link == "tap" else ETH_P_IP))
            s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
            packet = vnet + packet
        if link == "tap":
            s.bind((ifname, 0))
            s.send(packet)
        else:
            proto = ETH_P_IPV6 if packet[len(vnet or b"")] >> 4 == 6 else ETH_P_IP
            s.sendto(packet, (ifname, proto))

    sent = []
    if flood:
        eth = refl + mine + b"\x08\x00" if link == "tap" else b""
        for i in range(flood):
            f = eth + bytes([0x43]) + ipv4(1, icmp(8, i & 0xFFFF, b"flood" + pad), ident=i)[1:]
            out(f)
            sent.append(("malformed", f, f))
            if i + 1 == pause_after:
                time.sleep(0.2)
    else:
        for reason, f in frames(link, refl, mine):
            out(f)
            sent.append((reason, f, f))
        if frame_size:
            eth = refl + mine + b"\x08\x00" if link == "tap" else b""
            f = eth + ipv4(17, udp(bytes(i & 0xFF for i in range(frame_size + 952 - len(eth) - 28))))
            out(f)
            sent.append(("truncated", f, f[:frame_size]))
        if "--vnet" in opts:
            # A checksum to complete at TCP's field of a UDP datagram: the kernel sends it,
            # the reflector refuses it.
            eth = refl + mine + b"\x08\x00" if link == "tap" else b""
            f = eth + ipv4(17, udp(b"vnet" * 16))
            out(f, vnet_hdr(1, 0, 0, 0, len(eth) + 20, 16))
            sent.append(("bad_vnet_hdr", f, f))
    with open(sent_path, "w") as fh:
        for reason, f, want in sent:
            fh.write(json.dumps({"reason": reason, "sent": f.hex(), "captured": want.hex()}) + "\n")
    print(f"capture_frames: {len(sent)} frame(s) sent into {ifname}")
    return 0


def read_pcap(path):
    """(linktype, [(ts_sec, ts_nsec, caplen, origlen, bytes)]), every length checked against the file."""
    with open(path, "rb") as fh:
        data = fh.read()
    if len(data) < 24:
        fail(f"{path}: {len(data)} B, shorter than a pcap header")
    magic, major, minor, _zone, _sigfigs, snaplen, linktype = struct.unpack("=IHHiIII", data[:24])
    if magic != PCAP_NSEC_MAGIC:
        fail(f"{path}: magic {magic:#x}, not nanosecond pcap in this host's byte order")
    if (major, minor) != (2, 4):
        fail(f"{path}: version {major}.{minor}")
    recs, off = [], 24
    while off < len(data):
        if len(data) - off < 16:
            fail(f"{path}: a record header cut short at {off}")
        sec, nsec, caplen, origlen = struct.unpack("=IIII", data[off:off + 16])
        off += 16
        if caplen > snaplen or caplen > origlen or len(data) - off < caplen or nsec >= 10**9:
            fail(f"{path}: bad record at {off - 16}: caplen {caplen} origlen {origlen} nsec {nsec}")
        recs.append((sec, nsec, caplen, origlen, data[off:off + caplen]))
        off += caplen
    return linktype, recs


def file_of(prefix, reason):
    return f"{prefix}.{reason}.pcap"


def check(args):
    import glob
    import os

    link, sent_path, summary_path = args[:3]
    with open(summary_path) as fh:
        summary = [json.loads(l) for l in fh if l.strip()]
    summary = [r for r in summary if r.get("type") == "summary"]
    if len(summary) != 1:
        fail(f"{summary_path}: {len(summary)} summary records")
    s = summary[0]
    cap = s.get("capture")
    if not cap:
        fail("the summary has no capture object")
    path = cap["file"]
    # Not every frame of a reason in its file: a subsequence, in the order sent.
    partial = cap["not_captured_by"]["limit"] or cap["not_captured_by"]["file_error"]
    prefix = path[:-5] if path.endswith(".pcap") else path
    with open(sent_path) as fh:
        sent = [json.loads(l) for l in fh if l.strip()]
    now = time.time()

    seen = {}
    for reason, count in s["drops"].items():
        f = file_of(prefix, reason)
        if not os.path.exists(f):
            if cap["by_reason"].get(reason, {}).get("captured"):
                fail(f"{reason}: {cap['by_reason'][reason]['captured']} captured, but no {f}")
            seen[reason] = []
            continue
        linktype, recs = read_pcap(f)
        if linktype != LINKTYPE[link]:
            fail(f"{f}: link type {linktype}, expected {LINKTYPE[link]} for {link}")
        for sec, nsec, _c, _o, _b in recs:
            if not now - 600 < sec + nsec / 1e9 <= now + 1:
                fail(f"{f}: timestamp {sec}.{nsec:09d} is not of this run")
        entry = cap["by_reason"].get(reason)
        if entry is None or entry["file"] != f or entry["captured"] != len(recs) or (
                not partial and entry["file_errors"]):
            fail(f"{f}: {len(recs)} frame(s), the summary says {entry}")
        seen[reason] = [(r[4], r[3]) for r in recs]
    files = sorted(glob.glob(glob.escape(prefix) + ".*.pcap"))
    extra = [f for f in files if f[len(prefix) + 1:-5] not in s["drops"]]
    if extra:
        fail(f"files of no reason: {extra}")

    by_reason = {}
    for rec in sent:
        by_reason.setdefault(rec["reason"], []).append(rec)
    for reason, count in s["drops"].items():
        got = seen.get(reason, [])
        want = by_reason.get(reason, [])
        if count != len(want):
            fail(f"{reason}: {count} dropped, {len(want)} sent: {s['drops']}")
        for data, origlen in got:
            if origlen != len(data):
                fail(f"{file_of(prefix, reason)}: a frame of {origlen} B, {len(data)} B of it kept")
        if not partial:
            # All of them, whatever the order: a read that filled its buffer is dropped as it
            # completes, a mode's verdicts at the end of the batch.
            if sorted(d for d, _ in got) != sorted(bytes.fromhex(w["captured"]) for w in want):
                fail(f"{file_of(prefix, reason)} does not hold the frames sent as {reason}: "
                     f"{[d.hex() for d, _ in got]} vs {[w['captured'] for w in want]}")
        else:
            # Those the limit let through, in the order they were sent: a subsequence.
            i = 0
            for data, _ in got:
                while i < len(want) and bytes.fromhex(want[i]["captured"]) != data:
                    i += 1
                if i == len(want):
                    fail(f"{file_of(prefix, reason)} holds a frame not sent as {reason} (or out of "
                         f"order): {data.hex()}")
                i += 1
        if got:
            print(f"capture_frames: {reason}: {len(got)} of {count} in {file_of(prefix, reason)}, "
                  f"as sent")
    dropped = s["frames_dropped"]
    if cap["captured"] + cap["not_captured"] != dropped or not cap["exact"]:
        fail(f"captured {cap['captured']} + not captured {cap['not_captured']} != dropped {dropped}")
    if cap["not_captured"] != sum(cap["not_captured_by"].values()):
        fail(f"not_captured is not the sum of its parts: {cap}")
    if cap["captured"] != sum(len(v) for v in seen.values()):
        fail(f"captured {cap['captured']}, the files hold {sum(len(v) for v in seen.values())}")
    print(f"capture_frames: captured {cap['captured']} + not captured {cap['not_captured']} "
          f"({cap['not_captured_by']}) = dropped {dropped}")
    return 0


def main():
    if len(sys.argv) < 5 or sys.argv[1] not in ("send", "check"):
        print(__doc__)
        return 2
    return send(sys.argv[2:]) if sys.argv[1] == "send" else check(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
