"""The HTML reports: a comparison (or one run's own results) and a history.

A page is a jinja2 template under templates/ (autoescaped) filled with plain
view data made here; its charts come from charts.py as inline SVG. A page is
one self-contained file: the CSS is inline, there is no script, and nothing in
it refers outside itself, so it opens anywhere and can be kept as a CI
artifact.

The verdicts' words and cell texts are judge.py's (summary, legend, cells,
COLUMNS); medians are stats.median. This module only arranges them.
"""
from __future__ import annotations

import json
import os
from typing import Any, Iterable, Mapping, Optional, Sequence

import jinja2
from markupsafe import Markup

from . import VERSION, charts, judge, stats
from .model import EXIT_BAD_INPUT, BenchError, Metric, Row, Trend, in_force

# A trace record's "type" -> the list read_traces files it under.
TRACE_KINDS = {"search": "search", "tapgen": "trial", "summary": "summary"}
# The reflector's summary fields the configuration section shows, in order (model.in_force: those of
# each queue as one value, or each queue's where they differ).
REFLECTOR_KEYS = ("version", "link", "io", "read", "reflect", "offloads", "queues", "buffers", "frame_size",
                  "ring_flags", "ring_restricted", "accounting_exact")
# judge.COLUMNS whose cells are figures (right-aligned).
NUMERIC_COLUMNS = {"baseline", "current", "ratio", "interval", "detectable", "threshold", "p"}
# judge.summary's word -> the banner's colour class.
WORD_CLASS = {"FAIL": "bad", "INCONCLUSIVE": "unsure", "pass": "good"}

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")


def read_traces(paths: Iterable[str]) -> dict:
    """label -> {"search": [...], "trial": [...], "summary": [...]} from JSON-lines files.

    The label is the file's name without .jsonl/.json; records are filed by
    their "type" (tapgen's search and trial records, tapreflect's summary);
    other types are ignored, so a whole --json output can be given as it is.
    """
    traces: dict[str, dict[str, list]] = {}
    for path in paths:
        label = os.path.basename(path)
        for suffix in (".jsonl", ".json"):
            if label.endswith(suffix):
                label = label[: -len(suffix)]
                break
        t = traces.setdefault(label, {"search": [], "trial": [], "summary": []})
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError as e:
            raise BenchError(f"cannot read the trace {path}: {e.strerror}", EXIT_BAD_INPUT) from e
        except UnicodeDecodeError as e:
            raise BenchError(f"cannot read the trace {path}: not UTF-8 text ({e.reason})", EXIT_BAD_INPUT) from e
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                raise BenchError(f"{path}:{n}: not JSON: {e.msg}; a trace is tapgen's or tapreflect's "
                                 "--json output, one record a line", EXIT_BAD_INPUT) from e
            kind = TRACE_KINDS.get(r.get("type")) if isinstance(r, dict) else None
            if kind:
                t[kind].append(r)
    return traces


# ---------------------------------------------------------------------------
# Formatting: how a figure is written in a cell.

def number(v: Any) -> str:
    """A figure as a cell shows it: thousands grouped, else four significant digits."""
    if v is None:
        return "-"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if v != v:  # NaN
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.4g}"


def value_text(v: Any) -> str:
    """A setting's value: strings as they are, anything else as JSON."""
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    return json.dumps(v, sort_keys=True)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters["num"] = number
    env.filters["value"] = value_text
    return env


def _render(template: str, **context) -> str:
    return _environment().get_template(template).render(version=VERSION, **context)


def _write(path: str, text: str) -> None:
    from .common import write_text

    write_text(path, text)


def _chart(svg: str) -> Optional[Markup]:
    # matplotlib escaped every text it wrote; the SVG goes in as markup.
    return Markup(svg) if svg else None


# ---------------------------------------------------------------------------
# View data of the report page.

def _verdict_rows(rows: Sequence[Row], settings) -> list[dict]:
    columns = list(judge.COLUMNS)
    out = []
    for r in rows:
        texts = [str(t) for t in judge.cells(r, settings)]
        out.append({
            "name": r.name,
            "kind": r.kind,
            "cls": charts.verdict_class(r.verdict),
            "cells": [{"column": c, "text": t, "numeric": c in NUMERIC_COLUMNS} for c, t in zip(columns, texts)],
            "by": dict(zip(columns, texts)),
        })
    return out


def _results(cur: Mapping[str, Metric]) -> list[dict]:
    out = []
    for name, m in cur.items():
        s = list(m.samples)
        out.append({"name": name, "unit": m.unit, "kind": m.kind, "better": m.better, "n": len(s),
                    "median": stats.median(s) if s else None,
                    "min": min(s) if s else None, "max": max(s) if s else None})
    return out


def _side_summary(records: Sequence[dict]) -> Optional[dict]:
    if not records:
        return None
    gbps = [r["gbps"] for r in records if r.get("gbps") is not None]
    loss = [r["loss_ratio"] for r in records if r.get("loss_ratio") is not None]
    cpu = [r["cpu_ns_per_kib"] for r in records if r.get("cpu_ns_per_kib") is not None]
    return {"reps": len(records),
            "gbps": stats.median(gbps) if gbps else None,
            "low": min(gbps) if gbps else None, "high": max(gbps) if gbps else None,
            "loss": max(loss) if loss else None,  # the worst repetition: loss is what must not happen
            "cpu": stats.median(cpu) if cpu else None}


def _stream_rows(streams: Sequence[dict]) -> list[dict]:
    out = []
    for scenario, by in charts.stream_groups(streams):
        records = [r for rs in by.values() for r in rs]
        first = records[0]
        setup = " · ".join(str(first[k]) for k in ("mode", "traffic", "io") if first.get(k) is not None)
        out.append({"scenario": scenario, "setup": setup,
                    "on": _side_summary(by.get("on", [])), "off": _side_summary(by.get("off", [])),
                    "verified": sum(1 for r in records if r.get("verified")), "reps": len(records)})
    return out


def _merged(metas: Sequence[dict]) -> dict:
    """The machine and config of one side: later meta lines win, as in the metric files."""
    out: dict[str, dict] = {"machine": {}, "config": {}}
    for m in metas:
        for part in out:
            out[part].update(m.get(part) or {})
    return out


def _sides_table(base_metas: Sequence[dict], cur_metas: Sequence[dict]) -> Optional[dict]:
    sides = []
    if base_metas:
        sides.append(("baseline", _merged(base_metas)))
    if cur_metas:
        sides.append(("current", _merged(cur_metas)))
    if not sides:
        return None
    keys = []
    for part in ("machine", "config"):
        for _, m in sides:
            keys += [(part, k) for k in sorted(m[part]) if (part, k) not in keys]
    rows = []
    for part, k in keys:
        values = [value_text(m[part].get(k)) if k in m[part] else "-" for _, m in sides]
        rows.append({"setting": f"{part}.{k}", "cells": values, "differs": len(set(values)) > 1})
    return {"sides": [s for s, _ in sides], "rows": rows} if rows else None


def _reflectors(traces: Mapping[str, dict]) -> list[dict]:
    return [{"label": label, "cells": [in_force(t["summary"][-1], k) for k in REFLECTOR_KEYS]}
            for label, t in traces.items() if t.get("summary")]


def render_report(path: str, *, title: str, rows: Optional[Sequence[Row]], base: Optional[Mapping[str, Metric]],
                  cur: Mapping[str, Metric], base_metas: Sequence[dict], cur_metas: Sequence[dict],
                  missing: Sequence[str], added: Sequence[str], settings, traces,
                  streams: Sequence[dict] = (), config: Optional[Mapping[str, Any]] = None,
                  overview: Optional[Mapping[str, Any]] = None, against: str = "") -> None:
    """Write the comparison report (rows given) or a run's own report (rows None) to path.

    base/cur map metric names to model.Metric; base_metas/cur_metas are the
    sides' meta records ({"machine": ..., "config": ...}); settings is
    judge.Settings; traces is read_traces' result (or the trace paths, read
    here); streams the stream trial records; config the run's settings;
    overview a table for the first screen ({"caption", "columns", "rows",
    "note"}: a run's own figures, e.g. its engines' ratios); against one
    line saying what the baseline is (e.g. the store's last runs).
    The first screen holds the verdict and the headline ratios (or, for a
    run's own report, its results table); the details follow.
    """
    if not isinstance(traces, Mapping):
        traces = read_traces(traces)
    base = base or {}
    context: dict[str, Any] = {"title": title, "compared": rows is not None, "overview": overview,
                               "against": against}
    if rows is not None:
        word, sentence = judge.summary(rows, settings)
        verdicts = _verdict_rows(rows, settings)
        timed = [v for v in verdicts if v["kind"] != "icount"]
        context.update(
            word=word, word_cls=WORD_CLASS.get(word, "same"), sentence=sentence,
            legend=judge.legend(settings), columns=list(judge.COLUMNS), verdicts=verdicts,
            # Instruction counts alone (micro benchmarks) still get a headline.
            headline=timed or verdicts, headline_timed=bool(timed),
            ratio_chart=_chart(charts.ratio_chart(rows)))
        names = [r.name for r in rows if r.kind != "icount" and r.name in cur and r.name in base]
        sample_charts = [_chart(charts.samples_chart(n, cur[n].unit, [("baseline", base[n].samples),
                                                                       ("current", cur[n].samples)]))
                         for n in names]
    else:
        context.update(results=_results(cur))
        sample_charts = [_chart(charts.samples_chart(n, m.unit, [("current", m.samples)]))
                         for n, m in cur.items() if m.kind != "icount"]
    streams = list(streams or ())
    context.update(
        missing=sorted(missing or ()), added=sorted(added or ()),
        sample_charts=[c for c in sample_charts if c],
        search_chart=_chart(charts.search_chart(traces)),
        rtt_chart=_chart(charts.rtt_chart(traces)),
        streams=_stream_rows(streams), streams_chart=_chart(charts.streams_chart(streams)),
        sides=_sides_table(base_metas or (), cur_metas or ()),
        config=[{"setting": k, "value": value_text(v)} for k, v in (config or {}).items()],
        reflector_keys=REFLECTOR_KEYS, reflectors=_reflectors(traces))
    _write(path, _render("report.html.j2", **context))


# ---------------------------------------------------------------------------
# The history page.

def _interval_text(interval: Optional[tuple[float, float]]) -> str:
    return "-" if interval is None else f"[{interval[0]:.3f}, {interval[1]:.3f}]"


def _run_text(run_id: int, commit: Optional[str]) -> str:
    return charts.point_label(run_id, commit).replace("\n", " ")


def _trend_view(i: int, t: Trend) -> dict:
    starts = {c.index for c in t.changes}
    changes = [{"runs": f"{_run_text(c.run_before, c.commit_before)} → {_run_text(c.run_after, c.commit_after)}",
                "before": c.before, "after": c.after, "ratio": f"{c.ratio:.3f}",
                "interval": _interval_text(c.interval)}
               for c in sorted(t.changes, key=lambda c: c.index)]
    points = [{"run": f"#{p.run_id}", "started": p.started, "commit": (p.commit or "-")[:12],
               "version": p.version, "value": p.value, "n": p.n, "complete": p.complete,
               "level_start": k in starts}
              for k, p in enumerate(t.points)]
    return {"anchor": f"trend-{i + 1}", "metric": t.metric, "unit": t.unit, "better": t.better,
            "machine_id": t.machine_id, "config_key": t.config_key,
            "chart": _chart(charts.trend_chart(t)), "changes": changes, "points": points,
            "latest": t.points[-1].value if t.points else None,
            "last_change": changes[-1] if changes else None}


def render_history(path: str, *, title: str, trends: Sequence[Trend], machine: Mapping[str, Any],
                   config: Mapping[str, Any]) -> None:
    """Write the history page to path: an overview of the trends, then per trend
    its chart, its change points and its points."""
    _write(path, _render(
        "history.html.j2", title=title,
        trends=[_trend_view(i, t) for i, t in enumerate(trends)],
        machine=[{"setting": k, "value": value_text(v)} for k, v in (machine or {}).items()],
        config=[{"setting": k, "value": value_text(v)} for k, v in (config or {}).items()]))
