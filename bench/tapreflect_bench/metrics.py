"""Metric files: reading them into model.Metric, writing them, and the meta lines that say
where and how their figures were made.

A metric file is JSON lines, one sample a line:
  {"kind": "timed"|"icount", "name", "value", "unit", "better": "lower"|"higher",
   "threshold": FRACTION, "gate": false, "pair": INTEGER}
(only name and value are required; repetitions repeat the name), or a
google-benchmark JSON output file (--benchmark_format=json), read as timed
ns/frame samples.  A line {"kind": "meta", "machine": {...}, "config": {...}}
describes the file's figures.  Lines without a name or a value are skipped, so
that other records can share a file.
"""
from __future__ import annotations

import json
import sys
from typing import IO, Iterable, Mapping, Union

from . import machine
from .model import EXIT_BAD_INPUT, BenchError, Metric

PROG = "tapreflect-bench"
_GB_SCALE = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}


def _add(metrics: dict, kind, name, value, unit, better, threshold=None, gate=None, pair=None):
    # The first line of a metric decides its kind, unit and direction; a threshold
    # or gate given on any line applies to the metric (the last one given wins).
    m = metrics.get(name)
    if m is None:
        m = metrics[name] = Metric(name=name, kind=kind, unit=unit, better=better)
    m.samples.append(float(value))
    m.pairs.append(pair)
    if threshold is not None:
        m.threshold = float(threshold)
    if gate is not None:
        m.gate = bool(gate)


def _google_benchmark(path: str, text: str, metrics: dict) -> bool:
    """Read text as google-benchmark output if it is; False when it is not."""
    if not (text.lstrip().startswith("{") and '"benchmarks"' in text[:100000]):
        return False
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return False
    if not isinstance(doc, dict) or "benchmarks" not in doc:
        return False
    for b in doc["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration":
            continue  # aggregates (mean, median, stddev) are not samples
        unit = b.get("time_unit", "ns")
        if unit not in _GB_SCALE:
            raise BenchError(f"{path}: benchmark {b.get('name')!r} has an unknown time_unit {unit!r}",
                             EXIT_BAD_INPUT)
        name = "micro/" + b["run_name"] if "run_name" in b else b["name"]
        _add(metrics, "timed", name, b["real_time"] * _GB_SCALE[unit], "ns/frame", "lower")
    return True


def _add_record(metrics: dict, metas: list, r, where: str) -> None:
    """One metric line (or meta line) into metrics (or metas); `where` names it in errors."""
    if not isinstance(r, dict):
        raise BenchError(f"{where}: not a JSON object", EXIT_BAD_INPUT)
    if r.get("kind") == "meta":
        metas.append(r)
        return
    if "name" not in r or "value" not in r:
        return
    pair = r.get("pair")
    if isinstance(pair, float) and pair.is_integer():
        pair = int(pair)
    if pair is not None and (not isinstance(pair, int) or isinstance(pair, bool)):
        raise BenchError(f"{where}: \"pair\" must be an integer, not {json.dumps(pair)}", EXIT_BAD_INPUT)
    value = r["value"]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BenchError(f"{where}: \"value\" must be a number, not {json.dumps(value)}", EXIT_BAD_INPUT)
    _add(metrics, r.get("kind", "timed"), r["name"], value, r.get("unit", ""), r.get("better", "lower"),
         r.get("threshold"), r.get("gate"), pair)


def metrics_from_lines(lines: Iterable[dict]) -> dict[str, Metric]:
    """Metric lines a subcommand made itself (not read from a file) as metrics."""
    metrics: dict[str, Metric] = {}
    metas: list[dict] = []
    for i, r in enumerate(lines, 1):
        _add_record(metrics, metas, r, f"metric line {i}")
    return metrics


def from_samples(samples: Iterable, *, keep_pairs: bool = False) -> dict[str, Metric]:
    """Stored samples (model.Sample) as metrics; pair numbers only with keep_pairs (pairs of
    different runs are not pairs)."""
    return metrics_from_lines({"kind": s.kind, "name": s.metric, "value": s.value, "unit": s.unit,
                               "better": s.better, "threshold": s.threshold, "gate": s.gate,
                               "pair": s.pair if keep_pairs else None} for s in samples)


def load_files(paths: Iterable[str]) -> tuple[dict[str, Metric], list[dict]]:
    """Every metric of the files (name -> Metric, in the order first seen) and their meta lines.

    Raises BenchError (EXIT_BAD_INPUT) for a file that cannot be read, a line that
    is not JSON, a value that is not a number, or a "pair" that is not an integer;
    the message says where (path:line).
    """
    metrics: dict[str, Metric] = {}
    metas: list[dict] = []
    for path in paths:
        try:
            with open(path) as f:
                text = f.read()
        except OSError as e:
            raise BenchError(f"cannot read {path}: {e.strerror}", EXIT_BAD_INPUT) from None
        if _google_benchmark(path, text, metrics):
            continue
        for line_no, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line:
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                raise BenchError(f"{path}:{line_no}: not JSON: {e}", EXIT_BAD_INPUT) from None
            _add_record(metrics, metas, r, f"{path}:{line_no}")
    return metrics, metas


def write_metric_lines(fp: IO[str], metrics: Union[Mapping[str, Metric], Iterable[Metric]], *,
                       pairs: bool = True) -> int:
    """Write one JSON line per sample (what load_files reads back); returns the number of lines.

    Each line carries the metric's own threshold and gate when it has them, and
    its pair number when it has one and pairs is true.
    """
    ms = metrics.values() if isinstance(metrics, Mapping) else metrics
    lines = 0
    for m in ms:
        own = {}
        if m.threshold is not None:
            own["threshold"] = m.threshold
        if m.gate is not None:
            own["gate"] = m.gate
        for i, v in enumerate(m.samples):
            rec = {"kind": m.kind, "name": m.name, "value": v, "unit": m.unit, "better": m.better, **own}
            pair = m.pairs[i] if i < len(m.pairs) else None
            if pairs and pair is not None:
                rec["pair"] = pair
            fp.write(json.dumps(rec) + "\n")
            lines += 1
    return lines


def merged_meta(metas: Iterable[dict]) -> dict:
    """{"machine": {...}, "config": {...}}: the meta lines' parts, later lines overriding earlier."""
    out: dict = {"machine": {}, "config": {}}
    for m in metas:
        for k in ("machine", "config"):
            out[k].update(m.get(k) or {})
    return out


def _canonical_ids(meta: dict, machine_id_path: str) -> dict:
    # A baseline written by the old shell runner on this machine carries this
    # machine's legacy id: read it as the current one.
    old = machine.legacy_ids(machine_id_path)
    if old and meta["machine"].get("id") in old:
        meta["machine"]["id"] = machine.machine_id(machine_id_path)
    return meta


def setting_differences(base_metas: list[dict], cur_metas: list[dict], *,
                        machine_id_path: str = machine.MACHINE_ID_PATH) -> list[str]:
    """"part.key: base vs cur" for every machine or config entry that differs
    (none when either side has no meta line)."""
    if not base_metas or not cur_metas:
        return []
    b = _canonical_ids(merged_meta(base_metas), machine_id_path)
    c = _canonical_ids(merged_meta(cur_metas), machine_id_path)
    return [f"{part}.{k}: {b[part].get(k)!r} vs {c[part].get(k)!r}"
            for part in ("machine", "config")
            for k in sorted(set(b[part]) | set(c[part])) if b[part].get(k) != c[part].get(k)]


def check_same_setting(base_metas: list[dict], cur_metas: list[dict], force: bool, *,
                       machine_id_path: str = machine.MACHINE_ID_PATH) -> None:
    """Refuse figures from another machine or configuration (BenchError, EXIT_BAD_INPUT)
    unless force; with force, say on stderr what differs."""
    diffs = setting_differences(base_metas, cur_metas, machine_id_path=machine_id_path)
    if diffs and not force:
        raise BenchError("the baseline was made on another machine or configuration (" + "; ".join(diffs)
                         + "): its figures say nothing about a regression here; make a baseline on "
                         "this machine (--save-baseline), or pass --force to compare anyway",
                         EXIT_BAD_INPUT)
    if diffs:
        print(f"{PROG}: comparing across settings (--force): " + "; ".join(diffs), file=sys.stderr)


def save_baseline(path: str, metrics: Mapping[str, Metric], metas: list[dict], *,
                  machine_id_path: str = machine.MACHINE_ID_PATH) -> None:
    """Write metrics as a baseline: a meta line (the given ones merged, or this machine
    with an empty config when there are none), then their samples without pair
    numbers, which mean something only within the run that made them."""
    meta = merged_meta(metas) if metas else {"machine": machine.identity(machine_id_path), "config": {}}
    if not meta["machine"]:
        meta["machine"] = machine.identity(machine_id_path)
    meta = _canonical_ids(meta, machine_id_path)
    try:
        with open(path, "w") as f:
            f.write(json.dumps({"kind": "meta", **meta}) + "\n")
            write_metric_lines(f, metrics, pairs=False)
    except OSError as e:
        raise BenchError(f"cannot write {path}: {e.strerror}", EXIT_BAD_INPUT) from None
    print(f"{PROG}: baseline written to {path} ({len(metrics)} metrics)", file=sys.stderr)
