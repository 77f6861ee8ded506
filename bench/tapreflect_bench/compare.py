"""Same-run engine comparison: tapreflect with each engine in turn
(interleaved A B C A B C ...) against the same tapgen load, reflector and
generator pinned to different CPUs; per engine and load the offered and
reflected rate, loss, and the reflector's CPU time per frame, with paired
ratios against the reference (the first engine: put sync first to compare
against the original blocking design).

Ratios are paired: within a repetition each point's CPU per frame is divided
by the reference's at the same load (cpu/ref) and at the first load
(cpu/first: with --loads "max 30%", the cost at 30 % as a multiple of the
saturation cost), and the table gives the median of those per-repetition
ratios with their range.

Example: tapreflect-bench compare --loads "max 30%" --reps 5 --duration 3
"""
from __future__ import annotations

import re

from . import engines, stats
from .common import Context, accounting_verdict, add_samples, write_jsonl
from .lab import Lab
from .model import BenchError, in_force
from .progress import Progress

# Of the trial records: 2 adds schema_version itself; 3: steering is hash, kernel or none, and why it
# is not what was asked is steering_why (tapreflect's schema 2).
SCHEMA_VERSION = 3
# From the reflector's summary (model.in_force: a value of each queue where they differ).
FIELDS = ("frames_read", "cpu_ns_per_frame", "frames_per_wakeup", "wait", "steering", "steering_why", "threads",
          "accounting_exact", "read", "ring_flags")


def add_arguments(p) -> None:
    p.add_argument("--mode", choices=["tap", "tun"], default="tap", help="device mode (default tap)")
    p.add_argument("--engines", default="sync multishot fixed", metavar="LIST",
                   help=f"engines to compare, space separated (default \"sync multishot fixed\"): {engines.NAMES}; "
                        f"modifiers {engines.MODIFIERS} (e.g. \"multishot multishot+c50 multishot+kernel\")")
    p.add_argument("--queues", default="1", metavar="LIST",
                   help="queue counts to sweep, e.g. \"1 2 4\" (default 1); 16 flows spread over them by the "
                        "kernel's flow hash")
    p.add_argument("--queue-cpus", choices=["one", "two"], default="one",
                   help="one: every queue on the reflector's CPU (default); two: queues alternate between the "
                        "reflector's CPU and the generator's")
    p.add_argument("--loads", default="max", metavar="LIST",
                   help="offered loads (default \"max\"): max = as fast as tapgen can send, N%% = N percent of "
                        "what the reference (the first engine, first queue count) reflected in one calibration "
                        "trial at max, or a rate in pps")
    p.add_argument("--duration", type=float, default=3.0, metavar="SECS", help="length of each trial (default 3)")
    p.add_argument("--reps", type=int, default=1, metavar="N",
                   help="repetitions; each runs every load, queue count and engine once, in that order, so that a "
                        "drift of the machine falls on all points alike; medians are reported (default 1)")
    p.add_argument("--size", type=int, default=18, metavar="BYTES", help="UDP payload (default 18: 64 B Ethernet frames)")
    p.add_argument("--flows", type=int, default=16, metavar="N", help="UDP flows (default 16)")
    p.add_argument("--json", metavar="FILE", help="also write every trial as JSON lines")


def cpus_for(n: int, how: str, cpu_r: int, cpu_g: int) -> str:
    return ",".join(str(cpu_g if how == "two" and i % 2 == 1 else cpu_r) for i in range(n))


def paired(trials: list[dict], load: str, engine: str, ref: str, ref_load: str) -> list[float]:
    """Each repetition's CPU per frame of (load, engine) over the reference's at ref_load in the same
    repetition."""
    base = {t["rep"]: t["cpu_ns_per_frame"] for t in trials if t["load"] == ref_load and t["engine"] == ref}
    cur = {t["rep"]: t["cpu_ns_per_frame"] for t in trials if t["load"] == load and t["engine"] == engine}
    return stats.paired_ratios(base, cur)


def ratio_text(r: list[float]) -> str:
    if not r:
        return "-"
    if len(r) == 1:
        return f"{r[0]:.3f}"
    return f"{stats.median(r):.3f} [{min(r):.2f}..{max(r):.2f}]"


def table(trials: list[dict], loads: list[str], labels: list[str], ref: str) -> list[dict]:
    """The table's rows: medians per point and the paired ratios."""
    first = loads[0]
    rows = []
    for load in loads:
        ref_pps = [t["reflected_pps"] for t in trials if t["load"] == load and t["engine"] == ref]
        ref_med = stats.median(ref_pps) if ref_pps else None
        for label in labels:
            ts = [t for t in trials if t["load"] == load and t["engine"] == label]
            if not ts:
                continue

            def med(k):
                # a figure a trial did not report (frames per wakeup of the sync engine) is left out
                vals = [t[k] for t in ts if t.get(k) is not None]
                return stats.median(vals) if vals else 0.0

            refl = med("reflected_pps")
            rows.append({"load": load, "engine": label, "offered_pps": med("offered_pps"), "reflected_pps": refl,
                         "loss_ratio": med("loss_ratio"), "cpu_ns_per_frame": med("cpu_ns_per_frame"),
                         "frames_per_wakeup": med("frames_per_wakeup"), "rtt_p50_us": med("rtt_p50_us"),
                         "rtt_p99_us": med("rtt_p99_us"),
                         "cpu_ref": paired(trials, load, label, ref, load),
                         "cpu_first": paired(trials, load, label, ref, first),
                         "pps_ref": stats.ratio(ref_med, refl) if ref_med else None})
    return rows


def format_table(rows: list[dict]) -> str:
    out = [f"{'load':<6} {'engine':<20} {'offered kpps':>12} {'reflect kpps':>12} {'loss %':>8} {'cpu ns/fr':>10} "
           f"{'batch':>7} {'cpu/ref':<20} {'cpu/first':<20} {'pps/ref':>8} {'p50 us':>9} {'p99 us':>9}"]
    for r in rows:
        pps = "-" if r["pps_ref"] is None else f"{r['pps_ref']:.3f}"
        out.append(f"{r['load']:<6} {r['engine']:<20} {r['offered_pps'] / 1e3:12.1f} {r['reflected_pps'] / 1e3:12.1f} "
                   f"{r['loss_ratio'] * 100:8.3f} {r['cpu_ns_per_frame']:10.0f} {r['frames_per_wakeup']:7.1f} "
                   f"{ratio_text(r['cpu_ref']):<20} {ratio_text(r['cpu_first']):<20} {pps:>8} "
                   f"{r['rtt_p50_us']:9.1f} {r['rtt_p99_us']:9.1f}")
    return "\n".join(out)


def main(args, ctx: Context) -> int:
    engine_list = args.engines.split()
    try:
        queues = [int(q) for q in args.queues.split()]
    except ValueError:
        raise BenchError(f"--queues: whole numbers, e.g. \"1 2 4\", not {args.queues!r}") from None
    if any(q < 1 for q in queues):
        raise BenchError("--queues: 1 or more each")
    if args.duration <= 0 or args.size < 1 or args.flows < 1:
        raise BenchError("--duration, --size and --flows must be more than 0")
    loads = args.loads.split()
    if not engine_list or not queues or not loads:
        raise BenchError("--engines, --queues and --loads need at least one value each")
    for e in engine_list:
        engines.engine_args(e)  # a bad name is a usage error before anything starts
    for load in loads:
        if not (load == "max" or re.fullmatch(r"[0-9]+%", load) or re.fullmatch(r"[0-9]+", load)):
            raise BenchError(f"a load is max, N% or a rate in pps, not {load}")
    if args.reps < 1:
        raise BenchError("--reps N, N >= 1")
    ref = f"{engine_list[0]}@{queues[0]}q"
    labels = [f"{e}@{q}q" for q in queues for e in engine_list]
    config = {"mode": args.mode, "engines": engine_list, "queues": queues, "queue_cpus": args.queue_cpus,
              "loads": loads, "duration": args.duration, "size": args.size, "flows": args.flows}
    run = ctx.new_run("compare", config)
    trials: list[dict] = []

    def body() -> int:
        with Lab(ctx.tools, "compare") as lab:
            def trial(engine: str, rate: int, q: int) -> dict:
                lab.start_reflector(["-m", args.mode, "-c", cpus_for(q, args.queue_cpus, lab.cpu_r, lab.cpu_g),
                                     *engines.engine_args(engine)])
                g = lab.tapgen(["--flows", str(args.flows), "--size", str(args.size), "--rate", str(rate),
                                "--duration", f"{args.duration:g}"], timeout=args.duration + 120)[-1]
                s = lab.reflector.finish()
                rec = {"schema_version": SCHEMA_VERSION, "engine": f"{engine}@{q}q", "mode": args.mode,
                       "rate_target": rate, "offered_pps": g.get("offered_pps"), "reflected_pps": g.get("reflected_pps"),
                       "loss_ratio": g.get("loss_ratio"), "rtt_p50_us": g["rtt_us"]["p50"],
                       "rtt_p99_us": g["rtt_us"]["p99"]}
                rec.update({k: in_force(s, k) for k in FIELDS})
                return rec

            ctx.out(f"tapreflect engine comparison: {args.mode}, {args.size} B UDP payload, {args.flows} flows, "
                    f"{args.duration:g} s x {args.reps} per point, reflector on CPU {lab.cpu_r}, tapgen on CPU {lab.cpu_g}")
            # The rate of every load is known before the first repetition, so that loads can be
            # interleaved: N% needs one calibration trial of the reference at max.
            rate_of, cal = {}, None
            for load in loads:
                if load == "max":
                    rate_of[load] = 0
                elif load.endswith("%"):
                    if cal is None:
                        c = trial(engine_list[0], 0, queues[0])
                        cal = int(c["reflected_pps"])
                        ctx.out(f"calibration: {ref} reflected {cal} pps at max")
                    rate_of[load] = cal * int(load[:-1]) // 100
                else:
                    rate_of[load] = int(load)
            points = [(rep, load, q, e) for rep in range(1, args.reps + 1) for load in loads for q in queues
                      for e in engine_list]
            with Progress(len(points), "trials") as prog:
                for rep, load, q, e in points:
                    prog.doing(f"#{rep} {load} {e}@{q}q")
                    rec = trial(e, rate_of[load], q)
                    rec.update(load=load, rep=rep)
                    trials.append(rec)
                    run.records.append(rec)
                    add_samples(run, [{"name": f"compare/{load}/{rec['engine']}/cpu_ns_per_frame",
                                       "value": rec["cpu_ns_per_frame"], "unit": "ns/frame", "better": "lower",
                                       "pair": rep},
                                      {"name": f"compare/{load}/{rec['engine']}/reflected_pps",
                                       "value": rec["reflected_pps"], "unit": "pps", "better": "higher", "pair": rep}])
                    prog.step(f"#{rep} {load} {rec['engine']}", f"{rec['reflected_pps'] / 1e3:.1f} kpps, "
                                                                f"{rec['cpu_ns_per_frame']:.0f} ns/frame")
        if args.json:
            write_jsonl(args.json, trials)
        rows = table(trials, loads, labels, ref)
        ctx.out("")
        ctx.out(format_table(rows))
        ctx.out(f"cpu/ref: against {ref} at the same load; cpu/first: against {ref} at {loads[0]}; medians of the "
                f"{args.reps} repetitions' ratios [range];")
        ctx.out(f"pps/ref: median reflected rate against {ref}'s at the same load")
        if args.reps > 1:
            ctx.out("")
            ctx.out(f"spread of cpu ns/frame (min..max over {args.reps} trials):")
            for load in loads:
                for label in labels:
                    c = [t["cpu_ns_per_frame"] for t in trials if t["load"] == load and t["engine"] == label]
                    if c:
                        ctx.out(f"  {load} {label}: {int(min(c))}..{int(max(c))}")
        return accounting_verdict(ctx, trials)

    return ctx.measure(run, body)
