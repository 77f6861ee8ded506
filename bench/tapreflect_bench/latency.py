"""Latency: an unmodified `sockperf ping-pong` client against tapreflect
--reflect sockperf (TUN), waiting (the default) and busy polling (--poll
busy), and against a real sockperf server across a veth pair, in the same
run, interleaved: p50 and p99 of sockperf's latency (half the round trip)
per setup, medians over --reps.

The reflector or the server runs on one CPU, the client on the other.  A
busy-polling reflector holds its whole CPU whatever the load, and the table
says so.  Needs sockperf.
"""
from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from typing import Optional

from . import stats
from .common import Context, add_samples, write_jsonl
from .lab import PEER, Lab
from .model import EXIT_BAD_INPUT, EXIT_MEASUREMENT, EXIT_OK, BenchError
from .progress import Progress

SCHEMA_VERSION = 2  # of the latency records: 2 adds schema_version, rep and the extra percentiles
PORT = 11111  # sockperf's own default
CLIENT_ADDR, SERVER_ADDR = "198.19.0.1", "198.19.0.2"  # the veth pair, beside the device's 198.18.0.0/24
SERVER_READY_S = 5.0


@dataclass(frozen=True)
class Setup:
    key: str  # in metric names
    label: str  # in records and the table, as latency.sh named it
    reflector: Optional[list]  # tapreflect's options after -m tun --reflect sockperf; None: the real server


SETUPS = (
    Setup("tapreflect-wait", "tapreflect wait", []),
    Setup("tapreflect-busy", "tapreflect busy", ["--poll", "busy"]),
    Setup("sockperf-server-veth", "sockperf server (veth)", None),
)


def add_arguments(p) -> None:
    p.add_argument("--reps", type=int, default=3, metavar="N", help="runs per setup, interleaved (default 3)")
    p.add_argument("--duration", type=float, default=5.0, metavar="SECS",
                   help="length of each sockperf ping-pong (default 5)")
    p.add_argument("--json", metavar="FILE", help="every run as JSON lines")


# sockperf colours some lines on any output (ESC [ ... m), a terminal or not
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_PERCENTILE = re.compile(r"percentile\s+([0-9.]+)\s*=\s*([0-9.]+)")
_EXTREME = re.compile(r"<(MAX|MIN)>\s+observation\s*=\s*([0-9.]+)")
_DROPPED = re.compile(r"#\s*dropped messages\s*=\s*([0-9]+);\s*#\s*duplicated messages\s*=\s*([0-9]+);"
                      r"\s*#\s*out-of-order messages\s*=\s*([0-9]+)")
_AVG = re.compile(r"avg-latency\s*=\s*([0-9.]+)")
_OBS = re.compile(r"Total\s+([0-9]+)\s+observations")


def parse_pingpong(text: str) -> dict:
    """What `sockperf ping-pong` printed, as numbers (µs: half the round trip, as sockperf reports
    latency without --full-rtt; the figures every earlier latency run reported).
    Raises BenchError when the percentiles or the drop counts are missing."""
    text = _ANSI.sub("", text)
    pct = {float(k): float(v) for k, v in _PERCENTILE.findall(text)}
    drops = _DROPPED.search(text)
    if 50.0 not in pct or 99.0 not in pct or drops is None:
        tail = " / ".join(text.strip().splitlines()[-6:])
        raise BenchError(f"sockperf ping-pong: no percentiles or drop counts in its output: {tail}",
                         EXIT_MEASUREMENT)
    out = {"p50_us": pct[50.0], "p99_us": pct[99.0], "p999_us": pct.get(99.9),
           "dropped": int(drops.group(1)), "duplicated": int(drops.group(2)), "out_of_order": int(drops.group(3))}
    for which, v in _EXTREME.findall(text):
        out[f"{which.lower()}_us"] = float(v)
    if m := _AVG.search(text):
        out["avg_us"] = float(m.group(1))
    if m := _OBS.search(text):
        out["observations"] = int(m.group(1))
    return out


def pingpong(lab: Lab, setup: Setup, dst: str, duration: float) -> dict:
    """One sockperf ping-pong from the lab's namespace on the generator's CPU; its figures."""
    p = lab.spawn("sockperf-client", ["taskset", "-c", str(lab.cpu_g), "sockperf", "ping-pong", "-i", dst,
                                      "-p", str(PORT), "-t", f"{duration:g}"])
    rc = p.wait(duration + 30)  # sockperf's warm-up and its report; wait() ends it past that
    text = p.out.read_text(errors="replace") + p.err.read_text(errors="replace")
    if rc != 0:
        raise BenchError(f"{setup.label}: sockperf ping-pong exited {rc}: {p.stderr_tail()}", EXIT_MEASUREMENT)
    res = parse_pingpong(text)
    if res["dropped"] != 0:
        raise BenchError(f"{setup.label}: sockperf saw {res['dropped']} dropped message(s)", EXIT_MEASUREMENT)
    return res


def port_bound(ss_output: str, port: int) -> bool:
    """Whether `ss -Huln` lists a socket on the local port."""
    for line in ss_output.splitlines():
        fields = line.split()
        # State Recv-Q Send-Q Local:Port Peer:Port (no header with -H)
        if len(fields) >= 4 and fields[3].rpartition(":")[2] == str(port):
            return True
    return False


def start_server(lab: Lab, ns: str):
    """A real sockperf server in the server namespace on the reflector's CPU; returns once its UDP
    port is bound (a bounded poll of the socket table, not a sleep)."""
    srv = lab.spawn("sockperf-server", ["taskset", "-c", str(lab.cpu_r), "sockperf", "server", "-i", SERVER_ADDR,
                                        "-p", str(PORT)], ns=ns)
    deadline = time.monotonic() + SERVER_READY_S
    while True:
        if not srv.running():
            raise BenchError(f"sockperf server exited ({srv.wait(1)}) before it was ready: {srv.stderr_tail()}",
                             EXIT_MEASUREMENT)
        if port_bound(lab.sh(["ss", "-Huln"], ns=ns), PORT):
            return srv
        if time.monotonic() > deadline:
            srv.stop()
            raise BenchError(f"sockperf server: UDP port {PORT} not bound after {SERVER_READY_S:g} s: "
                             f"{srv.stderr_tail()}", EXIT_MEASUREMENT)
        time.sleep(0.02)  # the poll's period; the bound is the deadline above


def add_server_side(lab: Lab) -> str:
    """A second namespace with a veth pair to the lab's: the real server's side."""
    ns2 = lab.add_netns(f"{lab.ns}-srv")
    lab.sh(["ip", "link", "add", "veth-c", "type", "veth", "peer", "name", "veth-s", "netns", ns2])
    lab.sh(["ip", "addr", "add", f"{CLIENT_ADDR}/24", "dev", "veth-c"])
    lab.sh(["ip", "link", "set", "veth-c", "up"])
    lab.sh(["ip", "addr", "add", f"{SERVER_ADDR}/24", "dev", "veth-s"], ns=ns2)
    lab.sh(["ip", "link", "set", "veth-s", "up"], ns=ns2)
    return ns2


def measure_one(lab: Lab, setup: Setup, ns2: str, duration: float, rep: int) -> dict:
    if setup.reflector is not None:
        lab.start_reflector(["-m", "tun", "--reflect", "sockperf", "-c", str(lab.cpu_r), *setup.reflector])
        res = pingpong(lab, setup, PEER, duration)
        summary = lab.reflector.finish()
        # the reflector's CPU, honestly: a busy worker holds its CPU whatever the load
        res["cpu_util"] = summary["cpu_s"] / summary["elapsed_s"] if summary.get("elapsed_s") else None
    else:
        srv = start_server(lab, ns2)
        try:
            res = pingpong(lab, setup, SERVER_ADDR, duration)
        finally:
            srv.stop()
    return {"kind": "latency", "schema_version": SCHEMA_VERSION, "setup": setup.label, "rep": rep, **res}


def summarize(records: list[dict]) -> list[dict]:
    """Per setup (in SETUPS' order, those measured): the medians over the repetitions."""
    rows = []
    for s in SETUPS:
        rs = [r for r in records if r["setup"] == s.label]
        if not rs:
            continue
        util = [r["cpu_util"] for r in rs if r.get("cpu_util") is not None]
        rows.append({"setup": s.label, "key": s.key, "runs": len(rs),
                     "p50_us": stats.median([r["p50_us"] for r in rs]),
                     "p99_us": stats.median([r["p99_us"] for r in rs]),
                     "cpu_util": stats.median(util) if util else None})
    return rows


def table(records: list[dict]) -> str:
    lines = [f"{'setup':<24} {'p50 us':>10} {'p99 us':>10} {'reflector CPU':>14}"]
    for row in summarize(records):
        util = f"{row['cpu_util'] * 100:.0f} %" if row["cpu_util"] is not None else "-"
        lines.append(f"{row['setup']:<24} {row['p50_us']:10.2f} {row['p99_us']:10.2f} {util:>14}")
    return "\n".join(lines)


def metric_lines(records: list[dict]) -> list[dict]:
    """latency/<setup>/p50_us and .../p99_us, one line per run."""
    key = {s.label: s.key for s in SETUPS}
    out = []
    for r in records:
        for fig in ("p50_us", "p99_us"):
            out.append({"kind": "timed", "name": f"latency/{key[r['setup']]}/{fig}", "value": r[fig], "unit": "us",
                        "better": "lower"})
    return out


def main(args, ctx: Context) -> int:
    if args.reps < 1:
        raise BenchError("--reps N, N >= 1")
    if args.duration <= 0:
        raise BenchError("--duration SECS, SECS > 0")
    if shutil.which("sockperf") is None:
        raise BenchError("latency: needs sockperf (tools/install-deps.sh test)", EXIT_BAD_INPUT)
    run = ctx.new_run("latency", {"duration": args.duration, "setups": [s.key for s in SETUPS]})

    def body() -> int:
        with Lab(ctx.tools, "latency") as lab:
            ns2 = add_server_side(lab)
            ctx.out(f"sockperf ping-pong, {args.duration:g} s x {args.reps} per setup: reflector/server on CPU "
                    f"{lab.cpu_r}, client on CPU {lab.cpu_g}")
            with Progress(args.reps * len(SETUPS), "ping-pongs") as prog:
                for rep in range(1, args.reps + 1):
                    for s in SETUPS:
                        what = f"{s.label:<24} #{rep}"
                        prog.doing(what)
                        rec = measure_one(lab, s, ns2, args.duration, rep)
                        run.records.append(rec)
                        add_samples(run, metric_lines([rec]))
                        util = f", reflector CPU {rec['cpu_util'] * 100:.0f} %" if rec.get("cpu_util") is not None \
                            else ""
                        prog.step(what, f"p50 {rec['p50_us']:.2f} us, p99 {rec['p99_us']:.2f} us{util}")
        if args.json:
            write_jsonl(args.json, run.records)
        ctx.out("")
        ctx.out(table(run.records))
        return EXIT_OK

    return ctx.measure(run, body)
