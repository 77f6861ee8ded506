"""Search methods side by side: tapgen's NDR/PDR searches (--search binary,
the bisection with a majority of trials per step, and --search mlr, RFC 9971
MLRsearch) against the same reflector, interleaved (A B, B A, ...), --reps
searches each; per method the NDR and PDR medians with their spread, the
time to result and the number of trials, and the paired ratios against the
first method.

Every search starts the reflector afresh on one CPU, with tapgen on another,
and searches the same range: the ceiling is fixed once, at what one unlimited
trial offered before the first search (tapgen --max-rate), so that no method
spends a trial on it and each bisects the same interval.  The time to result
is tapgen's own (its record's wall_s: from its start to its result, every
trial's drain included).

The verdict says whether each method's NDR median lies within the first
method's spread (its min..max over the repetitions): the question a lab asks
before it switches methods.  Time ratios are paired by repetition (the two
searches of a repetition ran back to back) and come with a Hodges-Lehmann
estimate and its 99 % interval.

Example: tapreflect-bench searches --mode tun --reps 10 --duration 1
"""
from __future__ import annotations

import math
import shlex
import time

from . import stats
from .common import Context, add_samples, write_jsonl
from .lab import Lab
from .model import BenchError
from .progress import Progress

SCHEMA_VERSION = 1
METHODS = ("binary", "mlr")
ALPHA = 0.01


def add_arguments(p) -> None:
    p.add_argument("--mode", choices=["tap", "tun"], default="tun", help="device mode (default tun)")
    p.add_argument("--methods", default="binary mlr", metavar="LIST",
                   help=f"tapgen --search methods to compare, the first the reference (default \"binary mlr\"): "
                        f"{', '.join(METHODS)}")
    p.add_argument("--reps", type=int, default=10, metavar="N", help="searches per method (default 10)")
    p.add_argument("--duration", type=float, default=1.0, metavar="SECS",
                   help="tapgen --duration: binary's trial length and MLRsearch's final trial duration "
                        "(default 1)")
    p.add_argument("--pdr-loss", type=float, default=0.005, metavar="RATIO",
                   help="loss ratio the PDR allows (default 0.005)")
    p.add_argument("--binary-opts", default="--steps 8 --repeats 3", metavar="OPTS",
                   help="further tapgen options of the binary searches (default \"--steps 8 --repeats 3\", "
                        "tapgen's defaults)")
    p.add_argument("--mlr-opts", default="", metavar="OPTS",
                   help="further tapgen options of the MLRsearch searches, e.g. \"--width 0.01 --exceed-ratio 0\" "
                        "(default none: tapgen's NDR and PDR goals)")
    p.add_argument("--size", type=int, default=64, metavar="BYTES",
                   help="Ethernet frame size of the UDP datagrams (default 64)")
    p.add_argument("--json", metavar="FILE", help="also write every search as JSON lines")


def parse_methods(text: str) -> list[str]:
    methods = text.replace(",", " ").split()
    if not methods:
        raise BenchError("--methods needs at least one method")
    for m in methods:
        if m not in METHODS:
            raise BenchError(f"--methods: {m!r} is not one of {', '.join(METHODS)}")
    if len(set(methods)) != len(methods):
        raise BenchError(f"--methods: a method named twice in {text!r}")
    return methods


def order(methods: list[str], rep: int) -> list[str]:
    """The reference first on odd repetitions, last on even ones, so that neither always goes first."""
    return list(methods) if rep % 2 else list(reversed(methods))


def spread(vals: list[float]) -> dict:
    return {"median": stats.median(vals), "min": min(vals), "max": max(vals)}


def paired(recs: list[dict], ref: str, method: str, key: str):
    """The Hodges-Lehmann ratio method/ref of key over the repetitions both have (None with fewer than 2)."""
    base = {r["rep"]: r[key] for r in recs if r["method"] == ref}
    cur = {r["rep"]: r[key] for r in recs if r["method"] == method}
    logs = stats.log_ratios(base, cur)
    if len(logs) < 2:
        return None
    return stats.hodges_lehmann_paired(logs, ALPHA)


def table(recs: list[dict], methods: list[str]) -> list[dict]:
    rows = []
    for m in methods:
        rs = [r for r in recs if r["method"] == m]
        if not rs:
            continue
        rows.append({"method": m, "searches": len(rs), "ndr": spread([r["ndr_pps"] for r in rs]),
                     "pdr": spread([r["pdr_pps"] for r in rs]), "wall_s": spread([r["wall_s"] for r in rs]),
                     "trials": spread([r["trials"] for r in rs]),
                     "ndr_ratio": paired(recs, methods[0], m, "ndr_pps") if m != methods[0] else None,
                     "pdr_ratio": paired(recs, methods[0], m, "pdr_pps") if m != methods[0] else None,
                     "time_ratio": paired(recs, methods[0], m, "wall_s") if m != methods[0] else None})
    return rows


def estimate_text(e) -> str:
    if e is None:
        return "-"
    if e.interval is None:
        return f"{e.ratio:.3f}"
    return f"{e.ratio:.3f} [{e.interval[0]:.3f}, {e.interval[1]:.3f}]"


def format_table(rows: list[dict]) -> str:
    def s(d, scale, fmt):
        return f"{d['median'] / scale:{fmt}} [{d['min'] / scale:{fmt}}..{d['max'] / scale:{fmt}}]"

    out = [f"{'method':<8} {'n':>3}  {'NDR kpps':<26} {'PDR kpps':<26} {'time s':<22} {'trials':<14}"]
    for r in rows:
        out.append(f"{r['method']:<8} {r['searches']:>3}  {s(r['ndr'], 1e3, '.1f'):<26} "
                   f"{s(r['pdr'], 1e3, '.1f'):<26} {s(r['wall_s'], 1, '.1f'):<22} {s(r['trials'], 1, '.0f'):<14}")
    return "\n".join(out)


def verdicts(rows: list[dict]) -> list[str]:
    """Per method after the first: its NDR median within the reference's spread, and the paired ratios."""
    if len(rows) < 2:
        return []
    ref = rows[0]
    out = []
    for r in rows[1:]:
        lo, hi, med = ref["ndr"]["min"], ref["ndr"]["max"], r["ndr"]["median"]
        within = lo <= med <= hi
        out.append(f"{r['method']}: NDR median {med / 1e3:.1f} kpps {'within' if within else 'OUTSIDE'} "
                   f"{ref['method']}'s spread {lo / 1e3:.1f}..{hi / 1e3:.1f} kpps; "
                   f"{r['method']}/{ref['method']} (Hodges-Lehmann, {100 * (1 - ALPHA):.0f} % interval): "
                   f"NDR {estimate_text(r['ndr_ratio'])}, PDR {estimate_text(r['pdr_ratio'])}, "
                   f"time {estimate_text(r['time_ratio'])}")
    return out


def search_record(method: str, rep: int, rec: dict, wall_s: float) -> dict:
    """One search's figures from tapgen's search record and the wall time it took."""
    trace = rec.get("trace", [])
    return {"schema_version": SCHEMA_VERSION, "method": method, "rep": rep, "ndr_pps": rec["ndr_pps"],
            "pdr_pps": rec["pdr_pps"], "ceiling_pps": rec.get("ceiling_pps"), "wall_s": wall_s,
            "trials": len(trace), "trial_s": sum(p.get("duration_s", 0) or 0 for p in trace),
            "complete": rec.get("complete", True)}


def metric_lines(rec: dict) -> list[dict]:
    base = f"searches/{rec['method']}"
    return [{"name": f"{base}/ndr_pps", "value": rec["ndr_pps"], "unit": "pps", "better": "higher",
             "pair": rec["rep"]},
            {"name": f"{base}/pdr_pps", "value": rec["pdr_pps"], "unit": "pps", "better": "higher",
             "pair": rec["rep"]},
            {"name": f"{base}/time_s", "value": rec["wall_s"], "unit": "s", "better": "lower", "pair": rec["rep"]}]


def main(args, ctx: Context) -> int:
    methods = parse_methods(args.methods)
    if args.reps < 1:
        raise BenchError("--reps N, N >= 1")
    if not (args.duration > 0 and math.isfinite(args.duration)):
        raise BenchError("--duration must be more than 0")
    if not 0 <= args.pdr_loss < 1:
        raise BenchError("--pdr-loss: a ratio, 0 <= ratio < 1")
    if args.size < 64:
        raise BenchError("--size: an Ethernet frame of 64 bytes or more")
    opts = {"binary": shlex.split(args.binary_opts), "mlr": shlex.split(args.mlr_opts)}
    payload = str(args.size - 46)
    config = {"mode": args.mode, "methods": methods, "duration": args.duration, "pdr_loss": args.pdr_loss,
              "size": args.size, "binary_opts": args.binary_opts, "mlr_opts": args.mlr_opts}
    run = ctx.new_run("searches", config)
    recs: list[dict] = []

    def body() -> int:
        with Lab(ctx.tools, "searches") as lab:
            ctx.out(f"tapgen search methods: {' '.join(methods)}, {args.reps} search(es) each, interleaved: "
                    f"{args.mode}, {args.size} B frames, {args.duration:g} s trials, PDR loss "
                    f"{args.pdr_loss:g}, reflector on CPU {lab.cpu_r}, tapgen on CPU {lab.cpu_g}")
            lab.start_reflector(["-m", args.mode, "-c", str(lab.cpu_r)])
            cal = lab.tapgen(["--size", payload, "--rate", "0", "--duration", f"{args.duration:g}",
                              "--drain", "0.2"], timeout=args.duration + 60)[-1]
            lab.reflector.finish()
            ceiling = int(cal["offered_pps"])
            ctx.out(f"  ceiling: {ceiling} pps (what one unlimited trial offered), the same for every search")
            run.note = f"ceiling {ceiling} pps"
            with Progress(len(methods) * args.reps, "searches") as prog:
                for rep in range(1, args.reps + 1):
                    for m in order(methods, rep):
                        prog.doing(f"#{rep} {m}")
                        lab.start_reflector(["-m", args.mode, "-c", str(lab.cpu_r)])
                        t0 = time.monotonic()
                        g = lab.tapgen(["--size", payload, "--search", m, *opts[m], "--duration",
                                        f"{args.duration:g}", "--pdr-loss", f"{args.pdr_loss:g}",
                                        "--max-rate", str(ceiling)], timeout=3600)[-1]
                        wall = time.monotonic() - t0
                        lab.reflector.finish()
                        # tapgen's own time to result when it says it (start to record); else the process's.
                        rec = search_record(m, rep, g, g.get("wall_s", wall))
                        recs.append(rec)
                        run.records.append(rec)
                        add_samples(run, metric_lines(rec))
                        prog.step(f"#{rep} {m}", f"NDR {rec['ndr_pps'] / 1e3:.1f} kpps, PDR "
                                                 f"{rec['pdr_pps'] / 1e3:.1f} kpps, {wall:.1f} s, "
                                                 f"{rec['trials']} trials")
        if args.json:
            write_jsonl(args.json, recs)
        rows = table(recs, methods)
        ctx.out("")
        ctx.out(format_table(rows))
        ctx.out("medians [min..max] over the searches; time: tapgen's wall time from start to result")
        for line in verdicts(rows):
            ctx.out(line)
        incomplete = [r for r in recs if not r["complete"]]
        if incomplete:
            ctx.out(f"{len(incomplete)} search(es) cut short (tapgen's trial limit): their figures are not final")
        return 0

    return ctx.measure(run, body)
