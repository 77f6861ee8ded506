"""The records the modules pass to each other: plain dataclasses, no I/O.

A metric sample is what `report` reads from a JSON line; a Row is one
verdict; a Run is what a measuring subcommand hands the store, whole, in one
call (so a run is written in one transaction, or not at all).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

# Exit statuses of every subcommand (cli.py documents them in --help and the man page).
EXIT_OK = 0
EXIT_REGRESSION = 1  # report: a gating regression; run/soak/compare/scaling/streams: a check failed (accounting, ...)
EXIT_BAD_INPUT = 2  # bad usage or input: unknown option, unreadable file, unknown metric or machine
EXIT_INCONCLUSIVE = 3  # report: a gating metric could not be judged
EXIT_STORE = 4  # the results store cannot be used: corrupt, read-only, newer schema, not ours, unreachable
EXIT_NO_DATA = 5  # nothing to show or judge: an empty history, no comparable run
EXIT_MEASUREMENT = 6  # the measurement itself failed: a tool that did not start, exited, or hung
EXIT_INTERRUPTED = 130  # SIGINT/SIGTERM: what was measured is kept, marked incomplete


# tapreflect's summary and start records: what is in force on each queue sits in per_queue (schema 2;
# schema 1 had queue 0's at the top), and a field renamed in schema 2 under its schema 1 name.
PER_QUEUE_IN_FORCE = ("read", "wait", "ring_flags", "ring_restricted", "fallback")
RENAMED_IN_2 = {"link": "mode", "dev": "device"}


def in_force(record: dict, key: str):
    """What a tapreflect summary or start record says is in force for `key`: a field of the whole
    engine as it is; one of each queue (PER_QUEUE_IN_FORCE) as the value every queue has, or
    "q0 multishot, q1 fixed" where they differ; None where the record has no such field (a ring
    field of --io sync).  Records of schema 1 are read too: a stored trace outlives the format."""
    if key in record:
        return record[key]
    if key in RENAMED_IN_2 and RENAMED_IN_2[key] in record:
        return record[RENAMED_IN_2[key]]
    if key not in PER_QUEUE_IN_FORCE:
        return None
    queues = [q for q in record.get("per_queue", []) if key in q]
    if not queues:
        return None
    values = [q[key] for q in queues]
    if all(v == values[0] for v in values):
        return values[0]
    return ", ".join(f"q{q.get('queue', i)} {q[key]}" for i, q in enumerate(queues))


class BenchError(Exception):
    """An error the user can act on; cli.py prints it and exits with .status."""

    def __init__(self, message: str, status: int = EXIT_BAD_INPUT):
        super().__init__(message)
        self.status = status


@dataclass
class Metric:
    """All samples of one metric on one side (the input lines of `report`)."""

    name: str
    kind: str = "timed"  # "timed" or "icount"
    unit: str = ""
    better: str = "lower"  # "lower" or "higher"
    samples: list[float] = field(default_factory=list)
    pairs: list[Optional[int]] = field(default_factory=list)  # the "pair" of each sample, or None
    threshold: Optional[float] = None  # the metric's own threshold (a fraction), if it has one
    gate: Optional[bool] = None  # False: judged and shown, never fails a run


@dataclass
class Estimate:
    """A ratio with its distribution-free interval (None: too few samples for it)."""

    ratio: float
    interval: Optional[tuple[float, float]]
    p: Optional[float] = None
    pairs: Optional[int] = None  # number of pairs when the samples were judged paired


@dataclass
class Row:
    """One metric's verdict, baseline against current."""

    name: str
    unit: str
    kind: str
    base: float  # median of the baseline's samples
    cur: float  # median of the current samples
    ratio: float
    ci: Optional[tuple[float, float]]
    p: Optional[float]
    pairs: Optional[int]
    detectable: Optional[float]  # half-width of the interval, as a fraction
    threshold: Optional[float]
    gates: bool  # the metric can fail the run
    gating: bool  # it does: a gating regression
    inconclusive_gates: bool  # a gating metric that could not be judged
    verdict: str  # "no change", "REGRESSION", "slower (not gating)", "improved", "inconclusive (...)"


@dataclass
class Sample:
    """One measured value as the store keeps it."""

    metric: str
    value: float
    unit: str = ""
    better: str = "lower"
    kind: str = "timed"
    pair: Optional[int] = None  # the repetition in which A and B ran back to back
    side: Optional[str] = None  # "A"/"B" for ab, else None
    threshold: Optional[float] = None
    gate: Optional[bool] = None


@dataclass
class Run:
    """Everything one measuring subcommand measured, handed to the store in one call."""

    kind: str  # "run", "compare", "scaling", "ab", "streams", "latency", "soak", or "import"
    started: str  # ISO 8601, UTC
    finished: str
    machine: dict  # machine.identity(): id, cpu, cpus, kernel
    config: dict  # what makes runs comparable (profile, mode, sizes, ...); its hash is the config key
    version: str  # tapreflect --version
    commit: Optional[str]  # git commit of the tree, when run in one
    complete: bool = True
    note: Optional[str] = None  # why it is incomplete, or what was imported
    samples: list[Sample] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)  # the raw trial records (JSON objects)


@dataclass
class TrendPoint:
    """One run's value of a metric in a trend (the median of its samples)."""

    run_id: int
    started: str
    commit: Optional[str]
    version: str
    value: float
    n: int  # samples behind the value
    complete: bool = True


@dataclass
class ChangePoint:
    """Where a trend moved: between points[index - 1] and points[index]."""

    index: int  # first point of the new level
    run_before: int  # run id of the last point of the old level
    run_after: int  # run id of the first point of the new level
    commit_before: Optional[str]
    commit_after: Optional[str]
    before: float  # mean of the old level
    after: float  # mean of the new level
    ratio: float  # after / before
    interval: Optional[tuple[float, float]]  # of the ratio (Hodges-Lehmann, unpaired)


@dataclass
class Trend:
    """A metric's history for one machine and configuration."""

    metric: str
    unit: str
    better: str
    machine_id: str
    config_key: str
    points: list[TrendPoint] = field(default_factory=list)
    changes: list[ChangePoint] = field(default_factory=list)
