"""A metric's history in the store: its trend across runs, where it moved, and
the baseline that the last runs make.

A trend is one machine × one configuration (figures from elsewhere say
nothing about a regression here), one point per run: the median of the run's
samples.  Where the trend moved is changepoint.detect's answer; each change
is described by the two levels it separates (their means, the ratio of the
new to the old, and the Hodges-Lehmann interval of that ratio over the
levels' points).
"""
from __future__ import annotations

from typing import Iterable, Optional

from . import metrics, stats
from .model import EXIT_BAD_INPUT, EXIT_NO_DATA, BenchError, ChangePoint, Metric, Trend, TrendPoint
from .store import Store

ALPHA = 0.01  # the level of a change's interval: the report's default


def _listing(names: Iterable[str], most: int = 12) -> str:
    names = list(names)
    shown = ", ".join(names[:most])
    return shown + (f", … ({len(names) - most} more)" if len(names) > most else "")


def _resolve(store: Store, metric: str, machine_id: Optional[str],
             config_key: Optional[str]) -> tuple[str, str]:
    """The machine and configuration of a trend: as given, or the only one there is."""
    if not store.runs(limit=1):
        raise BenchError(f"the store {store.target} holds no run yet: run a measuring subcommand first",
                         EXIT_NO_DATA)
    places = store.metric_places(metric)
    if not places:
        raise BenchError(f"no metric {metric!r} in the store; known metrics: {_listing(store.metric_names())}",
                         EXIT_BAD_INPUT)
    if machine_id is not None:
        known = [m.id for m in store.machines()]
        if machine_id not in known:
            raise BenchError(f"no machine {machine_id!r} in the store; known machines: {_listing(known)}",
                             EXIT_BAD_INPUT)
        here = [p for p in places if p.machine_id == machine_id]
        if not here:
            raise BenchError(f"{metric} was never measured on machine {machine_id}; it was on: "
                             f"{_listing(sorted({p.machine_id for p in places}))}", EXIT_BAD_INPUT)
        places = here
    else:
        machines = sorted({p.machine_id for p in places})
        if len(machines) > 1:
            raise BenchError(f"{metric} was measured on several machines: {_listing(machines)}; "
                             "choose one (--machine ID)", EXIT_BAD_INPUT)
        machine_id = machines[0]
    if config_key is not None:
        here = [p for p in places if p.config_key == config_key]
        if not here:
            raise BenchError(f"{metric} has no runs with configuration {config_key!r} on {machine_id}; "
                             f"its configurations there: {_listing(p.config_key for p in places)} "
                             "(history list shows what each is)", EXIT_BAD_INPUT)
    else:
        if len(places) > 1:
            raise BenchError(f"{metric} was measured on {machine_id} in several configurations: "
                             + _listing(f"{p.config_key} ({p.runs} runs)" for p in places)
                             + "; choose one (--config KEY; history list shows what each is)", EXIT_BAD_INPUT)
        config_key = places[0].config_key
    return machine_id, config_key


def change_points(points: list[TrendPoint], alpha: float = ALPHA) -> list[ChangePoint]:
    """changepoint.detect's changes of the points' values, each described by the levels it separates."""
    from . import changepoint

    values = [p.value for p in points]
    cuts = sorted({int(i) for i in changepoint.detect(values) if 0 < int(i) < len(values)})
    bounds = [0] + cuts + [len(values)]
    changes = []
    for k, i in enumerate(cuts):
        before, after = values[bounds[k]:i], values[i:bounds[k + 2]]
        mean_before, mean_after = stats.mean(before), stats.mean(after)
        est = stats.hodges_lehmann(before, after, alpha)
        changes.append(ChangePoint(
            index=i, run_before=points[i - 1].run_id, run_after=points[i].run_id,
            commit_before=points[i - 1].commit, commit_after=points[i].commit,
            # The ratio and its interval from one estimator (Hodges-Lehmann), the levels as means.
            before=mean_before, after=mean_after, ratio=est.ratio, interval=est.interval))
    return changes


def trend(store: Store, metric: str, machine_id: Optional[str] = None, config_key: Optional[str] = None,
          *, alpha: float = ALPHA) -> Trend:
    """The metric's trend on one machine × configuration, with its change points.

    machine_id or config_key None: the only one the metric has (BenchError,
    EXIT_BAD_INPUT, listing them, when there are several).  An unknown metric
    or machine: EXIT_BAD_INPUT naming the known ones; an empty store:
    EXIT_NO_DATA.
    """
    machine_id, config_key = _resolve(store, metric, machine_id, config_key)
    points = store.trend_values(metric, machine_id, config_key)
    if not points:
        raise BenchError(f"no runs of {metric} on {machine_id} with configuration {config_key}", EXIT_NO_DATA)
    meta = store.metric_meta(metric, machine_id, config_key)
    return Trend(metric=metric, unit=meta.unit if meta else "", better=meta.better if meta else "lower",
                 machine_id=machine_id, config_key=config_key, points=points,
                 changes=change_points(points, alpha))


def _short(commit: Optional[str]) -> str:
    if not commit:
        return "-"
    dirty = commit.endswith("-dirty")
    base = commit[:-len("-dirty")] if dirty else commit
    return base[:12] + ("+" if dirty else "")


def _interval(iv: Optional[tuple[float, float]], alpha: float) -> str:
    if iv is None:
        return "too few runs for an interval"
    return f"{100 * (1 - alpha):g} % interval {iv[0]:.3f} to {iv[1]:.3f}"


def format_trend(trend: Trend, alpha: float = ALPHA) -> str:
    """A plain table of the trend (a '>' marks the first run of each new level), then one line per change."""
    unit = f" {trend.unit}" if trend.unit else ""
    lines = [f"{trend.metric} ({trend.unit or 'no unit'}, {trend.better} is better) on {trend.machine_id}, "
             f"configuration {trend.config_key}: {len(trend.points)} runs"]
    starts = {c.index for c in trend.changes}
    header = f"   {'run':>6}  {'started':<25}  {'commit':<13}  {'value':>12}  {'n':>4}"
    lines.append(header)
    for i, p in enumerate(trend.points):
        mark = ">" if i in starts else " "
        flag = "  (incomplete)" if not p.complete else ""
        lines.append(f" {mark} {p.run_id:>6}  {p.started:<25}  {_short(p.commit):<13}  {p.value:>12.6g}  "
                     f"{p.n:>4}{flag}")
    if not trend.changes:
        lines.append("no change point")
    for c in trend.changes:
        if c.commit_before or c.commit_after:
            between = f" (commits {_short(c.commit_before)}..{_short(c.commit_after)})"
        else:
            between = ""
        lines.append(f"change at run {c.run_after}, after run {c.run_before}{between}: "
                     f"{c.before:.6g} -> {c.after:.6g}{unit}, ratio {c.ratio:.3f} ({_interval(c.interval, alpha)})")
    return "\n".join(lines)


def history_baseline(store: Store, current_names: Iterable[str], machine_id: str, config_key: str, n: int,
                     *, exclude_run: Optional[int] = None, before_run: Optional[int] = None) -> dict[str, Metric]:
    """The baseline side of a report from the store: per metric, the samples of
    the last n complete runs of the machine × configuration that have it (with
    before_run: the last n before that run, which is judged against them).

    Pair numbers are dropped (pairs of different runs are not pairs).  A
    metric with no such run is left out; none at all is BenchError(EXIT_NO_DATA).
    """
    if n < 1:
        raise BenchError(f"a history baseline needs at least one run, not {n}", EXIT_BAD_INPUT)
    out: dict[str, Metric] = {}
    for name in current_names:
        ids = store.recent_run_ids(name, machine_id, config_key, n, complete_only=True,
                                   exclude=() if exclude_run is None else (exclude_run,), before=before_run)
        samples = store.samples(name, ids)
        if samples:
            # In run order, so that the newest run's own threshold and gate are the ones that hold.
            out.update(metrics.from_samples(samples))
    if not out:
        raise BenchError(f"no complete run on {machine_id} with configuration {config_key} has any of these "
                         "metrics: measure some first, or judge against a baseline file", EXIT_NO_DATA)
    return out
