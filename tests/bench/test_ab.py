"""ab's pure parts: --scrape against the sides' --metrics, how a trial's scrapes are counted and judged,
and the scraper itself against a local HTTP server (the A/B end to end runs in tests/net/ab.sh, as root)."""
from __future__ import annotations

import argparse
import http.server
import json
import os
import signal
import subprocess
import threading
import time

import pytest

from tapreflect_bench import ab, cli
from tapreflect_bench.model import EXIT_MEASUREMENT, BenchError


def opts(a="", b=""):
    return {"A": a.split(), "B": b.split()}


def parser():
    p = argparse.ArgumentParser()
    ab.add_arguments(p)
    return p


def test_the_options_parse_and_show_in_help(capsys):
    a = parser().parse_args([])
    assert a.scrape is None and a.scrape_interval is None
    a = parser().parse_args(["--scrape", "9464", "--scrape-interval", "0.5", "--b-opts", "--metrics 9464"])
    assert (a.scrape, a.scrape_interval, a.b_opts) == ("9464", 0.5, "--metrics 9464")
    with pytest.raises(SystemExit):
        cli.main(["ab", "--help"])
    out = capsys.readouterr().out
    assert "--scrape [ADDR:]PORT" in out and "--scrape-interval SECS" in out
    assert "pinned to tapgen's CPU" in " ".join(out.split())


@pytest.mark.parametrize("spec, want", [("9464", ("127.0.0.1", 9464)), ("0.0.0.0:80", ("0.0.0.0", 80)),
                                        ("[::1]:9464", ("::1", 9464)), ("0", ("127.0.0.1", 0))])
def test_listen_addresses_as_tapreflect_takes_them(spec, want):
    assert ab.parse_listen(spec, "--scrape") == want


@pytest.mark.parametrize("spec, says", [("localhost:9464", "numeric"), ("::1:9464", "brackets"),
                                        ("[::1]9464", "[IPV6]:PORT"), ("65536", "0..65535"), ("", "0..65535"),
                                        ("127.0.0.1:", "0..65535"), ("-1", "0..65535")])
def test_bad_listen_addresses(spec, says):
    with pytest.raises(BenchError) as e:
        ab.parse_listen(spec, "--scrape")
    assert says in str(e.value) and e.value.status == 2


def test_metrics_option_is_found_in_either_spelling_and_the_last_counts():
    assert ab.metrics_option(["--io", "sync"]) is None
    assert ab.metrics_option(["--metrics", "9464"]) == "9464"
    assert ab.metrics_option(["--metrics=[::1]:9464", "-q"]) == "[::1]:9464"
    assert ab.metrics_option(["--metrics", "1", "--metrics", "2"]) == "2"
    assert ab.metrics_option(["--metrics"]) == ""


def test_no_scrape_no_plan_and_an_interval_alone_is_refused():
    assert ab.scrape_plan(None, None, opts(b="--metrics 9464")) is None
    with pytest.raises(BenchError, match="--scrape-interval needs --scrape"):
        ab.scrape_plan(None, 2.0, opts())


def test_the_sides_with_metrics_are_scraped():
    p = ab.scrape_plan("9464", None, opts(b="--read fixed --metrics 9464"))
    assert p == ab.ScrapePlan("127.0.0.1", 9464, 1.0, ("B",))
    assert p.url == "http://127.0.0.1:9464/metrics"
    assert ab.scrape_plan("9464", 0.25, opts("--metrics=9464", "--metrics 0.0.0.0:9464")).sides == ("A", "B")
    assert ab.scrape_plan("[::1]:9464", None, opts(b="--metrics [::1]:9464")).url == "http://[::1]:9464/metrics"
    assert ab.scrape_plan("[::1]:9464", None, opts(b="--metrics [::]:9464")).sides == ("B",)  # a wildcard


@pytest.mark.parametrize("spec, interval, o, says", [
    ("9464", None, opts(), "neither side's options have --metrics"),
    ("9464", None, opts(b="--metric 9464"), "neither side's options have --metrics"),
    ("9465", None, opts(b="--metrics 9464"), "side B's --metrics 9464 is not the port --scrape 9465 scrapes"),
    ("9464", None, opts(b="--metrics 0"), "port 0 takes any free one"),
    ("9464", None, opts(b="--metrics 198.18.0.1:9464"), "(give --scrape 198.18.0.1:9464)"),
    ("198.18.0.1:9464", None, opts(b="--metrics 9464"), "does not reach (give --scrape 9464)"),
    ("0", None, opts(b="--metrics 0"), "give the port the reflector serves"),
    ("9464", 0.0, opts(b="--metrics 9464"), "--scrape-interval SECS, more than 0"),
    ("9464", -1.0, opts(b="--metrics 9464"), "--scrape-interval SECS, more than 0"),
    ("9464", None, opts(b="--metrics bad"), "B: --metrics bad: the port must be a number"),
])
def test_a_scrape_that_could_not_reach_anything_is_refused_before_the_run(spec, interval, o, says):
    with pytest.raises(BenchError) as e:
        ab.scrape_plan(spec, interval, o)
    assert says in str(e.value) and e.value.status == 2


def test_counts_take_whole_lines_only():
    text = "ok 2048\nerror ConnectionRefusedError: [Errno 111] Connection refused\nok 2050\nerror Tim"
    assert ab.count_scrapes(text) == {"scrapes": 2, "scrape_errors": 1,
                                      "last_error": "ConnectionRefusedError: [Errno 111] Connection refused"}
    assert ab.count_scrapes("") == {"scrapes": 0, "scrape_errors": 0, "last_error": None}


PLAN = ab.ScrapePlan("127.0.0.1", 9464, 1.0, ("B",))


def rec(side, scrapes=None, errors=0, trial="fixed"):
    r = {"side": side, "trial": trial}
    if scrapes is not None:
        r.update(scrapes=scrapes, scrape_errors=errors)
    return r


def test_a_side_none_of_whose_scrapes_succeeded_fails_and_says_why():
    assert ab.scrape_failure([rec("A"), rec("B", 1)], "B", PLAN) is None
    assert ab.scrape_failure([rec("A")], "A", PLAN) is None  # not scraped: nothing to judge
    assert ab.scrape_failure([rec("B", 0, 1), rec("B", 1, 1)], "B", PLAN) is None  # some failed, not all
    why = ab.scrape_failure([rec("A"), rec("B", 0, 2)], "B", PLAN, "ConnectionRefusedError: refused")
    assert why.startswith("B: all 2 scrape(s) of http://127.0.0.1:9464/metrics in 1 trial(s) failed")
    assert "(last: ConnectionRefusedError: refused)" in why
    why = ab.scrape_failure([rec("B", 0, 0)], "B", PLAN)
    assert "no scrape of http://127.0.0.1:9464/metrics was even tried" in why and "0.5 s" in why


def test_the_summary_counts_a_sides_scrapes():
    trials = [rec("A"), rec("B", 1), rec("B", 2), rec("B", 1), rec("B", 3, 0, "pdr")]
    assert ab.scrape_summary(trials, "B", PLAN) == ("  B: 7 scrape(s) of http://127.0.0.1:9464/metrics answered, 0 "
                                                    "failed, in 4 trial(s) (1 per fixed-load trial, median)")
    assert ab.scrape_summary([rec("B", 1, 1)], "B", PLAN).endswith("1 failed, in 1 trial(s) (1 per fixed-load "
                                                                   "trial, median): warning: not every trial "
                                                                   "was scraped alike")


# The scraper itself, against servers of the test's own on 127.0.0.1.

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # kept alive, as libmicrohttpd does
    status = 200
    drop_after_each = False  # close the connection after each answer, without saying so

    def do_GET(self):  # noqa: N802
        type(self).accepts.append(self.headers.get("Accept", ""))
        body = b"# TYPE trf_frames_read counter\ntrf_frames_read_total 1\n# EOF\n" if self.path == "/metrics" else b""
        self.send_response(self.status if self.path == "/metrics" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.drop_after_each:
            self.close_connection = True

    def log_message(self, *a):
        pass


@pytest.fixture
def server():
    servers = []

    def make(**kw):
        h = type("H", (Handler,), {"accepts": [], **kw})
        s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), h)
        threading.Thread(target=s.serve_forever, daemon=True).start()
        servers.append(s)
        return s, h

    yield make
    for s in servers:
        s.shutdown()
        s.server_close()


def scrape_for(port: int, seconds: float, interval: float = 0.1) -> dict:
    """The scraper as ab runs it (less the namespace), for `seconds` after it is ready; its counts."""
    plan = ab.ScrapePlan("127.0.0.1", port, interval, ("B",))
    cpu = min(os.sched_getaffinity(0))
    rfd, wfd = os.pipe()
    p = subprocess.Popen(ab.scraper_argv(plan, cpu) + ["--ready-fd", str(wfd)], pass_fds=(wfd,),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    os.close(wfd)
    try:
        with os.fdopen(rfd, "rb") as ready:
            start = ready.readline()
        assert b'"type": "start"' in start, p.stderr.read() if p.poll() is not None else start
        time.sleep(seconds)
    finally:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=10)
    assert p.returncode == -signal.SIGTERM, err
    return ab.count_scrapes(out)


def test_the_scraper_counts_answered_scrapes_half_an_interval_in(server):
    s, h = server()
    # at 0.05, 0.15, 0.25, 0.35 s: 4, give or take one for a slow start
    c = scrape_for(s.server_address[1], 0.4)
    assert 3 <= c["scrapes"] <= 5 and c["scrape_errors"] == 0, c
    assert h.accepts and h.accepts[0].startswith("application/openmetrics-text;version=1.0.0")


def test_a_connection_the_server_closed_while_idle_is_no_error(server):
    s, _ = server(drop_after_each=True)
    c = scrape_for(s.server_address[1], 0.4)
    assert c["scrapes"] >= 3 and c["scrape_errors"] == 0, c


def test_the_scraper_counts_refusals_and_bad_answers(server):
    s, _ = server(status=500)
    c = scrape_for(s.server_address[1], 0.3)
    assert c["scrapes"] == 0 and c["scrape_errors"] >= 2 and "HTTP 500" in c["last_error"], c
    s.shutdown()
    s.server_close()  # nothing listens there now
    c = scrape_for(s.server_address[1], 0.3)
    assert c["scrapes"] == 0 and c["scrape_errors"] >= 2 and "ConnectionRefusedError" in c["last_error"], c


def test_a_scraper_that_died_is_an_error(tmp_path):
    class Proc:
        out = tmp_path / "scrape.out"

        def running(self):
            return False

        def stop(self):
            return 1

        def stderr_tail(self):
            return "Traceback: boom"

    Proc.out.write_text("ok 10\n")
    sc = ab.Scraper.__new__(ab.Scraper)
    sc.proc = Proc()
    with pytest.raises(BenchError) as e:
        sc.stop()
    assert e.value.status == EXIT_MEASUREMENT and "the scraper exited (1) during the trial: Traceback: boom" in str(e.value)


# main() wired to a lab that runs nothing: which trials are scraped, from where, what their records say,
# and that a side that scraped nothing ends the run at its first trial.

class FakeProc:
    def __init__(self, out, lines):
        self.out = out
        out.write_text("".join(f"{line}\n" for line in lines))

    def running(self):
        return True

    def stop(self):
        return -signal.SIGTERM


class FakeLab:
    cpu_r, cpu_g = 0, 1

    def __init__(self, tmp, answer):
        self.tmp, self.answer, self.spawned, self.reflector, self.started = tmp, answer, [], None, []
        self.configs = []

    def __call__(self, tools, prog):  # as ab calls Lab(ctx.tools, "ab")
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def start_reflector(self, args, binary=None):
        self.started.append(args)
        lab = self

        class Reflector:
            def finish(self):
                lab.reflector = None
                return {"cpu_ns_per_frame": 1000.0 + len(lab.started) % 3, "frames_per_wakeup": 1.0}

        self.reflector = Reflector()
        return self.reflector

    def tapgen(self, args, timeout):
        if "--search" in args:
            return [{"ndr_pps": 2e5, "pdr_pps": 2.1e5, "ceiling_pps": 3e5}]
        return [{"rate_target": 1e5, "loss_ratio": 0.0, "rtt_us": {"p50": 30.0, "p99": 60.0}}]

    def spawn(self, name, argv, ns=None, ready=False):
        assert ready and self.reflector is not None  # after the reflector, which must still run
        self.spawned.append((argv, self.started[-1]))
        return FakeProc(self.tmp / f"{name}.out", self.answer)


def run_main(tmp_path, monkeypatch, answer, *argv):
    from tapreflect_bench.common import Context
    from tapreflect_bench.lab import Tools

    lab = FakeLab(tmp_path, answer)
    monkeypatch.setattr(ab, "Lab", lab)
    said = []
    ctx = Context(Tools("/bin/true", "/bin/true", tmp_path, True), None, said.append)
    new_run = ctx.new_run

    def keep_config(kind, config):
        lab.configs.append(config)
        return new_run(kind, config)

    ctx.new_run = keep_config
    args = parser().parse_args(["--rate", "100000", "--pdr-reps", "0", "--reps", "8", "--out", str(tmp_path / "o"),
                                *argv])
    return ab.main(args, ctx), lab, said


def test_only_the_side_with_metrics_is_scraped_from_tapgens_cpu(tmp_path, monkeypatch):
    rc, lab, said = run_main(tmp_path, monkeypatch, ["ok 900", "error TimeoutError: timed out", "ok 900"],
                             "--b-opts", "--metrics 9464", "--scrape", "9464", "--scrape-interval", "0.5")
    assert rc in (0, 1, 3)
    assert len(lab.spawned) == 8 and all("--metrics" in started for _, started in lab.spawned)
    argv = lab.spawned[0][0]
    assert argv[-5:] == ["127.0.0.1", "9464", "0.5", "1", ab.SCRAPE_ACCEPT]  # CPU 1: tapgen's
    trials = [json.loads(line) for line in (tmp_path / "o" / "trials.json").read_text().splitlines()]
    assert [("scrapes" in t, t.get("scrapes"), t.get("scrape_errors")) for t in trials if t["side"] == "B"] == \
        [(True, 2, 1)] * 8
    assert not any("scrapes" in t for t in trials if t["side"] == "A")
    assert all(t["schema_version"] == 3 for t in trials)
    assert {k: v for k, v in lab.configs[0].items() if k.startswith("scrape")} == \
        {"scrape": "http://127.0.0.1:9464/metrics", "scrape_interval": 0.5, "scrape_sides": "B"}
    text = "\n".join(said)
    assert "scraping B: http://127.0.0.1:9464/metrics every 0.5 s, the first 0.25 s after" in text
    assert "  B: 16 scrape(s) of http://127.0.0.1:9464/metrics answered, 8 failed, in 8 trial(s)" in text


def test_a_side_whose_scrapes_all_failed_ends_the_run_at_its_first_trial(tmp_path, monkeypatch):
    with pytest.raises(BenchError) as e:
        run_main(tmp_path, monkeypatch, ["error ConnectionRefusedError: [Errno 111] Connection refused"],
                 "--b-opts", "--metrics 9464", "--scrape", "9464")
    assert e.value.status == EXIT_MEASUREMENT
    assert "--scrape: B: all 1 scrape(s) of http://127.0.0.1:9464/metrics in 1 trial(s) failed (last: " \
           "ConnectionRefusedError: [Errno 111] Connection refused)" in str(e.value)


def test_without_scrape_nothing_is_spawned_and_the_configuration_is_as_before(tmp_path, monkeypatch):
    rc, lab, _ = run_main(tmp_path, monkeypatch, [], "--b-opts", "--metrics 9464")
    assert lab.spawned == [] and rc in (0, 1, 3)
    assert not any(k.startswith("scrape") for k in lab.configs[0])
