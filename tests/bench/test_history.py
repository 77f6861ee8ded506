"""Trends, change points and history baselines, on SQLite and on PostgreSQL."""
from __future__ import annotations

import pytest

from pg import pg_server, store_target  # noqa: F401  (fixtures)
from tapreflect_bench import history
from tapreflect_bench import store as store_mod
from tapreflect_bench.model import EXIT_BAD_INPUT, EXIT_NO_DATA, BenchError, Run, Sample

MACHINE = {"id": "m-kvm2", "cpu": "AMD EPYC", "cpus": 2, "kernel": "6.18.0"}
CONFIG = {"profile": "quick", "mode": "respond"}
METRIC = "e2e/tun/64B/uring/1q/cpu_ns_per_frame"
# A deterministic wobble of ±0.6 % around each level: the runs are not all alike.
WOBBLE = [0.0, 0.4, -0.3, 0.6, -0.5, 0.2, -0.1, 0.5, -0.6, 0.3]


def run_at(i: int, level: float, *, machine: dict = MACHINE, config: dict = CONFIG, metric: str = METRIC,
           complete: bool = True) -> Run:
    """Run i (from 0) with 5 samples around level (the run's median is level * (1 + wobble))."""
    centre = level * (1 + WOBBLE[i % len(WOBBLE)] / 100)
    day = f"2025-03-{1 + i:02d}"
    return Run(kind="run", started=f"{day}T12:00:00+00:00", finished=f"{day}T12:05:00+00:00",
               machine=dict(machine), config=dict(config), version="tapreflect 0.1.0", commit=f"{i:02d}" * 20,
               complete=complete,
               samples=[Sample(metric=metric, value=centre + d, unit="ns/frame", better="lower", pair=k)
                        for k, d in enumerate((-2.0, -1.0, 0.0, 1.0, 2.0))])


@pytest.fixture
def stepped(store_target):  # noqa: F811
    """20 runs: 10 at 1500 ns/frame, then 10 at 1650 (+10 % from run 11 on)."""
    with store_mod.open_store(store_target) as st:
        ids = [st.save_run(run_at(i, 1500.0 if i < 10 else 1650.0)) for i in range(20)]
        yield st, ids


def test_trend_finds_the_step(stepped):
    pytest.importorskip("tapreflect_bench.changepoint")
    st, ids = stepped
    t = history.trend(st, METRIC)
    assert (t.machine_id, t.config_key, t.unit, t.better) == ("m-kvm2", store_mod.config_key(CONFIG),
                                                              "ns/frame", "lower")
    assert [p.run_id for p in t.points] == ids
    assert [p.n for p in t.points] == [5] * 20
    assert t.points[3].value == pytest.approx(1500 * 1.006)
    assert t.points[13].value == pytest.approx(1650 * 1.006)
    assert len(t.changes) == 1
    c = t.changes[0]
    assert c.index == 10 and c.run_before == ids[9] and c.run_after == ids[10]
    assert c.commit_before == "09" * 20 and c.commit_after == "10" * 20
    assert c.before == pytest.approx(1500 * (1 + sum(WOBBLE) / 1000))
    assert c.after == pytest.approx(1650 * (1 + sum(WOBBLE) / 1000))
    assert c.ratio == pytest.approx(1.1)
    lo, hi = c.interval
    assert 1.0 < lo < 1.1 < hi < 1.2

    text = history.format_trend(t)
    lines = text.splitlines()
    rows = [ln for ln in lines if ln[3:9].strip().isdigit()]
    assert len(rows) == 20
    assert [ln[1] for ln in rows] == [" "] * 10 + [">"] + [" "] * 9
    assert str(ids[10]) in rows[10] and "1010101010" in rows[10]
    assert lines[-1].startswith(f"change at run {ids[10]}, after run {ids[9]}")
    assert "ratio 1.100" in lines[-1]


def test_a_flat_trend_has_no_change(store_target):  # noqa: F811
    pytest.importorskip("tapreflect_bench.changepoint")
    with store_mod.open_store(store_target) as st:
        for i in range(12):
            st.save_run(run_at(i, 1500.0, complete=(i != 4)))
        t = history.trend(st, METRIC, machine_id="m-kvm2", config_key=store_mod.config_key(CONFIG))
        assert t.changes == [] and len(t.points) == 12
        assert [p.complete for p in t.points] == [i != 4 for i in range(12)]
        text = history.format_trend(t)
        assert text.splitlines()[-1] == "no change point" and text.count("(incomplete)") == 1


def test_trend_errors(store_target):  # noqa: F811
    with store_mod.open_store(store_target) as st:
        err = pytest.raises(BenchError, history.trend, st, METRIC).value
        assert err.status == EXIT_NO_DATA and "no run yet" in str(err)
        st.save_run(run_at(0, 100.0))
        st.save_run(run_at(1, 100.0, machine={"id": "m-big"}))
        st.save_run(run_at(2, 100.0, config={"profile": "full"}))
        st.save_run(run_at(3, 100.0, metric="other/metric"))

        err = pytest.raises(BenchError, history.trend, st, "nosuch").value
        assert err.status == EXIT_BAD_INPUT and "nosuch" in str(err)
        assert METRIC in str(err) and "other/metric" in str(err)

        err = pytest.raises(BenchError, history.trend, st, METRIC).value
        assert err.status == EXIT_BAD_INPUT and "several machines: m-big, m-kvm2" in str(err)

        err = pytest.raises(BenchError, history.trend, st, METRIC, machine_id="m-gone").value
        assert err.status == EXIT_BAD_INPUT and "m-gone" in str(err) and "m-big, m-kvm2" in str(err)

        err = pytest.raises(BenchError, history.trend, st, "other/metric", machine_id="m-big").value
        assert err.status == EXIT_BAD_INPUT and "never measured on machine m-big" in str(err)

        err = pytest.raises(BenchError, history.trend, st, METRIC, machine_id="m-kvm2").value
        assert err.status == EXIT_BAD_INPUT and "several configurations" in str(err)
        assert store_mod.config_key(CONFIG) in str(err) and store_mod.config_key({"profile": "full"}) in str(err)

        err = pytest.raises(BenchError, history.trend, st, METRIC, machine_id="m-kvm2", config_key="0" * 16).value
        assert err.status == EXIT_BAD_INPUT and "0" * 16 in str(err)

        # One machine and one configuration: taken without being named.
        pytest.importorskip("tapreflect_bench.changepoint")
        t = history.trend(st, METRIC, machine_id="m-big")
        assert t.config_key == store_mod.config_key(CONFIG) and len(t.points) == 1
        t = history.trend(st, "other/metric")
        assert (t.machine_id, len(t.points)) == ("m-kvm2", 1)


def test_history_baseline(stepped):
    st, ids = stepped
    key = store_mod.config_key(CONFIG)
    extra = run_at(20, 2000.0, complete=False)  # interrupted: never part of a baseline
    extra.samples.append(Sample(metric="only/incomplete", value=1.0))
    st.save_run(extra)
    base = history.history_baseline(st, [METRIC, "not/stored"], "m-kvm2", key, 3)
    assert list(base) == [METRIC]
    m = base[METRIC]
    expected = [s.value for i in (17, 18, 19) for s in run_at(i, 1650.0).samples]
    assert m.samples == expected and m.pairs == [None] * 15
    assert (m.unit, m.better, m.kind) == ("ns/frame", "lower", "timed")
    # The run being judged is not its own baseline.
    base = history.history_baseline(st, [METRIC], "m-kvm2", key, 2, exclude_run=ids[19])
    assert base[METRIC].samples == [s.value for i in (17, 18) for s in run_at(i, 1650.0).samples]
    # More runs asked for than there are: all of them.
    assert len(history.history_baseline(st, [METRIC], "m-kvm2", key, 100)[METRIC].samples) == 100

    for names, mid, k in (([METRIC], "m-other", key), ([METRIC], "m-kvm2", "f" * 16),
                          (["only/incomplete"], "m-kvm2", key)):
        err = pytest.raises(BenchError, history.history_baseline, st, names, mid, k, 5).value
        assert err.status == EXIT_NO_DATA
