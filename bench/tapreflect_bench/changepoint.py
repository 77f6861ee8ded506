"""Change points in a trend: where a metric's level moved, from one value per run, in run order.

Method: binary segmentation with a two-sample t statistic, after neutralising spikes.

1. Spikes.  A shared VM makes single trials far off (30 % is common).  The
   noise scale s is estimated from the first differences (1.4826 times the
   median absolute difference, over sqrt 2: a level shift moves one
   difference, a spike two, so neither moves the median much).  A value is a
   spike when it lies more than SPIKE_SIGMAS * s from the median of the
   min_size values before it and from the median of the min_size values after
   it, on the same side of both (an end value needs only its one side, and
   a side cut short by the end counts only when all its values are that far).  A
   spike is replaced by the median of those neighbours for what follows: a
   real level has at least min_size values, so it is never a spike, and one
   wild trial can neither fake a change nor hide one in a short segment.
2. The test.  For a segment of n values and each split k (min_size <= k <=
   n - min_size), the two-sample t statistic of the first k values against
   the rest: t_k^2 = B_k / v_k, B_k the between-levels sum of squares
   (mean difference squared times k (n - k) / n) and v_k the smaller of two
   noise variances: the pooled within-levels one (the efficient one when the
   segment holds one change) and the one from the first differences, leaving
   out those beyond TRIM_SIGMAS robust deviations (not inflated by a second
   step in the segment, as when a level comes back).  The candidate is the
   split with the largest |t_k|; its p-value is that of max |t| on Gaussian
   noise of the same length, computed once per (n, min_size) from up to
   NULL_SERIES simulated series (a fixed seed: detect() always gives the same
   answer for the same input).  Taking the maximum's own distribution rather
   than a Bonferroni bound over the splits matters: neighbouring splits are
   nearly the same test.  (Not a rank test: with 20 values its
   exact distribution cannot reach such small p-values for a split 5 / 15.)
3. Recursion.  A split with p <= alpha is accepted, and both sides are
   searched again; segments shorter than 2 * min_size are not split.

Levels without any noise (instruction counts) give t = infinity at a step:
any step of at least min_size values is a change, a single odd run is a spike.

False alarms: on Gaussian noise without a change the first test finds none
with probability 1 - alpha, so alpha is the false-alarm rate per series, up
to the Monte-Carlo error of the null and the spike step's iteration, which
the null leaves out.  The default 0.0002 was measured at 0.0004 (8 in 20 000
seeded series of 10 to 40 values, half with a spike): a false change point
in about one unchanged series of 2500, so that a report over a few hundred
metrics is rarely wrong.

Power, measured on 200-400 seeded series each (Gaussian noise, coefficient
of variation 2 %, one +30 % spike at a random place), at the default alpha:
  a 5 % step in 40 values (middle or 1/4): found within one index in 85-94 %,
  at exactly its index in 66-74 %; in 20 values: only 9 % (at 1/4) to 18 %
  (middle).  A 10 % step: within one index in 80 % (20 values, at 1/4) to
  100 %, exactly in 75-97 %.  A 5 % step is 2.5 standard deviations: a value
  next to it is nearer the other level with probability Phi(-1.25) = 11 %
  per side, so no method places every such step exactly, and with 20 values
  of unknown noise even a perfect test of one known split has little margin
  over a false-alarm rate this low.  Power grows quickly with the number of
  runs after the step.

A level that comes back (up, then down to the old level) is found when the
first split, which sees about half of it, stands out: a 10 % excursion over
the middle third of 40 values is found, both ends within one index, in 95 %.
"""
from __future__ import annotations

import functools
import math
from typing import Sequence

import numpy as np

DEFAULT_ALPHA = 0.0002
DEFAULT_MIN_SIZE = 3
SPIKE_SIGMAS = 5.0
TRIM_SIGMAS = 3.5
NULL_SERIES = 50000
_NULL_SEED = 20240601
_CHUNK = 2000


def noise_scale(values: Sequence[float]) -> float:
    """A robust estimate of the noise's standard deviation from the first differences."""
    x = np.asarray(values, dtype=float)
    if len(x) < 2:
        return 0.0
    return float(1.4826 * np.median(np.abs(np.diff(x))) / math.sqrt(2))


def despike(values: Sequence[float], min_size: int = DEFAULT_MIN_SIZE) -> list[float]:
    """The values with every spike replaced by the median of its neighbours (see the module notes)."""
    x = [float(v) for v in values]
    s = noise_scale(x)
    if len(x) < 2 * min_size:
        return x
    limit = SPIKE_SIGMAS * s
    # Again until nothing changes: a value at the end can be judged only once
    # the one after it has been put right.
    for _ in range(len(x)):
        y = _despike_once(x, min_size, limit)
        if y == x:
            break
        x = y
    return x


def _despike_once(x: list[float], min_size: int, limit: float) -> list[float]:
    out = list(x)
    for i, v in enumerate(x):
        left, right = x[max(0, i - min_size):i], x[i + 1:i + 1 + min_size]
        # A full window is judged by its median; a window cut short by the end of
        # the series only when every value in it is that far (else the start of
        # a new level at the end would count as a spike).
        # Without noise (limit 0, exact counts) a median is no guide either: a
        # spike is a value unlike every neighbour.
        devs = [v - float(np.median(side)) if len(side) == min_size and limit > 0
                else min((v - u for u in side), key=abs) for side in (left, right) if side]
        if all(d > limit for d in devs) or all(d < -limit for d in devs):
            out[i] = float(np.median(left + right))
    return out


def _median_last(a: np.ndarray) -> np.ndarray:
    if a.shape[-1] == 3:  # the default windows: much faster than a partition
        return a.sum(axis=-1) - a.max(axis=-1) - a.min(axis=-1)
    return np.median(a, axis=-1)


def _despike_rows(x: np.ndarray, min_size: int) -> np.ndarray:
    """despike() over every row of x at once, one pass (for the null distribution)."""
    rows, n = x.shape
    if n < 2 * min_size:
        return x
    limit = SPIKE_SIGMAS * 1.4826 * np.median(np.abs(np.diff(x, axis=1)), axis=1) / math.sqrt(2)
    out = x.copy()
    win = np.lib.stride_tricks.sliding_window_view(x, min_size, axis=1)  # win[:, j] = x[:, j:j + m]
    inner = np.arange(min_size, n - min_size)
    med_left = _median_last(win[:, inner - min_size])
    med_right = _median_last(win[:, inner + 1])
    v = x[:, inner]
    lim = limit[:, None]
    spike = ((v - med_left > lim) & (v - med_right > lim)) | ((v - med_left < -lim) & (v - med_right < -lim))
    both = np.concatenate([win[:, inner - min_size], win[:, inner + 1]], axis=2)
    out[:, inner] = np.where(spike, np.median(both, axis=2), v)
    for i in list(range(min_size)) + list(range(n - min_size, n)):
        left, right = x[:, max(0, i - min_size):i], x[:, i + 1:i + 1 + min_size]
        up, down = np.ones(rows, bool), np.ones(rows, bool)
        for side in (left, right):
            if side.shape[1] == 0:
                continue
            if side.shape[1] == min_size:
                d = x[:, i] - np.median(side, axis=1)
                up &= d > limit
                down &= d < -limit
            else:
                d = x[:, i:i + 1] - side
                up &= (d > lim).all(axis=1)
                down &= (d < -lim).all(axis=1)
        out[:, i] = np.where(up | down, np.median(np.concatenate([left, right], axis=1), axis=1), x[:, i])
    return out


def _split_range(n: int, min_size: int) -> np.ndarray:
    return np.arange(min_size, n - min_size + 1)


def _difference_variance(x: np.ndarray) -> np.ndarray:
    """Per row, the noise variance from the first differences (von Neumann), leaving out
    differences beyond TRIM_SIGMAS robust standard deviations: those are the
    steps themselves, which must not count as noise."""
    d = np.diff(x, axis=1)
    mad = 1.4826 * np.median(np.abs(d), axis=1, keepdims=True)
    keep = np.abs(d) <= TRIM_SIGMAS * mad
    return ((d * d * keep).sum(axis=1) / np.maximum(keep.sum(axis=1), 1) / 2)[:, None]


def _max_t(x: np.ndarray, min_size: int) -> tuple[np.ndarray, np.ndarray]:
    """max |t_k| over the splits, and at which split, for each row of x."""
    n = x.shape[1]
    k = _split_range(n, min_size)
    x = x - x.mean(axis=1, keepdims=True)  # centred: the sums of squares below keep their precision
    c, c2 = np.cumsum(x, axis=1), np.cumsum(x * x, axis=1)
    s_left, s_total = c[:, k - 1], c[:, -1:]
    ss_total = c2[:, -1:] - s_total ** 2 / n
    between = (s_left / k - (s_total - s_left) / (n - k)) ** 2 * (k * (n - k) / n)
    pooled = np.maximum(ss_total - between, 0.0) / (n - 2)
    diff_var = _difference_variance(x)
    # The pooled variance is the efficient one when the segment has one change;
    # with two (a level that comes back) it also holds the other step, and the
    # differences' variance does not.  Their minimum serves both; the null below
    # is that of this same statistic.
    var = np.minimum(pooled, diff_var)
    with np.errstate(divide="ignore", invalid="ignore"):
        t2 = between / var
    # 0/0: a constant segment, no change; b/0: levels without any noise, a change
    t2 = np.where(between <= 1e-12 * np.maximum(ss_total, 1e-300), 0.0, t2)
    t2 = np.nan_to_num(t2, nan=0.0, posinf=np.inf)
    # Without noise every split that moves the mean is infinitely significant:
    # the step is where the levels differ most.
    infinite = np.isinf(t2)
    where = np.where(infinite.any(axis=1), np.where(infinite, between, -1.0).argmax(axis=1), t2.argmax(axis=1))
    return np.sqrt(t2[np.arange(len(x)), where]), k[where]


@functools.lru_cache(maxsize=64)
def _null(n: int, min_size: int) -> np.ndarray:
    """max |t| of up to NULL_SERIES Gaussian series of n values, sorted."""
    rng = np.random.default_rng([_NULL_SEED, n, min_size])
    # Long trends get fewer null series (the work grows as series x length);
    # never fewer than 10 000, which still puts ten beyond alpha = 0.001.
    size = max(10000, min(NULL_SERIES, 5_000_000 // n))
    out = []
    for start in range(0, size, _CHUNK):
        rows = min(_CHUNK, size - start)
        # The null goes through the same spike step as the data: on short series
        # it sometimes smooths plain noise, which would otherwise make the
        # false-alarm rate two to four times alpha.
        out.append(_max_t(_despike_rows(rng.standard_normal((rows, n)), min_size), min_size)[0])
    return np.sort(np.concatenate(out))


def best_split(values: Sequence[float], min_size: int = DEFAULT_MIN_SIZE) -> tuple[int, float]:
    """The best split of one segment (the index where its second part starts) and its
    p-value under the no-change null; (0, 1.0) when it is too short to split."""
    n = len(values)
    if n < 2 * min_size:
        return 0, 1.0
    t, where = _max_t(np.asarray(values, dtype=float)[None, :], min_size)
    if t[0] == 0:
        return 0, 1.0
    null = _null(n, min_size)
    as_extreme = len(null) - int(np.searchsorted(null, t[0], side="left"))
    return int(where[0]), (1 + as_extreme) / (1 + len(null))


def detect(values: Sequence[float], *, min_size: int = DEFAULT_MIN_SIZE,
           alpha: float = DEFAULT_ALPHA) -> list[int]:
    """The indices where a new level starts (sorted; none for a steady series).

    min_size: the fewest values a level has (also the spike windows); alpha:
    the false-alarm rate per series (see the module notes).
    """
    if min_size < 1:
        raise ValueError("min_size must be at least 1")
    x = despike(values, min_size)
    found: list[int] = []
    todo = [(0, len(x))]
    while todo:
        start, end = todo.pop()
        k, p = best_split(x[start:end], min_size)
        if k and p <= alpha:
            found.append(start + k)
            todo += [(start, start + k), (start + k, end)]
    return sorted(found)


def segments(values: Sequence[float], *, min_size: int = DEFAULT_MIN_SIZE,
             alpha: float = DEFAULT_ALPHA) -> list[tuple[int, int]]:
    """The levels as (start, end) index ranges, end exclusive, covering the whole series."""
    bounds = [0] + detect(values, min_size=min_size, alpha=alpha) + [len(values)]
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]
