"""Verdicts: one metric's baseline against its current samples, and the table of them.

  icount  exact instruction counts: a change beyond the icount threshold is a
          regression or an improvement, else no change.  These gate.
  timed   the ratio current/baseline is the Hodges-Lehmann estimate with its
          distribution-free 1 - alpha interval (stats.py).  Regression or
          improvement: the interval excludes 1 and the estimate is beyond the
          threshold (the metric's own, else the timed threshold); no change:
          the whole interval is within the threshold; otherwise, and with too
          few samples for an interval at all, inconclusive.  Timed metrics gate
          only with gate_timed.
          Paired samples: when every sample of a metric on both sides carries a
          pair number (the trials of A and B run back to back share one), the
          estimate is the one of the pairs' ratios, from the exact signed-rank
          distribution: a pair's ratio cancels what drifts slower than the pair
          takes, which on a shared machine is most of the noise.
  A metric whose lines say "gate": false is judged and shown, never fails a run.
  "detectable" is the interval's half-width: smaller changes could not have
  been told from noise by this run.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from . import stats
from .model import EXIT_BAD_INPUT, EXIT_INCONCLUSIVE, EXIT_OK, EXIT_REGRESSION, BenchError, Metric, Row

DEFAULT_TITLE = "tapreflect performance report"
COLUMNS = ["metric", "unit", "baseline", "current", "ratio", "interval", "detectable", "threshold", "p", "verdict"]


@dataclass
class Settings:
    """How strictly to judge (the report subcommand's options)."""

    icount_threshold: float = 0.01  # instruction counts: the change that counts
    timed_threshold: float = 0.05  # timed metrics without a threshold of their own
    alpha: float = 0.01  # 1 - the confidence level of the intervals
    gate_timed: bool = False  # timed regressions fail the run too
    inconclusive: str = "fail"  # a gating metric that cannot be judged: "fail" (exit 3) or "pass"


def paired_log_ratios(base: Metric, cur: Metric) -> Optional[list[float]]:
    """log(cur/base) of the samples both sides took in the same pair, or None when the
    metric is not paired: a side without pair numbers, a number used twice, a
    value <= 0, or fewer than half of either side's samples matched."""
    bp, cp = base.pairs, cur.pairs
    if not bp or not cp or None in bp or None in cp:
        return None
    if len(set(bp)) != len(bp) or len(set(cp)) != len(cp):
        return None
    b = dict(zip(bp, base.samples))
    c = dict(zip(cp, cur.samples))
    common = set(b) & set(c)
    if 2 * len(common) < max(len(b), len(c)) or any(b[k] <= 0 or c[k] <= 0 for k in common):
        return None
    return stats.log_ratios(b, c)


def judge(name: str, base: Metric, cur: Metric, s: Settings) -> Row:
    """The verdict on one metric (its kind, unit and direction are the baseline's)."""
    bmed, cmed = stats.median(base.samples), stats.median(cur.samples)
    lower_better = base.better == "lower"
    gates = base.kind == "icount" or s.gate_timed
    if base.gate is False or cur.gate is False:
        gates = False  # the metric's own lines say it only informs
    row = Row(name=name, unit=base.unit, kind=base.kind, base=bmed, cur=cmed, ratio=1.0, ci=None, p=None,
              pairs=None, detectable=None, threshold=None, gates=gates, gating=False,
              inconclusive_gates=False, verdict="")
    if base.kind == "icount":
        row.ratio = stats.ratio(bmed, cmed)
        row.threshold = s.icount_threshold
        worse = row.ratio > 1 if lower_better else row.ratio < 1
        if abs(row.ratio - 1) <= s.icount_threshold:
            row.verdict = "no change"
        elif worse:
            row.verdict, row.gating = "REGRESSION", gates
            if not gates:
                row.verdict = "slower (not gating)"
        else:
            row.verdict = "improved"
        return row
    d = paired_log_ratios(base, cur)
    if d is not None:
        est = stats.hodges_lehmann_paired(d, s.alpha)
        row.pairs = est.pairs
    else:
        est = stats.hodges_lehmann(base.samples, cur.samples, s.alpha)
    row.ratio, row.ci, row.p = est.ratio, est.interval, est.p
    t = cur.threshold if cur.threshold is not None else (
        base.threshold if base.threshold is not None else s.timed_threshold)
    row.threshold = t
    if row.ci is None:
        few = f"{len(d)} pairs" if d is not None else f"{len(base.samples)} and {len(cur.samples)}"
        row.verdict = f"inconclusive (too few samples: {few}; an interval at {1 - s.alpha:.0%} needs more)"
        row.inconclusive_gates = gates
        return row
    lo, hi = row.ci
    row.detectable = stats.half_width(row.ci)
    up = lo > 1 and row.ratio > 1 + t
    down = hi < 1 and row.ratio < 1 / (1 + t)
    if up or down:
        worse = up if lower_better else down
        if worse:
            row.verdict = "REGRESSION" if gates else "slower (not gating)"
            row.gating = gates
        else:
            row.verdict = "improved"
    elif lo >= 1 / (1 + t) and hi <= 1 + t:
        row.verdict = "no change"
    else:
        row.verdict = f"inconclusive (the interval reaches beyond ±{t:.0%})"
        row.inconclusive_gates = gates
    return row


def compare(base: dict[str, Metric], cur: dict[str, Metric], s: Settings
            ) -> tuple[list[Row], list[str], list[str]]:
    """Judge every metric in both sets (in the baseline's order); also the names only the
    baseline has (missing) and only the current set has (added).

    Raises BenchError (EXIT_BAD_INPUT) when no metric is in both.
    """
    rows = [judge(n, base[n], cur[n], s) for n in base if n in cur]
    missing = [n for n in base if n not in cur]
    added = [n for n in cur if n not in base]
    if not rows:
        raise BenchError("no metric is in both the baseline and the current results: compare files of "
                         "the same kind, e.g. --baseline bench/baselines/e2e-quick.json --current the "
                         "--metrics file of tapreflect-bench run (not its trial records), or "
                         "icount.json with icount.json", EXIT_BAD_INPUT)
    return rows, missing, added


def summary(rows: list[Row], s: Settings) -> tuple[str, str]:
    """The verdict word (FAIL, INCONCLUSIVE, pass) and the sentence that counts the rows."""
    gating = [r for r in rows if r.gating]
    slower = [r for r in rows if r.verdict.startswith("slower")]
    improved = [r for r in rows if r.verdict == "improved"]
    unsure = [r for r in rows if r.verdict.startswith("inconclusive")]
    unsure_gating = [r for r in rows if r.inconclusive_gates]
    if gating:
        word = "FAIL"
    elif unsure_gating and s.inconclusive == "fail":
        word = "INCONCLUSIVE"
    else:
        word = "pass"
    return word, (f"{len(rows)} metrics compared, {len(gating)} gating regression(s), "
                  f"{len(slower)} non-gating slowdown(s), {len(improved)} improvement(s), "
                  f"{len(unsure)} inconclusive.")


def legend(s: Settings) -> str:
    """What the table's figures mean, under these settings."""
    return (f"Instruction counts gate at ±{s.icount_threshold:.1%}. Timed metrics: the ratio is "
            f"the Hodges-Lehmann estimate with its {1 - s.alpha:.0%} confidence interval (of the "
            f"pairs' ratios where samples were taken in pairs, else of all pairwise ratios); a change "
            f"counts when the interval excludes 1 and the estimate is beyond the metric's threshold "
            f"(default ±{s.timed_threshold:.0%})"
            + ("" if s.gate_timed else "; timed metrics inform, they do not gate")
            + "; detectable is the interval's half-width: smaller changes were lost in this run's noise.")


def fmt(v: Optional[float]) -> str:
    """A figure for the table: thousands grouped above 1000, else two decimals."""
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.2f}"


def cells(r: Row, s: Settings) -> list[str]:
    """A row of the verdict table as text, in COLUMNS order."""
    p = "-" if r.p is None else f"{r.p:.3g}"
    ci = "-" if r.ci is None else f"[{r.ci[0]:.3f}, {r.ci[1]:.3f}]"
    if r.pairs:
        ci += f" ({r.pairs} pairs)"
    det = "-" if r.detectable is None else f"±{r.detectable:.1%}"
    if r.kind == "icount":
        thr = f"±{s.icount_threshold:.1%}"
    else:
        thr = f"±{r.threshold:.0%}" + ("" if r.gates else " (informs)")
    return [r.name, r.unit, fmt(r.base), fmt(r.cur), f"{r.ratio:.3f}", ci, det, thr, p, r.verdict]


def markdown(rows: list[Row], missing: list[str], added: list[str], s: Settings,
             title: str = DEFAULT_TITLE) -> str:
    """The report as Markdown: heading, verdict line, legend, the table, and the names
    only one side has."""
    word, counts = summary(rows, s)
    out = [f"## {title}", "", f"**{word}**: {counts}", ""]
    out.append(legend(s).replace("detectable is", "*detectable* is"))
    out.append("")
    out.append("| " + " | ".join(COLUMNS) + " |")
    out.append("|---|---|---:|---:|---:|---|---:|---:|---:|---|")
    for r in rows:
        out.append("| " + " | ".join(cells(r, s)) + " |")
    if missing:
        out += ["", "In the baseline but not measured now: " + ", ".join(sorted(missing))]
    if added:
        out += ["", "New, without a baseline: " + ", ".join(sorted(added))]
    return "\n".join(out) + "\n"


def exit_status(rows: list[Row], s: Settings) -> int:
    """EXIT_REGRESSION for a gating regression, else EXIT_INCONCLUSIVE for a gating metric
    that could not be judged (unless inconclusive is "pass"), else EXIT_OK."""
    if any(r.gating for r in rows):
        return EXIT_REGRESSION
    if s.inconclusive == "fail" and any(r.inconclusive_gates for r in rows):
        return EXIT_INCONCLUSIVE
    return EXIT_OK
