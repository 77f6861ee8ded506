"""Statistics: the one place where the project computes a median, a ratio or an interval.

Pure functions over numbers; nothing here reads a file or prints.

Ratios are judged on the log scale, so that 0.5 and 2 are equally far from 1,
and their intervals are distribution-free (Hodges-Lehmann with rank-test
intervals): trial figures on a shared machine are neither normal nor
symmetric, and a single disturbed trial must not move an interval much.

What comes from scipy and what is computed here:
  - p-values: scipy.stats.mannwhitneyu and scipy.stats.wilcoxon, with the
    method chosen here (exact for small untied samples, else the normal
    approximation with tie and continuity corrections), so that the choice
    does not depend on scipy's own "auto" rules.
  - interval ranks: scipy 1.10 has no public exact null distribution of
    Mann-Whitney U or of the signed-rank statistic (only private helpers), so
    the two small exact-count functions below (u_counts, signed_rank_counts)
    count them in integers.  Integers matter: the rank k is where a
    cumulative probability crosses alpha / 2, and floating-point sums could
    move it at an exact boundary.  Beyond the exact range the rank comes from
    scipy.stats.norm.
"""
from __future__ import annotations

import functools
import math
import statistics
import warnings
from typing import Mapping, Optional, Sequence

import numpy as np
from scipy import stats as _sp

from .model import Estimate

# Sizes up to which the exact distributions are used (the counts grow as
# n1 * n2 and n * (n + 1) / 2 entries; beyond, the normal approximation is
# within a rank of the exact one).
EXACT_MW_MAX_PRODUCT = 400
EXACT_SIGNED_RANK_MAX_N = 100


def median(xs: Sequence[float]) -> float:
    """The sample median (the mean of the two middle values for an even count).

    Raises ValueError for an empty sequence: a median of nothing is a bug upstream.
    """
    if len(xs) == 0:
        raise ValueError("median of no values")
    return float(statistics.median(xs))


def mean(xs: Sequence[float]) -> float:
    """The arithmetic mean (a level of a trend between its change points)."""
    if len(xs) == 0:
        raise ValueError("mean of no values")
    return float(statistics.fmean(xs))


def ratio(ref: float, cur: float) -> float:
    """cur / ref, with the conventions of a verdict table: 1 when both are 0,
    infinity when only the reference is 0."""
    if ref:
        return cur / ref
    return 1.0 if cur == 0 else math.inf


def paired_ratios(ref: Mapping, cur: Mapping) -> list[float]:
    """cur[k] / ref[k] for every key in both mappings whose reference is > 0, in sorted key order."""
    return [cur[k] / ref[k] for k in sorted(set(ref) & set(cur)) if ref[k] > 0]


def log_ratios(ref: Mapping, cur: Mapping) -> list[float]:
    """log(cur[k]) - log(ref[k]) for every key in both whose values are both > 0, in sorted key order."""
    return [math.log(cur[k]) - math.log(ref[k]) for k in sorted(set(ref) & set(cur))
            if ref[k] > 0 and cur[k] > 0]


# --- exact null distributions -------------------------------------------------

@functools.lru_cache(maxsize=None)
def u_counts(n1: int, n2: int) -> tuple[int, ...]:
    """counts[u]: how many of the C(n1 + n2, n1) orderings of untied values give
    Mann-Whitney U = u (U: pairs where a value of the first sample is the larger)."""
    # Build up by sample sizes: the largest of i + j values belongs either to the
    # first sample (it beats all j of the second: U grows by j) or to the second.
    prev_row = [(1,)] * (n2 + 1)  # i = 0: only U = 0
    for i in range(1, n1 + 1):
        row = [(1,)]  # j = 0
        for j in range(1, n2 + 1):
            first, second = prev_row[j], row[j - 1]
            res = [0] * (i * j + 1)
            for u, c in enumerate(first):
                res[u + j] += c
            for u, c in enumerate(second):
                res[u] += c
            row.append(tuple(res))
        prev_row = row
    return prev_row[n2] if n1 else (1,)


@functools.lru_cache(maxsize=None)
def signed_rank_counts(n: int) -> tuple[int, ...]:
    """counts[w]: how many of the 2**n sign patterns of ranks 1..n have positive ranks summing to w."""
    counts = [1]
    for r in range(1, n + 1):
        nxt = counts + [0] * r
        for w, c in enumerate(counts):
            nxt[w + r] += c
        counts = nxt
    return tuple(counts)


def exact_rank(counts: Sequence[int], alpha: float) -> int:
    """The rank k of the order statistics bounding a 1 - alpha interval: the most
    values of the statistic, counted from the lowest, whose exact null
    probability stays within alpha / 2 (0: no interval at that level)."""
    total = sum(counts)
    k, acc = 0, 0
    while k < len(counts) and (acc + counts[k]) / total <= alpha / 2:
        acc += counts[k]
        k += 1
    return k


def mw_rank(m: int, n: int, alpha: float) -> int:
    """The interval rank for an unpaired m x n comparison (exact up to m * n = 400)."""
    if m * n <= EXACT_MW_MAX_PRODUCT:
        return exact_rank(u_counts(m, n), alpha)
    z = float(_sp.norm.ppf(1 - alpha / 2))
    return int(math.floor(m * n / 2 - z * math.sqrt(m * n * (m + n + 1) / 12)))


def signed_rank_rank(n: int, alpha: float) -> int:
    """The interval rank for n pairs (exact up to n = 100)."""
    if n <= EXACT_SIGNED_RANK_MAX_N:
        return exact_rank(signed_rank_counts(n), alpha)
    z = float(_sp.norm.ppf(1 - alpha / 2))
    return int(math.floor(n * (n + 1) / 4 - z * math.sqrt(n * (n + 1) * (2 * n + 1) / 24)))


# --- tests ----------------------------------------------------------------------

def mann_whitney_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test (scipy.stats.mannwhitneyu):
    exact for untied samples with len(a) * len(b) <= 400, else the normal
    approximation with tie and continuity corrections.  1 when a side is empty."""
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        return 1.0
    untied = len(set(a) | set(b)) == n1 + n2
    method = "exact" if untied and n1 * n2 <= EXACT_MW_MAX_PRODUCT else "asymptotic"
    res = _sp.mannwhitneyu(a, b, use_continuity=True, alternative="two-sided", method=method)
    return float(res.pvalue) if not math.isnan(res.pvalue) else 1.0


def wilcoxon_p(d: Sequence[float]) -> float:
    """Two-sided p-value of the Wilcoxon signed-rank test that the differences d
    centre on 0 (scipy.stats.wilcoxon), zeros dropped: exact for up to 100 untied
    non-zero differences, else the normal approximation with tie and continuity
    corrections.  1 when no difference is non-zero."""
    d = [float(x) for x in d if x != 0]
    if not d:
        return 1.0
    untied = len(set(abs(x) for x in d)) == len(d)
    method = "exact" if untied and len(d) <= EXACT_SIGNED_RANK_MAX_N else "approx"
    with warnings.catch_warnings():
        # scipy warns that the normal approximation is rough below 10 pairs; with
        # ties there is no exact alternative, and the caller knows the count.
        warnings.simplefilter("ignore")
        res = _sp.wilcoxon(d, zero_method="wilcox", correction=True, alternative="two-sided",
                           method=method)
    return float(res.pvalue) if not math.isnan(res.pvalue) else 1.0


# --- Hodges-Lehmann estimates ------------------------------------------------

def _middle(sorted_values: np.ndarray) -> float:
    n = len(sorted_values)
    if n % 2:
        return float(sorted_values[n // 2])
    return float((sorted_values[n // 2 - 1] + sorted_values[n // 2]) / 2)


def hodges_lehmann(base: Sequence[float], cur: Sequence[float], alpha: float) -> Estimate:
    """The ratio cur/base of two unpaired samples: the Hodges-Lehmann estimate (the
    median of all len(base) * len(cur) pairwise log ratios, exponentiated) and
    its distribution-free 1 - alpha interval, the order statistics of those log
    ratios at the rank the Mann-Whitney distribution gives (exact up to
    400 pairs, normal beyond).

    interval is None when there are too few samples for an interval at that
    level.  p is the Mann-Whitney p-value when both sides have two samples or
    more.  A side with a value <= 0 has no log ratios: the ratio of the medians
    is returned without an interval.
    """
    if len(base) == 0 or len(cur) == 0:
        raise ValueError("Hodges-Lehmann estimate of an empty sample")
    p = mann_whitney_p(base, cur) if len(base) >= 2 and len(cur) >= 2 else None
    if min(base) <= 0 or min(cur) <= 0:
        return Estimate(ratio(median(base), median(cur)), None, p)
    m, n = len(base), len(cur)
    d = np.sort((np.log(np.asarray(cur, dtype=float))[None, :]
                 - np.log(np.asarray(base, dtype=float))[:, None]).ravel())
    est = math.exp(_middle(d))
    k = mw_rank(m, n, alpha)
    if k < 1:
        return Estimate(est, None, p)
    return Estimate(est, (math.exp(d[k - 1]), math.exp(d[m * n - k])), p)


def walsh_averages(d: Sequence[float]) -> np.ndarray:
    """The n (n + 1) / 2 averages (d[i] + d[j]) / 2, i <= j, sorted."""
    a = np.asarray(d, dtype=float)
    i, j = np.triu_indices(len(a))
    return np.sort((a[i] + a[j]) / 2)


def hodges_lehmann_paired(log_ratios: Sequence[float], alpha: float) -> Estimate:
    """The ratio from paired log ratios (log(cur) - log(base) of each pair): the
    Hodges-Lehmann estimate (the median of their Walsh averages, exponentiated)
    and its distribution-free 1 - alpha interval, the order statistics of the
    Walsh averages at the rank the signed-rank distribution gives (exact up to
    100 pairs, normal beyond).

    interval is None when there are too few pairs for that level; p is the
    Wilcoxon signed-rank p-value when there are two pairs or more; pairs is
    their number.
    """
    n = len(log_ratios)
    if n == 0:
        raise ValueError("Hodges-Lehmann estimate of no pairs")
    walsh = walsh_averages(log_ratios)
    big_n = len(walsh)
    est = math.exp(_middle(walsh))
    p = wilcoxon_p(log_ratios) if n >= 2 else None
    k = signed_rank_rank(n, alpha)
    if k < 1:
        return Estimate(est, None, p, n)
    return Estimate(est, (math.exp(walsh[k - 1]), math.exp(walsh[big_n - k])), p, n)


def half_width(interval: Optional[tuple[float, float]]) -> Optional[float]:
    """The half-width of a ratio interval as a fraction (sqrt(hi / lo) - 1): the
    smallest change the measurement could have told from its noise."""
    if interval is None:
        return None
    lo, hi = interval
    return math.sqrt(hi / lo) - 1
