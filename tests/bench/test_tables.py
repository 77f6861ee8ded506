"""The tables of `run` and `compare`, as numbers, from given trial records."""
import pytest

from tapreflect_bench import compare, engines, run
from tapreflect_bench.model import BenchError, in_force


def trial(rep, load, engine, cpu, pps=100000.0):
    return {"rep": rep, "load": load, "engine": engine, "cpu_ns_per_frame": cpu, "reflected_pps": pps,
            "offered_pps": pps, "loss_ratio": 0.0, "frames_per_wakeup": 4.0, "rtt_p50_us": 30.0,
            "rtt_p99_us": 90.0, "accounting_exact": True}


def test_compare_paired_ratios_are_medians_of_each_repetitions_ratio():
    # Repetition 1: ref 1000 at max, 3000 at 30 %; B 1100 and 3600.  Repetition 2: ref 2000 / 5000,
    # B 2000 / 4000.  cpu/ref of B at 30 %: 3600/3000 = 1.2 and 4000/5000 = 0.8, median 1.0;
    # cpu/first: 3600/1000 = 3.6 and 4000/2000 = 2.0, median 2.8.  A ratio of medians would give
    # 3800/4000 = 0.95 and 3800/1500: the pairing is what is tested.
    trials = [trial(1, "max", "ref@1q", 1000), trial(1, "max", "b@1q", 1100),
              trial(1, "30%", "ref@1q", 3000), trial(1, "30%", "b@1q", 3600),
              trial(2, "max", "ref@1q", 2000), trial(2, "max", "b@1q", 2000),
              trial(2, "30%", "ref@1q", 5000), trial(2, "30%", "b@1q", 4000)]
    rows = {(r["load"], r["engine"]): r for r in compare.table(trials, ["max", "30%"], ["ref@1q", "b@1q"], "ref@1q")}
    b30 = rows[("30%", "b@1q")]
    assert b30["cpu_ref"] == pytest.approx([1.2, 0.8])
    assert b30["cpu_first"] == pytest.approx([3.6, 2.0])
    assert compare.ratio_text(b30["cpu_ref"]) == "1.000 [0.80..1.20]"
    assert compare.ratio_text(b30["cpu_first"]) == "2.800 [2.00..3.60]"
    ref = rows[("max", "ref@1q")]
    assert compare.ratio_text(ref["cpu_ref"]) == "1.000 [1.00..1.00]"
    assert b30["cpu_ns_per_frame"] == 3800  # the median of 3600 and 4000
    text = compare.format_table(list(rows.values()))
    assert "2.800 [2.00..3.60]" in text


def test_compare_ratio_text_single_and_none():
    assert compare.ratio_text([]) == "-"
    assert compare.ratio_text([1.23456]) == "1.235"


def test_run_summary_ratios_against_the_sync_twin_and_noise_bound():
    def rec(io, rep, ndr, cpu):
        return {"scenario": f"tun/64B/{io}/1q", "io": io, "rep": rep, "ndr_pps": ndr, "pdr_pps": ndr * 1.1,
                "rtt_p50_us": 40.0, "rtt_p99_us": 100.0, "cpu_ns_per_frame": cpu}

    recs = [rec("uring", 1, 500e3, 1500), rec("sync", 1, 400e3, 1800), rec("uring", 2, 520e3, 1400),
            rec("sync", 2, 410e3, 2000), rec("uring", 3, 480e3, 1600), rec("sync", 3, 390e3, 1900)]
    rows = {r["scenario"]: r for r in run.summarize(recs)}
    u = rows["tun/64B/uring/1q"]
    assert u["ndr"] == 500e3 and u["ndr_min"] == 480e3 and u["ndr_max"] == 520e3
    assert u["ndr_ratio"] == pytest.approx(500 / 400)
    assert u["cpu_ratio"] == pytest.approx(1500 / 1900)
    assert u["ndr_noise_bound"] is False  # 480..520 against 390..410: apart
    assert "ndr_ratio" not in rows["tun/64B/sync/1q"]
    recs.append(rec("sync", 4, 600e3, 1900))  # the ranges now overlap
    assert {r["scenario"]: r for r in run.summarize(recs)}["tun/64B/uring/1q"]["ndr_noise_bound"] is True
    assert "1.250" in run.table(run.summarize(recs[:6]))


def test_engine_names():
    assert engines.engine_args("sync") == ["--io", "sync"]
    assert engines.engine_args("fixed:4+c50+perqueue") == ["--io", "uring", "--read", "fixed", "--fixed-reads", "4",
                                                          "--coalesce", "50", "--workers", "per-queue"]
    with pytest.raises(BenchError, match="unknown engine modifier"):
        engines.engine_args("multishot+turbo")
    with pytest.raises(BenchError, match="unknown engine"):
        engines.engine_args("dpdk")


def test_run_report_first_screen_holds_the_engine_ratios(tmp_path):
    from tapreflect_bench import judge, metrics, report

    def rec(io, rep, ndr, cpu):
        return {"scenario": f"tap/64B/{io}/1q", "io": io, "rep": rep, "ndr_pps": ndr, "pdr_pps": ndr,
                "rtt_p50_us": 40.0, "rtt_p99_us": 100.0, "cpu_ns_per_frame": cpu}

    recs = [rec("uring", 1, 500e3, 1500), rec("sync", 1, 400e3, 2000)]
    ov = run.overview(run.summarize(recs))
    assert ov["rows"][0][:2] == ["tap/64B/uring/1q", "500.0"] and ov["rows"][0][-1] == "0.750"
    cur = metrics.metrics_from_lines(run.metric_lines(recs))
    path = tmp_path / "r.html"
    report.render_report(str(path), title="t", rows=None, base=None, cur=cur, base_metas=[], cur_metas=[],
                         missing=[], added=[], settings=judge.Settings(), traces={}, overview=ov,
                         against="no earlier comparable run in the store")
    html = path.read_text()
    summary = html[html.index('<section id="summary"'):html.index("</section>")]
    assert '<table class="overview">' in summary and "0.750" in summary
    assert "no earlier comparable run" in summary


def test_micro_instruction_counts_and_timed_lines():
    from tapreflect_bench import micro

    # Two dumps per case: the reflect loop, then the same loop's frame copy.
    lines = micro.icount_lines(["respond/tap/udp_64", "drop/tap/runt"], [250_000, 102_000, 90_000, 26_000], 1000)
    assert [(m["name"], m["value"], m["kind"]) for m in lines] == [
        ("reflect/respond/tap/udp_64", 148.0, "icount"), ("reflect/drop/tap/runt", 64.0, "icount")]
    with pytest.raises(BenchError, match="3 dumps for 2 cases"):
        micro.icount_lines(["a", "b"], [1, 2, 3], 10)
    assert micro.dump_summary("events: Ir\nsummary: 123456\ntotals: 1\n", "cg.1") == 123456
    with pytest.raises(BenchError, match="no summary line"):
        micro.dump_summary("events: Ir\n", "cg.2")
    doc = {"benchmarks": [{"name": "x", "run_name": "reflect/udp", "run_type": "iteration", "real_time": 0.0123,
                           "time_unit": "us"},
                          {"name": "x_mean", "run_type": "aggregate", "real_time": 1, "time_unit": "ns"}]}
    assert micro.timed_lines(doc) == [{"kind": "timed", "name": "micro/reflect/udp", "value": 12.3,
                                       "unit": "ns/frame", "better": "lower"}]


def test_in_force_reads_a_summary_of_either_schema():
    queues = [{"queue": 0, "read": "fixed", "wait": "sleep", "ring_flags": "COOP_TASKRUN", "fallback": ""},
              {"queue": 1, "read": "fixed-nonblock", "wait": "sleep", "ring_flags": "COOP_TASKRUN",
               "fallback": "--read fixed: the kernel refused RWF_NOWAIT: O_NONBLOCK"}]
    v2 = {"schema_version": 2, "link": "tap", "steering": "kernel", "steering_why": "", "threads": 2,
          "per_queue": queues}
    assert in_force(v2, "wait") == "sleep" and in_force(v2, "ring_flags") == "COOP_TASKRUN"
    assert in_force(v2, "read") == "q0 fixed, q1 fixed-nonblock"
    assert in_force(v2, "steering") == "kernel" and in_force(v2, "threads") == 2
    # --io sync has no ring: nothing to say, rather than a value no queue has.
    assert in_force({"per_queue": [{"queue": 0, "read": "blocking"}]}, "ring_restricted") is None
    # Schema 1: queue 0's at the top, the device kind under its old name.
    v1 = {"schema_version": 1, "mode": "tun", "read": "multishot", "per_queue": [{"queue": 0}]}
    assert in_force(v1, "link") == "tun" and in_force(v1, "read") == "multishot"
    assert in_force(v1, "steering_why") is None
