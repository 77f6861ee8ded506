"""Soak: each engine reflects tapgen's datagrams at about half its no-drop
rate for a set time, in a private network namespace, and at the end the
checks that a long run fails first when something leaks or loses count:
resident memory and open fds of the reflector (after a warm-up that touched
every buffer, against the end), and exact accounting end to end.

Every datagram tapgen sent is a frame the reflector read or one the device
dropped; every frame written is one the device passed up (none dropped) and a
reply tapgen received or one the UDP layer counted as an error or as for no
port; and the reflector's own read = written + dropped.  Nothing else crosses
the device (IPv6 off in the namespace; on tap a permanent neighbour, so no
ARP), so the counts must match exactly.  Exit status 1 if a check fails.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .common import Context, add_samples, words, write_jsonl
from .engines import engine_args
from .lab import PEER, Lab
from .model import EXIT_MEASUREMENT, EXIT_OK, EXIT_REGRESSION, BenchError
from .progress import Progress

SCHEMA_VERSION = 2  # of the soak records: 2 adds schema_version and the counters behind each check
DEV = "trf0"  # tapreflect's default device, created in the lab's namespace
NEIGH_MAC = "02:00:00:00:00:02"  # any unicast MAC will do: the reflector swaps the addresses back
SAMPLE_EVERY_S = 10.0
WARMUP_S = 5
SEARCH_ARGS = ["--search", "binary", "--steps", "6", "--repeats", "1", "--duration", "0.5"]


def add_arguments(p) -> None:
    p.add_argument("--duration", type=float, default=600, metavar="SECS", help="soak time per engine (default 600)")
    p.add_argument("--engines", default="uring sync", metavar="LIST",
                   help='engines, in order (default "uring sync"; also multishot, fixed, fixed:N, with '
                        '+modifiers as everywhere)')
    p.add_argument("--mode", choices=("tap", "tun"), default="tap", help="device mode (default tap)")
    p.add_argument("--rate", type=int, metavar="PPS",
                   help="offered rate (default: half the NDR that a short search finds)")
    p.add_argument("--flows", type=int, default=16, metavar="N", help="UDP flows (default 16)")
    p.add_argument("--rss-slack", type=int, default=1024, metavar="KIB",
                   help="resident memory may grow this much, start to end (default 1024)")
    p.add_argument("--out", metavar="FILE",
                   help="one JSON line per engine (default BUILD/bench-soak.json; ./bench-soak.json when installed)")


# -- counters: plain reads of /proc, in the namespace of a process that lives in it ------------

def parse_net_dev(text: str, dev: str) -> dict:
    """A device's counters from /proc/net/dev (rx: bytes packets errs drop ...; tx: the same)."""
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        if sep and name.strip() == dev:
            v = [int(x) for x in rest.split()]
            return {"rx_packets": v[1], "rx_dropped": v[3], "tx_packets": v[9], "tx_dropped": v[11]}
    raise BenchError(f"no device {dev} in /proc/net/dev", EXIT_MEASUREMENT)


def parse_snmp(text: str, proto: str = "Udp") -> dict:
    """One protocol's counters from /proc/net/snmp (a line of names, then a line of values)."""
    rows = [line.split()[1:] for line in text.splitlines() if line.startswith(proto + ":")]
    if len(rows) < 2:
        raise BenchError(f"no {proto} counters in /proc/net/snmp", EXIT_MEASUREMENT)
    return dict(zip(rows[0], (int(x) for x in rows[1])))


def parse_vmrss(status: str) -> int:
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError("no VmRSS in /proc/PID/status", EXIT_MEASUREMENT)


def net_counters(pid: int) -> dict:
    """The device's and UDP's counters as the process's network namespace sees them:
    /proc/PID/net is that namespace's (ip netns exec replaces itself by the tool, so the
    reflector's PID is the tool's)."""
    dev = parse_net_dev(Path(f"/proc/{pid}/net/dev").read_text(), DEV)
    udp = parse_snmp(Path(f"/proc/{pid}/net/snmp").read_text())
    return {**dev, **{k: udp[k] for k in ("InDatagrams", "InErrors", "NoPorts")}}


def rss_kib(pid: int) -> int:
    return parse_vmrss(Path(f"/proc/{pid}/status").read_text())


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


# -- the checks: pure, over what was counted ---------------------------------------------------

@dataclass
class Tally:
    """What one engine's soak counted; device and UDP counters are end minus start."""

    exact: bool  # the reflector's own summary: read = written + consumed + dropped, per queue
    sent: int  # tapgen, warm-up and soak
    received: int
    read: int  # the reflector's summary
    written: int
    dev_tx_dropped: int  # frames the device dropped on the way to the reflector (queue full)
    dev_rx_packets: int  # frames the reflector wrote that the device passed up
    dev_rx_dropped: int
    udp_in_errors: int
    udp_no_ports: int
    rss0: int
    rss1: int
    fds0: int
    fds1: int


def check(t: Tally, rss_slack: int) -> list[str]:
    """Every check that failed, as a line that says what disagreed with what; [] when all held."""
    out = []
    if not t.exact:
        out.append("reflector: read != written + dropped")
    if t.sent != t.read + t.dev_tx_dropped:
        out.append(f"sent {t.sent} != read {t.read} + device drops {t.dev_tx_dropped}")
    if t.dev_rx_packets != t.written or t.dev_rx_dropped != 0:
        out.append(f"written {t.written} != device received {t.dev_rx_packets} (dropped {t.dev_rx_dropped})")
    if t.written != t.received + t.udp_in_errors + t.udp_no_ports:
        out.append(f"written {t.written} != received {t.received} + UDP errors {t.udp_in_errors} "
                   f"+ no port {t.udp_no_ports}")
    if t.fds1 != t.fds0:
        out.append(f"open fds {t.fds0} -> {t.fds1}")
    if t.rss1 - t.rss0 > rss_slack:
        out.append(f"resident memory {t.rss0} -> {t.rss1} KiB (slack {rss_slack})")
    return out


def tally(*, summary: dict, gens: list[dict], c0: dict, c1: dict, rss: tuple, fds: tuple) -> Tally:
    def d(k: str) -> int:
        return c1[k] - c0[k]

    return Tally(exact=bool(summary["accounting_exact"]), sent=sum(g["sent"] for g in gens),
                 received=sum(g["received"] for g in gens), read=summary["frames_read"],
                 written=summary["frames_written"], dev_tx_dropped=d("tx_dropped"), dev_rx_packets=d("rx_packets"),
                 dev_rx_dropped=d("rx_dropped"), udp_in_errors=d("InErrors"), udp_no_ports=d("NoPorts"),
                 rss0=rss[0], rss1=rss[1], fds0=fds[0], fds1=fds[1])


def record(*, engine: str, mode: str, duration: float, rate: int, t: Tally, rss_max: int, fds_max: int,
           failed: list[str], summary: dict, ndr: Optional[float]) -> dict:
    """soak.sh's record, with the counters behind each check beside it."""
    return {"type": "soak", "schema_version": SCHEMA_VERSION, "engine": engine, "mode": mode,
            "duration_s": duration, "rate_pps": rate, "ndr_pps": ndr, "sent": t.sent, "read": t.read,
            "device_tx_dropped": t.dev_tx_dropped, "written": t.written, "received": t.received,
            "udp_errors": t.udp_in_errors, "udp_no_ports": t.udp_no_ports, "device_rx_packets": t.dev_rx_packets,
            "device_rx_dropped": t.dev_rx_dropped, "accounting_exact": t.exact,
            "rss_kib": {"start": t.rss0, "end": t.rss1, "max": rss_max},
            "fds": {"start": t.fds0, "end": t.fds1, "max": fds_max},
            "cpu_ns_per_frame": summary.get("cpu_ns_per_frame"), "checks": failed,
            "verdict": "FAIL" if failed else "pass"}


def metric_lines(records: list[dict]) -> list[dict]:
    out = []
    for r in records:
        out.append({"kind": "timed", "name": f"soak/{r['engine']}/rss_growth_kib",
                    "value": r["rss_kib"]["end"] - r["rss_kib"]["start"], "unit": "KiB", "better": "lower"})
        if r.get("cpu_ns_per_frame") is not None:
            out.append({"kind": "timed", "name": f"soak/{r['engine']}/cpu_ns_per_frame",
                        "value": r["cpu_ns_per_frame"], "unit": "ns/frame", "better": "lower"})
    return out


def line(r: dict) -> str:
    """soak.sh's line per engine."""
    return (f"{r['engine']}: {r['duration_s']:g} s at {r['rate_pps']} pps: sent {r['sent']}, read {r['read']} "
            f"(+ {r['device_tx_dropped']} dropped by the device), written {r['written']}, received {r['received']}; "
            f"RSS {r['rss_kib']['start']} -> {r['rss_kib']['end']} KiB (max {r['rss_kib']['max']}), "
            f"fds {r['fds']['start']} -> {r['fds']['end']} (max {r['fds']['max']}): {r['verdict']}")


# -- the soak ----------------------------------------------------------------------------------

def start_reflector(lab: Lab, mode: str, engine: str):
    """The reflector without the warm-up ping, so that only tapgen's frames cross the device."""
    r = lab.start_reflector(["-m", mode, "-c", str(lab.cpu_r), *engine_args(engine)], stats=SAMPLE_EVERY_S,
                            warm=False)
    if mode == "tap":
        lab.sh(["ip", "neigh", "replace", PEER, "lladdr", NEIGH_MAC, "dev", DEV, "nud", "permanent"])
    return r


def soak_engine(lab: Lab, args, engine: str, prog: Progress) -> dict:
    flows = ["--flows", str(args.flows)]
    rate, ndr = args.rate, None
    if rate is None:
        prog.doing(f"{engine}: searching the NDR")
        start_reflector(lab, args.mode, engine)
        ndr = lab.tapgen([*flows, *SEARCH_ARGS], timeout=600)[-1]["ndr_pps"]
        lab.reflector.finish()
        rate = max(int(ndr // 2), 1000)
        lab.log(f"{engine}: NDR {ndr:g} pps (short search): soaking at {rate} pps")
    traffic = [*flows, "--rate", str(rate), "--drain", "1"]
    refl = start_reflector(lab, args.mode, engine)
    pid = refl.pid
    c0 = net_counters(pid)
    prog.doing(f"{engine}: warm-up at {rate} pps")
    # warm-up: every buffer touched, every lazy allocation made, before the memory is first read
    warm = lab.tapgen([*traffic, "--duration", str(WARMUP_S)], timeout=WARMUP_S + 30)[-1]
    rss0, fds0 = rss_kib(pid), open_fds(pid)
    rss_max, fds_max = rss0, fds0
    prog.doing(f"{engine}: soaking {args.duration:g} s at {rate} pps")
    gen = lab.start_tapgen([*traffic, "--duration", f"{args.duration:g}"], name="tapgen-soak")
    while gen.running():
        gen.wait_at_most(SAMPLE_EVERY_S)  # tapgen's exit, or one sampling period
        if not refl.running():
            gen.stop()
            raise BenchError(f"{engine}: tapreflect ended during the soak: {refl.stderr_tail()}", EXIT_MEASUREMENT)
        rss_max, fds_max = max(rss_max, rss_kib(pid)), max(fds_max, open_fds(pid))
    soak = gen.finish(timeout=30)[-1]
    rss1, fds1 = rss_kib(pid), open_fds(pid)
    rss_max, fds_max = max(rss_max, rss1), max(fds_max, fds1)
    c1 = net_counters(pid)
    summary = refl.finish()
    t = tally(summary=summary, gens=[warm, soak], c0=c0, c1=c1, rss=(rss0, rss1), fds=(fds0, fds1))
    failed = check(t, args.rss_slack)
    return record(engine=engine, mode=args.mode, duration=args.duration, rate=rate, t=t, rss_max=rss_max,
                  fds_max=fds_max, failed=failed, summary=summary, ndr=ndr)


def main(args, ctx: Context) -> int:
    engines = words(args.engines)
    if not engines:
        raise BenchError("--engines: give at least one engine")
    for e in engines:
        engine_args(e)  # an unknown name fails here, before any namespace exists
    if args.duration <= 0:
        raise BenchError("--duration SECS, SECS > 0")
    if args.flows < 1:
        raise BenchError("--flows N, N >= 1")
    if args.rate is not None and args.rate < 1:
        raise BenchError("--rate PPS, PPS >= 1")
    config = {"engines": engines, "mode": args.mode, "duration": args.duration,
              "rate": args.rate if args.rate is not None else "half-ndr", "flows": args.flows}
    run = ctx.new_run("soak", config)
    out = Path(args.out) if args.out else ctx.tools.results / "bench-soak.json"

    def body() -> int:
        with Lab(ctx.tools, "soak", log=ctx.out) as lab:
            lab.sh(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"])
            ctx.out(f"tapreflect soak: {args.duration:g} s per engine ({' '.join(engines)}), {args.mode}, reflector "
                    f"on CPU {lab.cpu_r}, tapgen on CPU {lab.cpu_g}")
            with Progress(len(engines), "soak") as prog:
                for engine in engines:
                    rec = soak_engine(lab, args, engine, prog)
                    run.records.append(rec)
                    add_samples(run, metric_lines([rec]))
                    prog.step(engine, rec["verdict"])
                    ctx.out(line(rec))
                    for m in rec["checks"]:
                        ctx.out(f"  {m}")
        write_jsonl(out, run.records)
        failed = any(r["checks"] for r in run.records)
        ctx.out(f"soak: {'CHECKS FAILED' if failed else 'every check held'} ({out})")
        if failed:
            print("soak: a check failed (see above)", file=sys.stderr)
        return EXIT_REGRESSION if failed else EXIT_OK

    return ctx.measure(run, body)
