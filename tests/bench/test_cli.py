"""The command line, in process: exit statuses and messages of report and history,
on SQLite and on a PostgreSQL server the tests start (no measuring here: those
subcommands run in tests/net, as root, in namespaces of their own)."""
from __future__ import annotations

import json
import os
import sqlite3

import pytest

from pg import pg_server, store_target  # noqa: F401  (fixtures)
from tapreflect_bench import cli, store
from tapreflect_bench.model import (EXIT_BAD_INPUT, EXIT_INCONCLUSIVE, EXIT_NO_DATA, EXIT_REGRESSION, EXIT_STORE,
                                    Run, Sample)

MACHINE = {"id": "cafe0123456789ab", "cpu": "test CPU", "cpus": 2, "kernel": "6.18.0"}
CONFIG = {"profile": "quick", "modes": ["tun"]}
CPU = "e2e/tun/64B/uring/1q/cpu_ns_per_frame"
NDR = "e2e/tun/64B/uring/1q/ndr_pps"
WOBBLE = [0.0, 0.3, -0.2, 0.4, -0.4, 0.1, -0.1, 0.2, -0.3, 0.25]


def run_at(i: int, cpu: float) -> Run:
    c = cpu * (1 + WOBBLE[i % 10] / 100)
    return Run(kind="run", started=f"2026-01-{i + 1:02d}T10:00:00+00:00", finished=f"2026-01-{i + 1:02d}T10:01:00+00:00",
               machine=dict(MACHINE), config=dict(CONFIG), version="tapreflect 0.1.0", commit=f"{i:02d}" * 20,
               samples=[Sample(metric=CPU, value=c + d, unit="ns/frame", better="lower") for d in (-3, 0, 3)]
               + [Sample(metric=NDR, value=500000.0 + 1000 * WOBBLE[i % 10] + d, unit="pps", better="higher")
                  for d in (-300, 0, 300)])


def main(*argv) -> int:
    return cli.main(list(argv))


def lines(path, recs):
    with open(path, "w") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")
    return str(path)


def timed(name, values, **kw):
    return [{"kind": "timed", "name": name, "value": v, "unit": "ns/frame", "better": "lower", **kw} for v in values]


@pytest.fixture
def stepped(store_target):  # noqa: F811
    """20 runs of one configuration: CPU per frame 2000 ns, then 2200 from run 11 on; NDR level."""
    with store.open_store(store_target) as st:
        ids = [st.save_run(run_at(i, 2000.0 if i < 10 else 2200.0)) for i in range(20)]
    return store_target, ids


def test_every_subcommand_has_help(capsys):
    for argv in (["--help"], ["run", "--help"], ["compare", "--help"], ["scaling", "--help"], ["ab", "--help"],
                 ["streams", "--help"], ["latency", "--help"], ["soak", "--help"], ["micro", "--help"],
                 ["report", "--help"], ["history", "show", "--help"],
                 ["history", "list", "--help"], ["history", "export", "--help"], ["history", "import", "--help"]):
        with pytest.raises(SystemExit) as e:
            main(*argv)
        assert e.value.code == 0
        assert "--db" in capsys.readouterr().out or argv == ["--help"]


def test_history_show_finds_the_step_at_run_11(stepped, capsys, tmp_path):
    db, ids = stepped
    html = tmp_path / "trend.html"
    assert main("history", "show", CPU, "--db", db, "--html", str(html)) == 0
    out = capsys.readouterr().out
    assert out.count("change at run") == 1
    assert f"change at run {ids[10]}, after run {ids[9]} (commits {'09' * 6}..{'10' * 6})" in out
    assert "ratio 1.100" in out
    assert html.read_text().count("<svg") >= 1
    assert main("history", "show", NDR, "--db", db) == 0
    assert "no change point" in capsys.readouterr().out


def test_report_against_history_judges_the_latest_run(stepped, capsys):
    db, ids = stepped
    # By default the latest run of this machine, which has none here.
    assert main("report", "--against-history", "5", "--db", db) == EXIT_NO_DATA
    assert "on machine" in capsys.readouterr().err
    # The latest run (2200 ns) against the 5 before it (also 2200): no change.
    rc = main("report", "--against-history", "5", "--machine", MACHINE["id"], "--db", db, "--gate-timed")
    out = capsys.readouterr().out
    assert rc == 0 and f"| {CPU} |" in out and "no change" in out
    # Run 11 (the first at 2200) against the 5 complete runs before it (2000): a 10 % regression.
    rc = main("report", "--against-history", "5", "--run", str(ids[10]), "--db", db, "--gate-timed")
    out = capsys.readouterr().out
    assert rc == EXIT_REGRESSION, out
    row = next(line for line in out.splitlines() if line.startswith(f"| {CPU} |"))
    assert "REGRESSION" in row and "| 1.099 |" in row  # 2200 against 2000 x (1 + wobble)


def test_report_from_files_exit_statuses(tmp_path, capsys):
    a = lines(tmp_path / "a.json", timed("m", [100, 101, 99, 100.5, 99.5, 100.2, 99.8]))
    slow = lines(tmp_path / "b.json", timed("m", [110, 111, 109, 110.5, 109.5, 110.2, 109.8]))
    assert main("report", "--baseline", a, "--current", a, "--gate-timed") == 0
    assert main("report", "--baseline", a, "--current", slow, "--gate-timed") == EXIT_REGRESSION
    few = lines(tmp_path / "c.json", timed("m", [100, 101]))
    assert main("report", "--baseline", few, "--current", few, "--gate-timed") == EXIT_INCONCLUSIVE
    assert main("report", "--baseline", few, "--current", few, "--gate-timed", "--inconclusive", "pass") == 0
    other = lines(tmp_path / "d.json", timed("other", [1, 2, 3]))
    assert main("report", "--baseline", a, "--current", other) == EXIT_BAD_INPUT
    assert "no metric is in both" in capsys.readouterr().err
    assert main("report", "--baseline", str(tmp_path / "missing.json"), "--current", a) == EXIT_BAD_INPUT
    # A baseline from another machine is refused, unless forced.
    meta = {"kind": "meta", "machine": {"id": "elsewhere", "cpus": 2}, "config": {}}
    here = {"kind": "meta", "machine": {"id": "here", "cpus": 2}, "config": {}}
    b1 = lines(tmp_path / "m1.json", [meta, *timed("m", [100, 101, 99, 100.5, 99.5])])
    b2 = lines(tmp_path / "m2.json", [here, *timed("m", [100, 101, 99, 100.5, 99.5])])
    assert main("report", "--baseline", b1, "--current", b2) == EXIT_BAD_INPUT
    assert "another machine" in capsys.readouterr().err
    assert main("report", "--baseline", b1, "--current", b2, "--force") == 0
    # HTML and the chart files are written.
    assert main("report", "--baseline", a, "--current", slow, "--html", str(tmp_path / "r.html"),
                "--chart", str(tmp_path / "chart")) == 0
    assert (tmp_path / "r.html").read_text().count("<svg") >= 2
    assert (tmp_path / "chart.png").stat().st_size > 1000 and (tmp_path / "chart.svg").read_text().startswith("<svg")


def test_bad_input_and_store_errors(stepped, tmp_path, capsys):
    db, _ = stepped
    assert main("history", "show", "no/such/metric", "--db", db) == EXIT_BAD_INPUT
    assert CPU in capsys.readouterr().err  # the known metrics are named
    assert main("history", "show", CPU, "--machine", "nosuchmachine", "--db", db) == EXIT_BAD_INPUT
    empty = str(tmp_path / "empty.sqlite")
    assert main("history", "list", "--db", empty) == EXIT_NO_DATA
    assert main("report", "--against-history", "3", "--db", empty) == EXIT_NO_DATA
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"this is not a database\n" * 100)
    assert main("history", "list", "--db", str(corrupt)) == EXIT_STORE
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as c:
        c.execute("CREATE TABLE invoices (id INTEGER)")
    assert main("history", "list", "--db", str(foreign)) == EXIT_STORE
    assert "refusing to touch it" in capsys.readouterr().err
    newer = tmp_path / "newer.sqlite"
    with store.open_store(str(newer)) as st:
        st.save_run(run_at(0, 2000.0))
    with sqlite3.connect(newer) as c:
        c.execute("UPDATE tapreflect_bench SET value = '999' WHERE key = 'schema_version'")
    assert main("history", "list", "--db", str(newer)) == EXIT_STORE
    assert "newer" in capsys.readouterr().err


def test_export_import_and_baselines(stepped, tmp_path, capsys):
    db, ids = stepped
    out = tmp_path / "export.jsonl"
    assert main("history", "export", "--db", db, "--out", str(out)) == 0
    assert len(out.read_text().splitlines()) == len(ids)
    copy = str(tmp_path / "copy.sqlite")
    assert main("history", "import", str(out), "--db", copy) == 0
    with store.open_store(copy) as st:
        assert len(st.runs()) == len(ids)
    # Today's baseline files have no meta line: refused unless declared this machine's.
    repo = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir)
    icount = os.path.join(repo, "bench", "baselines", "icount.json")
    assert main("history", "import", icount, "--db", copy) == EXIT_BAD_INPUT
    assert "--this-machine" in capsys.readouterr().err
    assert main("history", "import", icount, "--this-machine", "--db", copy) == 0
    with store.open_store(copy) as st:
        assert [r.run.kind for r in st.runs()].count("import") == 1


def test_options_that_would_be_ignored_are_refused(tmp_path, capsys):
    a = lines(tmp_path / "a.json", timed("m", [100, 101, 99, 100.5, 99.5]))
    for extra, says in ((["--run", "3"], "--run needs --against-history"),
                        (["--machine", "x"], "--machine needs --against-history"),
                        (["--config", "k"], "--config needs --against-history"),
                        (["--trace", a], "--trace FILE... is for the HTML report")):
        assert main("report", "--baseline", a, "--current", a, *extra) == EXIT_BAD_INPUT
        assert says in capsys.readouterr().err
    assert main("report", "--baseline", a, "--against-history", "3", "--db", str(tmp_path / "s.sqlite")) \
        == EXIT_BAD_INPUT
    # An unwritable output is a clear error, not a traceback.
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert main("report", "--baseline", a, "--current", a, "--markdown", str(blocked / "x.md")) == EXIT_BAD_INPUT
    assert "x.md" in capsys.readouterr().err


def test_bad_values_of_a_measuring_subcommand_stop_before_anything_runs(capsys):
    build = os.environ.get("TRF_BUILD_DIR")
    if not build or not os.access(os.path.join(build, "tools", "tapreflect"), os.X_OK):
        pytest.skip("needs the build (ctest sets TRF_BUILD_DIR)")
    for argv, says in ((["compare", "--queues", "x"], "--queues: whole numbers"),
                       (["compare", "--engines", "multishot+turbo"], "unknown engine modifier"),
                       (["run", "--sizes", "big"], "--sizes and --queues take whole numbers"),
                       (["run", "--modes", "tap tan"], "--modes: tap or tun"),
                       (["ab", "--size", "9000"], "--size 64..1518"),
                       (["scaling", "--queues", "two"], "--queues: auto or whole numbers"),
                       (["scaling", "--rate", "fast"], "--rate: a rate in pps or max"),
                       (["scaling", "--engine", "multishot+turbo"], "unknown engine modifier")):
        assert main(*argv, "--build", build, "--no-store") == EXIT_BAD_INPUT, argv
        assert says in capsys.readouterr().err


def test_top_level_help_has_the_exit_statuses(capsys):
    with pytest.raises(SystemExit):
        main("--help")
    out = " ".join(capsys.readouterr().out.split())
    for status in ("0 success", "1 a regression", "2 bad usage", "3 a gating metric", "4 the results store",
                   "5 nothing to show", "6 the measurement itself failed", "130 interrupted"):
        assert status in out


def test_an_incomplete_run_is_judged_against_the_complete_ones_before_it(store_target, capsys):  # noqa: F811
    with store.open_store(store_target) as st:
        for i in range(6):
            st.save_run(run_at(i, 2000.0))
        broken = run_at(6, 2400.0)
        broken.complete, broken.note = False, "interrupted by SIGINT"
        rid = st.save_run(broken)
        st.save_run(run_at(7, 2000.0))  # newer, and not before the judged run
    rc = main("report", "--against-history", "5", "--run", str(rid), "--db", store_target, "--gate-timed")
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith(f"| {CPU} |"))
    assert rc == EXIT_REGRESSION and "REGRESSION" in row, out
    # The baseline is the 5 complete runs before it: 15 samples around 2000 ns.
    assert "| 2,0" in row and "| 2,398 |" in row  # 2400 x (1 - 0.1 %)
