"""NDR, PDR, RTT and CPU per frame of each scenario (mode x frame size x
engine x queues), the io_uring engine against the blocking reference in the
same run, repetitions interleaved; then TCP and UDP-GSO streams with offloads
on against off; a text table, the records, a metric file and an HTML report.

For each scenario tapreflect starts in a private network namespace, tapgen
--search finds its NDR and PDR, then tapgen runs at half the NDR for RTT
percentiles and the reflector's CPU per frame.  Frame sizes are Ethernet
frames with FCS: 64 B = 18 B of UDP payload.  With two queues on a two-CPU
machine the generator shares a CPU with a queue.
"""
from __future__ import annotations

import shlex
from pathlib import Path

from . import history, judge, metrics, report, stats, streams
from .common import Context, add_samples, tool_version, words, write_jsonl
from .lab import Lab
from .model import EXIT_NO_DATA, EXIT_REGRESSION, BenchError, in_force
from .progress import Progress

PROFILES = {
    "quick": dict(modes=["tap", "tun"], sizes=[64], ios=["uring", "sync"], queues=[1], steps=5, repeats=1,
                  trial=0.5, rtt_trial=2.0,
                  streams=dict(modes=["tap"], traffic=["tcp"], ios=["uring"], duration=2.0)),
    "full": dict(modes=["tap", "tun"], sizes=[64, 512, 1400], ios=["uring", "sync"], queues=[1, 2], steps=8,
                 repeats=3, trial=2.0, rtt_trial=5.0,
                 streams=dict(modes=["tap", "tun"], traffic=["tcp", "gso"], ios=["uring", "sync"], duration=3.0)),
}
SCHEMA_VERSION = 2  # of the e2e records: 2 adds schema_version itself (the fields are those of 1)


def add_arguments(p) -> None:
    p.add_argument("--profile", choices=sorted(PROFILES), default="quick",
                   help="quick: tap and tun, 64 B, uring and sync, 1 queue, short trials, and one TCP stream "
                        "scenario (tap, uring) with offloads on and off (a few minutes); full: tap and tun x "
                        "64/512/1400 B x uring/sync x 1/2 queues, and TCP and UDP-GSO streams, tap and tun, "
                        "uring and sync, offloads on and off (about 40 min)")
    p.add_argument("--reps", type=int, default=3, metavar="N",
                   help="repeat every scenario N times, interleaved (uring, sync, uring, ...); the table shows "
                        "medians and min..max (default 3: one repetition per point is not a measurement)")
    p.add_argument("--modes", metavar="LIST", help="device modes instead of the profile's, e.g. \"tun\"")
    p.add_argument("--sizes", metavar="LIST", help="Ethernet frame sizes (64..1518) instead of the profile's")
    p.add_argument("--ios", metavar="LIST", help="engines (uring, sync) instead of the profile's")
    p.add_argument("--queues", metavar="LIST", help="queue counts (1, 2) instead of the profile's")
    p.add_argument("--rate", type=int, metavar="PPS",
                   help="measure RTT and CPU per frame at this fixed load instead of half of each scenario's NDR "
                        "(part of the configuration): a history then follows the reflector's cost alone, where "
                        "half the NDR moves with the search's own noise")
    p.add_argument("--no-streams", action="store_true", help="leave out the stream scenarios")
    p.add_argument("--reflector-opts", default="", metavar="OPTS",
                   help="extra tapreflect options for every scenario (part of the configuration)")
    p.add_argument("--tapreflect", metavar="PATH",
                   help="the tapreflect binary under test (default: the build's or the installed one); "
                        "not part of the configuration, so that runs of two builds are compared")
    p.add_argument("--judge-last", type=int, default=10, metavar="N",
                   help="the report opens with this run's verdicts against the last N comparable runs in the "
                        "store (default 10; 0: none); they inform, they do not fail the run")
    p.add_argument("--out", metavar="FILE",
                   help="scenario records, JSON lines (default: BUILD/bench-e2e.json; ./bench-e2e.json when "
                        "installed); the summary, traces and HTML report go beside it")
    p.add_argument("--metrics", metavar="FILE",
                   help="the same figures as report metrics, JSON lines with a meta line "
                        "(e2e/<scenario>/ndr_pps, .../cpu_ns_per_frame, .../rtt_p99_us)")


def plan(args) -> dict:
    prof = dict(PROFILES[args.profile])
    if args.modes:
        prof["modes"] = words(args.modes)
    try:
        if args.sizes:
            prof["sizes"] = [int(s) for s in words(args.sizes)]
        if args.queues:
            prof["queues"] = [int(q) for q in words(args.queues)]
    except ValueError:
        raise BenchError("--sizes and --queues take whole numbers, e.g. --sizes \"64 1400\"") from None
    if args.ios:
        prof["ios"] = words(args.ios)
    for m in prof["modes"]:
        if m not in ("tap", "tun"):
            raise BenchError(f"--modes: tap or tun, not {m}")
    for io in prof["ios"]:
        if io not in ("uring", "sync"):
            raise BenchError(f"--ios: uring or sync, not {io}")
    for s in prof["sizes"]:
        if not 64 <= s <= 1518:
            raise BenchError(f"--sizes: 64..1518, not {s}")
    for q in prof["queues"]:
        if q not in (1, 2):
            raise BenchError(f"--queues: 1 or 2, not {q}")
    if args.reps < 1:
        raise BenchError("--reps N, N >= 1")
    if args.rate is not None and args.rate < 1:
        raise BenchError("--rate PPS, PPS >= 1")
    return prof


def summarize(records: list[dict]) -> list[dict]:
    """Per scenario: medians and min..max over repetitions; for a uring scenario whose sync twin
    ran in the same invocation, the ratios of the medians and whether the two ranges overlap."""
    by = {}
    for r in records:
        by.setdefault(r["scenario"], []).append(r)
    rows = {}
    for name, rs in by.items():
        col = {k: [r[k] for r in rs if r.get(k) is not None]
               for k in ("ndr_pps", "pdr_pps", "rtt_p50_us", "rtt_p99_us", "cpu_ns_per_frame")}
        rows[name] = {"scenario": name, "io": rs[0]["io"], "reps": len(rs),
                      "ndr": stats.median(col["ndr_pps"]), "ndr_min": min(col["ndr_pps"]), "ndr_max": max(col["ndr_pps"]),
                      "pdr": stats.median(col["pdr_pps"]), "pdr_min": min(col["pdr_pps"]), "pdr_max": max(col["pdr_pps"]),
                      "p50": stats.median(col["rtt_p50_us"]), "p99": stats.median(col["rtt_p99_us"]),
                      "cpu": stats.median(col["cpu_ns_per_frame"])}
    for row in rows.values():
        twin = rows.get(row["scenario"].replace("/uring/", "/sync/"))
        if row["io"] != "uring" or twin is None:
            continue
        row["ndr_ratio"] = stats.ratio(twin["ndr"], row["ndr"])
        row["pdr_ratio"] = stats.ratio(twin["pdr"], row["pdr"])
        row["cpu_ratio"] = stats.ratio(twin["cpu"], row["cpu"])
        row["ndr_noise_bound"] = row["ndr_min"] <= twin["ndr_max"] and twin["ndr_min"] <= row["ndr_max"]
        row["pdr_noise_bound"] = row["pdr_min"] <= twin["pdr_max"] and twin["pdr_min"] <= row["pdr_max"]
    return list(rows.values())


def table(rows: list[dict]) -> str:
    def r(x, nb=False):
        return "-" if x is None else f"{x:.3f}{'~' if nb else ''}"

    out = [f"| {'scenario':<18} | {'NDR kpps (min..max)':<23} | {'PDR kpps (min..max)':<23} | {'p50 us':>7} | "
           f"{'p99 us':>7} | {'cpu ns/fr':>9} | {'NDR/sync':>8} | {'PDR/sync':>8} | {'cpu/sync':>8} |",
           "|" + "|".join("-" * w for w in (20, 25, 25, 9, 9, 11, 10, 10, 10)) + "|"]
    for s in rows:
        out.append(f"| {s['scenario']:<18} | {s['ndr'] / 1e3:6.1f} ({s['ndr_min'] / 1e3:6.1f}..{s['ndr_max'] / 1e3:6.1f}) | "
                   f"{s['pdr'] / 1e3:6.1f} ({s['pdr_min'] / 1e3:6.1f}..{s['pdr_max'] / 1e3:6.1f}) | {s['p50']:7.1f} | "
                   f"{s['p99']:7.1f} | {s['cpu']:9.0f} | {r(s.get('ndr_ratio'), s.get('ndr_noise_bound')):>8} | "
                   f"{r(s.get('pdr_ratio'), s.get('pdr_noise_bound')):>8} | {r(s.get('cpu_ratio')):>8} |")
    return "\n".join(out)


def overview(rows: list[dict]) -> dict:
    """The scenario table for the report's first screen: medians, and the io_uring engine's ratios
    against the blocking reference measured in the same run."""
    def r(x, nb=False):
        return "-" if x is None else f"{x:.3f}{' ~' if nb else ''}"

    return {"caption": "Scenarios (medians over the repetitions; ratios: io_uring / the blocking reference, "
                       "same run)",
            "columns": ["scenario", "NDR kpps", "PDR kpps", "RTT p50 us", "RTT p99 us", "CPU ns/frame",
                        "NDR / sync", "PDR / sync", "CPU / sync"],
            "rows": [[s["scenario"], f"{s['ndr'] / 1e3:.1f}", f"{s['pdr'] / 1e3:.1f}", f"{s['p50']:.1f}",
                      f"{s['p99']:.1f}", f"{s['cpu']:.0f}", r(s.get("ndr_ratio"), s.get("ndr_noise_bound")),
                      r(s.get("pdr_ratio"), s.get("pdr_noise_bound")), r(s.get("cpu_ratio"))] for s in rows],
            "note": "~: the two engines' min..max ranges overlap (noise-bound)."}


def against_history(ctx: Context, run, cur: dict, n: int):
    """Verdicts of this run against the store's last n complete runs of the same machine and
    configuration: (rows, baseline, what it was judged against); (None, None, why not) when there
    are none.  Informative: a run does not fail on them (`report --against-history` gates)."""
    if not n or ctx.db is None:
        return None, None, ""
    from .store import config_key, open_store

    try:
        with open_store(ctx.db, create=False) as st:
            base = history.history_baseline(st, list(cur), run.machine["id"], config_key(run.config), n)
    except BenchError as e:
        if e.status in (EXIT_NO_DATA,):
            return None, None, ("no earlier comparable run in the store: this run is the first of its "
                                "history, nothing to judge it against yet")
        raise
    rows, _missing, _added = judge.compare(base, {k: v for k, v in cur.items() if k in base}, judge.Settings())
    return rows, base, (f"Verdicts: this run against the last {n} comparable complete run(s) in {ctx.db} "
                        f"(same machine, same configuration); they inform, `report --against-history` gates.")


def metric_lines(records: list[dict]) -> list[dict]:
    out = []
    for r in records:
        base = f"e2e/{r['scenario']}"
        out += [{"kind": "timed", "name": f"{base}/ndr_pps", "value": r["ndr_pps"], "unit": "pps", "better": "higher"},
                {"kind": "timed", "name": f"{base}/pdr_pps", "value": r["pdr_pps"], "unit": "pps", "better": "higher"},
                {"kind": "timed", "name": f"{base}/cpu_ns_per_frame", "value": r["cpu_ns_per_frame"],
                 "unit": "ns/frame", "better": "lower"},
                {"kind": "timed", "name": f"{base}/rtt_p99_us", "value": r["rtt_p99_us"], "unit": "us",
                 "better": "lower"}]
    return out


def main(args, ctx: Context) -> int:
    prof = plan(args)
    extra = shlex.split(args.reflector_opts)
    config = {"profile": args.profile, "modes": prof["modes"], "sizes": prof["sizes"], "ios": prof["ios"],
              "queues": prof["queues"], "streams": not args.no_streams, "reflector_opts": args.reflector_opts}
    if args.rate is not None:
        config["rate"] = args.rate  # absent otherwise, so that runs made before the option compare
    run = ctx.new_run("run", config)
    if args.tapreflect:
        run.version = tool_version(args.tapreflect)  # the binary under test, not the build's
    out = Path(args.out) if args.out else ctx.tools.results / "bench-e2e.json"
    stem = out.with_suffix("") if out.suffix == ".json" else out
    traces = Path(f"{stem}.traces")

    def body() -> int:
        records: list[dict] = []
        trace_files: dict[str, list] = {}
        with Lab(ctx.tools, "run") as lab:
            ctx.out(f"tapreflect end-to-end benchmark, profile {args.profile}: reflector on CPU {lab.cpu_r}, "
                    f"tapgen on CPU {lab.cpu_g}; search: {prof['steps']} steps, majority of {prof['repeats']} "
                    f"trials of {prof['trial']:g} s; RTT and CPU at "
                    f"{f'{args.rate} pps' if args.rate else '50 % of NDR'} for {prof['rtt_trial']:g} s; "
                    f"{args.reps} repetition(s)")
            points = [(rep, mode, size, q, io) for rep in range(1, args.reps + 1) for mode in prof["modes"]
                      for size in prof["sizes"] for q in prof["queues"] for io in prof["ios"]]
            with Progress(len(points), "scenarios") as prog:
                for rep, mode, size, q, io in points:
                    name = f"{mode}/{size}B/{io}/{q}q"
                    prog.doing(f"{name} #{rep}")
                    cpus = f"{lab.cpu_r},{lab.cpu_g}" if q == 2 else str(lab.cpu_r)
                    ropts = ["-m", mode, "--io", io, "-c", cpus, *extra]
                    payload = str(size - 46)
                    lab.start_reflector(ropts, binary=args.tapreflect)
                    search = lab.tapgen(["--size", payload, "--search", "binary", "--steps", str(prof["steps"]),
                                         "--repeats", str(prof["repeats"]), "--duration", f"{prof['trial']:g}",
                                         "--drain", "0.2"], timeout=600)[-1]
                    lab.reflector.finish()
                    rate = args.rate or max(1000, int(search["ndr_pps"] // 2))
                    lab.start_reflector(ropts, binary=args.tapreflect)
                    rtt = lab.tapgen(["--size", payload, "--rate", str(rate), "--duration",
                                      f"{prof['rtt_trial']:g}"], timeout=120)[-1]
                    summary = lab.reflector.finish()
                    label = name.replace("/", "-")
                    trace_files.setdefault(f"{label}.search.jsonl", []).append(search)
                    trace_files.setdefault(f"{label}.rtt.jsonl", []).append(rtt)
                    trace_files.setdefault(f"{label}.reflector.jsonl", []).append(summary)
                    rec = {"kind": "e2e", "schema_version": SCHEMA_VERSION, "scenario": name, "rep": rep,
                           "mode": mode, "frame_bytes": size, "io": io, "read": in_force(summary, "read"), "queues": q,
                           "ndr_pps": search["ndr_pps"], "pdr_pps": search["pdr_pps"],
                           "ceiling_pps": search.get("ceiling_pps"), "rtt_rate_pps": rtt.get("rate_target"),
                           "rtt_loss_ratio": rtt.get("loss_ratio"), "rtt_p50_us": rtt["rtt_us"]["p50"],
                           "rtt_p99_us": rtt["rtt_us"]["p99"], "cpu_ns_per_frame": summary["cpu_ns_per_frame"],
                           "accounting_exact": summary["accounting_exact"]}
                    records.append(rec)
                    run.records.append(rec)
                    add_samples(run, metric_lines([rec]))
                    prog.step(f"{name:<22} #{rep}", f"NDR {search['ndr_pps'] / 1e3:7.1f} kpps  "
                                                    f"PDR {search['pdr_pps'] / 1e3:7.1f} kpps")
            stream_recs = []
            if not args.no_streams:
                sp = prof["streams"]
                ctx.out("")
                ctx.out(f"streams: {args.reps} interleaved trial(s) of {sp['duration']:g} s per point, offloads on "
                        f"against off")

                def keep(r):  # as each trial ends: an interruption keeps what was measured
                    run.records.append(r)
                    add_samples(run, streams.metric_lines([r]))

                stream_recs = streams.measure(lab, modes=sp["modes"], traffic=sp["traffic"], ios=sp["ios"],
                                              reps=args.reps, duration=sp["duration"], flows=2, gso_rate=0,
                                              on_record=keep)

        write_jsonl(out, records)
        rows_of_run = summarize(records)
        write_jsonl(Path(f"{out}.summary"), rows_of_run)
        traces.mkdir(parents=True, exist_ok=True)
        for old in traces.glob("*.jsonl"):
            old.unlink()
        for fname, recs in trace_files.items():
            write_jsonl(traces / fname, recs)
        ctx.out("")
        ctx.out(table(rows_of_run))
        ctx.out("")
        if args.reps < 2:
            ctx.out("one repetition per scenario: no spread, so no ratio here can be told from noise "
                    "(use --reps 3 or more)")
        elif any(r.get("ndr_noise_bound") or r.get("pdr_noise_bound") for r in rows_of_run):
            ctx.out("~: noise-bound: the two engines' min..max ranges overlap, so this run cannot tell them apart "
                    "on that figure; more --reps, or `tapreflect-bench ab` for a ratio with an interval")
        if stream_recs:
            streams_out = Path(f"{out}.streams")
            write_jsonl(streams_out, stream_recs)
            ctx.out("")
            ctx.out(streams.table(stream_recs))
        ctx.out(f"records: {out} (per repetition), {out}.summary (medians), {traces}/ (searches, RTT histograms)")
        meta = {"kind": "meta", "machine": run.machine,
                "config": {"build": run.version, "profile": args.profile, "reps": args.reps,
                           "reflector_cpu": str(lab.cpu_r), "generator_cpu": str(lab.cpu_g)}}
        lines = [m for m in metric_lines(records) if not m["name"].endswith("/pdr_pps")]
        lines += streams.metric_lines(stream_recs)
        if args.metrics:
            write_jsonl(Path(args.metrics), [meta, *lines])
            ctx.out(f"metrics: {args.metrics}")
        html = Path(f"{stem}.html")
        cur = metrics.metrics_from_lines(metric_lines(records) + streams.metric_lines(stream_recs))
        rows, base, against = against_history(ctx, run, cur, args.judge_last)
        settings = judge.Settings()
        if rows:
            word, sentence = judge.summary(rows, settings)
            ctx.out(f"against the store's last {args.judge_last} comparable run(s): {word}: {sentence}")
        elif against:
            ctx.out(against)
        report.render_report(html, title=f"tapreflect end-to-end benchmark, profile {args.profile}", rows=rows,
                             base=base, cur=cur, base_metas=[], cur_metas=[meta],
                             missing=[], added=[], settings=settings,
                             traces=report.read_traces(sorted(traces.glob("*.jsonl"))), streams=stream_recs,
                             config={**config, "reps": args.reps, "reflector_cpu": lab.cpu_r,
                                     "generator_cpu": lab.cpu_g, "tapreflect": args.tapreflect or ctx.tools.tapreflect,
                                     "version": run.version, "commit": run.commit or "-"},
                             overview=overview(rows_of_run), against=against)
        ctx.out(f"report: {html}")
        bad = [r["scenario"] for r in records if not r["accounting_exact"]]
        bad += [r["scenario"] for r in stream_recs if not (r.get("accounting_exact") and r.get("verified"))]
        if bad:
            ctx.out(f"accounting MISMATCH or unverified data in: {', '.join(bad)}")
            run.note = "accounting mismatch"
            return EXIT_REGRESSION
        return 0

    return ctx.measure(run, body)
