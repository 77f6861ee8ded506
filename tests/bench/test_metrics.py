"""metrics and machine: reading and writing metric files, meta lines, baselines, the machine id."""
import hashlib
import io
import json

import pytest

from tapreflect_bench import machine, metrics
from tapreflect_bench.model import EXIT_BAD_INPUT, BenchError, Metric


def write(path, *records):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return str(path)


def test_lines_are_grouped_by_name(tmp_path):
    f = write(tmp_path / "m",
              {"kind": "icount", "name": "reflect/a", "value": 164, "unit": "instructions/frame"},
              {"kind": "timed", "name": "micro/x", "value": 10.0, "unit": "ns/frame", "better": "lower"},
              "",
              {"kind": "timed", "name": "micro/x", "value": 10.5, "unit": "ns/frame", "pair": 2.0},
              {"type": "something else"},  # no name/value: skipped
              {"name": "tput", "value": 5, "better": "higher", "threshold": 0.1, "gate": False})
    ms, metas = metrics.load_files([f])
    assert metas == []
    assert list(ms) == ["reflect/a", "micro/x", "tput"]
    a = ms["reflect/a"]
    assert (a.kind, a.unit, a.better, a.samples, a.pairs) == ("icount", "instructions/frame", "lower", [164.0], [None])
    x = ms["micro/x"]
    assert x.samples == [10.0, 10.5] and x.pairs == [None, 2] and isinstance(x.pairs[1], int)
    t = ms["tput"]
    assert (t.kind, t.unit, t.better, t.threshold, t.gate) == ("timed", "", "higher", 0.1, False)


def test_several_files_add_up_and_meta_lines_are_kept(tmp_path):
    meta = {"kind": "meta", "machine": {"id": "abc", "cpus": 2}, "config": {"profile": "quick"}}
    f1 = write(tmp_path / "a", meta, {"name": "x", "value": 1})
    f2 = write(tmp_path / "b", {"name": "x", "value": 2})
    ms, metas = metrics.load_files([f1, f2])
    assert ms["x"].samples == [1.0, 2.0]
    assert metas == [meta]


def test_google_benchmark_json(tmp_path):
    doc = {"context": {}, "benchmarks": [
        {"name": "reflect/a", "run_name": "reflect/a", "run_type": "iteration", "real_time": 20.0, "time_unit": "ns"},
        {"name": "reflect/a", "run_name": "reflect/a", "run_type": "iteration", "real_time": 0.021, "time_unit": "us"},
        {"name": "reflect/a_mean", "run_name": "reflect/a", "run_type": "aggregate", "real_time": 20.5,
         "time_unit": "ns"},
        {"name": "plain", "real_time": 3.0},
    ]}
    p = tmp_path / "gb.json"
    p.write_text(json.dumps(doc, indent=1))
    ms, _ = metrics.load_files([str(p)])
    assert list(ms) == ["micro/reflect/a", "plain"]
    a = ms["micro/reflect/a"]
    assert a.samples == pytest.approx([20.0, 21.0]) and (a.kind, a.unit, a.better) == ("timed", "ns/frame", "lower")


@pytest.mark.parametrize("line,message", [
    ('{"name": "x", "value": 1', "bad:2: not JSON"),
    ('{"kind":"timed","name":"e2e/cpu","value":1,"pair":"one"}', 'bad:2: "pair" must be an integer, not "one"'),
    ('{"name": "x", "value": 1, "pair": true}', '"pair" must be an integer, not true'),
    ('{"name": "x", "value": 1.5, "pair": 1.5}', '"pair" must be an integer, not 1.5'),
    ('{"name": "x", "value": "fast"}', 'bad:2: "value" must be a number'),
    ("[1, 2]", "bad:2: not a JSON object"),
])
def test_bad_lines_say_where(tmp_path, line, message):
    p = tmp_path / "bad"
    p.write_text('{"name": "x", "value": 1}\n' + line + "\n")
    with pytest.raises(BenchError) as e:
        metrics.load_files([str(p)])
    assert e.value.status == EXIT_BAD_INPUT
    assert str(e.value).startswith(str(tmp_path) + "/") and message in str(e.value)


def test_unreadable_file(tmp_path):
    with pytest.raises(BenchError) as e:
        metrics.load_files([str(tmp_path / "nonexistent")])
    assert e.value.status == EXIT_BAD_INPUT
    assert str(e.value) == f"cannot read {tmp_path}/nonexistent: No such file or directory"


def test_write_metric_lines_round_trips(tmp_path):
    ms = {"a": Metric("a", "timed", "us", "lower", [1.0, 2.0], [1, 2], threshold=0.1),
          "b": Metric("b", "icount", "instructions/frame", "lower", [164.0], [None], gate=False)}
    buf = io.StringIO()
    assert metrics.write_metric_lines(buf, ms) == 3
    p = tmp_path / "w"
    p.write_text(buf.getvalue())
    back, _ = metrics.load_files([str(p)])
    assert back == ms
    buf = io.StringIO()
    metrics.write_metric_lines(buf, list(ms.values()), pairs=False)
    assert all("pair" not in json.loads(line) for line in buf.getvalue().splitlines())


def test_merged_meta_later_lines_win():
    m = metrics.merged_meta([{"machine": {"id": "a", "cpus": 2}}, {"machine": {"id": "b"}, "config": {"x": 1}},
                             {"config": None}])
    assert m == {"machine": {"id": "b", "cpus": 2}, "config": {"x": 1}}


def meta(ident, profile="quick"):
    return {"kind": "meta", "machine": {"id": ident, "cpus": 2}, "config": {"profile": profile}}


def test_another_machine_is_refused_unless_forced(tmp_path, capsys):
    with pytest.raises(BenchError) as e:
        metrics.check_same_setting([meta("abc")], [meta("def")], False)
    assert e.value.status == EXIT_BAD_INPUT
    assert "another machine or configuration (machine.id: 'abc' vs 'def')" in str(e.value)
    assert "--force" in str(e.value) and "--save-baseline" in str(e.value)
    with pytest.raises(BenchError, match=r"config.profile: 'quick' vs 'full'"):
        metrics.check_same_setting([meta("abc")], [meta("abc", "full")], False)
    metrics.check_same_setting([meta("abc")], [meta("def")], True)
    assert "comparing across settings (--force): machine.id: 'abc' vs 'def'" in capsys.readouterr().err
    # the same setting, or a side without meta lines: nothing to refuse, nothing said
    metrics.check_same_setting([meta("abc")], [meta("abc")], False)
    metrics.check_same_setting([], [meta("def")], False)
    assert capsys.readouterr().err == ""


def sha16(text):
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def test_machine_id_is_the_hash_of_the_stripped_text(tmp_path):
    mid = tmp_path / "machine-id"
    mid.write_text("3d1219c7c4c5404aaa1f6d2a48adfda4\n")
    ident = machine.identity(str(mid))
    assert ident["id"] == sha16("3d1219c7c4c5404aaa1f6d2a48adfda4") == machine.machine_id(str(mid))
    assert set(ident) == {"id", "cpu", "cpus", "kernel"} and ident["cpus"] >= 1
    # the old shell runner hashed the file with its newline
    assert machine.legacy_ids(str(mid)) == {sha16("3d1219c7c4c5404aaa1f6d2a48adfda4\n")}
    mid.write_text("3d1219c7c4c5404aaa1f6d2a48adfda4")  # no newline: one id only
    assert machine.legacy_ids(str(mid)) == set()
    assert machine.machine_id(str(tmp_path / "none")) == "" and machine.legacy_ids(str(tmp_path / "none")) == set()


def test_a_baseline_with_this_machines_legacy_id_is_this_machines(tmp_path, capsys):
    mid = tmp_path / "machine-id"
    mid.write_text("0123456789abcdef0123456789abcdef\n")
    old, new = sha16("0123456789abcdef0123456789abcdef\n"), sha16("0123456789abcdef0123456789abcdef")
    metrics.check_same_setting([meta(old)], [meta(new)], False, machine_id_path=str(mid))
    metrics.check_same_setting([meta(new)], [meta(old)], False, machine_id_path=str(mid))
    assert capsys.readouterr().err == ""
    # another machine's legacy id is still another machine
    with pytest.raises(BenchError, match="another machine"):
        metrics.check_same_setting([meta(sha16("other\n"))], [meta(new)], False, machine_id_path=str(mid))
    # without that machine-id, the legacy id is just another id
    with pytest.raises(BenchError, match="another machine"):
        metrics.check_same_setting([meta(old)], [meta(new)], False, machine_id_path=str(tmp_path / "none"))


def test_save_baseline_keeps_meta_threshold_and_gate_not_pairs(tmp_path, capsys):
    src = write(tmp_path / "own", meta("abc"),
                {"kind": "timed", "name": "ab/rtt_p99_us", "value": 100, "unit": "us", "gate": False, "pair": 1},
                {"kind": "timed", "name": "ab/pdr_pps", "value": 3e5, "unit": "pps", "better": "higher",
                 "threshold": 0.1, "pair": 1})
    ms, metas = metrics.load_files([src])
    out = tmp_path / "saved"
    metrics.save_baseline(str(out), ms, metas)
    assert "baseline written to" in capsys.readouterr().err
    lines = out.read_text().splitlines()
    assert lines[0].startswith('{"kind": "meta", "machine": {"id": "abc"')
    recs = [json.loads(x) for x in lines]
    assert recs[1]["gate"] is False and recs[2]["threshold"] == 0.1
    assert not any("pair" in r for r in recs)
    back, back_metas = metrics.load_files([str(out)])
    assert back["ab/pdr_pps"].samples == [3e5] and back["ab/pdr_pps"].better == "higher"
    assert metrics.merged_meta(back_metas) == metrics.merged_meta(metas)


def test_save_baseline_without_meta_describes_this_machine(tmp_path):
    mid = tmp_path / "machine-id"
    mid.write_text("feedface\n")
    out = tmp_path / "saved"
    metrics.save_baseline(str(out), {"x": Metric("x", samples=[1.0], pairs=[None])}, [], machine_id_path=str(mid))
    first = json.loads(out.read_text().splitlines()[0])
    assert first["kind"] == "meta" and first["machine"]["id"] == sha16("feedface") and first["config"] == {}


def test_save_baseline_turns_a_legacy_id_into_the_current_one(tmp_path):
    mid = tmp_path / "machine-id"
    mid.write_text("feedface\n")
    out = tmp_path / "saved"
    metrics.save_baseline(str(out), {}, [meta(sha16("feedface\n"))], machine_id_path=str(mid))
    assert json.loads(out.read_text().splitlines()[0])["machine"]["id"] == sha16("feedface")
