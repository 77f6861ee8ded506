"""tapreflect-bench: the end-to-end benchmarks of tapreflect, their results
history and their reports, in one program.

The measuring subcommands (run, compare, scaling, ab, searches, streams,
latency, soak) run as root, in a private network namespace they create and
delete, with tapreflect and tapgen pinned to different CPUs (micro needs
neither);
each stores what it measured in the results store (a SQLite file by
default, PostgreSQL with --db postgresql://...), whole, or marked incomplete
when it was interrupted.
`report` judges current results against a baseline file or the store's
history; `history` shows a metric's trend across runs with its change points.

Exit status: 0 success (report: no regression); 1 a regression (report, ab)
or a failed check (accounting, soak); 2 bad usage or input; 3 a gating metric
inconclusive (report, ab); 4 the results store cannot be used (corrupt,
read-only, newer schema, not ours, unreachable); 5 nothing to show or judge
(an empty history, no comparable run); 6 the measurement itself failed (a
tool that did not start, exited or hung: what was measured is stored, marked
incomplete); 130 interrupted (what was measured is stored, marked
incomplete; namespaces and processes are cleaned up).
"""
from __future__ import annotations

import argparse
import importlib
import sys

from . import VERSION
from .model import EXIT_BAD_INPUT, BenchError

MEASURING = {
    "run": "NDR, PDR, RTT and CPU per frame per scenario, and streams (--profile quick|full)",
    "compare": "engines, coalescing and queue counts side by side at fixed loads",
    "scaling": "1, 2, 4 ... N queues on N reflector CPUs, one generator each: aggregate rate, CPU per frame, N/1",
    "ab": "same-run A/B of two candidates, trials interleaved, ratios with intervals",
    "searches": "tapgen's NDR/PDR search methods side by side: binary against MLRsearch (RFC 9971)",
    "streams": "TCP and UDP-GSO streams, offloads on against off",
    "latency": "sockperf ping-pong: waiting, busy polling, a real server",
    "soak": "each engine at half its no-drop rate: memory, fds, exact accounting",
    "micro": "instructions per frame of every reflect case (callgrind), and their ns per frame",
}


def first_paragraph(doc: str) -> str:
    return (doc or "").strip().split("\n\n")[0].replace("\n", " ")


def common_options(p: argparse.ArgumentParser, measuring: bool) -> None:
    g = p.add_argument_group("where")
    g.add_argument("--build", metavar="DIR",
                   help="build directory with tools/tapreflect and tools/tapgen (default: build, in a source "
                        "tree; the installed tools otherwise)")
    g.add_argument("--db", metavar="TARGET",
                   help="the results store: a SQLite file (default: BUILD/bench-history.sqlite in a tree, "
                        "$XDG_DATA_HOME/tapreflect/history.sqlite when installed) or a postgresql://... URL")
    if measuring:
        g.add_argument("--no-store", action="store_true", help="do not store this run's results")


def build_parser() -> argparse.ArgumentParser:
    """The command line; the man page is made from it too (docs/man/argparse2man.py)."""
    ap = argparse.ArgumentParser(prog="tapreflect-bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version=f"%(prog)s {VERSION}", help="show the version")
    sub = ap.add_subparsers(dest="command", metavar="SUBCOMMAND", required=True)
    for name, summary in MEASURING.items():
        mod = importlib.import_module(f".{name}", __package__)
        p = sub.add_parser(name, help=summary, description=mod.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        common_options(p, measuring=True)
        p.set_defaults(module=mod)

    from . import reporting

    p = sub.add_parser("report", help="judge current results against a baseline or the history (Markdown, HTML)",
                       description=reporting.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    reporting.add_arguments(p)
    common_options(p, measuring=False)
    p.set_defaults(module=reporting)

    p = sub.add_parser("history", help="the results store: trends, change points, export and import",
                       description=reporting.HISTORY_DOC, formatter_class=argparse.RawDescriptionHelpFormatter)
    reporting.add_history_arguments(p, common_options)
    return ap


def main(argv=None) -> int:
    from .lab import Interrupted, Tools, install_signal_handlers

    ap = build_parser()
    args = ap.parse_args(argv)
    install_signal_handlers()
    try:
        from .common import Context, default_db

        needs_tools = args.command in MEASURING
        try:
            tools = Tools.locate(args.build)
        except BenchError:
            if needs_tools:
                raise
            tools = None
        db = args.db
        if db is None and tools is not None:
            db = default_db(tools)
        if db is None and not needs_tools:
            # No build yet, in a tree: the store is still the tree's, wherever this runs from.
            import os
            from pathlib import Path

            tree = os.environ.get("TRF_BENCH_TREE")
            build = Path(args.build) if args.build else Path(tree or ".") / "build"
            db = str(build / "bench-history.sqlite")
        if getattr(args, "no_store", False):
            db = None
        ctx = Context(tools=tools, db=db)
        return args.module.main(args, ctx)
    except BenchError as e:
        print(f"tapreflect-bench {args.command}: {e}", file=sys.stderr)
        return e.status
    except OSError as e:  # a file named on the command line that cannot be read or written
        where = f"{e.filename}: " if e.filename else ""
        print(f"tapreflect-bench {args.command}: {where}{e.strerror or e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Interrupted as e:
        print(f"tapreflect-bench {args.command}: interrupted ({e})", file=sys.stderr)
        from .model import EXIT_INTERRUPTED

        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["build_parser", "main", "EXIT_BAD_INPUT"]
