"""What every measuring subcommand shares: where results and the store go,
the run record it fills, and how an interruption is kept."""
from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from . import machine
from .lab import Interrupted, Tools, signals_held
from .model import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_REGRESSION, BenchError, Run, Sample


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def default_db(tools: Tools) -> str:
    """In a tree: under the build directory; installed: $XDG_DATA_HOME/tapreflect/."""
    if not tools.installed and tools.build is not None:
        return str(tools.build / "bench-history.sqlite")
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "tapreflect", "history.sqlite")


def git_commit(tree: Optional[Path]) -> Optional[str]:
    if tree is None:
        return None
    try:
        p = subprocess.run(["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if p.returncode != 0:
        return None
    commit = p.stdout.strip()
    dirty = subprocess.run(["git", "-C", str(tree), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, timeout=10).stdout.strip()
    return commit + ("-dirty" if dirty else "")


def tool_version(exe: str) -> str:
    try:
        return subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


@dataclass
class Context:
    tools: Tools
    db: Optional[str]  # None: --no-store
    out: Callable[[str], None] = print

    def new_run(self, kind: str, config: dict) -> Run:
        """The record a measuring subcommand fills.  The store is opened here once, before anything is
        measured: one that cannot take the run (read-only, newer, not ours, unreachable) is said now,
        not after an hour of measuring."""
        ident = machine.identity()
        if self.db is not None:
            from .store import open_store

            if not ident.get("id"):
                raise BenchError("this machine has no /etc/machine-id: its runs cannot be told from another "
                                 "machine's in a store (systemd-machine-id-setup makes one), or pass --no-store",
                                 EXIT_BAD_INPUT)
            with open_store(self.db):
                pass
        return Run(kind=kind, started=now(), finished="", machine=ident, config=config,
                   version=tool_version(self.tools.tapreflect), commit=git_commit(self.tools.tree))

    def save(self, run: Run) -> Optional[int]:
        """Store the run whole (one transaction, which a second Ctrl-C does not cut short); say where
        it went.  When the store refuses it, the run goes to a file that `history import` takes."""
        run.finished = now()
        if self.db is None:
            return None
        from .store import open_store, run_to_json

        try:
            with signals_held(), open_store(self.db) as st:
                rid = st.save_run(run)
        except BenchError as e:
            keep = self.tools.results / f"unsaved-run-{run.started.replace(':', '')}.jsonl"
            keep.parent.mkdir(parents=True, exist_ok=True)
            keep.write_text(run_to_json(run) + "\n")
            raise BenchError(f"{e}; the run is kept in {keep}: `history import {keep}` stores it", e.status) from None
        state = "" if run.complete else f" (incomplete: {run.note})"
        self.out(f"stored as run {rid} in {self.db}{state}")
        return rid

    def measure(self, run: Run, body: Callable[[], int]) -> int:
        """Run body(); store what it measured: whole, or marked incomplete when it was interrupted
        or failed (whatever the failure: a run is never lost for the want of an except clause)."""
        try:
            rc = body()
        except Interrupted as e:
            self._incomplete(run, f"interrupted by {e}")
            print(f"interrupted ({e}): keeping the {len(run.samples)} samples measured so far", file=sys.stderr)
            if run.samples or run.records:
                self.save(run)
            return EXIT_INTERRUPTED
        except BaseException as e:
            self._incomplete(run, f"failed: {e}")
            if run.samples or run.records:
                self.save(run)
            raise
        self.save(run)
        return rc

    @staticmethod
    def _incomplete(run: Run, why: str) -> None:
        run.complete = False
        run.note = f"{run.note}; {why}" if run.note else why


def words(text: str) -> list[str]:
    """An option's list: "tap tun" or "tap,tun"."""
    return text.replace(",", " ").split()


def write_text(path, text: str) -> None:
    """Write a result file whole or not at all: a reader (or an interruption) never sees half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise BenchError(f"cannot write {path}: {e.strerror}", EXIT_BAD_INPUT) from None


def write_jsonl(path, records) -> None:
    """JSON lines, one record each, written whole (write_text)."""
    write_text(path, "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records))


def accounting_verdict(ctx: "Context", trials: list[dict]) -> int:
    """The last line of a fixed-load run: whether the reflector's accounting was exact in every
    trial; its exit status (0, or EXIT_REGRESSION for a mismatch)."""
    if all(t["accounting_exact"] for t in trials):
        ctx.out("accounting exact in every trial")
        return 0
    ctx.out("accounting MISMATCH in a trial")
    return EXIT_REGRESSION


def add_samples(run: Run, metrics: list[dict]) -> None:
    """Metric lines ({name, value, unit, better, kind, pair, threshold, gate}) into run.samples."""
    for m in metrics:
        run.samples.append(Sample(metric=m["name"], value=float(m["value"]), unit=m.get("unit", ""),
                                  better=m.get("better", "lower"), kind=m.get("kind", "timed"),
                                  pair=m.get("pair"), side=m.get("side"), threshold=m.get("threshold"),
                                  gate=m.get("gate")))
