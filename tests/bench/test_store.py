"""The results store, on SQLite and on a PostgreSQL server the session starts."""
from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

import pytest

import pg
from pg import pg_server, store_target  # noqa: F401  (fixtures)
from tapreflect_bench import store as store_mod
from tapreflect_bench.model import EXIT_BAD_INPUT, EXIT_NO_DATA, EXIT_STORE, BenchError, Run, Sample

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
MACHINE = {"id": "m-kvm2", "cpu": "AMD EPYC 7B13", "cpus": 2, "kernel": "6.18.0"}


def make_run(i: int = 0, *, machine: dict = MACHINE, config: dict | None = None, kind: str = "run",
             values: tuple[float, ...] = (100.0, 101.5, 99.25), metric: str = "e2e/tun/64B/uring/1q/ndr_pps",
             complete: bool = True, records: int = 2) -> Run:
    return Run(
        kind=kind, started=f"2025-01-{1 + i // 24:02d}T{i % 24:02d}:00:00+00:00",
        finished=f"2025-01-{1 + i // 24:02d}T{i % 24:02d}:30:00+00:00",
        machine=dict(machine), config=dict(config if config is not None else {"profile": "quick", "sizes": [64]}),
        version="tapreflect 0.1.0", commit=f"{i:040x}", complete=complete,
        note=None if complete else "interrupted by SIGINT",
        samples=[Sample(metric=metric, value=v, unit="pps", better="higher", pair=k) for k, v in enumerate(values)],
        records=[{"trial": k, "rate": 1000 * k, "nested": {"ok": True, "xs": [1, 2.5, None]}} for k in range(records)])


def raw_execute(target: str, sql: str) -> list[tuple]:
    """A statement run past the store, as another program would."""
    if target.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(target, autocommit=True) as conn:
            cur = conn.execute(sql)
            return cur.fetchall() if cur.description else []
    conn = sqlite3.connect(target, isolation_level=None)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def store_error(fn, *args, **kwargs) -> BenchError:
    with pytest.raises(BenchError) as info:
        fn(*args, **kwargs)
    return info.value


def test_config_key_is_canonical():
    a = store_mod.config_key({"b": [1, 2], "a": "x"})
    assert a == store_mod.config_key({"a": "x", "b": [1, 2]})
    assert len(a) == 16 and int(a, 16) >= 0
    # sha256 of '{"a":"x","b":[1,2]}'
    import hashlib

    assert a == hashlib.sha256(b'{"a":"x","b":[1,2]}').hexdigest()[:16]
    assert a != store_mod.config_key({"a": "x", "b": [2, 1]})


def test_round_trip_of_a_whole_run(store_target):
    run = make_run(3)
    run.samples += [
        Sample(metric="ab/cpu_ns_per_frame", value=1523.25, unit="ns/frame", better="lower", kind="timed",
               pair=7, side="A", threshold=0.03, gate=False),
        Sample(metric="ab/cpu_ns_per_frame", value=1498.0, unit="ns/frame", better="lower", kind="timed",
               pair=7, side="B", threshold=0.03, gate=True),
        Sample(metric="icount/udp_64", value=148.0, unit="instructions/frame", kind="icount"),
    ]
    run.note = "a note with 'quotes' and ünïcode"
    with store_mod.open_store(store_target) as st:
        assert st.schema_version == store_mod.SCHEMA_VERSION
        rid = st.save_run(run)
        other = st.save_run(make_run(4, complete=False, records=0))
        assert other > rid
    with store_mod.open_store(store_target, create=False) as st:
        back = st.get_run(rid)
        assert back == run  # every field, the samples in order, the records as JSON
        assert st.get_run(other).complete is False and st.get_run(other).records == []
        listed = st.runs()
        assert [info.id for info in listed] == [rid, other]
        assert listed[0].run.samples == [] and listed[0].run.records == []
        assert dataclasses.replace(listed[0].run, samples=run.samples, records=run.records) == run
        err = store_error(st.get_run, 9999)
        assert err.status == EXIT_BAD_INPUT and "no run 9999" in str(err)


def test_sqlite_url_and_missing_parents(tmp_path):
    path = tmp_path / "a" / "b" / "bench.sqlite"
    with store_mod.open_store(f"sqlite://{path}") as st:
        st.save_run(make_run())
    assert path.is_file()
    with store_mod.open_store(str(path), create=False) as st:
        assert len(st.runs()) == 1
    err = store_error(store_mod.open_store, str(tmp_path / "none.sqlite"), create=False)
    assert err.status == EXIT_NO_DATA and "no results store" in str(err)
    assert not (tmp_path / "none.sqlite").exists()


def test_queries(store_target):
    other_machine = {"id": "m-big", "cpu": "Xeon", "cpus": 64, "kernel": "6.1.0"}
    wide = {"profile": "full", "sizes": [64, 1500]}
    with store_mod.open_store(store_target) as st:
        ids = [st.save_run(make_run(i, complete=(i != 2))) for i in range(5)]
        ids.append(st.save_run(make_run(5, machine=other_machine, metric="e2e/x")))
        ids.append(st.save_run(make_run(6, config=wide, kind="soak", values=(7.0,))))
        assert [r.id for r in st.runs()] == ids
        assert [r.id for r in st.runs(limit=3)] == ids[-3:]
        assert [r.id for r in st.runs(complete_only=True, machine_id="m-kvm2",
                                      config_key=store_mod.config_key({"profile": "quick", "sizes": [64]}))] \
            == [ids[0], ids[1], ids[3], ids[4]]
        assert [r.id for r in st.runs(kind="soak")] == [ids[6]]
        assert [(m.id, m.machine, m.runs) for m in st.machines()] == [("m-big", other_machine, 1),
                                                                      ("m-kvm2", MACHINE, 6)]
        configs = st.configs("m-kvm2")
        assert sorted((c.config["profile"], c.runs) for c in configs) == [("full", 1), ("quick", 5)]
        assert sum(c.runs for c in st.configs()) == 7
        assert st.metric_names() == ["e2e/tun/64B/uring/1q/ndr_pps", "e2e/x"]
        assert st.metric_names(machine_id="m-big") == ["e2e/x"]
        got = st.samples("e2e/tun/64B/uring/1q/ndr_pps", [ids[1], ids[0], ids[6]])
        assert [s.value for s in got] == [100.0, 101.5, 99.25] * 2 + [7.0]
        assert st.samples("e2e/x", []) == []
        key = store_mod.config_key({"profile": "quick", "sizes": [64]})
        points = st.trend_values("e2e/tun/64B/uring/1q/ndr_pps", "m-kvm2", key)
        assert [(p.run_id, p.value, p.n, p.complete) for p in points] == [
            (ids[i], 100.0, 3, i != 2) for i in range(5)]
        assert points[1].commit == f"{1:040x}" and points[1].version == "tapreflect 0.1.0"
        assert st.recent_run_ids("e2e/tun/64B/uring/1q/ndr_pps", "m-kvm2", key, 3) == [ids[1], ids[3], ids[4]]
        assert st.recent_run_ids("e2e/tun/64B/uring/1q/ndr_pps", "m-kvm2", key, 2, exclude=[ids[4]]) \
            == [ids[1], ids[3]]


def test_a_failed_save_leaves_nothing(store_target):
    run = make_run()
    run.samples.append(Sample(metric="bad", value=float("nan")))
    with store_mod.open_store(store_target) as st:
        err = store_error(st.save_run, run)
        assert err.status == EXIT_BAD_INPUT and "finite" in str(err)
        # A failure inside the transaction (the records cannot be encoded) rolls the run back.
        broken = make_run()
        broken.records = [{"x": object()}]
        with pytest.raises(TypeError):
            st.save_run(broken)
        assert st.runs() == []
        assert raw_execute(store_target, "SELECT COUNT(*) FROM samples") == [(0,)]
        assert st.save_run(make_run()) > 0


def test_migrates_an_empty_store(store_target):
    with store_mod.open_store(store_target) as st:
        assert st.schema_version == 2
    rows = dict(raw_execute(store_target, "SELECT key, value FROM tapreflect_bench"))
    assert rows == {"application": store_mod.APPLICATION, "schema_version": "2"}
    # Opening again migrates nothing.
    with store_mod.open_store(store_target) as st:
        assert st.schema_version == 2


def test_migrates_a_v1_store_with_data(store_target, monkeypatch):
    # The store a program that knew only v1 left behind, filled the way it filled it.
    monkeypatch.setattr(store_mod, "MIGRATIONS", store_mod.MIGRATIONS[:1])
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", 1)
    with store_mod.open_store(store_target) as st:
        assert st.schema_version == 1
    raw_execute(store_target, "INSERT INTO runs (kind, started, finished, machine_id, machine, config_key,"
                " config, version, git_commit, complete, note) VALUES ('run', '2024-12-01T00:00:00+00:00',"
                " '2024-12-01T00:10:00+00:00', 'm-kvm2', '{\"id\":\"m-kvm2\"}', 'k1', '{\"profile\":\"quick\"}',"
                " 'tapreflect 0.0.9', NULL, 1, NULL)")
    [(old_id,)] = raw_execute(store_target, "SELECT id FROM runs")
    for k, v in enumerate((5.0, 6.0, 7.0)):
        raw_execute(store_target, "INSERT INTO samples (run, metric, value, unit, better, kind, pair, threshold,"
                    f" gate) VALUES ({old_id}, 'old/metric', {v}, 'us', 'lower', 'timed', {k}, NULL, 1)")
    monkeypatch.undo()
    with store_mod.open_store(store_target) as st:
        assert st.schema_version == 2
        old = st.get_run(old_id)
        assert old.version == "tapreflect 0.0.9" and old.records == []
        assert [(s.value, s.pair, s.side, s.gate) for s in old.samples] == [
            (5.0, 0, None, True), (6.0, 1, None, True), (7.0, 2, None, True)]
        new = st.save_run(make_run())
        assert new > old_id and st.get_run(new) == make_run()
        assert [r.id for r in st.runs()] == [old_id, new]


WRITER = r"""
import sys
sys.path.insert(0, sys.argv[1])
from tapreflect_bench import store
from tapreflect_bench.model import Run, Sample
target, writer = sys.argv[2], int(sys.argv[3])
sys.stdin.read(1)  # the start signal: every writer is running by then
with store.open_store(target) as st:
    for i in range(10):
        st.save_run(Run(kind="run", started=f"2025-02-01T00:{writer:02d}:{i:02d}+00:00", finished="x",
                        machine={"id": "m"}, config={"w": writer}, version="v", commit=None,
                        samples=[Sample(metric="m", value=float(writer * 100 + i))] * 5,
                        records=[{"writer": writer, "i": i}]))
"""


def test_concurrent_writers_lose_nothing(store_target, tmp_path):
    procs = []
    try:
        for w in range(4):
            with open(tmp_path / f"writer{w}.err", "w") as err:
                procs.append(subprocess.Popen([sys.executable, "-c", WRITER, os.path.join(REPO, "bench"),
                                               store_target, str(w)], stdin=subprocess.PIPE, stderr=err))
        for p in procs:
            p.stdin.close()  # EOF: all start at once, including their first open (and migration)
        for w, p in enumerate(procs):
            assert p.wait(timeout=60) == 0, (tmp_path / f"writer{w}.err").read_text()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
    with store_mod.open_store(store_target, create=False) as st:
        runs = st.runs()
        assert len(runs) == 40
        seen = sorted((info.run.config["w"], int(info.run.started[-8:-6])) for info in runs)
        assert seen == [(w, i) for w in range(4) for i in range(10)]
        for info in runs[::7]:
            full = st.get_run(info.id)
            assert len(full.samples) == 5 and full.records == [{"writer": full.config["w"],
                                                               "i": int(full.started[-8:-6])}]


def test_newer_schema_is_refused(store_target):
    store_mod.open_store(store_target).close()
    raw_execute(store_target, "UPDATE tapreflect_bench SET value = '99' WHERE key = 'schema_version'")
    err = store_error(store_mod.open_store, store_target)
    assert err.status == EXIT_STORE
    assert "schema version 99" in str(err) and "newer tapreflect-bench: upgrade" in str(err)


def test_a_database_that_is_not_ours_is_left_alone(store_target):
    if "://" not in store_target:
        os.makedirs(os.path.dirname(store_target))
    raw_execute(store_target, "CREATE TABLE customers (id INTEGER, name TEXT)")
    raw_execute(store_target, "INSERT INTO customers VALUES (1, 'x')")
    err = store_error(store_mod.open_store, store_target)
    assert err.status == EXIT_STORE
    assert "not a tapreflect-bench results store" in str(err) and "customers" in str(err)
    assert "refusing to touch it" in str(err)
    assert raw_execute(store_target, "SELECT * FROM customers") == [(1, "x")]
    names = raw_execute(store_target, "SELECT table_name FROM information_schema.tables WHERE table_schema"
                        " = current_schema()" if "://" in store_target else
                        "SELECT name FROM sqlite_master WHERE type = 'table'")
    assert [n[0] for n in names] == ["customers"]


def test_corrupt_file(tmp_path):
    path = tmp_path / "bench.sqlite"
    junk = b"this is a metric file, not a database\n" * 200
    path.write_bytes(junk)
    for create in (True, False):
        err = store_error(store_mod.open_store, str(path), create=create)
        assert err.status == EXIT_STORE
        assert "is not a SQLite database (or it is corrupt)" in str(err) and "--db" in str(err)
    assert path.read_bytes() == junk
    assert not os.path.exists(str(path) + "-wal")


READ_ONLY_CHECK = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from tapreflect_bench import store
from tapreflect_bench.model import BenchError, Run
out = {}
try:
    store.open_store(sys.argv[2])
except BenchError as e:
    out["open"] = [e.status, str(e)]
with store.open_store(sys.argv[2], create=False) as st:
    out["runs"] = len(st.runs())
    try:
        st.save_run(Run(kind="run", started="s", finished="f", machine={"id": "m"}, config={}, version="v",
                        commit=None))
    except BenchError as e:
        out["save"] = [e.status, str(e)]
print(json.dumps(out))
"""


def test_read_only_store():
    # Root ignores file modes: as root the check runs as an unprivileged user instead.
    base = tempfile.mkdtemp(prefix="trf-ro-")
    try:
        path = os.path.join(base, "bench.sqlite")
        with store_mod.open_store(path) as st:
            st.save_run(make_run())
        argv = [sys.executable, "-c", READ_ONLY_CHECK, os.path.join(REPO, "bench"), path]
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                pytest.skip("running as root without runuser: no way to be denied a write")
            os.chmod(base, 0o755)
            os.chmod(path, 0o644)
            argv = ["runuser", "-u", "nobody", "--"] + argv
        else:
            os.chmod(path, 0o444)
            os.chmod(base, 0o555)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        out = json.loads(p.stdout)
        assert out["open"][0] == EXIT_STORE and "is read-only" in out["open"][1]
        assert "make it writable" in out["open"][1]
        assert out["runs"] == 1  # reading still works
        assert out["save"][0] == EXIT_STORE and "read-only" in out["save"][1]
    finally:
        os.chmod(base, 0o755)
        shutil.rmtree(base, ignore_errors=True)


def test_unreachable_server(tmp_path):
    pg.require()
    # A socket directory where no server listens: refused at once, no timeout to wait for.
    url = f"postgresql://postgres:secret@/bench?host={tmp_path}"
    err = store_error(store_mod.open_store, url)
    assert err.status == EXIT_STORE
    assert "cannot connect to the PostgreSQL store" in str(err) and "check that the server runs" in str(err)
    assert "secret" not in str(err)


def test_login_refused(pg_server):  # noqa: F811
    err = store_error(store_mod.open_store, pg_server.url("postgres", user="nosuchrole"))
    assert err.status == EXIT_STORE
    assert "cannot connect to the PostgreSQL store" in str(err) and "nosuchrole" in str(err)


def test_export_import_round_trip(store_target, tmp_path, request):
    runs = [make_run(i, complete=(i != 1)) for i in range(3)]
    runs[2].samples.append(Sample(metric="x", value=2.5, side="B", pair=3, threshold=0.1, gate=False))
    with store_mod.open_store(store_target) as st:
        for r in runs:
            st.save_run(r)
        buf = io.StringIO()
        assert st.export_jsonl(buf) == 3
        only_complete = io.StringIO()
        assert st.export_jsonl(only_complete, complete_only=True) == 2
    lines = buf.getvalue().splitlines()
    assert len(lines) == 3 and json.loads(lines[0])["format"] == store_mod.EXPORT_FORMAT
    # Into the other kind of store: an export is how runs move between them.
    if "://" in store_target:
        other = str(tmp_path / "copy.sqlite")
    else:
        other = request.getfixturevalue("pg_server").new_database()
    with store_mod.open_store(other) as dst:
        added = dst.import_jsonl(io.StringIO(buf.getvalue()))
        assert len(added) == 3
        assert [dst.get_run(i) for i in added] == runs
        assert dst.import_jsonl(io.StringIO(buf.getvalue())) == []  # already there: nothing added
        assert len(dst.runs()) == 3
        err = store_error(dst.import_jsonl, io.StringIO(lines[0] + "\n{not json\n"))
        assert err.status == EXIT_BAD_INPUT and "line 2" in str(err)
        assert len(dst.runs()) == 3


def test_import_baselines(store_target):
    pytest.importorskip("tapreflect_bench.metrics")
    baselines = os.path.join(REPO, "bench", "baselines")
    with store_mod.open_store(store_target) as st:
        err = store_error(st.import_baseline, os.path.join(baselines, "icount.json"))
        assert err.status == EXIT_BAD_INPUT and "no meta line" in str(err) and "--this-machine" in str(err)
        ids = {}
        for name in ("icount.json", "micro.json", "e2e-quick.json"):
            ids[name] = st.import_baseline(os.path.join(baselines, name), machine=MACHINE,
                                           config={"baseline": name})
        for name, rid in ids.items():
            run = st.get_run(rid)
            assert run.kind == "import" and run.note == f"imported from {name}" and run.machine == MACHINE
            with open(os.path.join(baselines, name)) as f:
                lines = [json.loads(x) for x in f if x.strip()]
            lines = [x for x in lines if x.get("kind") != "meta"]
            assert sorted((s.metric, s.value) for s in run.samples) == sorted(
                (x["name"], float(x["value"])) for x in lines)
        icount = st.get_run(ids["icount.json"])
        assert {s.kind for s in icount.samples} == {"icount"}
        assert {s.unit for s in icount.samples} == {"instructions/frame"}
        e2e = st.get_run(ids["e2e-quick.json"])
        assert len({s.metric for s in e2e.samples}) < len(e2e.samples)  # repetitions repeat the name


SERVER_UNTIL_EOF = r"""
import sys
sys.path.insert(0, sys.argv[1])
import pg
with pg.server() as srv:
    print(srv.socket_dir, flush=True)
    sys.stdin.read()
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_the_test_server_is_gone_after_sigterm():
    pg.require()
    p = subprocess.Popen([sys.executable, "-c", SERVER_UNTIL_EOF, os.path.dirname(os.path.abspath(__file__))],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        import select

        ready, _, _ = select.select([p.stdout], [], [], 60)
        assert ready, "the server did not start within 60 s"
        socket_dir = p.stdout.readline().strip()
        assert socket_dir and os.path.isdir(socket_dir)
        with open(os.path.join(socket_dir, "data", "postmaster.pid")) as f:
            postmaster = int(f.readline())
        assert _alive(postmaster)
        p.terminate()
        assert p.wait(timeout=60) != 0
        assert not os.path.exists(socket_dir)
        assert not _alive(postmaster)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
