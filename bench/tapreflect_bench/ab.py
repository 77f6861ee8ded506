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

The cost of a scraped metrics endpoint: give one side tapreflect's
--metrics and --scrape its port, e.g. --b-opts "--metrics 9464" --scrape
9464.  During every fixed-load trial and PDR search of each side whose
options have --metrics (and only those: the other side is the reference, not
scraped), a scraper GETs http://127.0.0.1:PORT/metrics (--scrape ADDR:PORT
for another address, [ADDR]:PORT for IPv6) every --scrape-interval seconds
(default 1) inside the lab's namespace, as Prometheus does: one kept-alive
connection, OpenMetrics asked for first.  The first scrape comes half an
interval after the reflector is ready, so that a trial gets as many scrapes
as its reflector's life has intervals (a 1 s trial: one); the scraper is
pinned to tapgen's CPU, never the reflector's, and stopped just before the
reflector.  What the reflector spends answering counts in its CPU per frame,
which is the point.  Each scraped trial's record has "scrapes" (answered 200
with a body) and "scrape_errors" (refused, timed out, another status); a
side none of whose scrapes succeeded stops the run (exit 6) at its first
trial: a comparison that scraped nothing would pass for one that did.  The
calibration search before the trials is not scraped.

Exit status: the report's (0 no regression, 1 B regressed, 3 inconclusive),
2 bad usage, 4 the store cannot be used, 6 the measurement failed (a tool
exited or hung; with --scrape, a side none of whose scrapes succeeded), 130
interrupted (what was measured is stored, marked incomplete).
"""
from __future__ import annotations

import ipaddress
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from . import judge, metrics, report, stats
from .common import Context, add_samples, tool_version, write_jsonl, write_text
from .lab import Lab
from .model import EXIT_BAD_INPUT, EXIT_MEASUREMENT, BenchError
from .progress import Progress

# Of the trial records: 2 adds schema_version itself; 3 adds scrapes and scrape_errors, in the trials of
# a scraped side only (--scrape)
SCHEMA_VERSION = 3
DEFAULT_SCRAPE_HOST = "127.0.0.1"  # tapreflect's --metrics default address
DEFAULT_SCRAPE_INTERVAL = 1.0
# What Prometheus asks for (OpenMetrics first), so that the reflector renders what a real scrape gets.
SCRAPE_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
                 "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")


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
    g = p.add_argument_group("metrics endpoint")
    g.add_argument("--scrape", metavar="[ADDR:]PORT",
                   help="scrape http://ADDR:PORT/metrics (ADDR 127.0.0.1 unless given) in every trial of each side "
                        'whose options have --metrics, e.g. --b-opts "--metrics 9464" --scrape 9464; a side none '
                        "of whose scrapes succeeds stops the run")
    g.add_argument("--scrape-interval", type=float, metavar="SECS",
                   help=f"seconds between scrapes (default {DEFAULT_SCRAPE_INTERVAL:g}, as a 1 s Prometheus "
                        "scrape_interval); the first comes half of it after the reflector is ready")
    p.add_argument("--out", metavar="DIR",
                   help="where results go (default BUILD/ab-results; ./ab-results when installed): a.json and "
                        "b.json (one metric sample per trial), report.md, report.html, trials.json, and each "
                        "side's search traces, RTT histograms and reflector summaries (*.jsonl)")


def parse_listen(spec: str, what: str) -> tuple[str, int]:
    """tapreflect's --metrics syntax, [ADDR:]PORT (IPv6 as [ADDR]:PORT, ADDR numeric, 127.0.0.1 unless
    given), as (host, port)."""
    host, port = DEFAULT_SCRAPE_HOST, spec
    if spec.startswith("["):
        close = spec.find("]")
        if close < 0 or spec[close + 1:close + 2] != ":":
            raise BenchError(f"{what} {spec}: expected [IPV6]:PORT")
        host, port = spec[1:close], spec[close + 2:]
    elif ":" in spec:
        if spec.count(":") > 1:
            raise BenchError(f"{what} {spec}: an IPv6 address goes in brackets: [ADDR]:PORT")
        host, port = spec.split(":")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise BenchError(f"{what} {spec}: the address must be numeric (127.0.0.1, [::1])") from None
    if not port.isdigit() or int(port) > 65535:
        raise BenchError(f"{what} {spec}: the port must be a number 0..65535")
    return host, int(port)


def metrics_option(opts: list[str]) -> Optional[str]:
    """The value of --metrics in a side's tapreflect options (its last one, as getopt takes it), or None."""
    value = None
    for i, o in enumerate(opts):
        if o == "--metrics":
            value = opts[i + 1] if i + 1 < len(opts) else ""
        elif o.startswith("--metrics="):
            value = o[len("--metrics="):]
    return value


@dataclass(frozen=True)
class ScrapePlan:
    """What --scrape asks for: where, how often, and which sides."""

    host: str
    port: int
    interval: float
    sides: tuple[str, ...]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"


def scrape_plan(spec: Optional[str], interval: Optional[float], opts: dict[str, list[str]]) -> Optional[ScrapePlan]:
    """--scrape and --scrape-interval against the sides' options; None without --scrape.  Scraped are the
    sides whose options have --metrics; each must serve where the scraper looks (the same port, its address
    that one or a wildcard), so that a typo stops the run before it starts rather than scraping nothing."""
    if spec is None:
        if interval is not None:
            raise BenchError("--scrape-interval needs --scrape [ADDR:]PORT")
        return None
    interval = DEFAULT_SCRAPE_INTERVAL if interval is None else interval
    if not interval > 0:
        raise BenchError("--scrape-interval SECS, more than 0")
    host, port = parse_listen(spec, "--scrape")
    if port == 0:
        raise BenchError("--scrape 0: give the port the reflector serves (a fixed one in its --metrics)")
    sides = []
    for side in "AB":
        value = metrics_option(opts[side])
        if value is None:
            continue
        where = f"side {side}'s --metrics {value}"
        mhost, mport = parse_listen(value, f"{side}: --metrics")
        if mport != port:
            raise BenchError(f"{where} is not the port --scrape {spec} scrapes"
                             + (" (port 0 takes any free one: give a fixed one to scrape it)" if mport == 0 else ""))
        if mhost != host and not ipaddress.ip_address(mhost).is_unspecified:
            raise BenchError(f"{where} listens on {mhost}, which --scrape {spec} does not reach "
                             f"(give --scrape {spec.rpartition(':')[2] if mhost == DEFAULT_SCRAPE_HOST else value})")
        sides.append(side)
    if not sides:
        raise BenchError(f"--scrape {spec}: neither side's options have --metrics, so nothing serves it "
                         f'(e.g. --b-opts "--metrics {port}")')
    return ScrapePlan(host, port, interval, tuple(sides))


# The scraper, run by the interpreter that runs this program, inside the lab's namespace: argv is HOST PORT
# INTERVAL CPU ACCEPT --ready-fd N.  It pins itself first (so that even its imports stay off the reflector's
# CPU), says it is ready, then scrapes at t0 + interval/2, t0 + 3 interval/2, ... on one kept-alive connection
# (a stale one, closed by the server while idle, is retried once on a new connection, as an HTTP client does
# for a GET), and writes one line per scrape: "ok BYTES" or "error WHY".  SIGTERM ends it.
SCRAPER = r"""
import os, sys
host, port, interval, cpu, accept = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
os.sched_setaffinity(0, {cpu})
import http.client, json, time
ready = int(sys.argv[sys.argv.index("--ready-fd") + 1])
os.write(ready, (json.dumps({"type": "start", "pid": os.getpid(), "cpu": cpu}) + "\n").encode())
os.close(ready)
conn = None
def get():
    global conn
    fresh = conn is None
    if fresh:
        conn = http.client.HTTPConnection(host, port, timeout=interval)
    try:
        conn.request("GET", "/metrics", headers={"Accept": accept})
        r = conn.getresponse()
        body = r.read()
    except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
        conn.close()
        conn = None
        if fresh:
            raise
        return get()
    except BaseException:
        conn.close()
        conn = None
        raise
    if r.will_close:
        conn.close()
        conn = None
    if r.status != 200 or not body:
        raise OSError(f"HTTP {r.status} {r.reason}, {len(body)} bytes")
    return len(body)
due = time.monotonic() + interval / 2
while True:
    time.sleep(max(0.0, due - time.monotonic()))
    try:
        line = f"ok {get()}"
    except Exception as e:
        line = "error " + " ".join(f"{type(e).__name__}: {e}".split())
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    due = max(due + interval, time.monotonic())
"""


def scraper_argv(plan: ScrapePlan, cpu: int) -> list[str]:
    return [sys.executable, "-I", "-S", "-c", SCRAPER, plan.host, str(plan.port), f"{plan.interval:g}", str(cpu),
            SCRAPE_ACCEPT]


def count_scrapes(text: str) -> dict:
    """The scraper's output as {"scrapes", "scrape_errors", "last_error"}: whole lines only (a line cut short
    by the stop is not a scrape)."""
    ok, errors, last = 0, 0, None
    for line in text.split("\n")[:-1]:
        word, _, rest = line.partition(" ")
        if word == "ok":
            ok += 1
        elif word == "error":
            errors, last = errors + 1, rest
    return {"scrapes": ok, "scrape_errors": errors, "last_error": last}


def scrape_failure(trials: list[dict], side: str, plan: ScrapePlan, last_error: Optional[str] = None) -> Optional[str]:
    """Why a scraped side's trials so far do not count as scraped (not one scrape succeeded), or None."""
    recs = [t for t in trials if t["side"] == side and "scrapes" in t]
    if not recs or sum(t["scrapes"] for t in recs) > 0:
        return None
    errors = sum(t["scrape_errors"] for t in recs)
    n = f"{len(recs)} trial(s)"
    if errors == 0:
        return (f"{side}: no scrape of {plan.url} was even tried in {n}: the first comes {plan.interval / 2:g} s "
                f"after the reflector is ready, so a trial must last longer (a smaller --scrape-interval)")
    return (f"{side}: all {errors} scrape(s) of {plan.url} in {n} failed"
            + (f" (last: {last_error})" if last_error else "")
            + ": is its --metrics serving there? (tapreflect --help | grep metrics)")


def scrape_summary(trials: list[dict], side: str, plan: ScrapePlan) -> str:
    recs = [t for t in trials if t["side"] == side and "scrapes" in t]
    ok, errors = sum(t["scrapes"] for t in recs), sum(t["scrape_errors"] for t in recs)
    fixed = [t["scrapes"] for t in recs if t["trial"] == "fixed"]
    text = f"  {side}: {ok} scrape(s) of {plan.url} answered, {errors} failed, in {len(recs)} trial(s)"
    if fixed:
        text += f" ({stats.median(fixed):g} per fixed-load trial, median)"
    return text + (": warning: not every trial was scraped alike" if errors else "")


class Scraper:
    """The scraper of one trial, a lab process in the namespace, pinned to tapgen's CPU."""

    def __init__(self, lab: Lab, plan: ScrapePlan):
        self.proc = lab.spawn("scrape", scraper_argv(plan, lab.cpu_g), ready=True)

    def stop(self) -> dict:
        """End it; its counts.  A scraper that died by itself is an error: its counts would be short."""
        died = not self.proc.running()
        rc = self.proc.stop()
        if died:
            raise BenchError(f"the scraper exited ({rc}) during the trial: {self.proc.stderr_tail()}",
                             EXIT_MEASUREMENT)
        try:
            return count_scrapes(self.proc.out.read_text(errors="replace"))
        except OSError as e:
            raise BenchError(f"the scraper's output: {e}", EXIT_MEASUREMENT) from None


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
    scrape = scrape_plan(args.scrape, args.scrape_interval, opts)
    hooks = {"A": args.a_hook or args.b_hook, "B": args.b_hook or args.a_hook}
    outdir = Path(args.out) if args.out else ctx.tools.results / "ab-results"
    config = {"mode": args.mode, "size": args.size, "rate": args.rate, "trial": args.trial,
              "a_opts": args.a_opts, "b_opts": args.b_opts, "a_hook": args.a_hook, "b_hook": args.b_hook,
              "same_binary": bins["A"] == bins["B"]}
    if scrape:  # only then: a run without it keeps the configuration (and so the history) it always had
        config.update(scrape=scrape.url, scrape_interval=scrape.interval, scrape_sides="".join(scrape.sides))
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

            def trial(side, tapgen_args, timeout) -> tuple[dict, dict, dict]:
                """One trial of a side: its reflector afresh, scraped while tapgen runs when the side is;
                tapgen's last record, the reflector's summary, and the scrape counts for the trial record."""
                start(side)
                scraper = Scraper(lab, scrape) if scrape and side in scrape.sides else None
                g = lab.tapgen(tapgen_args, timeout=timeout)[-1]
                counts = scraper.stop() if scraper else {}
                return g, lab.reflector.finish(), counts

            def scraped(rec, counts) -> str:
                """A scraped trial's counts into its record, and a few words on them for the progress line.
                A side whose first trial scraped nothing ends the run here, not after the minutes of the rest
                (the record kept, its samples not)."""
                if not counts:
                    return ""
                rec.update(scrapes=counts["scrapes"], scrape_errors=counts["scrape_errors"])
                why = scrape_failure(trials + [rec], rec["side"], scrape, counts["last_error"])
                if why:
                    trials.append(rec)
                    run.records.append(rec)
                    raise BenchError(f"--scrape: {why}", EXIT_MEASUREMENT)
                failed = rec["scrape_errors"]
                return f", {rec['scrapes']} scrape(s)" + (f", {failed} failed" if failed else "")

            ctx.out(f"tapreflect A/B: {args.reps} fixed-load trial(s) of {args.trial:g} s and {args.pdr_reps} PDR "
                    f"search(es) each, interleaved: {args.mode}, {args.size} B frames, reflector on CPU {lab.cpu_r}, "
                    f"tapgen on CPU {lab.cpu_g}")
            for side in "AB":
                o = getattr(args, f"{side.lower()}_opts") or "(default options)"
                ctx.out(f"  {side}: {bins[side]} {o}" + (f", hook: {hooks[side]}" if hooks[side] else ""))
            if bins["A"] == bins["B"] and args.a_opts == args.b_opts and not (args.a_hook or args.b_hook):
                ctx.out("  A and B are the same binary with the same options: an A/A run (what the noise alone gives)")
            if scrape:
                ctx.out(f"  scraping {' and '.join(scrape.sides)}: {scrape.url} every {scrape.interval:g} s, the "
                        f"first {scrape.interval / 2:g} s after the reflector is ready, from tapgen's CPU {lab.cpu_g}")
            rate, ceiling = args.rate, 0
            if rate is None or args.pdr_reps > 0:
                start("A")
                ndr = lab.tapgen(["--size", payload, "--search", "binary", "--steps", "6", "--repeats", "1", "--duration", "0.5",
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
                        g, summary, counts = trial(side, ["--size", payload, "--rate", str(rate), "--duration",
                                                          f"{args.trial:g}", "--drain", "0.1"], 120)
                        s = side.lower()
                        files[f"{s}-rtt"].append(g)
                        files[f"{s}-reflector"].append(summary)
                        # CPU per frame: the reflector's own figure for the trial (its start-up and the one
                        # ping before the load are under 0.5 % of it at the default load).
                        rec = {"schema_version": SCHEMA_VERSION, "trial": "fixed", "side": side, "rep": rep,
                               "rate": g.get("rate_target"), "loss_ratio": g.get("loss_ratio"),
                               "cpu_ns_per_frame": summary["cpu_ns_per_frame"],
                               "frames_per_wakeup": summary.get("frames_per_wakeup"), "rtt_us": g["rtt_us"]}
                        note = scraped(rec, counts)
                        trials.append(rec)
                        run.records.append(rec)
                        lines = stored(fixed_metrics(rec), side)
                        files[s].extend(fixed_metrics(rec))
                        add_samples(run, lines)
                        prog.step(f"fixed-load trial {rep}/{args.reps} {side}",
                                  f"CPU {rec['cpu_ns_per_frame']:.0f} ns/frame, RTT p50 {g['rtt_us']['p50']:g} us{note}")
                for rep in range(1, args.pdr_reps + 1):
                    for side in order(rep):
                        prog.doing(f"PDR search {rep}/{args.pdr_reps} {side}")
                        sr, _, counts = trial(side, ["--size", payload, "--search", "binary", "--steps", "5", "--repeats",
                                                     "1", "--duration", "0.5", "--drain", "0.2", "--max-rate",
                                                     str(ceiling)], 300)
                        s = side.lower()
                        files[f"{s}-search"].append(sr)
                        rec = {"schema_version": SCHEMA_VERSION, "trial": "pdr", "side": side, "rep": rep,
                               "ndr_pps": sr["ndr_pps"], "pdr_pps": sr["pdr_pps"], "ceiling_pps": sr.get("ceiling_pps")}
                        note = scraped(rec, counts)
                        trials.append(rec)
                        run.records.append(rec)
                        files[s].extend(pdr_metrics(rec))
                        add_samples(run, stored(pdr_metrics(rec), side))
                        prog.step(f"PDR search {rep}/{args.pdr_reps} {side}", f"PDR {sr['pdr_pps']:.0f} pps{note}")
        return judge_and_write()

    def judge_and_write() -> int:
        for name, recs in files.items():
            write_jsonl(outdir / f"{name}{'.json' if name in ('a', 'b') else '.jsonl'}", recs)
        write_jsonl(outdir / "trials.json", trials)
        ctx.out(side_medians(trials, "A"))
        ctx.out(side_medians(trials, "B"))
        for side in scrape.sides if scrape else ():
            ctx.out(scrape_summary(trials, side, scrape))
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
