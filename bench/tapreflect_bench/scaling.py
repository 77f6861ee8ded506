"""Queue scaling: tapreflect with 1, 2, 4, ... N queues, queue i pinned to
reflector CPU i, against one tapgen per queue, each pinned to a generator CPU
of its own (the CPUs after the reflector's), all sending at once; per queue
count the aggregate offered and reflected rate, loss, the reflector's CPU per
frame, and the ratios N queues / 1 queue.

Each generator sends --flows-per-queue flows on ports of its own (generator j:
from 9000 + j x flows), so every flow is distinct and the kernel's flow hash
(or --steering's eBPF program) spreads them all over the queues; the table
says how evenly (busiest q: the largest queue's share of the frames read).
The rates are the sums over the generators; loss is the total lost over the
total sent; RTT p50 and p99 are the worst generator's.

A repetition runs every queue count once, in order; the ratios are paired:
each repetition's figure at N queues over its own at 1 queue, shown as the
median of the repetitions' ratios [min..max].

CPUs: "auto" sweeps the powers of two up to half the CPUs this program may
use (one generator CPU per reflector CPU), and always 1 and 2.  A queue count
with too few CPUs for N reflector and N generator CPUs still runs, the
generators on CPUs the reflector also uses (the "shared" column, and a note
under the table): such a row is not a scaling figure of the reflector alone.

Example: tapreflect-bench scaling --mode tun --reps 3 --duration 2
"""
from __future__ import annotations

import os
from typing import Optional

from . import engines, stats
from .common import Context, accounting_verdict, add_samples, write_jsonl
from .compare import ratio_text
from .lab import Lab
from .model import BenchError, in_force
from .progress import Progress

SCHEMA_VERSION = 1  # of the trial records
BASE_PORT = 9000  # tapgen's default first port: generator j starts at BASE_PORT + j * flows
FIELDS = ("frames_read", "cpu_ns_per_frame", "frames_per_wakeup", "steering", "threads", "accounting_exact",
          "read", "wait")


def add_arguments(p) -> None:
    p.add_argument("--mode", choices=["tap", "tun"], default="tap", help="device mode (default tap)")
    p.add_argument("--queues", default="auto", metavar="LIST",
                   help="queue counts, e.g. \"1 2 4\", or auto (default): the powers of two up to half the CPUs "
                        "this program may use, and always 1 and 2")
    p.add_argument("--engine", default="multishot", metavar="ENGINE",
                   help=f"the engine (default multishot): {engines.NAMES}; modifiers {engines.MODIFIERS}")
    p.add_argument("--size", type=int, default=18, metavar="BYTES",
                   help="UDP payload (default 18: 64 B Ethernet frames)")
    p.add_argument("--flows-per-queue", type=int, default=16, metavar="N",
                   help="flows of each generator (one generator per queue; default 16)")
    p.add_argument("--rate", default="max", metavar="PPS|max",
                   help="the total offered rate, split evenly over the generators, or max (default): each "
                        "generator as fast as it can send")
    p.add_argument("--duration", type=float, default=3.0, metavar="SECS", help="length of each trial (default 3)")
    p.add_argument("--reps", type=int, default=3, metavar="N",
                   help="repetitions; each runs every queue count once, in order (default 3)")
    p.add_argument("--json", metavar="FILE", help="also write every trial as JSON lines")


# -- the pure parts -----------------------------------------------------------------------------

def auto_queues(ncpus: int) -> list[int]:
    """1, 2, and the powers of two up to ncpus / 2 (one generator CPU per reflector CPU)."""
    out, q = [1, 2], 4
    while q <= ncpus // 2:
        out.append(q)
        q *= 2
    return out


def parse_queues(text: str, ncpus: int) -> list[int]:
    """--queues: "auto" or whole numbers >= 1; sorted, each once."""
    if text.strip() == "auto":
        return auto_queues(ncpus)
    try:
        qs = [int(q) for q in text.replace(",", " ").split()]
    except ValueError:
        raise BenchError(f"--queues: auto or whole numbers, e.g. \"1 2 4\", not {text!r}") from None
    if not qs or any(q < 1 or q > 256 for q in qs):
        raise BenchError("--queues: 1..256 each, at least one")
    return sorted(set(qs))


def parse_rate(text: str) -> int:
    """--rate: 0 for max, else a total rate in pps."""
    if text == "max":
        return 0
    try:
        r = int(text)
    except ValueError:
        raise BenchError(f"--rate: a rate in pps or max, not {text!r}") from None
    if r < 1:
        raise BenchError("--rate: 1 pps or more, or max")
    return r


def assign_cpus(n: int, cpus: list[int]) -> dict:
    """The CPUs of n queues and their n generators: queue i on cpus[i], generator j on the CPUs after
    them (cpus[n + j]); where the CPUs run out both wrap around to the first ones.  shared: some
    generator runs on a reflector CPU, or two queues share a CPU."""
    if not cpus:
        raise BenchError("no CPU to run on")
    m = len(cpus)
    refl = [cpus[i % m] for i in range(n)]
    gen = [cpus[(n + j) % m] for j in range(n)]
    gen_shared = bool(set(gen) & set(refl))
    queues_shared = len(set(refl)) < n
    return {"reflector_cpus": refl, "generator_cpus": gen, "gen_shared": gen_shared,
            "queues_shared": queues_shared, "shared": gen_shared or queues_shared}


def port_ranges(n: int, flows: int, base: int = BASE_PORT) -> list[tuple[int, int]]:
    """(first port, flows) of each of n generators: disjoint ranges, one after the other."""
    last = base + n * flows - 1
    if last > 65535:
        raise BenchError(f"{n} generators x {flows} flows from port {base} end past 65535 (at {last}): "
                         "fewer --flows-per-queue")
    return [(base + j * flows, flows) for j in range(n)]


def rate_split(total: int, n: int) -> list[int]:
    """The total rate over n generators (0: each as fast as it can); the remainder to the first ones."""
    if total == 0:
        return [0] * n
    return [total // n + (1 if j < total % n else 0) for j in range(n)]


def aggregate(gens: list[dict]) -> dict:
    """The generators' trial records as one: rates summed, loss over the total sent, the worst RTTs."""
    sent = sum(g.get("sent", 0) for g in gens)
    lost = sum(g.get("lost", 0) for g in gens)
    return {"offered_pps": sum(g.get("offered_pps", 0) for g in gens),
            "reflected_pps": sum(g.get("reflected_pps", 0) for g in gens),
            "sent": sent, "received": sum(g.get("received", 0) for g in gens), "lost": lost,
            "loss_ratio": lost / sent if sent else 0.0,
            "rtt_p50_us": max(g["rtt_us"]["p50"] for g in gens),
            "rtt_p99_us": max(g["rtt_us"]["p99"] for g in gens)}


def busiest_share(summary: dict) -> Optional[float]:
    """The largest queue's share of the frames read (1 / queues when they are even); None without them."""
    per = [q.get("frames_read", 0) for q in summary.get("per_queue", [])]
    total = sum(per)
    return max(per) / total if per and total else None


def syscall_ns(*records: Optional[dict]) -> Optional[float]:
    """What a bare syscall costs on this machine, in ns, as tapreflect measured it at start ("syscall_ns" of
    its start record, or of its summary: they say the same); None where neither has it, or where it says
    0 (unknown), or where tapreflect is older than the field."""
    for r in records:
        v = (r or {}).get("syscall_ns")
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0:
            return v
    return None


def syscall_text(values: list) -> Optional[str]:
    """The header's "syscall N ns": the median of what the trials reported; None when none did."""
    nums = [v for v in values if v is not None]
    return f"syscall {stats.median(nums):.0f} ns" if nums else None


def table(trials: list[dict], queues: list[int]) -> list[dict]:
    """One row per queue count: medians over the repetitions, and the paired ratios against the first
    queue count (each repetition's figure over its own reference's)."""
    ref = queues[0]
    by = {q: [t for t in trials if t["queues"] == q] for q in queues}

    def per_rep(q, key):
        return {t["rep"]: t[key] for t in by[q] if t.get(key) is not None}

    rows = []
    for q in queues:
        ts = by[q]
        if not ts:
            continue

        def med(key):
            vals = [t[key] for t in ts if t.get(key) is not None]
            return stats.median(vals) if vals else None

        rows.append({"queues": q, "reflector_cpus": ts[0]["reflector_cpus"], "generator_cpus": ts[0]["generator_cpus"],
                     "shared": ts[0]["shared"], "gen_shared": ts[0].get("gen_shared", ts[0]["shared"]),
                     "queues_shared": ts[0].get("queues_shared", False), "reps": len(ts),
                     "offered_pps": med("offered_pps"), "reflected_pps": med("reflected_pps"),
                     "loss_ratio": med("loss_ratio"), "cpu_ns_per_frame": med("cpu_ns_per_frame"),
                     "busiest_share": med("busiest_share"), "rtt_p50_us": med("rtt_p50_us"),
                     "rtt_p99_us": med("rtt_p99_us"),
                     "pps_ratio": None if q == ref else stats.paired_ratios(per_rep(ref, "reflected_pps"),
                                                                            per_rep(q, "reflected_pps")),
                     "cpu_ratio": None if q == ref else stats.paired_ratios(per_rep(ref, "cpu_ns_per_frame"),
                                                                            per_rep(q, "cpu_ns_per_frame"))})
    return rows


def cpu_list(cpus: list[int]) -> str:
    return ",".join(str(c) for c in cpus)


def on_cpus(cpus: list[int]) -> str:
    """"CPU 0", "CPUs 0,1"."""
    return f"CPU{'s' if len(cpus) > 1 else ''} {cpu_list(cpus)}"


def format_table(rows: list[dict], ref: int) -> str:
    def num(v, fmt, scale=1.0):
        return "-" if v is None else format(v * scale, fmt)

    def ratio(r):
        return "(ref)" if r is None else ratio_text(r)

    out = [f"{'queues':>6} {'refl CPUs':<10} {'gen CPUs':<10} {'shared':<7} {'offered kpps':>12} "
           f"{'reflect kpps':>12} {'loss %':>7} {'cpu ns/fr':>9} {'busiest q':>9} "
           f"{f'pps Nq/{ref}q':<20} {f'cpu/fr Nq/{ref}q':<20} {'p50 us':>8} {'p99 us':>8}"]
    for r in rows:
        share = "-" if r["busiest_share"] is None else num(r["busiest_share"], ".0f", 100) + " %"
        out.append(f"{r['queues']:>6} {cpu_list(r['reflector_cpus']):<10} {cpu_list(r['generator_cpus']):<10} "
                   f"{('yes *' if r['shared'] else 'no'):<7} {num(r['offered_pps'], '.1f', 1e-3):>12} "
                   f"{num(r['reflected_pps'], '.1f', 1e-3):>12} {num(r['loss_ratio'], '.2f', 100):>7} "
                   f"{num(r['cpu_ns_per_frame'], '.0f'):>9} {share:>9} "
                   f"{ratio(r['pps_ratio']):<20} {ratio(r['cpu_ratio']):<20} "
                   f"{num(r['rtt_p50_us'], '.1f'):>8} {num(r['rtt_p99_us'], '.1f'):>8}")
    return "\n".join(out)


def shared_notes(rows: list[dict]) -> list[str]:
    """One line per shared row: what shares which CPU, so that nobody reads it as the reflector's scaling."""
    out = []
    for r in rows:
        if not r["shared"]:
            continue
        what = []
        if r["gen_shared"]:
            both = sorted(set(r["generator_cpus"]) & set(r["reflector_cpus"]))
            what.append(f"the generators run on the reflector's {on_cpus(both)}")
        if r["queues_shared"]:
            what.append(f"{r['queues']} queues share {len(set(r['reflector_cpus']))} CPU(s)")
        out.append(f"* {r['queues']}q: {' and '.join(what)} (too few CPUs for {r['queues']} reflector + "
                   f"{r['queues']} generator CPUs): the generators compete with the reflector, so this row is "
                   f"not a scaling figure of the reflector alone")
    return out


def header(mode: str, engine: str, size: int, flows: int, duration: float, reps: int, rate: int,
           ident: dict, allowed: list[int], syscall: Optional[str]) -> str:
    load = "each generator flat out" if rate == 0 else f"{rate} pps in all"
    lines = [f"tapreflect queue scaling: {mode}, {engine}, {size} B UDP payload, {flows} flows per generator, "
             f"{load}, {duration:g} s x {reps} per queue count",
             f"machine: {ident.get('cpus')} CPUs ({ident.get('cpu') or 'unknown model'}), {len(allowed)} allowed "
             f"({cpu_list(allowed)}), kernel {ident.get('kernel')}" + (f"; {syscall}" if syscall else "")]
    return "\n".join(lines)


def trial_record(rep: int, q: int, layout: dict, gens: list[dict], ports: list[tuple[int, int]],
                 summary: dict, start: Optional[dict]) -> dict:
    rec = {"schema_version": SCHEMA_VERSION, "rep": rep, "queues": q, **layout, **aggregate(gens),
           "busiest_share": busiest_share(summary), "syscall_ns": syscall_ns(start, summary),
           "per_queue_frames": [pq.get("frames_read") for pq in summary.get("per_queue", [])],
           "generators": [{"cpu": cpu, "port": port, "flows": flows, "offered_pps": g.get("offered_pps"),
                           "reflected_pps": g.get("reflected_pps"), "loss_ratio": g.get("loss_ratio"),
                           "rtt_p50_us": g["rtt_us"]["p50"], "rtt_p99_us": g["rtt_us"]["p99"]}
                          for g, cpu, (port, flows) in zip(gens, layout["generator_cpus"], ports)]}
    rec.update({k: in_force(summary, k) for k in FIELDS})
    return rec


def metric_lines(rec: dict, ref_rec: Optional[dict]) -> list[dict]:
    q, rep = rec["queues"], rec["rep"]
    out = [{"name": f"scaling/{q}q/reflected_pps", "value": rec["reflected_pps"], "unit": "pps",
            "better": "higher", "pair": rep},
           {"name": f"scaling/{q}q/cpu_ns_per_frame", "value": rec["cpu_ns_per_frame"], "unit": "ns/frame",
            "better": "lower", "pair": rep}]
    if ref_rec is not None and ref_rec is not rec and ref_rec["reflected_pps"]:
        out.append({"name": f"scaling/{q}q/pps_vs_{ref_rec['queues']}q",
                    "value": rec["reflected_pps"] / ref_rec["reflected_pps"], "unit": "ratio", "better": "higher",
                    "pair": rep})
    return out


# -- the measurement ----------------------------------------------------------------------------

def main(args, ctx: Context) -> int:
    allowed = sorted(os.sched_getaffinity(0))
    queues = parse_queues(args.queues, len(allowed))
    rate = parse_rate(args.rate)
    if args.duration <= 0 or args.size < 1 or args.flows_per_queue < 1:
        raise BenchError("--duration, --size and --flows-per-queue must be more than 0")
    if args.reps < 1:
        raise BenchError("--reps N, N >= 1")
    engine_args = engines.engine_args(args.engine)  # a bad name is a usage error before anything starts
    layouts = {q: assign_cpus(q, allowed) for q in queues}
    ports = {q: port_ranges(q, args.flows_per_queue) for q in queues}
    ref = queues[0]
    config = {"mode": args.mode, "engine": args.engine, "queues": queues, "size": args.size,
              "flows_per_queue": args.flows_per_queue, "rate": rate, "duration": args.duration,
              "cpus_allowed": len(allowed)}
    run = ctx.new_run("scaling", config)
    trials: list[dict] = []
    ident = run.machine

    def body() -> int:
        with Lab(ctx.tools, "scaling") as lab:
            ctx.out(header(args.mode, args.engine, args.size, args.flows_per_queue, args.duration, args.reps, rate,
                           ident, allowed, None))
            for q in queues:
                lay = layouts[q]
                ctx.out(f"  {q}q: queue{'s' if q > 1 else ''} on {on_cpus(lay['reflector_cpus'])}, "
                        f"generator{'s' if q > 1 else ''} on {on_cpus(lay['generator_cpus'])}"
                        + (" (shared)" if lay["shared"] else ""))
            points = [(rep, q) for rep in range(1, args.reps + 1) for q in queues]
            refs: dict[int, dict] = {}
            with Progress(len(points), "trials") as prog:
                for rep, q in points:
                    prog.doing(f"#{rep} {q}q")
                    lay = layouts[q]
                    refl = lab.start_reflector(["-m", args.mode, "-q", str(q), "-c", cpu_list(lay["reflector_cpus"]),
                                                *engine_args])
                    specs = [(["--port", str(port), "--flows", str(flows), "--size", str(args.size),
                               "--rate", str(r), "--duration", f"{args.duration:g}"], cpu)
                             for (port, flows), r, cpu in zip(ports[q], rate_split(rate, q), lay["generator_cpus"])]
                    gens = [recs[-1] for recs in lab.tapgens(specs, timeout=args.duration + 120)]
                    start = refl.start_record
                    s = refl.finish()
                    rec = trial_record(rep, q, lay, gens, ports[q], s, start)
                    trials.append(rec)
                    run.records.append(rec)
                    if q == ref:
                        refs[rep] = rec
                    add_samples(run, metric_lines(rec, refs.get(rep)))
                    prog.step(f"#{rep} {q}q", f"{rec['reflected_pps'] / 1e3:.1f} kpps, "
                                              f"{rec['cpu_ns_per_frame']:.0f} ns/frame, "
                                              f"loss {rec['loss_ratio'] * 100:.2f} %")
        if args.json:
            write_jsonl(args.json, trials)
        rows = table(trials, queues)
        ctx.out("")
        ctx.out(header(args.mode, args.engine, args.size, args.flows_per_queue, args.duration, args.reps, rate,
                       ident, allowed, syscall_text([t["syscall_ns"] for t in trials])))
        ctx.out(format_table(rows, ref))
        ctx.out(f"pps Nq/{ref}q: reflected rate at N queues over {ref} queue(s); cpu/fr: CPU per frame likewise; "
                f"medians of the {args.reps} repetitions' ratios [min..max]; rates are sums over the generators, "
                f"RTTs the worst generator's; busiest q: the largest queue's share of the frames read")
        for line in shared_notes(rows):
            ctx.out(line)
        return accounting_verdict(ctx, trials)

    return ctx.measure(run, body)
