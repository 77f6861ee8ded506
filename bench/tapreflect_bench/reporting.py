"""Compare a baseline set of benchmark results with a current one: a
Markdown report (metric, baseline, current, ratio with its confidence
interval, the smallest change the run could detect, verdict), optionally an
HTML report and a ratio chart.

Inputs are files of JSON lines, {"kind", "name", "value", "unit", "better"},
one line per sample (repetitions repeat the name), or google-benchmark JSON
output files (--benchmark_format=json), read as timed ns/frame samples.  A
line may also carry "threshold" (the metric's own, instead of
--timed-threshold) and "gate": false (the metric is judged and shown, but
never fails the run: for figures known to be too noisy to gate on).  The
baseline may instead be the store's history: --against-history N takes the
samples of the last N complete comparable runs (same machine and
configuration) as the baseline.

Verdicts:
  icount  exact instruction counts: a change beyond --icount-threshold is a
          regression or an improvement, else no change.  These gate.
  timed   the ratio current/baseline is estimated by Hodges-Lehmann (the
          median of all pairwise ratios) with its distribution-free
          confidence interval at level 1 - --alpha (from the exact
          Mann-Whitney distribution).  Regression or improvement: the interval
          excludes 1 and the estimate is beyond --timed-threshold; no change:
          the whole interval is within the threshold; otherwise, and with too
          few samples for an interval at all, inconclusive.  Timed metrics
          gate only with --gate-timed.
          Paired samples: when every line of a metric on both sides carries
          "pair" (an integer: the trials of A and B run back to back share
          one), the estimate is the Hodges-Lehmann one of the pairs' ratios
          (the median of their Walsh averages) with its interval from the
          exact Wilcoxon signed-rank distribution.  A pair's ratio cancels
          what drifts slower than the pair takes, which on a shared machine
          is most of the noise.
  "detectable" is the interval's half-width: changes smaller than that
  could not have been told from noise by this run.

Cross-run baselines: a line {"kind": "meta", "machine": {...}, "config": {...}}
in a file says where and how its figures were made (run --metrics writes
one).  When both sides carry one and they differ, the report refuses to
compare (exit 2) unless --force: figures from another machine or
configuration say nothing about a regression.  --save-baseline FILE writes
the current results, with their meta line (made now for this machine when
they have none), as a baseline for later runs.

Exit status: 0 pass; 1 a gating regression; 2 bad input (unreadable file, no
metric in both sets, another machine or configuration); 3 a gating metric
inconclusive (unless --inconclusive pass); 4 the store cannot be used; 5 no
comparable run in the history.
"""
from __future__ import annotations

import json
import sys

from . import charts, history, judge, machine, metrics, report
from .model import EXIT_BAD_INPUT, EXIT_NO_DATA, BenchError, Metric

HISTORY_DOC = """The results store: every measuring subcommand appends its run (trials, samples,
machine identity, kernel, CPU model, tapreflect version and git commit, configuration, time).

  history show METRIC...   a metric's trend for one machine and configuration across runs and
                           commits: a table (and --html FILE: a page with charts), with the change
                           points found in it
  history list             the machines, configurations and metrics in the store
  history export           every run as JSON lines (for other dashboards)
  history import FILE...   baseline files (metric JSON lines with a meta line, google-benchmark
                           JSON) or an export, stored as runs

Change points: binary segmentation of the per-run medians with a two-sample t statistic whose
null distribution (the maximum over all splits) is simulated, after isolated spikes are set
aside; alpha 0.0002, about one false change point in 2500 unchanged series (changepoint.py has
the method and its measured power).  Each is reported with its run and commit range, the levels
before and after, and the ratio with its interval.  With several machines in the store, a metric's
trend is this machine's unless --machine says otherwise.
"""


def add_arguments(ap) -> None:
    ap.add_argument("--baseline", nargs="+", metavar="FILE",
                    help="the reference results: JSON-lines metric files or google-benchmark JSON")
    ap.add_argument("--current", nargs="+", metavar="FILE",
                    help="the results to judge against the baseline (default with --against-history: this "
                         "machine's latest complete run in the store)")
    ap.add_argument("--against-history", type=int, metavar="N",
                    help="judge against the last N complete comparable runs in the store instead of a baseline file")
    ap.add_argument("--run", type=int, metavar="ID",
                    help="with --against-history: judge this stored run against the N before it (default: "
                         "this machine's latest complete run)")
    ap.add_argument("--machine", metavar="ID", help="with --against-history: the machine (default: this one)")
    ap.add_argument("--config", metavar="KEY", help="with --against-history: the configuration key (history list)")
    ap.add_argument("--markdown", metavar="FILE", help="write the report here too (it always goes to stdout)")
    ap.add_argument("--html", metavar="FILE",
                    help="write a self-contained HTML report: verdicts and headline ratios first, then per-metric "
                         "charts of both sides' samples, and the search traces, RTT distributions and "
                         "configuration given with --trace")
    ap.add_argument("--trace", nargs="+", metavar="FILE", default=[],
                    help="for the HTML report: tapgen --json outputs (search traces, RTT histograms) and "
                         "tapreflect summaries, each shown under its file name")
    ap.add_argument("--chart", metavar="PREFIX", help="write the ratio chart as PREFIX.png and PREFIX.svg")
    ap.add_argument("--title", default="tapreflect performance report", help="the report's heading")
    ap.add_argument("--icount-threshold", type=float, default=0.01, metavar="FRACTION",
                    help="instruction counts: the change that counts (default 0.01)")
    ap.add_argument("--timed-threshold", type=float, default=0.05, metavar="FRACTION",
                    help="timed metrics without a threshold of their own: the change that counts (default 0.05)")
    ap.add_argument("--alpha", type=float, default=0.01, metavar="ALPHA",
                    help="1 - the confidence level of the intervals (default 0.01: 99 %%)")
    ap.add_argument("--gate-timed", action="store_true",
                    help="timed regressions fail the run too (not only instruction counts)")
    ap.add_argument("--inconclusive", choices=["fail", "pass"], default="fail",
                    help="a gating metric that cannot be judged: exit 3 (fail, default) or 0")
    ap.add_argument("--save-baseline", metavar="FILE",
                    help="write the current results, tagged with machine and configuration, to FILE")
    ap.add_argument("--force", action="store_true",
                    help="compare even when the two sides come from different machines or configurations")


def settings_of(args) -> judge.Settings:
    for name in ("icount_threshold", "timed_threshold"):
        if getattr(args, name) < 0:
            raise BenchError(f"--{name.replace('_', '-')} must not be negative")
    if not 0 < args.alpha < 1:
        raise BenchError("--alpha: between 0 and 1")
    return judge.Settings(icount_threshold=args.icount_threshold, timed_threshold=args.timed_threshold,
                          alpha=args.alpha, gate_timed=args.gate_timed, inconclusive=args.inconclusive)


def run_metrics(run) -> dict[str, Metric]:
    """A stored run's samples as metrics (the current side of a report)."""
    return metrics.from_samples(run.samples)


def from_history(args, ctx, s):
    """(base, cur, base_metas, cur_metas) for --against-history N."""
    from .store import config_key, open_store

    if args.against_history < 1:
        raise BenchError("--against-history N, N >= 1")
    with open_store(ctx.db, create=False) as st:
        if args.current:
            cur, cur_metas = metrics.load_files(args.current)
            mid = args.machine or machine.identity()["id"]
            key = args.config
            if key is None:
                keys = {c[0] for c in st.configs(mid)
                        if set(cur) & set(st.metric_names(machine_id=mid, config_key=c[0]))}
                if len(keys) != 1:
                    raise BenchError("--against-history with --current: name the configuration with --config KEY "
                                     f"(candidates: {', '.join(sorted(keys)) or 'none'}; see `history list`)",
                                     EXIT_NO_DATA if not keys else EXIT_BAD_INPUT)
                key = keys.pop()
            exclude = None
        else:
            if args.run is not None:
                current = st.get_run(args.run)
                rid = args.run
            else:
                mid = args.machine or machine.identity()["id"]
                infos = st.runs(machine_id=mid, config_key=args.config, complete_only=True)
                if not infos:
                    raise BenchError(f"no stored run to judge on machine {mid}: measure one first (e.g. `run "
                                     "--profile quick`), or name the machine with --machine", EXIT_NO_DATA)
                rid = infos[-1].id
                current = st.get_run(rid)
            cur = run_metrics(current)
            mid, key, exclude = current.machine.get("id"), config_key(current.config), rid
            cur_metas = [{"kind": "meta", "machine": current.machine, "config": current.config}]
        base = history.history_baseline(st, list(cur), mid, key, args.against_history, before_run=exclude)
    return base, cur, [], cur_metas


def main(args, ctx) -> int:
    s = settings_of(args)
    if args.against_history is None:
        for opt in ("run", "machine", "config"):
            if getattr(args, opt) is not None:
                raise BenchError(f"--{opt} needs --against-history N")
    if args.trace and not args.html:
        raise BenchError("--trace FILE... is for the HTML report: give --html FILE too")
    if args.against_history is not None:
        if args.baseline:
            raise BenchError("--baseline or --against-history, not both")
        if args.run is not None and (args.current or args.machine):
            raise BenchError("--run ID names the run to judge: without --current or --machine")
        base, cur, base_metas, cur_metas = from_history(args, ctx, s)
        if args.save_baseline:
            metrics.save_baseline(args.save_baseline, cur, cur_metas)
    else:
        if not args.current:
            raise BenchError("give --current FILE... (and --baseline FILE... or --against-history N)")
        cur, cur_metas = metrics.load_files(args.current)
        if args.save_baseline:
            metrics.save_baseline(args.save_baseline, cur, cur_metas)
            if not args.baseline and not args.html:
                return 0
        if not args.baseline:
            if args.html:
                # Nothing to compare with: the HTML report shows the results themselves.
                report.render_report(args.html, title=args.title, rows=None, base=None, cur=cur, base_metas=[],
                                     cur_metas=cur_metas, missing=[], added=[], settings=s,
                                     traces=report.read_traces(args.trace))
                print(f"tapreflect-bench report: HTML report written to {args.html}", file=sys.stderr)
                return 0
            raise BenchError("nothing to compare with: give --baseline FILE... or --against-history N, or "
                             "--save-baseline FILE to make one")
        base, base_metas = metrics.load_files(args.baseline)
        metrics.check_same_setting(base_metas, cur_metas, args.force)
    rows, missing, added = judge.compare(base, cur, s)  # no metric in both: judge says what to pass
    md = judge.markdown(rows, missing, added, s, args.title)
    sys.stdout.write(md)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(md)
    if args.chart:
        charts.write_ratio_chart(rows, args.chart, args.title)
        print(f"tapreflect-bench report: chart written to {args.chart}.png and {args.chart}.svg", file=sys.stderr)
    if args.html:
        report.render_report(args.html, title=args.title, rows=rows, base=base, cur=cur, base_metas=base_metas,
                             cur_metas=cur_metas, missing=missing, added=added, settings=s,
                             traces=report.read_traces(args.trace))
        print(f"tapreflect-bench report: HTML report written to {args.html}", file=sys.stderr)
    return judge.exit_status(rows, s)


# --- history ---------------------------------------------------------------


def add_history_arguments(p, common_options) -> None:
    sub = p.add_subparsers(dest="history_command", metavar="ACTION", required=True)
    q = sub.add_parser("show", help="a metric's trend and its change points", description=HISTORY_DOC,
                       formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    q.add_argument("metric", nargs="+", metavar="METRIC", help="metric names (history list shows them)")
    q.add_argument("--machine", metavar="ID",
                   help="the machine (default: this one when it has the metric, else the only one that has it)")
    q.add_argument("--config", metavar="KEY", help="the configuration key (default: the only one with that metric)")
    q.add_argument("--html", metavar="FILE", help="also write an HTML page with a chart per metric")
    q.add_argument("--title", default="tapreflect results history", help="the page's heading")
    common_options(q, measuring=False)
    q.set_defaults(module=HistoryShow)
    q = sub.add_parser("list", help="machines, configurations and metrics in the store")
    q.add_argument("--machine", metavar="ID", help="only this machine, its configurations and metrics")
    common_options(q, measuring=False)
    q.set_defaults(module=HistoryList)
    q = sub.add_parser("export", help="every run as JSON lines")
    q.add_argument("--out", metavar="FILE", help="write here (default: standard output)")
    common_options(q, measuring=False)
    q.set_defaults(module=HistoryExport)
    q = sub.add_parser("import", help="baseline files or an export, stored as runs")
    q.add_argument("files", nargs="+", metavar="FILE", help="metric JSON lines, google-benchmark JSON, or an export")
    q.add_argument("--this-machine", action="store_true",
                   help="store files without a meta line as this machine's (without it such a file is refused: "
                        "figures from an unknown machine cannot be compared with anything)")
    common_options(q, measuring=False)
    q.set_defaults(module=HistoryImport)


class HistoryShow:
    @staticmethod
    def main(args, ctx) -> int:
        from .store import open_store

        with open_store(ctx.db, create=False) as st:
            here = machine.identity()["id"]
            trends = []
            for m in args.metric:
                mid = args.machine
                if mid is None and m in st.metric_names(machine_id=here):
                    mid = here  # a shared store holds other machines' runs too
                trends.append(history.trend(st, m, machine_id=mid, config_key=args.config))
            cfgs = {c[0]: c[1] for c in st.configs()}
        for t in trends:
            print(history.format_trend(t))
            print()
        if args.html:
            t0 = trends[0]
            report.render_history(args.html, title=args.title, trends=trends, machine={"id": t0.machine_id},
                                  config=cfgs.get(t0.config_key, {"config_key": t0.config_key}))
            print(f"tapreflect-bench history: HTML page written to {args.html}", file=sys.stderr)
        return 0


class HistoryList:
    @staticmethod
    def main(args, ctx) -> int:
        from .store import open_store

        with open_store(ctx.db, create=False) as st:
            machines = st.machines()
            if not machines:
                raise BenchError(f"the store {ctx.db} holds no run yet", EXIT_NO_DATA)
            if args.machine:
                machines = [m for m in machines if m.id == args.machine]
                if not machines:
                    raise BenchError(f"no machine {args.machine} in the store (`history list` names them)")
            print("machines:")
            for m in machines:
                desc = ", ".join(f"{k} {v}" for k, v in sorted(m.machine.items()) if k != "id")
                print(f"  {m.id}  {m.runs:4d} run(s)  {desc}")
            print("configurations (key, runs, configuration):")
            for key, cfg, n in st.configs(args.machine):
                print(f"  {key}  {n:4d}  {json.dumps(cfg, sort_keys=True)}")
                for name in st.metric_names(machine_id=args.machine, config_key=key):
                    print(f"      {name}")
        return 0


class HistoryExport:
    @staticmethod
    def main(args, ctx) -> int:
        from .store import open_store

        with open_store(ctx.db, create=False) as st:
            if args.out:
                with open(args.out, "w") as f:
                    st.export_jsonl(f)
            else:
                st.export_jsonl(sys.stdout)
        return 0


class HistoryImport:
    @staticmethod
    def main(args, ctx) -> int:
        from .store import EXPORT_FORMAT, open_store

        heads = {}
        for path in args.files:  # every file readable before the store is touched
            with open(path) as f:
                heads[path] = f.readline()
        with open_store(ctx.db) as st:
            for path in args.files:
                try:
                    first = json.loads(heads[path]) if heads[path].strip() else {}
                except json.JSONDecodeError:
                    first = {}
                if isinstance(first, dict) and first.get("format") == EXPORT_FORMAT:
                    with open(path) as f:
                        ids = st.import_jsonl(f)
                    print(f"{path}: {len(ids)} run(s) imported")
                else:
                    rid = st.import_baseline(path, machine=machine.identity() if args.this_machine else None)
                    print(f"{path}: imported as run {rid}")
        return 0


__all__ = ["add_arguments", "main", "add_history_arguments", "EXIT_BAD_INPUT"]
