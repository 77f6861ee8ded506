"""The micro benchmarks of the reflect path: exact instructions per frame of
every reflect case (callgrind: the reflect loop minus the same loop's frame
copy, over the iterations) and google-benchmark's ns per frame, the suite run
several times, each in a fresh process, so that the samples include what
differs between processes (code and data layout, address randomization), not
only the jitter inside one.  Neither needs root or a namespace.

Instruction counts depend on the compiler and its flags, not on the load of
the machine: they are what CI gates on (`report`, ±1 %).  The timed figures
inform.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

from .common import Context, add_samples, write_jsonl
from .model import EXIT_BAD_INPUT, EXIT_MEASUREMENT, BenchError
from .progress import Progress

# google-benchmark's time units, in ns
TIME_UNITS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def add_arguments(p) -> None:
    p.add_argument("--icount", type=int, default=1000, metavar="ITERATIONS",
                   help="instruction counts: iterations of each case under callgrind (default 1000; 0: none)")
    p.add_argument("--timed", type=int, default=7, metavar="RUNS",
                   help="timed figures: runs of the google-benchmark suite, each in a fresh process "
                        "(default 7; 0: none)")
    p.add_argument("--icount-out", metavar="FILE",
                   help="instruction counts as report metric lines (default BUILD/icount.json)")
    p.add_argument("--timed-out", metavar="FILE", help="timed figures as report metric lines (default "
                                                        "BUILD/micro.json)")


def icount_lines(names: list[str], summaries: list[int], iterations: int) -> list[dict]:
    """The counts of each case: its dumps come in pairs (the reflect loop, then the copy loop)."""
    if len(summaries) != 2 * len(names):
        raise BenchError(f"callgrind wrote {len(summaries)} dumps for {len(names)} cases (two each expected)",
                         EXIT_MEASUREMENT)
    return [{"kind": "icount", "name": f"reflect/{name}",
             "value": round((summaries[2 * i] - summaries[2 * i + 1]) / iterations, 2),
             "unit": "instructions/frame", "better": "lower"} for i, name in enumerate(names)]


def dump_summary(text: str, path: str) -> int:
    m = re.search(r"^summary:\s+(\d+)", text, re.M)
    if not m:
        raise BenchError(f"{path}: no summary line (is it a callgrind dump?)", EXIT_MEASUREMENT)
    return int(m.group(1))


def timed_lines(doc: dict) -> list[dict]:
    """One google-benchmark JSON output as metric lines (iterations only, not aggregates)."""
    out = []
    for b in doc.get("benchmarks", []):
        if b.get("run_type", "iteration") != "iteration":
            continue
        unit = b.get("time_unit", "ns")
        if unit not in TIME_UNITS:
            raise BenchError(f"google-benchmark time unit {unit!r} unknown", EXIT_MEASUREMENT)
        out.append({"kind": "timed", "name": f"micro/{b.get('run_name', b['name'])}",
                    "value": round(b["real_time"] * TIME_UNITS[unit], 2), "unit": "ns/frame", "better": "lower"})
    return out


def run_checked(argv: list[str], what: str, **kw) -> subprocess.CompletedProcess:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=1800, **kw)
    except FileNotFoundError:
        raise BenchError(f"{argv[0]} not found: {what}", EXIT_BAD_INPUT) from None
    except subprocess.TimeoutExpired:
        raise BenchError(f"{' '.join(argv)}: still running after 30 min", EXIT_MEASUREMENT) from None
    if p.returncode != 0:
        raise BenchError(f"{' '.join(argv)} exited {p.returncode}: {p.stderr.strip()[-500:]}", EXIT_MEASUREMENT)
    return p


def main(args, ctx: Context) -> int:
    if args.icount < 0 or args.timed < 0 or (args.icount == 0 and args.timed == 0):
        raise BenchError("--icount ITERATIONS and --timed RUNS: 0 or more, not both 0")
    build = ctx.tools.build or Path(".")
    icount_exe, micro_exe = build / "bench" / "trf_icount", build / "bench" / "trf_micro"
    for exe, want in ((icount_exe, args.icount), (micro_exe, args.timed)):
        if want and not os.access(exe, os.X_OK):
            raise BenchError(f"{exe} is not built (google-benchmark for trf_micro: tools/install-deps.sh bench; "
                             f"then cmake --build {build})", EXIT_BAD_INPUT)
    config = {"icount_iterations": args.icount, "timed": args.timed > 0}
    run = ctx.new_run("micro", config)

    def body() -> int:
        with tempfile.TemporaryDirectory(prefix="trf-micro.") as tmp, \
                Progress((1 if args.icount else 0) + args.timed, "micro benchmarks") as prog:
            if args.icount:
                prog.doing("instruction counts (callgrind)")
                cg = os.path.join(tmp, "cg")
                p = run_checked(["valgrind", "--tool=callgrind", "--collect-atstart=no", f"--callgrind-out-file={cg}",
                                 str(icount_exe), str(args.icount)], "tools/install-deps.sh bench installs valgrind")
                names = [n for n in p.stdout.split() if n]
                dumps = sorted((f for f in os.listdir(tmp) if re.fullmatch(r"cg\.\d+", f)),
                               key=lambda f: int(f.split(".")[1]))
                summaries = [dump_summary(Path(tmp, f).read_text(), f) for f in dumps]
                lines = icount_lines(names, summaries, args.icount)
                write_jsonl(args.icount_out or build / "icount.json", lines)
                add_samples(run, lines)
                prog.step("instruction counts", f"{len(lines)} cases")
            timed = []
            for i in range(1, args.timed + 1):
                prog.doing(f"timed run {i}/{args.timed}")
                out = os.path.join(tmp, "run.json")
                run_checked([str(micro_exe), "--benchmark_min_time=0.1", "--benchmark_format=json",
                             f"--benchmark_out={out}", "--benchmark_out_format=json"], "build bench/trf_micro")
                with open(out) as f:
                    lines = timed_lines(json.load(f))
                timed += lines
                add_samples(run, lines)
                prog.step(f"timed run {i}/{args.timed}", f"{len(lines)} cases")
            if args.timed:
                write_jsonl(args.timed_out or build / "micro.json", timed)
        return 0

    return ctx.measure(run, body)
