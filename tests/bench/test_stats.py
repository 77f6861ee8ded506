"""stats: medians, Hodges-Lehmann ratios and their intervals, rank-test p-values.

Checked three ways: against scipy, against answers the project's earlier
report tool computed (pinned here as literals: the same estimates, intervals
and p-values as before the rewrite), and on examples small enough to work
out by hand.
"""
import math
import warnings

import numpy as np
import pytest
from scipy import stats as sp

from tapreflect_bench import stats
from tapreflect_bench.model import Estimate



def close(a, b, rel=1e-12):
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-15)


def same_estimate(est: Estimate, ratio, interval):
    assert close(est.ratio, ratio), (est, ratio)
    if interval is None:
        assert est.interval is None, est
    else:
        assert est.interval is not None, est
        assert close(est.interval[0], interval[0]) and close(est.interval[1], interval[1]), (est, interval)


# --- by hand ------------------------------------------------------------------

def test_median():
    assert stats.median([3.0]) == 3.0
    assert stats.median([5, 1, 3]) == 3.0
    assert stats.median([4, 1, 3, 2]) == 2.5
    with pytest.raises(ValueError):
        stats.median([])


def test_paired_ratios_key_order_and_zero_reference():
    ref = {3: 2.0, 1: 4.0, 2: 0.0, 9: 1.0}
    cur = {1: 2.0, 2: 5.0, 3: 3.0, 7: 1.0}
    # keys in both, sorted; key 2 has a zero reference and is left out
    assert stats.paired_ratios(ref, cur) == [0.5, 1.5]
    assert stats.log_ratios(ref, cur) == [math.log(2.0) - math.log(4.0), math.log(3.0) - math.log(2.0)]


def test_ratio_conventions():
    assert stats.ratio(4, 5) == 1.25
    assert stats.ratio(0, 0) == 1.0
    assert stats.ratio(0, 3) == math.inf


def test_exact_counts_by_hand():
    # 2 + 2 values: orderings AABB..BBAA give U = 0, 1, 2, 2, 3, 4
    assert stats.u_counts(2, 2) == (1, 1, 2, 1, 1)
    assert sum(stats.u_counts(5, 7)) == math.comb(12, 5)
    # signs of ranks 1, 2, 3: positive sums 0, 1, 2, 3 (3 or 1+2), 4, 5, 6
    assert stats.signed_rank_counts(3) == (1, 1, 1, 2, 1, 1, 1)
    assert sum(stats.signed_rank_counts(12)) == 2 ** 12


def test_hodges_lehmann_tiny_sample():
    # log ratios of cur [3, 4] over base [1, 2]: log 1.5, log 2, log 3, log 4;
    # the median is halfway between log 2 and log 3: a ratio of sqrt(6)
    est = stats.hodges_lehmann([1.0, 2.0], [3.0, 4.0], 0.01)
    assert close(est.ratio, math.sqrt(6))
    assert est.interval is None  # 6 orderings: P(U = 0) = 1/6 > 0.005
    assert close(est.p, 1 / 3)  # U = 0: two-sided 2 of 6 orderings
    # at alpha = 0.5, P(U = 0) = 1/6 <= 0.25 < 2/6: k = 1, the extreme ratios
    same_estimate(stats.hodges_lehmann([1.0, 2.0], [3.0, 4.0], 0.5), math.sqrt(6), (1.5, 4.0))


def test_interval_ranks_by_hand():
    # 8 pairs at 99 %: P(W = 0) = 1/256 <= 0.005 < P(W <= 1) = 2/256: k = 1
    assert stats.signed_rank_rank(8, 0.01) == 1
    # at 95 %: cumulative counts 1, 2, 3, 5, 7 of 256 against 6.4: k = 4 (critical T = 3)
    assert stats.signed_rank_rank(8, 0.05) == 4
    # 5 + 5 at 99 %: 1/252 <= 0.005 < 2/252: k = 1, the interval is min..max of the ratios
    assert stats.mw_rank(5, 5, 0.01) == 1
    # 2 + 2 cannot give a 99 % interval at all
    assert stats.mw_rank(2, 2, 0.01) == 0
    assert stats.signed_rank_rank(6, 0.01) == 0  # 1/64 > 0.005


def test_paired_eight_pairs_interval_is_min_max():
    d = [math.log(x) for x in (1.01, 0.99, 1.0, 1.02, 0.98, 1.0, 1.01, 0.99)]
    est = stats.hodges_lehmann_paired(d, 0.01)
    assert est.pairs == 8
    assert close(est.interval[0], 0.98) and close(est.interval[1], 1.02)
    # Walsh averages of symmetric log ratios (about 0): the estimate is 1 to rounding
    assert abs(est.ratio - 1) < 1e-3


def test_p_values_by_hand():
    # 5 against 5, fully separated: 2 of C(10, 5) = 252 orderings are as extreme
    assert close(stats.mann_whitney_p([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]), 2 / 252)
    # 8 differences all positive, untied: 2 of 2**8 sign patterns
    assert close(stats.wilcoxon_p([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]), 2 / 256)
    assert stats.wilcoxon_p([0.0, 0.0]) == 1.0
    assert stats.mann_whitney_p([], [1.0]) == 1.0


def test_non_positive_values_give_median_ratio_without_interval():
    est = stats.hodges_lehmann([0.0, 2.0, 4.0], [3.0, 3.0, 3.0], 0.01)
    assert est.ratio == 1.5 and est.interval is None


def test_half_width():
    assert stats.half_width(None) is None
    assert close(stats.half_width((0.975, 1.025)), math.sqrt(1.025 / 0.975) - 1)


# --- against scipy ---------------------------------------------------------------

@pytest.mark.parametrize("n1,n2", [(3, 4), (5, 5), (8, 12), (20, 20), (30, 25)])
def test_mann_whitney_matches_scipy(n1, n2):
    rng = np.random.default_rng(1000 + n1 * 100 + n2)
    for trial in range(20):
        a = rng.normal(0, 1, n1)
        b = rng.normal(0.5, 1, n2)
        if trial % 4 == 0:  # ties: the normal approximation with its correction
            a, b = np.round(a, 1), np.round(b, 1)
        untied = len(set(a) | set(b)) == n1 + n2
        method = "exact" if untied and n1 * n2 <= 400 else "asymptotic"
        want = sp.mannwhitneyu(a, b, alternative="two-sided", method=method).pvalue
        assert close(stats.mann_whitney_p(list(a), list(b)), want, 1e-9)


def test_exact_u_counts_give_scipys_exact_p():
    rng = np.random.default_rng(5)
    for n1, n2 in [(2, 3), (4, 9), (7, 7), (10, 15)]:
        counts = stats.u_counts(n1, n2)
        total = sum(counts)
        for _ in range(10):
            a, b = rng.normal(size=n1), rng.normal(size=n2)
            u = int(sum(1 for x in a for y in b if x > y))
            mine = min(1.0, 2 * min(sum(counts[: u + 1]), sum(counts[u:])) / total)
            assert close(mine, sp.mannwhitneyu(a, b, method="exact").pvalue, 1e-9)


@pytest.mark.parametrize("n", [2, 5, 8, 15, 40, 120])
def test_wilcoxon_matches_scipy(n):
    rng = np.random.default_rng(2000 + n)
    for trial in range(20):
        d = rng.normal(0.2, 1, n)
        if trial % 4 == 0:
            d = np.round(d, 1)
        nz = d[d != 0]
        if len(nz) == 0:
            continue
        untied = len(set(np.abs(nz))) == len(nz)
        method = "exact" if untied and len(nz) <= 100 else "approx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "sample size too small for normal approximation"
            want = sp.wilcoxon(nz, correction=True, method=method).pvalue
        assert close(stats.wilcoxon_p(list(d)), want, 1e-9)


def test_signed_rank_counts_give_scipys_exact_p():
    rng = np.random.default_rng(6)
    for n in (3, 9, 20):
        counts = stats.signed_rank_counts(n)
        for _ in range(10):
            d = rng.normal(0.3, 1, n)
            ranks = sp.rankdata(np.abs(d))
            w = int(ranks[d > 0].sum())
            mine = min(1.0, 2 * min(sum(counts[: w + 1]), sum(counts[w:])) / 2 ** n)
            assert close(mine, sp.wilcoxon(d, method="exact").pvalue, 1e-9)


def test_interval_covers_the_true_ratio_like_its_level():
    # 300 unpaired 6 x 6 comparisons of samples whose true ratio is 1.1: a 90 %
    # interval must hold 1.1 in at least about 90 % of them (exact: >= its level)
    rng = np.random.default_rng(11)
    hits = 0
    for _ in range(300):
        a = rng.lognormal(0, 0.05, 6)
        b = rng.lognormal(math.log(1.1), 0.05, 6)
        lo, hi = stats.hodges_lehmann(list(a), list(b), 0.1).interval
        hits += lo <= 1.1 <= hi
    assert hits >= 0.86 * 300


# --- answers the earlier report tool computed, pinned --------------------------

UNPAIRED_PINNED = [  # (base, cur, ratio, interval, p) as perf-report computed them at alpha 0.01
    ([1.0, 1.015, 0.986, 0.956, 0.978, 0.952], [1.034, 1.102, 1.005, 0.999, 1.056, 1.049, 1.036],
     1.0558361217378323, (1.005, 1.1176470588235294), 0.008158508158508158),
    ([0.955, 0.999, 1.035, 0.935, 0.977, 0.909, 0.938, 0.912, 0.988, 0.939, 1.014, 1.008],
     [1.021, 0.909, 1.003, 1.028, 1.036, 0.955, 1.006, 0.981, 0.99],
     1.0269185585918041, (0.9719806763285025, 1.0884861407249466), 0.18831091630349825),
    # 25 x 20 = 500 pairs: the interval rank from the normal approximation; ties: normal p
    ([1.054, 0.96, 0.998, 1.045, 0.971, 0.994, 1.006, 1.003, 0.941, 1.004, 1.07, 0.926, 1.044, 1.006, 0.968,
      1.105, 1.039, 0.942, 1.004, 1.029, 0.991, 1.035, 0.997, 1.034, 1.075],
     [0.996, 1.041, 1.007, 1.037, 0.971, 1.001, 1.02, 1.078, 1.091, 0.964, 0.99, 1.064, 0.933, 1.007, 1.025,
      1.097, 1.067, 1.014, 1.012, 1.018],
     1.011212686189147, (0.9738878143133461, 1.0500481231953802), 0.3373199987008213),
]

PAIRED_PINNED = [  # (log ratios, ratio, interval, p)
    ([0.0657, 0.0072, 0.0109, 0.0306, 0.0164, 0.0141, -0.0134], 1.0147832064745703, None, 0.078125),
    ([0.0197, 0.0067, 0.055, 0.0396, 0.0193, 0.0401, 0.0098, 0.0516, 0.0198, 0.0375, -0.0187, 0.0304,
      -0.0306, -0.0411, 0.0109],
     1.0197168594634862, (0.9940179640539353, 1.039302692193487), 0.05535888671875),
]


@pytest.mark.parametrize("base,cur,ratio,interval,p", UNPAIRED_PINNED)
def test_pinned_unpaired(base, cur, ratio, interval, p):
    est = stats.hodges_lehmann(base, cur, 0.01)
    same_estimate(est, ratio, interval)
    assert close(est.p, p, 1e-9)


@pytest.mark.parametrize("d,ratio,interval,p", PAIRED_PINNED)
def test_pinned_paired(d, ratio, interval, p):
    est = stats.hodges_lehmann_paired(d, 0.01)
    same_estimate(est, ratio, interval)
    assert close(est.p, p, 1e-9)
    assert est.pairs == len(d)
