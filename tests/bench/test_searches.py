"""The pure parts of the searches subcommand: its methods' list, the order of a repetition, the
table's medians and spreads from given search records, the paired ratios and the verdict lines
(no timing here: the searches themselves run in tests/net)."""
import pytest

from tapreflect_bench import searches
from tapreflect_bench.model import BenchError


def rec(method, rep, ndr, pdr, wall, trials=10):
    return {"method": method, "rep": rep, "ndr_pps": ndr, "pdr_pps": pdr, "wall_s": wall, "trials": trials,
            "complete": True}


def test_parse_methods():
    assert searches.parse_methods("binary mlr") == ["binary", "mlr"]
    assert searches.parse_methods("mlr,binary") == ["mlr", "binary"]
    for bad in ("", "bisect", "mlr mlr"):
        with pytest.raises(BenchError):
            searches.parse_methods(bad)


def test_order_alternates_so_neither_always_goes_first():
    assert searches.order(["binary", "mlr"], 1) == ["binary", "mlr"]
    assert searches.order(["binary", "mlr"], 2) == ["mlr", "binary"]
    assert searches.order(["binary"], 2) == ["binary"]


def test_search_record_counts_the_trace_and_its_trial_time():
    g = {"ndr_pps": 1000, "pdr_pps": 1200, "ceiling_pps": 5000,
         "trace": [{"duration_s": 0.1}, {"duration_s": 1.0}, {"duration_s": 1.0}]}
    r = searches.search_record("mlr", 3, g, 4.5)
    assert (r["trials"], r["trial_s"], r["wall_s"], r["rep"]) == (3, pytest.approx(2.1), 4.5, 3)
    assert r["complete"]
    assert not searches.search_record("mlr", 1, {**g, "complete": False}, 1.0)["complete"]


def test_table_medians_spreads_and_paired_ratios():
    recs = []
    for rep, (nb, nm) in enumerate([(100, 102), (110, 108), (90, 95), (105, 104), (98, 99)], start=1):
        recs.append(rec("binary", rep, nb * 1e3, nb * 1.1e3, 40.0 + rep))
        recs.append(rec("mlr", rep, nm * 1e3, nm * 1.1e3, 20.0 + rep / 2))
    rows = searches.table(recs, ["binary", "mlr"])
    b, m = rows
    assert b["ndr"] == {"median": 100e3, "min": 90e3, "max": 110e3}
    assert m["ndr"]["median"] == 102e3 and b["searches"] == m["searches"] == 5
    assert b["time_ratio"] is None
    # Every pair's mlr time is about half of binary's: the estimate says so.
    assert 0.45 < m["time_ratio"].ratio < 0.55
    assert m["time_ratio"].pairs == 5
    lines = searches.verdicts(rows)
    assert len(lines) == 1 and "within binary's spread 90.0..110.0" in lines[0]


def test_verdict_says_when_the_ndr_is_outside_the_reference_spread():
    recs = [rec("binary", 1, 100e3, 110e3, 10), rec("binary", 2, 101e3, 111e3, 10),
            rec("mlr", 1, 150e3, 160e3, 5), rec("mlr", 2, 151e3, 161e3, 5)]
    rows = searches.table(recs, ["binary", "mlr"])
    assert "OUTSIDE" in searches.verdicts(rows)[0]
    # One method alone: a table, no verdict.
    assert searches.verdicts(searches.table(recs, ["mlr"])) == []
    assert "mlr" in searches.format_table(rows)
