"""The pure parts of the scaling subcommand: the queue counts of "auto", the CPUs of queues and
generators, the generators' ports and rates, the aggregate of their records, and the table with its
paired ratios and its shared-CPU notes, from given records; and the lab's start of several processes
before any is waited for (no timing here)."""
import pytest

from tapreflect_bench import scaling
from tapreflect_bench.model import BenchError


@pytest.mark.parametrize("ncpus, queues", [(1, [1, 2]), (2, [1, 2]), (3, [1, 2]), (4, [1, 2]), (7, [1, 2]),
                                           (8, [1, 2, 4]), (16, [1, 2, 4, 8]), (64, [1, 2, 4, 8, 16, 32])])
def test_auto_queues_are_powers_of_two_up_to_half_the_cpus_and_always_1_and_2(ncpus, queues):
    assert scaling.auto_queues(ncpus) == queues
    assert scaling.parse_queues("auto", ncpus) == queues


def test_parse_queues_sorts_and_refuses_nonsense():
    assert scaling.parse_queues("4 1 2 2", 2) == [1, 2, 4]
    assert scaling.parse_queues("1,2", 2) == [1, 2]
    for bad in ("x", "0", "1 300", ""):
        with pytest.raises(BenchError):
            scaling.parse_queues(bad, 2)


def test_parse_rate():
    assert scaling.parse_rate("max") == 0
    assert scaling.parse_rate("200000") == 200000
    for bad in ("0", "fast", "-5"):
        with pytest.raises(BenchError):
            scaling.parse_rate(bad)


def test_cpus_queue_i_on_cpu_i_generators_on_the_next_ones():
    lay = scaling.assign_cpus(2, [0, 1, 2, 3])
    assert lay["reflector_cpus"] == [0, 1] and lay["generator_cpus"] == [2, 3]
    assert not lay["shared"] and not lay["gen_shared"] and not lay["queues_shared"]
    lay = scaling.assign_cpus(4, [2, 3, 5, 7, 8, 9, 10, 11])  # the allowed CPUs, not 0..n-1
    assert lay["reflector_cpus"] == [2, 3, 5, 7] and lay["generator_cpus"] == [8, 9, 10, 11]
    assert not lay["shared"]
    lay = scaling.assign_cpus(1, [0, 1])
    assert lay["reflector_cpus"] == [0] and lay["generator_cpus"] == [1] and not lay["shared"]


def test_too_few_cpus_share_and_say_so():
    # 2 queues on 2 CPUs: the generators wrap around onto the reflector's CPUs.
    lay = scaling.assign_cpus(2, [0, 1])
    assert lay["reflector_cpus"] == [0, 1] and lay["generator_cpus"] == [0, 1]
    assert lay["shared"] and lay["gen_shared"] and not lay["queues_shared"]
    # 2 queues on 3 CPUs: one generator has a CPU of its own, the other shares.
    lay = scaling.assign_cpus(2, [0, 1, 2])
    assert lay["generator_cpus"] == [2, 0] and lay["gen_shared"]
    # More queues than CPUs: queues share CPUs too.
    lay = scaling.assign_cpus(4, [0, 1])
    assert lay["reflector_cpus"] == [0, 1, 0, 1] and lay["queues_shared"] and lay["shared"]
    # One CPU: everything on it.
    lay = scaling.assign_cpus(1, [3])
    assert lay["reflector_cpus"] == [3] and lay["generator_cpus"] == [3] and lay["gen_shared"]


def test_port_ranges_are_disjoint_and_bounded():
    assert scaling.port_ranges(1, 16) == [(9000, 16)]
    assert scaling.port_ranges(4, 16) == [(9000, 16), (9016, 16), (9032, 16), (9048, 16)]
    ranges = scaling.port_ranges(8, 100)
    ports = [p for first, n in ranges for p in range(first, first + n)]
    assert len(ports) == len(set(ports)) == 800
    with pytest.raises(BenchError, match="65535"):
        scaling.port_ranges(64, 1000)


def test_rate_split():
    assert scaling.rate_split(0, 3) == [0, 0, 0]
    assert scaling.rate_split(100000, 2) == [50000, 50000]
    assert scaling.rate_split(10, 3) == [4, 3, 3] and sum(scaling.rate_split(10, 3)) == 10


def gen(offered, reflected, sent, lost, p50, p99):
    return {"offered_pps": offered, "reflected_pps": reflected, "sent": sent, "received": sent - lost,
            "lost": lost, "loss_ratio": lost / sent, "rtt_us": {"p50": p50, "p99": p99}}


def test_aggregate_sums_rates_loss_over_all_sent_and_worst_rtt():
    a = scaling.aggregate([gen(200e3, 190e3, 400000, 20000, 50.0, 900.0),
                           gen(100e3, 100e3, 200000, 0, 80.0, 300.0)])
    assert a["offered_pps"] == 300e3 and a["reflected_pps"] == 290e3
    assert a["sent"] == 600000 and a["lost"] == 20000 and a["received"] == 580000
    assert a["loss_ratio"] == pytest.approx(20000 / 600000)  # not the mean of 5 % and 0 %
    assert a["rtt_p50_us"] == 80.0 and a["rtt_p99_us"] == 900.0


def test_busiest_share_and_syscall():
    assert scaling.busiest_share({"per_queue": [{"frames_read": 300}, {"frames_read": 100}]}) == 0.75
    assert scaling.busiest_share({"per_queue": [{"frames_read": 0}]}) is None
    assert scaling.busiest_share({}) is None
    assert scaling.syscall_ns({"type": "start"}, {"type": "summary"}) is None
    assert scaling.syscall_ns(None, {"syscall_ns": 250}) == 250
    assert scaling.syscall_ns({"syscall_ns": 180.5}, {"syscall_ns": 250}) == 180.5  # the start record first
    assert scaling.syscall_ns({"syscall_ns": 0}, {"syscall_ns": 0}) is None  # 0: the clock could not be read
    assert scaling.syscall_text([None, None]) is None
    assert scaling.syscall_text([200, None, 300, 250]) == "syscall 250 ns"


def trial(rep, q, pps, cpu, cpus=(0, 1)):
    lay = scaling.assign_cpus(q, list(cpus))
    return {"rep": rep, "queues": q, **lay, "offered_pps": pps * 1.1, "reflected_pps": pps, "loss_ratio": 0.01,
            "cpu_ns_per_frame": cpu, "busiest_share": 1.0 / q, "rtt_p50_us": 40.0, "rtt_p99_us": 400.0,
            "accounting_exact": True}


def test_table_ratios_are_paired_per_repetition():
    # Rep 1: 1q 200 kpps / 3000 ns, 2q 300 kpps / 3300 ns: 1.5 and 1.1.  Rep 2: 1q 100 kpps / 2000 ns,
    # 2q 180 kpps / 2600 ns: 1.8 and 1.3.  Rep 3: 1q 150 kpps, 2q 180 kpps: 1.2; 2500 and 2500: 1.0.
    # A ratio of medians would give 180/150 = 1.2 and 2600/2500; the pairing is what is tested.
    trials = [trial(1, 1, 200e3, 3000), trial(1, 2, 300e3, 3300), trial(2, 1, 100e3, 2000),
              trial(2, 2, 180e3, 2600), trial(3, 1, 150e3, 2500), trial(3, 2, 180e3, 2500)]
    rows = {r["queues"]: r for r in scaling.table(trials, [1, 2])}
    one, two = rows[1], rows[2]
    assert one["pps_ratio"] is None and one["cpu_ratio"] is None and not one["shared"]
    assert two["pps_ratio"] == pytest.approx([1.5, 1.8, 1.2])
    assert two["cpu_ratio"] == pytest.approx([1.1, 1.3, 1.0])
    assert scaling.ratio_text(two["pps_ratio"]) == "1.500 [1.20..1.80]"
    assert scaling.ratio_text(two["cpu_ratio"]) == "1.100 [1.00..1.30]"
    assert two["reflected_pps"] == 180e3 and two["cpu_ns_per_frame"] == 2600 and two["reps"] == 3
    assert two["shared"] and two["reflector_cpus"] == [0, 1] and two["generator_cpus"] == [0, 1]
    text = scaling.format_table(list(rows.values()), 1)
    lines = text.splitlines()
    assert "pps Nq/1q" in lines[0] and "cpu/fr Nq/1q" in lines[0] and "shared" in lines[0]
    assert "(ref)" in lines[1] and " no " in lines[1]
    assert "1.500 [1.20..1.80]" in lines[2] and "yes *" in lines[2] and "50 %" in lines[2]
    assert "180.0" in lines[2] and "2600" in lines[2]


def test_table_reference_is_the_first_queue_count_and_a_missing_rep_is_left_out():
    trials = [trial(1, 2, 200e3, 3000, cpus=range(8)), trial(1, 4, 360e3, 3300, cpus=range(8)),
              trial(2, 2, 200e3, 3000, cpus=range(8))]  # rep 2 has no 4q trial (interrupted)
    rows = {r["queues"]: r for r in scaling.table(trials, [2, 4])}
    assert rows[4]["pps_ratio"] == pytest.approx([1.8]) and not rows[4]["shared"]
    assert "pps Nq/2q" in scaling.format_table(list(rows.values()), 2)
    assert scaling.shared_notes(list(rows.values())) == []


def test_shared_notes_say_which_cpus_and_why():
    rows = scaling.table([trial(1, 1, 1e5, 3000), trial(1, 2, 1e5, 3000), trial(1, 4, 1e5, 3000)], [1, 2, 4])
    notes = scaling.shared_notes(rows)
    assert len(notes) == 2
    assert notes[0].startswith("* 2q: the generators run on the reflector's CPUs 0,1")
    assert "not a scaling figure of the reflector alone" in notes[0]
    assert "4 queues share 2 CPU(s)" in notes[1]


def test_trial_record_and_metric_lines():
    lay = scaling.assign_cpus(2, [0, 1, 2, 3])
    gens = [gen(200e3, 200e3, 400000, 0, 50.0, 500.0), gen(210e3, 190e3, 420000, 20000, 60.0, 700.0)]
    summary = {"type": "summary", "cpu_ns_per_frame": 2500.0, "frames_read": 780000, "accounting_exact": True,
               "threads": 2, "steering": "hash", "syscall_ns": 210,
               "per_queue": [{"queue": 0, "frames_read": 400000, "read": "multishot", "wait": "sleep"},
                             {"queue": 1, "frames_read": 380000, "read": "multishot", "wait": "sleep"}]}
    rec = scaling.trial_record(1, 2, lay, gens, scaling.port_ranges(2, 16), summary, {"type": "start"})
    assert rec["reflected_pps"] == 390e3 and rec["offered_pps"] == 410e3 and rec["rtt_p99_us"] == 700.0
    assert rec["busiest_share"] == pytest.approx(400000 / 780000) and rec["per_queue_frames"] == [400000, 380000]
    assert rec["syscall_ns"] == 210 and rec["read"] == "multishot" and rec["accounting_exact"] is True
    assert [(g["cpu"], g["port"], g["flows"]) for g in rec["generators"]] == [(2, 9000, 16), (3, 9016, 16)]
    ref = dict(rec, queues=1, reflected_pps=195e3)
    lines = scaling.metric_lines(rec, ref)
    assert [m["name"] for m in lines] == ["scaling/2q/reflected_pps", "scaling/2q/cpu_ns_per_frame",
                                          "scaling/2q/pps_vs_1q"]
    assert lines[2]["value"] == pytest.approx(2.0) and all(m["pair"] == 1 for m in lines)
    assert [m["name"] for m in scaling.metric_lines(ref, ref)] == ["scaling/1q/reflected_pps",
                                                                   "scaling/1q/cpu_ns_per_frame"]


def test_header_names_the_machine_and_the_syscall_cost_when_reported():
    ident = {"cpus": 2, "cpu": "AMD EPYC", "kernel": "6.18.0"}
    h = scaling.header("tun", "multishot", 18, 16, 2, 3, 0, ident, [0, 1], None)
    assert "machine: 2 CPUs (AMD EPYC), 2 allowed (0,1)" in h and "syscall" not in h
    h = scaling.header("tun", "multishot", 18, 16, 2, 3, 0, ident, [0, 1], "syscall 250 ns")
    assert h.endswith("; syscall 250 ns")


# -- lab.py: several processes started before any is waited for -----------------------------------

READY = ("import os, sys, time; fd = int(sys.argv[2]); os.write(fd, b'{\"type\": \"start\", \"n\": %d}\\n'); "
         "os.close(fd); time.sleep(60)")


class FakeLab:
    """What lab.Process needs of a lab: a directory for its output and the list of what it started."""

    def __init__(self, tmp):
        self.tmp, self.procs = tmp, []


def test_deferred_readiness_starts_all_then_reads_each_start_record(tmp_path):
    from tapreflect_bench.lab import Process

    lab = FakeLab(tmp_path)
    procs = [Process(lab, f"p{i}", ["/usr/bin/python3", "-c", READY % i], ready=True, defer_ready=True)
             for i in range(3)]
    try:
        assert all(p.start_record is None for p in procs) and lab.procs == procs
        assert [p.await_ready()["n"] for p in procs] == [0, 1, 2]
        assert procs[1].await_ready() == {"type": "start", "n": 1}  # read once, kept
    finally:
        for p in procs:
            p.stop()
    assert lab.procs == [] and not any(p.running() for p in procs)


def test_a_deferred_process_that_dies_is_an_error_and_the_others_end_by_pid(tmp_path):
    from tapreflect_bench.lab import Process

    lab = FakeLab(tmp_path)
    good = Process(lab, "good", ["/usr/bin/python3", "-c", READY % 0], ready=True, defer_ready=True)
    bad = Process(lab, "bad", ["/bin/sh", "-c", "echo no such device >&2; exit 1"], ready=True, defer_ready=True)
    never = Process(lab, "never", ["/usr/bin/python3", "-c", READY % 2], ready=True, defer_ready=True)
    good.await_ready()
    with pytest.raises(BenchError, match="bad exited .1. before it was ready: no such device"):
        bad.await_ready()
    # What the lab's close does: every process still listed is stopped, by its PID; the one never
    # waited for has its pipe closed too.
    for p in list(reversed(lab.procs)):
        p.stop()
    assert lab.procs == [] and not good.running() and not never.running()
    assert never._ready_fd is None
