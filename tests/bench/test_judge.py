"""judge: verdicts on hand-made results (the checks the old perf-report test made), asserted on
the rows' numbers and verdict strings, plus paired A/A and a paired 10 % slowdown."""
import json
import math

import numpy as np
import pytest

from tapreflect_bench import judge, metrics
from tapreflect_bench.judge import Settings
from tapreflect_bench.model import EXIT_BAD_INPUT, EXIT_INCONCLUSIVE, EXIT_OK, EXIT_REGRESSION, BenchError


@pytest.fixture
def files(tmp_path):
    """files(name, *records) writes a metric file; load(name...) reads metrics back."""
    class Files:
        def write(self, name, *records):
            with open(tmp_path / name, "a") as f:
                for r in records:
                    f.write(json.dumps(r) + "\n")
            return str(tmp_path / name)

        def icount(self, name, a, b):
            return self.write(name, *({"kind": "icount", "name": n, "value": v, "unit": "instructions/frame"}
                                      for n, v in (("reflect/a", a), ("reflect/b", b))))

        def timed(self, name, metric, values, **extra):
            return self.write(name, *({"kind": "timed", "name": metric, "value": v, "unit": "ns/frame",
                                       "better": "lower", **extra} for v in values))

        def paired(self, name, values, pairs=True):
            return self.write(name, *({"kind": "timed", "name": "e2e/cpu", "value": v, "unit": "ns/frame",
                                       "better": "lower", **({"pair": k} if pairs else {})}
                                      for k, v in enumerate(values, 1)))

        def load(self, *names):
            return metrics.load_files([str(tmp_path / n) for n in names])[0]

    return Files()


def run(files, base, cur, **settings):
    s = Settings(**settings)
    rows, missing, added = judge.compare(files.load(base), files.load(cur), s)
    return {r.name: r for r in rows}, judge.exit_status(rows, s), rows, s


BASE = [10.0, 10.2, 9.9, 10.1, 10.05]
SAME = [10.1, 9.95, 10.15, 10.0, 10.02]
SLOWER = [12.0, 12.1, 11.9, 12.2, 12.05]


@pytest.fixture
def base(files):
    files.icount("base", 164, 39)
    files.timed("base", "micro/x", BASE)
    return "base"


def test_a_a_passes_with_its_interval(files, base):
    files.icount("same", 164, 39)
    files.timed("same", "micro/x", SAME)
    rows, status, all_rows, s = run(files, base, "same")
    assert status == EXIT_OK
    assert judge.summary(all_rows, s) == ("pass", "3 metrics compared, 0 gating regression(s), 0 non-gating "
                                                  "slowdown(s), 0 improvement(s), 0 inconclusive.")
    x = rows["micro/x"]
    assert (x.base, x.cur) == (10.05, 10.02)
    # 5 + 5 samples at 99 %: the interval runs over all pairwise ratios, 9.95/10.2 to 10.15/9.9
    assert x.ci == pytest.approx((9.95 / 10.2, 10.15 / 9.9))
    assert round(x.ratio, 3) == 1.000 and x.p == 1.0 and x.pairs is None
    assert x.detectable == pytest.approx(math.sqrt((10.15 / 9.9) / (9.95 / 10.2)) - 1)
    assert (x.threshold, x.gates, x.gating, x.inconclusive_gates, x.verdict) == (0.05, False, False, False, "no change")
    assert judge.cells(x, s) == ["micro/x", "ns/frame", "10.05", "10.02", "1.000", "[0.975, 1.025]", "±2.5%",
                                 "±5% (informs)", "1", "no change"]
    for name in ("reflect/a", "reflect/b"):
        assert rows[name].verdict == "no change" and rows[name].ratio == 1.0 and rows[name].gates


def test_an_instruction_count_regression_gates(files, base):
    files.icount("slow", 173, 39)
    files.timed("slow", "micro/x", SAME)
    rows, status, all_rows, s = run(files, base, "slow")
    assert status == EXIT_REGRESSION
    a = rows["reflect/a"]
    assert (a.base, a.cur, a.ci, a.p, a.detectable) == (164, 173, None, None, None)
    assert a.ratio == pytest.approx(173 / 164) and (a.gating, a.verdict) == (True, "REGRESSION")
    assert judge.cells(a, s)[4:] == ["1.055", "-", "-", "±1.0%", "-", "REGRESSION"]
    assert rows["reflect/b"].verdict == "no change"
    assert judge.summary(all_rows, s)[0] == "FAIL"
    # an improvement beyond the threshold, and higher-is-better counts turned round
    files.icount("fast", 150, 39)
    assert run(files, base, "fast")[0]["reflect/a"].verdict == "improved"
    within = run(files, base, files.icount("within", 165, 39) and "within")[0]["reflect/a"]
    assert within.verdict == "no change"  # 0.6 % is within ±1 %


def test_a_timed_slowdown_informs_unless_gated(files, base):
    files.timed("slower", "micro/x", SLOWER)
    files.icount("slower", 164, 39)
    rows, status, all_rows, s = run(files, base, "slower")
    assert status == EXIT_OK
    x = rows["micro/x"]
    assert (x.base, x.cur) == (10.05, 12.05)
    assert x.ratio == pytest.approx(1.199, abs=5e-4)
    assert x.ci == pytest.approx((1.167, 1.232), abs=5e-4)
    assert x.detectable == pytest.approx(0.028, abs=5e-4)
    assert x.p == pytest.approx(2 / 252)  # fully separated 5 + 5: exact
    assert (x.gating, x.verdict) == (False, "slower (not gating)")
    word, sentence = judge.summary(all_rows, s)
    assert word == "pass" and "1 non-gating slowdown(s)" in sentence
    rows, status, _, _ = run(files, base, "slower", gate_timed=True)
    assert status == EXIT_REGRESSION and rows["micro/x"].verdict == "REGRESSION" and rows["micro/x"].gating


def test_too_few_samples_are_inconclusive(files):
    files.timed("two-a", "micro/x", [10.0, 10.1])
    files.timed("two-b", "micro/x", [13.0, 13.1])
    rows, status, _, _ = run(files, "two-a", "two-b")
    x = rows["micro/x"]
    assert status == EXIT_OK and x.ci is None and x.detectable is None
    assert x.verdict == "inconclusive (too few samples: 2 and 2; an interval at 99% needs more)"
    assert not x.inconclusive_gates
    rows, status, all_rows, s = run(files, "two-a", "two-b", gate_timed=True)
    assert status == EXIT_INCONCLUSIVE and rows["micro/x"].inconclusive_gates
    assert judge.summary(all_rows, s)[0] == "INCONCLUSIVE"
    assert run(files, "two-a", "two-b", gate_timed=True, inconclusive="pass")[1] == EXIT_OK


def test_a_wide_spread_is_inconclusive_within_its_default_threshold(files):
    files.timed("wide-a", "micro/x", [10, 14, 9, 12, 11])
    files.timed("wide-b", "micro/x", [11, 9.5, 13, 10, 12.5])
    rows, status, _, _ = run(files, "wide-a", "wide-b")
    assert status == EXIT_OK
    assert rows["micro/x"].verdict == "inconclusive (the interval reaches beyond ±5%)"
    lo, hi = rows["micro/x"].ci
    assert lo < 1 / 1.05 and hi > 1.05
    # its own threshold of 50 % holds the whole interval: no change, even gated
    files.timed("wide-b50", "micro/x", [11, 9.5, 13, 10, 12.5], threshold=0.5)
    rows, status, _, s = run(files, "wide-a", "wide-b50", gate_timed=True)
    x = rows["micro/x"]
    assert status == EXIT_OK and (x.threshold, x.verdict) == (0.5, "no change")
    assert judge.cells(x, s)[7] == "±50%"


def test_gate_false_is_judged_but_never_fails(files, base):
    files.timed("nogate", "micro/x", SLOWER, gate=False)
    files.icount("nogate", 164, 39)
    rows, status, _, s = run(files, base, "nogate", gate_timed=True)
    x = rows["micro/x"]
    assert status == EXIT_OK
    assert (x.gates, x.gating, x.verdict) == (False, False, "slower (not gating)")
    assert x.p == pytest.approx(2 / 252)
    assert judge.cells(x, s)[7:] == ["±5% (informs)", "0.00794", "slower (not gating)"]
    files.timed("two-a", "micro/x", [10.0, 10.1])
    files.timed("two-nogate", "micro/x", [13.0, 13.1], gate=False)
    rows, status, _, _ = run(files, "two-a", "two-nogate", gate_timed=True)
    assert status == EXIT_OK and rows["micro/x"].verdict.startswith("inconclusive (too few samples")
    # an instruction count marked so informs too
    files.write("icount-nogate", {"kind": "icount", "name": "reflect/a", "value": 173, "gate": False})
    files.write("icount-base", {"kind": "icount", "name": "reflect/a", "value": 164})
    rows, status, _, _ = run(files, "icount-base", "icount-nogate")
    assert status == EXIT_OK and rows["reflect/a"].verdict == "slower (not gating)"


def test_no_common_metric_is_bad_input(files, base):
    files.write("other", {"kind": "timed", "name": "other", "value": 1})
    with pytest.raises(BenchError) as e:
        run(files, base, "other")
    assert e.value.status == EXIT_BAD_INPUT
    assert str(e.value).startswith("no metric is in both the baseline and the current results")
    assert "--metrics file" in str(e.value)


def test_missing_and_added_names(files, base):
    files.timed("part", "micro/x", SAME)
    files.timed("part", "micro/new", [1.0])
    rows, missing, added = judge.compare(files.load(base), files.load("part"), Settings())
    assert [r.name for r in rows] == ["micro/x"]
    assert missing == ["reflect/a", "reflect/b"] and added == ["micro/new"]
    md = judge.markdown(rows, missing, added, Settings(), "title")
    assert md.startswith("## title\n\n**pass**: 1 metrics compared")
    assert sum(line.startswith("|") for line in md.splitlines()) == 2 + len(rows)  # header, rule, rows
    assert md.endswith("In the baseline but not measured now: reflect/a, reflect/b\n\n"
                       "New, without a baseline: micro/new\n")


def test_google_benchmark_against_itself(files, tmp_path):
    doc = {"context": {}, "benchmarks": [
        {"name": "reflect/a", "run_name": "reflect/a", "run_type": "iteration", "real_time": 20.0, "time_unit": "ns"},
        {"name": "reflect/a", "run_name": "reflect/a", "run_type": "iteration", "real_time": 21.0, "time_unit": "ns"},
        {"name": "reflect/a_mean", "run_name": "reflect/a", "run_type": "aggregate", "real_time": 20.5,
         "time_unit": "ns"}]}
    (tmp_path / "gb.json").write_text(json.dumps(doc))
    rows, status, _, _ = run(files, "gb.json", "gb.json")
    r = rows["micro/reflect/a"]
    assert (r.base, r.cur, r.ratio) == (20.5, 20.5, 1.0) and status == EXIT_OK


def test_a_saved_baseline_against_its_own_results(files, base, tmp_path):
    files.write("m-here", {"kind": "meta", "machine": {"id": "abc", "cpus": 2}, "config": {"profile": "quick"}})
    files.icount("m-here", 164, 39)
    files.timed("m-here", "micro/x", BASE)
    ms, metas = metrics.load_files([str(tmp_path / "m-here")])
    metrics.save_baseline(str(tmp_path / "saved"), ms, metas)
    saved, saved_metas = metrics.load_files([str(tmp_path / "saved")])
    metrics.check_same_setting(saved_metas, metas, False)
    rows, _, _ = judge.compare(saved, ms, Settings())
    x = {r.name: r for r in rows}["micro/x"]
    assert (x.base, x.cur, x.ratio, x.verdict) == (10.05, 10.05, 1.0, "no change")


DRIFT = [10, 14, 8, 12, 11, 9, 13, 10.5]
MOVED = [10.1, 13.86, 8, 12.24, 10.78, 9, 13.13, 10.395]  # x 1.01 0.99 1 1.02 0.98 1 1.01 0.99


def test_paired_samples_are_judged_by_their_pairs(files):
    files.paired("pa", DRIFT)
    files.paired("pb", MOVED)
    rows, status, _, s = run(files, "pa", "pb", gate_timed=True)
    r = rows["e2e/cpu"]
    assert status == EXIT_OK and r.pairs == 8
    # 8 pairs at 99 %: k = 1, the interval runs from the smallest to the largest pair ratio
    assert r.ci == pytest.approx((0.98, 1.02))
    assert round(r.ratio, 3) == 1.000 and r.detectable == pytest.approx(0.0202, abs=1e-4)
    assert r.p == pytest.approx(0.6875)  # ties among |log ratios|: the normal approximation
    assert r.verdict == "no change"
    assert judge.cells(r, s)[5:] == ["[0.980, 1.020] (8 pairs)", "±2.0%", "±5%", "0.688", "no change"]
    # the same samples without pair numbers: the drift swamps the interval
    files.paired("ua", DRIFT, pairs=False)
    files.paired("ub", MOVED, pairs=False)
    rows, status, _, _ = run(files, "ua", "ub", gate_timed=True)
    assert status == EXIT_INCONCLUSIVE and rows["e2e/cpu"].pairs is None
    assert rows["e2e/cpu"].verdict == "inconclusive (the interval reaches beyond ±5%)"
    # one side paired, the other not: judged unpaired, never half-paired
    rows, status, _, _ = run(files, "pa", "ub", gate_timed=True)
    assert status == EXIT_INCONCLUSIVE and rows["e2e/cpu"].pairs is None


def test_a_paired_slowdown_of_3_5_to_7_percent_is_a_regression(files):
    files.paired("pa", DRIFT)
    files.paired("ps", [10.4, 14.63, 8.4, 12.66, 11.66, 9.585, 13.455, 11.235])
    rows, status, _, _ = run(files, "pa", "ps", gate_timed=True, timed_threshold=0.03)
    r = rows["e2e/cpu"]
    assert status == EXIT_REGRESSION and r.verdict == "REGRESSION" and r.gating
    assert 1.05 <= r.ratio < 1.06
    assert r.ci == pytest.approx((1.035, 1.07))
    assert r.p == pytest.approx(2 / 256)  # all 8 pairs slower, untied: exact


def test_pairs_that_do_not_match_are_not_paired(files):
    files.paired("pa", DRIFT)
    files.write("few", *({"kind": "timed", "name": "e2e/cpu", "value": v, "pair": 100 + k}
                         for k, v in enumerate(MOVED)))
    rows, _, _, _ = run(files, "pa", "few")
    assert rows["e2e/cpu"].pairs is None  # no pair number in common


def paired_series(rng, n, factor):
    drift = 100 * np.exp(rng.normal(0, 0.15, n))  # the machine moves a lot between pairs
    base = drift * np.exp(rng.normal(0, 0.01, n))
    cur = drift * factor * np.exp(rng.normal(0, 0.01, n))
    return list(base), list(cur)


@pytest.mark.parametrize("seed", range(5))
def test_paired_a_a_and_a_paired_10_percent_slowdown(files, seed):
    rng = np.random.default_rng(seed)
    base, same = paired_series(rng, 12, 1.0)
    files.paired(f"a{seed}", base)
    files.paired(f"b{seed}", same)
    rows, status, _, _ = run(files, f"a{seed}", f"b{seed}", gate_timed=True)
    r = rows["e2e/cpu"]
    assert (status, r.verdict, r.pairs) == (EXIT_OK, "no change", 12)
    assert 1 / 1.05 <= r.ci[0] <= 1 <= r.ci[1] <= 1.05
    base, slow = paired_series(rng, 12, 1.10)
    files.paired(f"c{seed}", base)
    files.paired(f"d{seed}", slow)
    rows, status, _, _ = run(files, f"c{seed}", f"d{seed}", gate_timed=True)
    r = rows["e2e/cpu"]
    assert (status, r.verdict) == (EXIT_REGRESSION, "REGRESSION")
    assert r.ci[0] > 1.05 and r.ci[0] <= 1.10 <= r.ci[1]
    assert r.p == pytest.approx(2 / 4096)  # 12 untied pairs, all slower


def test_higher_is_better_turns_the_verdicts_round(files):
    files.write("ha", *({"name": "pps", "value": v, "better": "higher"} for v in BASE))
    files.write("hb", *({"name": "pps", "value": v, "better": "higher"} for v in SLOWER))
    rows, status, _, _ = run(files, "ha", "hb", gate_timed=True)
    assert status == EXIT_OK and rows["pps"].verdict == "improved"
    rows, status, _, _ = run(files, "hb", "ha", gate_timed=True)
    assert status == EXIT_REGRESSION and rows["pps"].verdict == "REGRESSION"


def test_legend_follows_the_settings():
    assert "timed metrics inform" in judge.legend(Settings())
    text = judge.legend(Settings(gate_timed=True, alpha=0.05, icount_threshold=0.02, timed_threshold=0.1))
    assert "inform" not in text and "95%" in text and "±2.0%" in text and "±10%" in text
    assert len(judge.COLUMNS) == 10
