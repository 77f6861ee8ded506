"""Same-run A/B: two candidates measured in one run, their trials
interleaved (A B, B A, ...) on the same load, so that what changes between
trials (the machine's other load, its clocks, its caches) falls on both
alike; the verdict is `report`'s on the ratios B/A, with their intervals.

Each side's binary defaults to the build's (or the installed) tapreflect,
its options to none, and a hook given for one side runs for both (with A or
B as its argument): give only what differs.  With nothing different it is an
A/A run, and says so.

Every trial starts its side's reflector afresh (after the side's hook) on one
CPU, with tapgen on another.  First the fixed-load trials: tapgen at --rate
for --trial seconds; the reflector's CPU per frame (its own figure for the
trial), RTT p50 and p99.  Then the PDR searches (5 steps, 0.5 s trials, the
ceiling fixed at what an unlimited trial of A offered, so that every search
bisects the same range).

Why many short trials, in pairs: on a shared VM the CPU per frame wanders by
+-10 % over seconds, the same within one reflector's run as across runs.  A
trial longer than a second does not average that out; many trials do, and
the A and B trial of a repetition, run back to back, share most of it.  So
each fixed-load sample carries its repetition as "pair", and the report
judges the ratios of the pairs (Hodges-Lehmann with the signed-rank
interval).  PDR samples are judged unpaired: a search's spread comes from its
own pass/fail steps more than from the drift.  The defaults (60 trials of 1 s
and 20 searches per side, about 7 minutes) are sized so that an A/A run on a
noisy 2-vCPU VM gives intervals within +-5 % for CPU per frame and +-10 % for
PDR.  Gating thresholds: CPU per frame 5 %, PDR and RTT p50 10 %; RTT p99 is
reported but does not gate (on a shared machine its spread is far wider than
any change worth catching).

Exit status: the report's (0 no regression, 1 B regressed, 3 inconclusive),
2 bad usage, 4 the store cannot be used, 130 interrupted (what was measured is
stored, marked incomplete).
"""
from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from . import judge, metrics, report, stats
from .common import Context, add_samples, tool_version, write_jsonl, write_text
from .lab import Lab
from .model import EXIT_BAD_INPUT, BenchError
from .progress import Progress

SCHEMA_VERSION = 2  # of the trial records: 2 adds schema_version itself


def add_arguments(p) -> None:
    g = p.add_argument_group("candidates")
    g.add_argument("--a-bin", metavar="PATH", help="side A's tapreflect binary")
    g.add_argument("--b-bin", metavar="PATH", help="side B's tapreflect binary")
    g.add_argument("--a-opts", default="", metavar="OPTS", help="extra tapreflect options for A")
    g.add_argument("--b-opts", default="", metavar="OPTS", help='extra tapreflect options for B, e.g. --b-opts "--io sync"')
    g.add_argument("--a-hook", metavar="CMD",
                   help="run before each trial of that side, with A or B as its argument: switch the "
                        "component under test (a sysctl, a qdisc, a generator build, ...)")
    g.add_argument("--b-hook", metavar="CMD", help="the same for B (a hook given for one side runs for both)")
    g = p.add_argument_group("load and trials")
    g.add_argument("--reps", type=int, default=60, metavar="N",
                   help="fixed-load trials per candidate, in A B, B A, ... order (default 60; 8 is the least "
                        "for a 99 %% interval of their pairs)")
    g.add_argument("--pdr-reps", type=int, default=20, metavar="N",
                   help="PDR searches per candidate, in the same order (default 20; 5 is the least for a "
                        "99 %% interval; 0: none)")
    g.add_argument("--mode", choices=["tap", "tun"], default="tun", help="device mode (default tun)")
    g.add_argument("--size", type=int, default=64, metavar="BYTES", help="Ethernet frame size, 64..1518 (default 64)")
    g.add_argument("--rate", type=int, metavar="PPS",
                   help="fixed load for CPU per frame and RTT (default: half of A's NDR, found by a short search first)")
    g.add_argument("--trial", type=float, default=1.0, metavar="SECS", help="length of a fixed-load trial (default 1)")
    p.add_argument("--out", metavar="DIR",
                   help="where results go (default BUILD/ab-results; ./ab-results when installed): a.json and "
                        "b.json (one metric sample per trial), report.md, report.html, trials.json, and each "
                        "side's search traces, RTT histograms and reflector summaries (*.jsonl)")


def order(rep: int) -> tuple[str, str]:
    """A B on odd repetitions, B A on even ones, so that neither side always goes first and an order
    effect (a warm cache, a drift in the machine) falls on both alike."""
    return ("A", "B") if rep % 2 else ("B", "A")


def fixed_metrics(rec: dict) -> list[dict]:
    """A fixed-load trial as metric samples; "pair" is the repetition, in which A and B ran back to back."""
    return [{"kind": "timed", "unit": "ns/frame", "better": "lower", "name": "ab/cpu_ns_per_frame",
             "value": rec["cpu_ns_per_frame"], "threshold": 0.05, "pair": rec["rep"]},
            {"kind": "timed", "unit": "us", "better": "lower", "name": "ab/rtt_p50_us",
             "value": rec["rtt_us"]["p50"], "threshold": 0.10, "pair": rec["rep"]},
            {"kind": "timed", "unit": "us", "better": "lower", "name": "ab/rtt_p99_us",
             "value": rec["rtt_us"]["p99"], "gate": False, "pair": rec["rep"]}]


def pdr_metrics(rec: dict) -> list[dict]:
    # no "pair": a search's spread comes from its own pass/fail steps more than from the machine's
    # drift, so all pairwise ratios tell more than the pairs'
    return [{"kind": "timed", "unit": "pps", "better": "higher", "name": "ab/pdr_pps", "value": rec["pdr_pps"],
             "threshold": 0.10}]


def stored(lines: list[dict], side: str) -> list[dict]:
    """Metric lines as the store keeps them: each side's under a name of its own (ab/A/..., ab/B/...),
    so that a trend or a history baseline never mixes the two candidates."""
    return [dict(m, name=f"ab/{side}/{m['name'][len('ab/'):]}", side=side) for m in lines]


def side_medians(trials: list[dict], side: str) -> str:
    fixed = [t for t in trials if t["side"] == side and t["trial"] == "fixed"]
    pdr = [t["pdr_pps"] for t in trials if t["side"] == side and t["trial"] == "pdr"]
    cpu = stats.median([t["cpu_ns_per_frame"] for t in fixed]) if fixed else None
    p50 = stats.median([t["rtt_us"]["p50"] for t in fixed]) if fixed else None
    text = f"  {side}: CPU {cpu:.0f} ns/frame, RTT p50 {p50:g} us" if fixed else f"  {side}: no fixed-load trial"
    if pdr:
        text += f", PDR {stats.median(pdr):.0f} pps"
    return text + " (medians)"


def main(args, ctx: Context) -> int:
    if args.reps < 1:
        raise BenchError("--reps N, N >= 1")
    if args.pdr_reps < 0:
        raise BenchError("--pdr-reps N, N >= 0")
    if args.trial <= 0:
        raise BenchError("--trial SECS, more than 0")
    if not 64 <= args.size <= 1518:
        raise BenchError("--size 64..1518")
    bins = {}
    for side, b in (("A", args.a_bin), ("B", args.b_bin)):
        path = os.path.realpath(b or ctx.tools.tapreflect)
        if not os.access(path, os.X_OK):
            raise BenchError(f"{path} is not an executable", EXIT_BAD_INPUT)
        bins[side] = path
    opts = {"A": shlex.split(args.a_opts), "B": shlex.split(args.b_opts)}
    hooks = {"A": args.a_hook or args.b_hook, "B": args.b_hook or args.a_hook}
    outdir = Path(args.out) if args.out else ctx.tools.results / "ab-results"
    config = {"mode": args.mode, "size": args.size, "rate": args.rate, "trial": args.trial,
              "a_opts": args.a_opts, "b_opts": args.b_opts, "a_hook": args.a_hook, "b_hook": args.b_hook,
              "same_binary": bins["A"] == bins["B"]}
    run = ctx.new_run("ab", config)
    payload = str(args.size - 46)
    files = {f"{s}{k}": [] for s in "ab" for k in ("", "-search", "-rtt", "-reflector")}
    trials: list[dict] = []

    def body() -> int:
        with Lab(ctx.tools, "ab") as lab:
            def start(side):
                if hooks[side]:
                    rc = subprocess.run(["bash", "-c", f'{hooks[side]} "$1"', "hook", side]).returncode
                    if rc != 0:
                        raise BenchError(f"the {side} hook failed ({rc}): {hooks[side]}", EXIT_BAD_INPUT)
                return lab.start_reflector(["-m", args.mode, "-c", str(lab.cpu_r), *opts[side]], binary=bins[side])

            ctx.out(f"tapreflect A/B: {args.reps} fixed-load trial(s) of {args.trial:g} s and {args.pdr_reps} PDR "
                    f"search(es) each, interleaved: {args.mode}, {args.size} B frames, reflector on CPU {lab.cpu_r}, "
                    f"tapgen on CPU {lab.cpu_g}")
            for side in "AB":
                o = getattr(args, f"{side.lower()}_opts") or "(default options)"
                ctx.out(f"  {side}: {bins[side]} {o}" + (f", hook: {hooks[side]}" if hooks[side] else ""))
            if bins["A"] == bins["B"] and args.a_opts == args.b_opts and not (args.a_hook or args.b_hook):
                ctx.out("  A and B are the same binary with the same options: an A/A run (what the noise alone gives)")
            rate, ceiling = args.rate, 0
            if rate is None or args.pdr_reps > 0:
                start("A")
                ndr = lab.tapgen(["--size", payload, "--search", "--steps", "6", "--repeats", "1", "--duration", "0.5",
                                  "--drain", "0.2"], timeout=300)[-1]
                lab.reflector.finish()
                ceiling = int(ndr["ceiling_pps"])
                if rate is None:
                    rate = max(int(ndr["ndr_pps"] // 2), 1000)
                    ctx.out(f"  fixed load: {rate} pps (half of A's NDR, {ndr['ndr_pps']:g} pps)")
                if args.pdr_reps > 0:
                    ctx.out(f"  PDR search ceiling: {ceiling} pps (what an unlimited trial of A offered)")
            # Not in the configuration, which must stay comparable across builds and calibrations.
            run.note = (f"fixed load {rate} pps; A: {tool_version(bins['A'])}; B: {tool_version(bins['B'])}")
            with Progress(2 * (args.reps + args.pdr_reps), "A/B trials") as prog:
                for rep in range(1, args.reps + 1):
                    for side in order(rep):
                        prog.doing(f"fixed-load trial {rep}/{args.reps} {side}")
                        start(side)
                        g = lab.tapgen(["--size", payload, "--rate", str(rate), "--duration", f"{args.trial:g}",
                                        "--drain", "0.1"], timeout=120)[-1]
                        summary = lab.reflector.finish()
                        s = side.lower()
                        files[f"{s}-rtt"].append(g)
                        files[f"{s}-reflector"].append(summary)
                        # CPU per frame: the reflector's own figure for the trial (its start-up and the one
                        # ping before the load are under 0.5 % of it at the default load).
                        rec = {"schema_version": SCHEMA_VERSION, "trial": "fixed", "side": side, "rep": rep,
                               "rate": g.get("rate_target"), "loss_ratio": g.get("loss_ratio"),
                               "cpu_ns_per_frame": summary["cpu_ns_per_frame"],
                               "frames_per_wakeup": summary.get("frames_per_wakeup"), "rtt_us": g["rtt_us"]}
                        trials.append(rec)
                        run.records.append(rec)
                        lines = stored(fixed_metrics(rec), side)
                        files[s].extend(fixed_metrics(rec))
                        add_samples(run, lines)
                        prog.step(f"fixed-load trial {rep}/{args.reps} {side}",
                                  f"CPU {rec['cpu_ns_per_frame']:.0f} ns/frame, RTT p50 {g['rtt_us']['p50']:g} us")
                for rep in range(1, args.pdr_reps + 1):
                    for side in order(rep):
                        prog.doing(f"PDR search {rep}/{args.pdr_reps} {side}")
                        start(side)
                        sr = lab.tapgen(["--size", payload, "--search", "--steps", "5", "--repeats", "1",
                                         "--duration", "0.5", "--drain", "0.2", "--max-rate", str(ceiling)],
                                        timeout=300)[-1]
                        lab.reflector.finish()
                        s = side.lower()
                        files[f"{s}-search"].append(sr)
                        rec = {"schema_version": SCHEMA_VERSION, "trial": "pdr", "side": side, "rep": rep,
                               "ndr_pps": sr["ndr_pps"], "pdr_pps": sr["pdr_pps"], "ceiling_pps": sr.get("ceiling_pps")}
                        trials.append(rec)
                        run.records.append(rec)
                        files[s].extend(pdr_metrics(rec))
                        add_samples(run, stored(pdr_metrics(rec), side))
                        prog.step(f"PDR search {rep}/{args.pdr_reps} {side}", f"PDR {sr['pdr_pps']:.0f} pps")
        return judge_and_write()

    def judge_and_write() -> int:
        for name, recs in files.items():
            write_jsonl(outdir / f"{name}{'.json' if name in ('a', 'b') else '.jsonl'}", recs)
        write_jsonl(outdir / "trials.json", trials)
        ctx.out(side_medians(trials, "A"))
        ctx.out(side_medians(trials, "B"))
        ctx.out("")
        settings = judge.Settings(gate_timed=True)
        base, cur = metrics.metrics_from_lines(files["a"]), metrics.metrics_from_lines(files["b"])
        rows, missing, added = judge.compare(base, cur, settings)
        md = judge.markdown(rows, missing, added, settings, "A/B: B / A")
        write_text(outdir / "report.md", md)
        for line in md.splitlines():
            if line.startswith("**") or line.startswith("| "):
                ctx.out(line)
        trace_paths = [outdir / f"{s}-{k}.jsonl" for k in ("search", "rtt", "reflector") for s in "ab"]
        report.render_report(outdir / "report.html", title="A/B: B / A", rows=rows, base=base, cur=cur,
                             base_metas=[], cur_metas=[], missing=missing, added=added,
                             settings=settings, traces=report.read_traces([str(p) for p in trace_paths]),
                             config={**config, "a_bin": bins["A"], "b_bin": bins["B"],
                                     "version": run.version, "commit": run.commit or "-"})
        ctx.out(f"results: {outdir}/ (report.md, report.html, a.json, b.json, trials.json, traces *.jsonl)")
        return judge.exit_status(rows, settings)

    return ctx.measure(run, body)
