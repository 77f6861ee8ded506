"""The reports' charts: matplotlib figures, returned as SVG text to inline.

Each chart is drawn on a Figure of its own (never through pyplot's global
state, so one chart cannot leak into the next) and saved as SVG with its text
kept as <text> in a font stack: the page then references no font file, no
image and nothing else. The element ids matplotlib writes are prefixed with a
slug of the chart, so that several charts can share one HTML document, and
the id hash salt is that slug too, so the same input gives the same bytes.

Every function returns "" when it has nothing to draw: the report then leaves
the section out rather than showing an empty frame.
"""
from __future__ import annotations

import hashlib
import io
import re
from typing import Iterable, Optional, Sequence

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402  (after the backend is chosen)
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter, NullLocator  # noqa: E402

from . import stats  # noqa: E402
from .model import Row, Trend  # noqa: E402

# Sized for a page of about 1100 px: an SVG inch is 96 px in the browser.
FULL_WIDTH = 10.6
HALF_WIDTH = 5.2
HEADLINE_WIDTH = 4.3  # beside the headline table on the first screen

# Verdict classes, shared with the page's CSS so a verdict has one colour in
# the tables and in the charts.
VERDICT_COLOURS = {"bad": "#c0392b", "good": "#1e8449", "unsure": "#d35400", "same": "#7f8c8d"}
# Sides and traces, in order of appearance (colour-blind safe, Okabe-Ito).
PALETTE = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000"]
OFFLOAD_COLOURS = {"on": "#0072b2", "off": "#e69f00"}

_RC = {
    "svg.fonttype": "none",
    "svg.image_inline": True,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
    "font.size": 8.5,
    "axes.titlesize": 9.5,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 8.5,
    "axes.labelcolor": "#444444",
    "axes.edgecolor": "#999999",
    "axes.linewidth": 0.7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e5e5e5",
    "grid.linewidth": 0.6,
    "xtick.color": "#555555",
    "ytick.color": "#555555",
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
    "legend.frameon": False,
    "legend.fontsize": 8,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
}
# No <metadata>: matplotlib's default names its version and a URL.
_NO_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}


def verdict_class(verdict: str) -> str:
    """The colour class of a verdict text (judge's words): bad, good, unsure or same."""
    v = verdict.lower()
    if v.startswith(("regression", "slower")):
        return "bad"
    if v.startswith(("improved", "faster")):
        return "good"
    if v.startswith("inconclusive"):
        return "unsure"
    return "same"


def _slug(kind: str, name: str = "") -> str:
    # A hash keeps two names that differ only in punctuation apart.
    digest = hashlib.sha1(f"{kind}\0{name}".encode()).hexdigest()[:8]
    return f"{kind}-{digest}"


def _attr_ids(tag: re.Match, slug: str) -> str:
    return re.sub(r'(\bid="|href="#|url\(#)', lambda m: m.group(1) + slug + "-", tag.group(0))


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    fig.get_layout_engine().set(h_pad=0.06, w_pad=0.06)
    return fig


def _svg(fig: Figure, slug: str) -> str:
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": slug, **_RC}):
        fig.savefig(buf, format="svg", metadata=_NO_METADATA)
    text = buf.getvalue()
    # The XML declaration and DOCTYPE (which names a DTD by URL) mean nothing inline.
    text = text[text.index("<svg"):]
    # Only inside tags: text content may hold anything a label held.
    text = re.sub(r"<[^>]+>", lambda t: _attr_ids(t, slug), text)
    return text.strip() + "\n"


def _draw(width: float, height: float, slug: str, paint) -> str:
    """A one-axes chart: paint(ax) draws it under the house rc settings."""
    with matplotlib.rc_context(_RC):
        fig = _figure(width, height)
        ax = fig.add_subplot()
        paint(ax)
        return _svg(fig, slug)


def _short(name: str, width: int = 34) -> str:
    return name if len(name) <= width else "…" + name[-(width - 1):]


def _figure_text(v: float) -> str:
    """A figure written on a chart: thousands grouped, else four significant digits."""
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def _tick(v: float, _pos=None) -> str:
    return f"{v:,.0f}" if abs(v) >= 10000 else f"{v:g}"


def _rate_label(v: float, _pos=None) -> str:
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:g}M"
    if a >= 1e3:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


# ---------------------------------------------------------------------------

def _band(r: Row) -> Optional[tuple[float, float]]:
    # Symmetric on a ratio scale: as much slower as faster.
    return (1 / (1 + r.threshold), 1 + r.threshold) if r.threshold else None


def _ratio_view(timed: Sequence[Row]) -> tuple[float, float]:
    """The x range of the ratio chart: every ratio, band and 1, and the intervals
    as far as 1.5 times beyond those; a wider interval is clipped (its figures
    are in the table), so that one noisy metric cannot flatten all the others."""
    core = [1.0] + [r.ratio for r in timed] + [v for r in timed if _band(r) for v in _band(r)]
    lo, hi = min(core), max(core)
    reach = (lo / 1.5, hi * 1.5)
    for r in timed:
        if r.ci:
            lo, hi = min(lo, max(r.ci[0], reach[0])), max(hi, min(r.ci[1], reach[1]))
    pad = (hi / lo) ** 0.06
    return lo / pad, hi * pad


def ratio_chart(rows: Sequence[Row]) -> str:
    """Each timed metric's ratio current/baseline as a point with its interval,
    over the metric's threshold band, with the line at 1; coloured by verdict.
    The scale is logarithmic: 0.8 is as far from 1 as 1.25."""
    timed = [r for r in rows if r.kind != "icount"]
    if not timed:
        return ""
    return _draw(HEADLINE_WIDTH, 0.8 + 0.36 * len(timed), _slug("ratio"), _ratio_painter(timed))


def write_ratio_chart(rows: Sequence[Row], prefix: str, title: str) -> None:
    """Every metric's ratio (instruction counts too) as PREFIX.png and PREFIX.svg, for a CI artifact."""
    if not rows:
        return
    paint = _ratio_painter(list(rows))
    with matplotlib.rc_context(_RC):
        fig = _figure(FULL_WIDTH, 1.0 + 0.3 * len(rows))
        ax = fig.add_subplot()
        paint(ax)
        ax.set_title(f"{title}: current / baseline")
        fig.savefig(f"{prefix}.png", dpi=110, metadata={"Software": None})
        with open(f"{prefix}.svg", "w") as f:
            f.write(_svg(fig, _slug("ratio-file")))


def _ratio_painter(timed: Sequence[Row]):
    n = len(timed)
    xlo, xhi = _ratio_view(timed)
    # A clipped interval ends in an arrow head just inside the frame.
    inner = (xlo * (xhi / xlo) ** 0.02, xhi / (xhi / xlo) ** 0.02)

    def paint(ax):
        ax.set_xscale("log")
        for i, r in enumerate(timed):
            y = n - 1 - i
            colour = VERDICT_COLOURS[verdict_class(r.verdict)]
            band = _band(r)
            if band:
                ax.barh(y, band[1] - band[0], left=band[0], height=0.62, color="#e9edf1", edgecolor="none",
                        zorder=1)
            if r.ci:
                a, b = max(r.ci[0], inner[0]), min(r.ci[1], inner[1])
                ax.hlines(y, a, b, colors=colour, linewidth=3, alpha=0.75, zorder=3)
                for clipped, at, marker in ((r.ci[0] < a, a, "<"), (r.ci[1] > b, b, ">")):
                    if clipped:
                        ax.plot([at], [y], marker, color=colour, markersize=6, zorder=3)
            ax.plot([r.ratio], [y], "o", color=colour, markersize=6.5, zorder=4,
                    markeredgecolor="white", markeredgewidth=0.8, gid=f"point-{i}")
        ax.axvline(1.0, color="#333333", linestyle="--", linewidth=0.9, zorder=2)
        ax.set_xlim(xlo, xhi)
        # Plain figures at evenly spread ratios: a narrow range has no powers of ten to label.
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.3g}"))
        ax.set_yticks(range(n), [_short(r.name, 28) for r in reversed(timed)])
        ax.set_ylim(-0.6, n - 0.4)
        ax.grid(axis="y", visible=False)
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        ax.set_xlabel("current / baseline (log scale)")

    return paint


def samples_chart(name: str, unit: str, sides: Sequence[tuple[str, Sequence[float]]]) -> str:
    """Every sample of one metric, a row per side, each side's median marked."""
    sides = [(label, list(s)) for label, s in sides if s]
    if not sides:
        return ""
    n = len(sides)

    def paint(ax):
        for i, (label, samples) in enumerate(sides):
            y = n - 1 - i
            colour = PALETTE[i % len(PALETTE)]
            # A fixed jitter pattern: overlapping samples stay visible, output stays the same.
            jitter = [((j * 7) % 11 - 5) * 0.035 for j in range(len(samples))]
            ax.plot(samples, [y + d for d in jitter], "o", color=colour, alpha=0.6, markersize=4.5,
                    markeredgewidth=0, label=label, gid=f"side-{i}")
            m = stats.median(samples)
            ax.vlines(m, y - 0.32, y + 0.32, colors="#222222", linewidth=2, gid=f"median-{i}")
            ax.annotate(_figure_text(m), (m, y + 0.32), xytext=(0, 2), textcoords="offset points",
                        ha="center", va="bottom", fontsize=7.5, color="#222222")
        ax.set_yticks(range(n), [label for label, _ in reversed(sides)])
        ax.set_ylim(-0.6, n - 0.2)
        ax.grid(axis="y", visible=False)
        ax.tick_params(axis="y", length=0)
        ax.set_title(_short(name, 60))
        ax.set_xlabel(unit)
        ax.xaxis.set_major_formatter(FuncFormatter(_tick))
        ax.margins(x=0.08)

    return _draw(HALF_WIDTH, 0.95 + 0.42 * n, _slug("samples", name), paint)


def search_chart(traces: dict) -> str:
    """Offered rate against loss of every trial of every rate search: filled =
    pass, hollow = fail, square = the unlimited trial that set the ceiling."""
    series = []
    for label, t in traces.items():
        trials = [p for s in t.get("search", []) for p in s.get("trace", [])]
        if trials:
            series.append((label, trials))
    if not series:
        return ""

    def paint(ax):
        for i, (label, trials) in enumerate(series):
            colour = PALETTE[i % len(PALETTE)]
            kinds = {
                "pass": [p for p in trials if p.get("phase") != "ceiling" and p.get("pass")],
                "fail": [p for p in trials if p.get("phase") != "ceiling" and not p.get("pass")],
                "ceiling": [p for p in trials if p.get("phase") == "ceiling"],
            }
            for kind, pts in kinds.items():
                if not pts:
                    continue
                ax.plot([p["offered_pps"] for p in pts], [p["loss_ratio"] * 100 for p in pts],
                        "s" if kind == "ceiling" else "o", linestyle="none", markersize=6,
                        markeredgewidth=1.4, color=colour,
                        markerfacecolor=colour if kind == "pass" else "none",
                        label=label if kind == next(k for k, v in kinds.items() if v) else None,
                        gid=f"trace-{i}-{kind}")
        # Loss spans zero to tens of percent; the interesting trials sit near zero.
        ax.set_yscale("symlog", linthresh=0.01, linscale=0.6)
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
        ax.xaxis.set_major_formatter(FuncFormatter(_rate_label))
        ax.set_xlim(left=0)
        ax.set_xlabel("offered rate (frames/s)")
        ax.set_ylabel("loss (%)")
        ax.legend(loc="upper left", title="filled: pass · hollow: fail · square: ceiling",
                  title_fontsize=7.5, alignment="left")

    return _draw(FULL_WIDTH, 3.0, _slug("search"), paint)


def _rtt_cdf(trials: Iterable[dict]) -> Optional[tuple[list[float], list[float], int]]:
    bins: dict[tuple[float, float], int] = {}
    for r in trials:
        for lo, hi, count in r.get("rtt_hist_us", []):
            bins[(lo, hi)] = bins.get((lo, hi), 0) + count
    total = sum(bins.values())
    if not total:
        return None
    ordered = sorted(bins.items())
    xs, ys, acc = [max(ordered[0][0][0], 0.5)], [0.0], 0
    for (_lo, hi), count in ordered:
        acc += count
        xs.append(max(hi, 0.5))
        ys.append(acc / total)
    return xs, ys, total


def rtt_chart(traces: dict) -> str:
    """Round-trip times of each trace: the CDF of its trials' summed histograms, log x."""
    curves = []
    for label, t in traces.items():
        cdf = _rtt_cdf(t.get("trial", []))
        if cdf:
            curves.append((label, *cdf))
    if not curves:
        return ""

    def paint(ax):
        for i, (label, xs, ys, total) in enumerate(curves):
            ax.plot(xs, ys, color=PALETTE[i % len(PALETTE)], linewidth=1.8,
                    label=f"{label} ({total:,} replies)", gid=f"curve-{i}")
        for q in (0.5, 0.99):
            ax.axhline(q, color="#bbbbbb", linewidth=0.7, linestyle=":")
        ax.set_xscale("log")
        # 1-2-5 steps: a span of less than a decade still gets labelled ticks.
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("round-trip time (µs, log scale)")
        ax.set_ylabel("fraction of replies")
        ax.legend(loc="lower right")

    return _draw(FULL_WIDTH, 3.0, _slug("rtt"), paint)


def stream_groups(streams: Iterable[dict]) -> list[tuple[str, dict[str, list[dict]]]]:
    """Stream trial records by scenario (in order of appearance), then by offload."""
    groups: dict[str, dict[str, list[dict]]] = {}
    for r in streams:
        groups.setdefault(str(r.get("scenario", "?")), {}).setdefault(str(r.get("offload", "?")), []).append(r)
    return list(groups.items())


def streams_chart(streams: Sequence[dict]) -> str:
    """Gbit/s of each stream scenario, offload on against off: the median as the
    bar, min..max as the whisker."""
    groups = [(s, by) for s, by in stream_groups(streams)
              if any(r.get("gbps") is not None for rs in by.values() for r in rs)]
    if not groups:
        return ""
    n = len(groups)
    offloads = [o for o in ("on", "off") if any(o in by for _, by in groups)]
    offloads += sorted({o for _, by in groups for o in by} - set(offloads))
    height = 0.8 / max(len(offloads), 1)

    def paint(ax):
        for k, offload in enumerate(offloads):
            ys, meds, lows, highs = [], [], [], []
            for i, (_scenario, by) in enumerate(groups):
                values = [r["gbps"] for r in by.get(offload, []) if r.get("gbps") is not None]
                if not values:
                    continue
                m = stats.median(values)
                ys.append(n - 1 - i + (len(offloads) - 1) / 2 * height - k * height)
                meds.append(m)
                lows.append(m - min(values))
                highs.append(max(values) - m)
            if ys:
                bars = ax.barh(ys, meds, height=height * 0.9, xerr=[lows, highs],
                               color=OFFLOAD_COLOURS.get(offload, PALETTE[(k + 2) % len(PALETTE)]),
                               error_kw={"ecolor": "#333333", "elinewidth": 1, "capsize": 2.5},
                               label=f"offload {offload}")
                for j, bar in enumerate(bars.patches):
                    bar.set_gid(f"offload-{offload}-{j}")
        ax.set_yticks(range(n), [_short(s, 30) for s, _ in reversed(groups)])
        ax.set_ylim(-0.6, n - 0.4)
        ax.grid(axis="y", visible=False)
        ax.tick_params(axis="y", length=0)
        ax.set_xlim(left=0)
        ax.set_xlabel("Gbit/s (bar: median; whisker: min..max over repetitions)")
        ax.legend(loc="lower right")

    return _draw(FULL_WIDTH, 0.9 + 0.42 * n, _slug("streams"), paint)


def point_label(run_id: int, commit: Optional[str]) -> str:
    """How a trend point is named on an axis and in a table: run id, short commit."""
    return f"#{run_id}" + (f"\n{commit[:7]}" if commit else "")


def trend_chart(trend: Trend) -> str:
    """A metric's value per run, in order, with its change points as vertical
    lines and each level's mean (as the change detection found it) as a segment."""
    points = trend.points
    if not points:
        return ""
    n = len(points)
    xs = list(range(n))

    def paint(ax):
        values = [p.value for p in points]
        ax.plot(xs, values, color="#0072b2", linewidth=1, alpha=0.5, gid="values")
        done = [i for i, p in enumerate(points) if p.complete]
        partial = [i for i, p in enumerate(points) if not p.complete]
        ax.plot(done, [values[i] for i in done], "o", color="#0072b2", markersize=4.5, label="run")
        if partial:
            ax.plot(partial, [values[i] for i in partial], "o", color="#0072b2", markerfacecolor="white",
                    markersize=4.5, label="incomplete run")
        changes = sorted(trend.changes, key=lambda c: c.index)
        if changes:
            bounds = [0] + [c.index for c in changes] + [n]
            means = [changes[0].before] + [c.after for c in changes]
            for k, mean in enumerate(means):
                ax.hlines(mean, bounds[k] - 0.3, bounds[k + 1] - 0.7, colors="#c0392b", linewidth=2,
                          label="level mean" if k == 0 else None, gid=f"level-{k}")
            for k, c in enumerate(changes):
                ax.axvline(c.index - 0.5, color="#c0392b", linestyle="--", linewidth=1,
                           label="change point" if k == 0 else None, gid=f"change-{k}")
        step = max(1, -(-n // 16))  # at most 16 labels: run ids and commits stay legible
        ticks = xs[::step]
        ax.set_xticks(ticks, [point_label(points[i].run_id, points[i].commit) for i in ticks], fontsize=7)
        ax.set_xlim(-0.6, n - 0.4)
        ax.set_ylabel(f"{trend.unit} ({trend.better} is better)" if trend.unit else f"{trend.better} is better")
        ax.legend(loc="best", ncols=4)

    return _draw(FULL_WIDTH, 2.9, _slug("trend", f"{trend.metric}\0{trend.machine_id}\0{trend.config_key}"), paint)
