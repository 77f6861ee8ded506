"""TCP streams (tapgen --tcp, every byte verified on return) and UDP
superpackets (tapgen --gso) through tapreflect with --offload on and off,
interleaved (on off on off ...) in a private network namespace: goodput, the
reflector's CPU per KiB read, and the on/off ratios.

gso sends 64 datagrams of 1000 B per send (UDP_SEGMENT).  The reflector runs
on one CPU, tapgen on the other.  Every trial checks the reflector's
accounting and that no byte or datagram came back wrong; exit status 1 if one
did not hold.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Optional

from . import stats
from .common import Context, add_samples, words, write_jsonl
from .lab import Lab
from .model import EXIT_OK, EXIT_REGRESSION, BenchError
from .progress import Progress

SCHEMA_VERSION = 2  # of the stream records: 2 adds schema_version and kind (the fields are those of 1)
GSO_SEGMENTS = 64
GSO_SIZE = 1000  # payload bytes of each datagram of a superpacket
MODES = ("tap", "tun")
TRAFFIC = ("tcp", "gso")
IOS = ("uring", "sync")
OFFLOADS = ("on", "off")  # the order within a repetition: each off trial follows its on twin


def add_arguments(p) -> None:
    p.add_argument("--modes", default="tap tun", metavar="LIST", help='device modes (default "tap tun")')
    p.add_argument("--traffic", default="tcp gso", metavar="LIST", help='tcp and/or gso (default "tcp gso")')
    p.add_argument("--ios", default="uring sync", metavar="LIST", help='uring and/or sync (default "uring sync")')
    p.add_argument("--reps", type=int, default=5, metavar="N",
                   help="trials per scenario and offload setting, interleaved (default 5)")
    p.add_argument("--duration", type=float, default=3.0, metavar="SECS", help="length of a trial (default 3)")
    p.add_argument("--flows", type=int, default=2, metavar="N", help="TCP connections / UDP flows (default 2)")
    p.add_argument("--gso-rate", type=int, default=0, metavar="PPS",
                   help="UDP datagrams per second for gso (default 0 = as fast as possible)")
    p.add_argument("--out", metavar="FILE",
                   help="every trial as JSON lines (default BUILD/bench-streams.json; ./bench-streams.json "
                        "when installed)")


def _choose(text: str, allowed: tuple, option: str) -> list[str]:
    got = words(text)
    if not got:
        raise BenchError(f"{option}: give at least one of {', '.join(allowed)}")
    for w in got:
        if w not in allowed:
            raise BenchError(f"{option}: {' or '.join(allowed)}, not {w}")
    return got


def tapgen_args(traffic: str, *, duration: float, flows: int, gso_rate: int) -> list[str]:
    if traffic == "tcp":
        return ["--tcp", "--flows", str(flows), "--duration", f"{duration:g}"]
    return ["--gso", str(GSO_SEGMENTS), "--size", str(GSO_SIZE), "--flows", str(flows), "--rate", str(gso_rate),
            "--duration", f"{duration:g}"]


def gbit_per_s(datagrams: int, duration_s: float) -> float:
    """UDP payload rate of `datagrams` of GSO_SIZE bytes (a unit conversion, not a statistic)."""
    return datagrams * GSO_SIZE * 8 / duration_s / 1e9 if duration_s > 0 else 0.0


def trial_record(*, mode: str, traffic: str, io: str, offload: str, rep: int, gen: dict, summary: dict) -> dict:
    """One trial from tapgen's result and the reflector's summary, with the fields streams.sh wrote."""
    tcp = traffic == "tcp"
    kib = summary["bytes_read"] / 1024
    return {
        "kind": "stream", "schema_version": SCHEMA_VERSION,
        "scenario": f"{mode}/{traffic}/{io}", "mode": mode, "traffic": traffic, "io": io, "offload": offload,
        "rep": rep, "offloads": summary.get("offloads"),
        "gbps": gen["goodput_gbps"] if tcp else gbit_per_s(gen["reflected"], gen["duration_s"]),
        "sent_gbps": gen["goodput_gbps"] if tcp else gbit_per_s(gen["sent"], gen["duration_s"]),
        "loss_ratio": 0 if tcp else gen["loss_ratio"],
        "verified": bool(gen["ok"]) if tcp else (gen["duplicates"] == 0 and gen["foreign"] == 0),
        "frames_read": summary["frames_read"], "bytes_read": summary["bytes_read"], "cpu_s": summary["cpu_s"],
        "kernel_tx_dropped": summary.get("kernel_tx_dropped"),
        "cpu_ns_per_kib": summary["cpu_s"] * 1e9 / kib if kib > 0 else None,
        "cpu_ns_per_frame": summary.get("cpu_ns_per_frame"),
        "accounting_exact": summary["accounting_exact"],
    }


def measure(lab: Lab, *, modes, traffic, ios, reps: int, duration: float, flows: int, gso_rate: int,
            progress: Optional[Progress] = None,
            on_record: Optional[Callable[[dict], None]] = None) -> list[dict]:
    """Every trial, on and off alternating within each repetition; the trial records.

    on_record sees each record as soon as its trial ended, so that a caller keeps what was
    measured before an interruption.  Without a progress, one of its own shows the trials."""
    points = [(m, t, io, rep, off) for m in modes for t in traffic for io in ios
              for rep in range(1, reps + 1) for off in OFFLOADS]
    if progress is None:
        with Progress(len(points), "stream trials") as own:
            return measure(lab, modes=modes, traffic=traffic, ios=ios, reps=reps, duration=duration, flows=flows,
                           gso_rate=gso_rate, progress=own, on_record=on_record)
    records = []
    gen_args = {t: tapgen_args(t, duration=duration, flows=flows, gso_rate=gso_rate) for t in traffic}
    for mode, t, io, rep, offload in points:
        what = f"{mode}/{t}/{io:<5} {offload:<3} #{rep}"
        progress.doing(what)
        lab.start_reflector(["-m", mode, "--io", io, "-c", str(lab.cpu_r), "--offload", offload])
        # tapgen's own limit is --duration; the margin covers its connect, drain and the TCP close
        gen = lab.tapgen(gen_args[t], timeout=duration + 30)[-1]
        summary = lab.reflector.finish()
        rec = trial_record(mode=mode, traffic=t, io=io, offload=offload, rep=rep, gen=gen, summary=summary)
        records.append(rec)
        if on_record is not None:
            on_record(rec)
        flags = ("" if rec["accounting_exact"] else "  ACCOUNTING MISMATCH") + ("" if rec["verified"] else
                                                                                "  UNVERIFIED DATA")
        cpu = f"{rec['cpu_ns_per_kib']:7.1f} ns/KiB" if rec["cpu_ns_per_kib"] is not None else "    - ns/KiB"
        progress.step(what, f"{rec['gbps']:6.2f} Gbit/s  loss {rec['loss_ratio'] * 100:6.3f} %  {cpu}{flags}")
    return records


def _present(values) -> list[float]:
    return [v for v in values if v is not None]


def _median(values) -> Optional[float]:
    xs = _present(values)
    return stats.median(xs) if xs else None


def _paired_ratio(records: list[dict], key: str, num: str) -> Optional[float]:
    """Median over the repetitions of num/other for `key` (num: "on" or "off"): each on trial
    ran right beside its off twin, so the pair shares the machine's state of the moment."""
    side = {o: {r["rep"]: r[key] for r in records if r["offload"] == o and r.get(key) is not None}
            for o in OFFLOADS}
    den = "off" if num == "on" else "on"
    ratios = stats.paired_ratios(side[den], side[num])
    return stats.median(ratios) if ratios else None


def summarize(records: list[dict]) -> list[dict]:
    """Per scenario, in the order first measured: medians and min..max of each offload setting,
    and the on/off ratios (Gbit/s on/off, CPU per byte off/on: higher is better for both)."""
    by: dict[str, list[dict]] = {}
    for r in records:
        by.setdefault(r["scenario"], []).append(r)
    rows = []
    for name, rs in by.items():
        row = {"scenario": name}
        for o in OFFLOADS:
            side = [r for r in rs if r["offload"] == o]
            g = _present(r["gbps"] for r in side)
            row[f"{o}_gbps"] = _median(g)
            row[f"{o}_min"] = min(g) if g else None
            row[f"{o}_max"] = max(g) if g else None
            row[f"{o}_loss"] = _median(r["loss_ratio"] for r in side)
            row[f"{o}_cpu"] = _median(r["cpu_ns_per_kib"] for r in side)
        row["gbps_x"] = _paired_ratio(rs, "gbps", "on")
        row["cpu_x"] = _paired_ratio(rs, "cpu_ns_per_kib", "off")
        rows.append(row)
    return rows


def _f(v: Optional[float], fmt: str) -> str:
    return format(v, fmt) if v is not None else "-"


def table(records: list[dict]) -> str:
    """streams.sh's table (its columns, widened where a heading did not fit): one row per
    scenario, and what the columns mean."""
    heads = [("scenario", 16, "<"), ("on Gbit/s (min..max)", 21, "<"), ("off Gbit/s (min..max)", 21, "<"),
             ("on loss%", 9, ">"), ("off loss%", 9, ">"), ("on ns/KiB", 10, ">"), ("off ns/KiB", 10, ">"),
             ("Gbit/s x", 8, ">"), ("CPU/B x", 8, ">")]
    lines = ["| " + " | ".join(format(h, f"{a}{w}") for h, w, a in heads) + " |",
             "|" + "|".join("-" * (w + 2) for _, w, _ in heads) + "|"]
    for row in summarize(records):
        cells = [row["scenario"]]
        for o in OFFLOADS:
            if row[f"{o}_gbps"] is None:
                cells.append("-")
            else:
                cells.append(f"{row[f'{o}_gbps']:6.2f} ({row[f'{o}_min']:5.2f}..{row[f'{o}_max']:5.2f})")
        pct = [None if row[f"{o}_loss"] is None else row[f"{o}_loss"] * 100 for o in OFFLOADS]
        cells += [_f(pct[0], ".3f"), _f(pct[1], ".3f"), _f(row["on_cpu"], ".1f"), _f(row["off_cpu"], ".1f"),
                  _f(row["gbps_x"], ".2f"), _f(row["cpu_x"], ".2f")]
        lines.append("| " + " | ".join(format(c, f"{a}{w}") for c, (_, w, a) in zip(cells, heads)) + " |")
    lines += ["",
              "Gbit/s: TCP goodput (verified bytes), UDP reflected payload; ns/KiB: reflector CPU per KiB read;",
              "Gbit/s x = on/off; CPU/B x = off/on (higher is better for both), each the median of the",
              "repetitions' ratios (an on trial and its off twin ran back to back)."]
    return "\n".join(lines)


def metric_lines(records: list[dict]) -> list[dict]:
    """The figures as report metrics, one line per trial and figure (the names run.sh --metrics used)."""
    out = []
    for r in records:
        base = f"e2e/stream/{r['scenario']}/offload-{r['offload']}"
        if r.get("gbps") is not None:
            out.append({"kind": "timed", "name": f"{base}/gbps", "value": r["gbps"], "unit": "Gbit/s",
                        "better": "higher"})
        if r.get("cpu_ns_per_kib") is not None:
            out.append({"kind": "timed", "name": f"{base}/cpu_ns_per_kib", "value": r["cpu_ns_per_kib"],
                        "unit": "ns/KiB", "better": "lower"})
    return out


def failures(records: list[dict]) -> list[str]:
    """The trials whose accounting was not exact or whose data came back wrong."""
    out = []
    for r in records:
        what = f"{r['scenario']} offload {r['offload']} #{r['rep']}"
        if not r["accounting_exact"]:
            out.append(f"{what}: accounting mismatch (read != written + dropped)")
        if not r["verified"]:
            out.append(f"{what}: unverified data (a byte or datagram came back wrong)")
    return out


def main(args, ctx: Context) -> int:
    modes = _choose(args.modes, MODES, "--modes")
    traffic = _choose(args.traffic, TRAFFIC, "--traffic")
    ios = _choose(args.ios, IOS, "--ios")
    if args.reps < 1:
        raise BenchError("--reps N, N >= 1")
    if args.duration <= 0:
        raise BenchError("--duration SECS, SECS > 0")
    if args.flows < 1:
        raise BenchError("--flows N, N >= 1")
    if args.gso_rate < 0:
        raise BenchError("--gso-rate PPS, PPS >= 0")
    config = {"modes": modes, "traffic": traffic, "ios": ios, "duration": args.duration, "flows": args.flows,
              "gso_rate": args.gso_rate, "gso": f"{GSO_SEGMENTS}x{GSO_SIZE}"}
    run = ctx.new_run("streams", config)
    out = Path(args.out) if args.out else ctx.tools.results / "bench-streams.json"

    def keep(rec: dict) -> None:
        run.records.append(rec)
        add_samples(run, metric_lines([rec]))

    def body() -> int:
        with Lab(ctx.tools, "streams") as lab:
            ctx.out(f"tapreflect stream benchmark: {args.reps} interleaved trial(s) of {args.duration:g} s per point, "
                    f"{args.flows} flow(s), reflector on CPU {lab.cpu_r}, tapgen on CPU {lab.cpu_g}")
            records = measure(lab, modes=modes, traffic=traffic, ios=ios, reps=args.reps, duration=args.duration,
                              flows=args.flows, gso_rate=args.gso_rate, on_record=keep)
        write_jsonl(out, records)
        ctx.out("")
        ctx.out(table(records))
        ctx.out(f"Records: {out}")
        bad = failures(records)
        for line in bad:
            print(line, file=sys.stderr)
        if bad:
            print("accounting mismatch or unverified data in a trial", file=sys.stderr)
            return EXIT_REGRESSION
        return EXIT_OK

    return ctx.measure(run, body)
