"""The HTML reports, rendered from synthetic records and read back with html.parser:
what the first screen holds and in which order, that every chart is inline SVG,
that nothing refers outside the page, and the stream, configuration and history
parts."""
import json
from html.parser import HTMLParser

import pytest

from tapreflect_bench import charts, judge, report
from tapreflect_bench.model import EXIT_BAD_INPUT, BenchError, ChangePoint, Metric, Row, Trend, TrendPoint

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent, order):
        self.tag, self.attrs, self.parent, self.order = tag, dict(attrs), parent, order
        self.children, self.text = [], []

    def classes(self):
        return (self.attrs.get("class") or "").split()

    def all_text(self):
        return "".join(self.text) + "".join(c.all_text() for c in self.children)

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()

    def find_all(self, tag=None, cls=None, **attrs):
        return [n for n in self.walk() if (tag is None or n.tag == tag) and (cls is None or cls in n.classes())
                and all(n.attrs.get(k) == v for k, v in attrs.items())]

    def find(self, tag=None, cls=None, **attrs):
        found = self.find_all(tag, cls, **attrs)
        assert found, f"no <{tag or '*'}> with class {cls!r} and {attrs}"
        return found[0]


class Tree(HTMLParser):
    """A DOM of the page, good enough to ask what comes where (the pages are well formed)."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.count = 0
        self.root = self.cur = Node("#root", {}, None, 0)
        self.attr_values = []  # every (tag, name, value): what the page could refer to
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.count += 1
        self.attr_values += [(tag, k, v or "") for k, v in attrs]
        node = Node(tag, attrs, self.cur, self.count)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        self.count += 1
        self.attr_values += [(tag, k, v or "") for k, v in attrs]
        self.cur.children.append(Node(tag, attrs, self.cur, self.count))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        assert n is not self.root, f"</{tag}> closes nothing"
        self.cur = n.parent

    def handle_data(self, data):
        self.cur.text.append(data)


def rows_of(table):
    return [[td.all_text().strip() for td in tr.find_all("td")] for tr in table.find("tbody").find_all("tr")]


def row(name, ratio, ci, verdict, kind="timed", unit="ns/frame", gates=False, gating=False):
    return Row(name=name, unit=unit, kind=kind, base=10.0, cur=10.0 * ratio, ratio=ratio, ci=ci, p=0.01, pairs=None,
               detectable=None if ci is None else (ci[1] - ci[0]) / 2, threshold=0.05 if kind == "timed" else 0.01,
               gates=gates, gating=gating, inconclusive_gates=False, verdict=verdict)


def metric(name, samples, kind="timed", unit="ns/frame"):
    return Metric(name=name, kind=kind, unit=unit, samples=list(samples))


ROWS = [row("ab/cpu_ns_per_frame", 1.1, (1.08, 1.12), "REGRESSION", gates=True, gating=True),
        row("ab/rtt_p50_us", 0.94, (0.91, 0.97), "improved", unit="us"),
        row("ab/rtt_p99_us", 0.98, (0.5, 1.6), "inconclusive (the interval reaches beyond ±5%)", unit="us"),
        row("reflect/udp_64", 1.0, None, "no change", kind="icount", unit="instructions/frame", gates=True)]
BASE = {"ab/cpu_ns_per_frame": metric("ab/cpu_ns_per_frame", [10, 10.2, 9.9, 10.1, 10.05]),
        "ab/rtt_p50_us": metric("ab/rtt_p50_us", [35, 36, 34, 35, 35.5], unit="us"),
        "ab/rtt_p99_us": metric("ab/rtt_p99_us", [100, 300, 90, 2000, 150], unit="us"),
        "reflect/udp_64": metric("reflect/udp_64", [148], "icount", "instructions/frame"),
        "old/metric": metric("old/metric", [1, 2])}
CUR = {"ab/cpu_ns_per_frame": metric("ab/cpu_ns_per_frame", [11, 11.2, 10.9, 11.1, 11.05]),
       "ab/rtt_p50_us": metric("ab/rtt_p50_us", [33, 33.5, 32, 33, 34], unit="us"),
       "ab/rtt_p99_us": metric("ab/rtt_p99_us", [110, 250, 95, 900, 160], unit="us"),
       "reflect/udp_64": metric("reflect/udp_64", [148], "icount", "instructions/frame"),
       "new/metric": metric("new/metric", [3, 1, 2, 10])}
SEARCH = [{"phase": "ceiling", "step": 0, "offered_pps": 400000, "loss_ratio": 0.3, "pass": False},
          {"phase": "NDR", "step": 1, "offered_pps": 200000, "loss_ratio": 0, "pass": True},
          {"phase": "NDR", "step": 2, "offered_pps": 299000, "loss_ratio": 0.002, "pass": False},
          {"phase": "PDR", "step": 1, "offered_pps": 250000, "loss_ratio": 0.001, "pass": True}]
HIST = [[20, 25, 100], [25, 30, 5000], [30, 40, 9000], [40, 50, 400], [100, 120, 9]]
SUMMARY = {"type": "summary", "schema_version": 2, "version": "0.1.0", "link": "tun", "io": "uring",
           "reflect": "respond", "offloads": "off", "queues": 2, "buffers": 256, "frame_size": 16384,
           "accounting_exact": True,
           "per_queue": [{"queue": q, "read": read, "ring_flags": "SINGLE_ISSUER|DEFER_TASKRUN",
                          "ring_restricted": "on", "wait": "sleep", "fallback": ""}
                         for q, read in ((0, "multishot"), (1, "fixed"))]}
TRACES = {f"{side}-{kind}": {"search": [{"type": "search", "trace": SEARCH}] if kind == "search" else [],
                              "trial": [{"type": "tapgen", "rtt_hist_us": HIST}] if kind == "rtt" else [],
                              "summary": [dict(SUMMARY)] if kind == "reflector" else []}
          for side in "ab" for kind in ("search", "rtt", "reflector")}
STREAMS = [{"scenario": sc, "mode": "tap", "traffic": "tcp", "io": "uring", "offload": off, "rep": rep,
            "gbps": g, "loss_ratio": loss, "cpu_ns_per_kib": cpu, "cpu_ns_per_frame": 900, "verified": ok}
           for sc, off, reps in (("tcp_tap", "on", [(20, 0, 40, True), (22, 0.001, 44, True), (21, 0, 42, True)]),
                                 ("tcp_tap", "off", [(8, 0, 90, True), (9, 0, 80, True), (7, 0.002, 85, True)]),
                                 ("udp_tun", "on", [(5, 0, 30, True), (6, 0, 31, False)]))
           for rep, (g, loss, cpu, ok) in enumerate(reps)]
META_A = {"kind": "meta", "machine": {"id": "abc", "cpus": 2, "kernel": "6.18"}, "config": {"profile": "quick"}}
META_B = {"kind": "meta", "machine": {"id": "abc", "cpus": 2, "kernel": "6.19"}, "config": {"profile": "quick"}}
CONFIG = {"profile": "quick", "reps": 5, "reflector_cpu": 1}


def comparison(tmp_path, **over):
    args = dict(title="A/B: B / A", rows=ROWS, base=BASE, cur=CUR, base_metas=[META_A], cur_metas=[META_B],
                missing=["old/metric"], added=["new/metric"], settings=judge.Settings(), traces=TRACES,
                streams=STREAMS, config=CONFIG)
    args.update(over)
    path = tmp_path / "report.html"
    report.render_report(path, **args)
    text = path.read_text(encoding="utf-8")
    return text, Tree(text).root


def details_sections(root):
    return [s for s in root.find_all("section") if "details" in s.classes()]


def test_first_screen_holds_the_verdict_and_the_headline_ratios_before_any_detail(tmp_path):
    _, root = comparison(tmp_path)
    banner = root.find(id="verdict")
    word, sentence = judge.summary(ROWS, judge.Settings())
    assert word == "FAIL"  # one gating regression among the rows
    assert banner.find(cls="word").all_text().strip() == word
    assert banner.find(cls="sentence").all_text().strip() == sentence
    headline = root.find("table", cls="headline-ratios")
    # The timed metrics only, each with judge's own texts for ratio, interval and verdict (an
    # inconclusive one in a word: the details table says why).
    cols = judge.COLUMNS

    def short(v):
        return "inconclusive" if v.startswith("inconclusive") else v

    want = [[c[cols.index(k)] if k != "verdict" else short(c[cols.index(k)])
             for k in ("metric", "ratio", "interval", "verdict")]
            for c in (judge.cells(r, judge.Settings()) for r in ROWS if r.kind == "timed")]
    assert rows_of(headline) == want
    assert [r[1] for r in want] == ["1.100", "0.940", "0.980"]
    ratio_fig = root.find("figure", cls="ratio-chart")
    details = details_sections(root)
    assert [s.attrs["id"] for s in details] == ["verdicts", "unmatched", "samples", "search", "rtt", "streams",
                                                "configuration"]
    first_detail = min(s.order for s in details)
    assert banner.order < headline.order < first_detail
    assert ratio_fig.order < first_detail
    # The verdict cells are coloured by what they say.
    cells = headline.find_all("td", cls="verdict")
    assert [c.classes()[1] for c in cells] == ["v-bad", "v-good", "v-unsure"]


def test_the_full_verdict_table_has_every_row_and_judges_texts(tmp_path):
    _, root = comparison(tmp_path)
    table = root.find(id="verdicts").find("table", cls="verdicts")
    assert [th.all_text() for th in table.find("thead").find_all("th")] == list(judge.COLUMNS)
    assert rows_of(table) == [judge.cells(r, judge.Settings()) for r in ROWS]
    unmatched = root.find(id="unmatched")
    assert unmatched.find("ul", cls="missing").all_text() == "old/metric"
    assert unmatched.find("ul", cls="added").all_text() == "new/metric"


def test_every_chart_is_inline_svg_and_draws_what_it_was_given(tmp_path):
    _, root = comparison(tmp_path)
    figures = root.find_all("figure")
    kinds = [next(c for c in f.classes() if c.endswith("-chart")) for f in figures]
    # Samples: one chart per timed metric in both sides (not the instruction count).
    assert sorted(kinds) == sorted(["ratio-chart", "samples-chart", "samples-chart", "samples-chart",
                                    "search-chart", "rtt-chart", "streams-chart"])
    for f in figures:
        assert f.children[0].tag == "svg", f.classes()
        assert f.children[0].attrs.get("viewbox")
    ratio = root.find("figure", cls="ratio-chart")
    assert len([n for n in ratio.walk() if n.attrs.get("id", "").split("-")[-2:-1] == ["point"]]) == 3
    for f in root.find_all("figure", cls="samples-chart"):
        ids = [n.attrs.get("id", "") for n in f.walk()]
        assert sum(i.endswith(("-side-0", "-side-1")) for i in ids) == 2  # baseline and current
        assert sum(i.endswith(("-median-0", "-median-1")) for i in ids) == 2
    rtt_ids = [n.attrs.get("id", "") for n in root.find("figure", cls="rtt-chart").walk()]
    assert sum(i.endswith(("-curve-0", "-curve-1", "-curve-2")) for i in rtt_ids) == 2  # a-rtt and b-rtt
    search_ids = [n.attrs.get("id", "") for n in root.find("figure", cls="search-chart").walk()]
    for kind in ("pass", "fail", "ceiling"):
        assert sum(i.endswith(f"-{kind}") for i in search_ids) == 2
    # Ids stay unique across all the charts of one page.
    ids = [n.attrs["id"] for n in root.walk() if "id" in n.attrs]
    assert len(ids) == len(set(ids))


def test_nothing_refers_outside_the_page_and_there_is_no_script(tmp_path):
    text, root = comparison(tmp_path)
    assert not root.find_all("script")
    for tag in ("img", "link", "iframe", "object", "embed", "image", "use"):
        for n in root.find_all(tag):
            assert all(not v or v.startswith("#") for k, v in n.attrs.items() if k in ("src", "href", "xlink:href"))
    tree = Tree(text)
    for tag, name, value in tree.attr_values:
        if name.startswith("xmlns"):
            continue  # a namespace name, never fetched
        assert "http:" not in value and "https:" not in value and not value.startswith("//"), (tag, name, value)
        if name in ("src", "href", "xlink:href"):
            assert value.startswith("#"), (tag, name, value)
    assert "@import" not in text and "url(http" not in text and "url(//" not in text
    assert "<!DOCTYPE svg" not in text and "<?xml" not in text


def test_names_are_escaped_everywhere(tmp_path):
    evil = "x/<script>alert(1)</script>"
    rows = [row(evil, 1.0, (0.99, 1.01), "no change")]
    _, root = comparison(tmp_path, rows=rows, base={evil: metric(evil, [1, 2, 3, 4, 5])},
                         cur={evil: metric(evil, [1, 2, 3, 4, 5])}, missing=[evil], added=[],
                         config={evil: evil})
    assert not root.find_all("script")
    assert rows_of(root.find("table", cls="headline-ratios"))[0][0] == evil
    assert [r[1] for r in rows_of(root.find("table", cls="run-config"))] == [evil]


def test_stream_table_gives_each_scenario_medians_ranges_loss_and_cpu(tmp_path):
    _, root = comparison(tmp_path)
    table = root.find(id="streams").find("table", cls="streams")
    got = rows_of(table)
    # scenario, setup, on: Gbit/s (min..max), worst loss, CPU median; off: the same; verified
    assert got == [["tcp_tap", "tap · tcp · uring", "21 (20..22)", "0.1 %", "42", "8 (7..9)", "0.2 %", "85", "6/6"],
                   ["udp_tun", "tap · tcp · uring", "5.5 (5..6)", "0 %", "30.5", "-", "-", "-", "1/2"]]
    assert "v-bad" in table.find_all("td")[-1].classes()  # an unverified repetition stands out
    bars = [n.attrs.get("id", "") for n in root.find("figure", cls="streams-chart").walk()]
    assert sum("-offload-on-" in i for i in bars) == 2 and sum("-offload-off-" in i for i in bars) == 1


def test_configuration_shows_the_run_settings_both_sides_and_the_reflectors(tmp_path):
    _, root = comparison(tmp_path)
    conf = root.find(id="configuration")
    assert rows_of(conf.find("table", cls="run-config")) == [["profile", "quick"], ["reps", "5"],
                                                             ["reflector_cpu", "1"]]
    sides = conf.find("table", cls="config")
    got = {r[0]: r[1:] for r in rows_of(sides)}
    assert got["machine.kernel"] == ["6.18", "6.19"] and got["config.profile"] == ["quick", "quick"]
    differs = [tr.find("td").all_text() for tr in sides.find_all("tr", cls="differs")]
    assert differs == ["machine.kernel"]
    refl = conf.find("table", cls="reflector")
    assert [th.all_text() for th in refl.find_all("th")] == ["trace", *report.REFLECTOR_KEYS]
    assert [r[0] for r in rows_of(refl)] == ["a-reflector", "b-reflector"]
    assert rows_of(refl)[0][report.REFLECTOR_KEYS.index("accounting_exact") + 1] == "true"
    # What every queue agrees on is one value; what differs is said for each queue.
    assert rows_of(refl)[0][report.REFLECTOR_KEYS.index("ring_restricted") + 1] == "on"
    assert rows_of(refl)[0][report.REFLECTOR_KEYS.index("read") + 1] == "q0 multishot, q1 fixed"
    assert rows_of(refl)[0][report.REFLECTOR_KEYS.index("link") + 1] == "tun"
    assert "No configuration was recorded" not in conf.all_text()


def test_a_config_alone_is_shown_and_nothing_at_all_is_said_so(tmp_path):
    _, root = comparison(tmp_path, base_metas=[], cur_metas=[], traces={}, config={"profile": "quick"})
    conf = root.find(id="configuration")
    assert rows_of(conf.find("table", cls="run-config")) == [["profile", "quick"]]
    assert "No configuration was recorded" not in conf.all_text()
    _, root = comparison(tmp_path, base_metas=[], cur_metas=[], traces={}, config=None, streams=())
    assert "No configuration was recorded" in root.find(id="configuration").all_text()
    assert not root.find_all(id="streams") and not root.find_all(id="search")


def test_a_runs_own_report_leads_with_its_results(tmp_path):
    _, root = comparison(tmp_path, rows=None, base=None, base_metas=[], missing=[], added=[])
    assert not root.find_all(id="verdict") and not root.find_all(id="verdicts")
    results = root.find("table", cls="results")
    got = {r[0]: r[1:] for r in rows_of(results)}
    assert got["new/metric"] == ["ns/frame", "2.5", "1", "10", "4"]  # median of 3 1 2 10
    assert got["ab/rtt_p99_us"] == ["us", "160", "95", "900", "5"]
    assert got["reflect/udp_64"] == ["instructions/frame", "148", "148", "148", "1"]
    assert results.order < min(s.order for s in details_sections(root))
    assert len(root.find_all("figure", cls="samples-chart")) == 4  # the timed metrics of the run


def test_the_page_is_the_same_for_the_same_input(tmp_path):
    first, _ = comparison(tmp_path)
    second, _ = comparison(tmp_path)
    assert first == second


def test_charts_draw_nothing_from_nothing():
    assert charts.ratio_chart([]) == ""
    assert charts.ratio_chart([r for r in ROWS if r.kind == "icount"]) == ""
    assert charts.samples_chart("m", "ns", [("current", [])]) == ""
    assert charts.search_chart({"a": {"search": [], "trial": [], "summary": []}}) == ""
    assert charts.rtt_chart({"a": {"search": [], "trial": [{"rtt_hist_us": []}], "summary": []}}) == ""
    assert charts.streams_chart([]) == ""
    assert charts.trend_chart(Trend("m", "ns", "lower", "abc", "k")) == ""


def test_read_traces_files_records_by_type_under_the_file_name(tmp_path):
    (tmp_path / "a-search.jsonl").write_text(json.dumps({"type": "search", "trace": SEARCH}) + "\n\n"
                                             + json.dumps({"type": "tapgen", "rtt_hist_us": HIST}) + "\n"
                                             + json.dumps({"type": "other"}) + "\n")
    (tmp_path / "b.json").write_text(json.dumps(SUMMARY) + "\n")
    traces = report.read_traces([str(tmp_path / "a-search.jsonl"), tmp_path / "b.json"])
    assert list(traces) == ["a-search", "b"]
    assert [len(traces["a-search"][k]) for k in ("search", "trial", "summary")] == [1, 1, 0]
    assert traces["b"]["summary"] == [SUMMARY]
    (tmp_path / "bad.jsonl").write_text('{"type": "search"}\nnot json\n')
    with pytest.raises(BenchError) as e:
        report.read_traces([str(tmp_path / "bad.jsonl")])
    assert e.value.status == EXIT_BAD_INPUT and "bad.jsonl:2" in str(e.value)
    with pytest.raises(BenchError) as e:
        report.read_traces([str(tmp_path / "absent.jsonl")])
    assert e.value.status == EXIT_BAD_INPUT


def points(values, complete=None):
    return [TrendPoint(run_id=i + 1, started=f"2025-01-{i + 1:02d}T00:00:00+00:00", commit=f"{i:07x}deadbeef",
                       version="0.1.0", value=v, n=5, complete=True if complete is None else complete(i))
            for i, v in enumerate(values)]


def test_history_has_a_chart_per_trend_and_its_change_points(tmp_path):
    pts = points([10, 10.2, 9.9, 10.1, 12, 12.1, 11.9, 11, 11.1, 10.9], complete=lambda i: i != 2)
    moved = Trend("ab/cpu_ns_per_frame", "ns/frame", "lower", "abc", "k1", pts, [
        ChangePoint(4, 4, 5, pts[3].commit, pts[4].commit, 10.05, 12.0, 1.194, (1.17, 1.21)),
        ChangePoint(7, 7, 8, pts[6].commit, pts[7].commit, 12.0, 11.0, 0.917, None)])
    flat = Trend("ab/rtt_p50_us", "us", "lower", "abc", "k1", points([35, 35.5, 34.8]), [])
    path = tmp_path / "history.html"
    report.render_history(path, title="History of abc", trends=[moved, flat], machine={"id": "abc", "cpus": 2},
                          config={"profile": "quick"})
    text = path.read_text(encoding="utf-8")
    root = Tree(text).root
    assert not root.find_all("script")
    overview = root.find("table", cls="trends")
    assert [r[0] for r in rows_of(overview)] == ["ab/cpu_ns_per_frame", "ab/rtt_p50_us"]
    sections = [s for s in root.find_all("section") if "trend" in s.classes()]
    assert len(sections) == 2 and overview.order < sections[0].order
    for s in sections:
        figs = s.find_all("figure")
        assert len(figs) == 1 and "trend-chart" in figs[0].classes() and figs[0].children[0].tag == "svg"
    ids = [n.attrs.get("id", "") for n in sections[0].find("figure").walk()]
    assert sum("-change-" in i for i in ids) == 2 and sum("-level-" in i for i in ids) == 3
    assert rows_of(sections[0].find("table", cls="changes")) == [
        ["#4 0000003 → #5 0000004", "10.05", "→", "12", "1.194", "[1.170, 1.210]"],
        ["#7 0000006 → #8 0000007", "12", "→", "11", "0.917", "-"]]
    pts_rows = sections[0].find("table", cls="points").find("tbody").find_all("tr")
    assert len(pts_rows) == 10
    assert [i for i, tr in enumerate(pts_rows) if "level-start" in tr.classes()] == [4, 7]
    assert [td.all_text() for td in pts_rows[2].find_all("td")][-1] == "no"
    assert not sections[1].find_all("table", cls="changes")
    assert sum("-change-" in n.attrs.get("id", "") for n in sections[1].walk()) == 0
    assert rows_of(root.find("table", cls="machine")) == [["id", "abc"], ["cpus", "2"]]
