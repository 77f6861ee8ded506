"""The pure parts of the streams, latency and soak subcommands: tables and metric lines from
given records, sockperf's output as captured, and soak's checks from given counters."""
import pytest

from tapreflect_bench import latency, soak, streams
from tapreflect_bench.model import BenchError


# -- streams --------------------------------------------------------------------------------

def stream_rec(offload, rep, gbps, cpu, *, scenario="tap/tcp/uring", loss=0.0, exact=True, verified=True):
    mode, traffic, io = scenario.split("/")
    return {"kind": "stream", "schema_version": 2, "scenario": scenario, "mode": mode, "traffic": traffic,
            "io": io, "offload": offload, "rep": rep, "gbps": gbps, "sent_gbps": gbps, "loss_ratio": loss,
            "verified": verified, "frames_read": 1000, "bytes_read": 1 << 20, "cpu_s": 0.5,
            "kernel_tx_dropped": 0, "cpu_ns_per_kib": cpu, "cpu_ns_per_frame": 1000.0, "accounting_exact": exact}


# three repetitions, on and off in each; per repetition on/off Gbit/s: 4, 5, 3 -> median 4;
# CPU per byte off/on: 6, 8, 7 -> median 7
STREAMS = [
    stream_rec("on", 1, 12.0, 400.0), stream_rec("off", 1, 3.0, 2400.0),
    stream_rec("on", 2, 15.0, 300.0), stream_rec("off", 2, 3.0, 2400.0),
    stream_rec("on", 3, 9.0, 350.0), stream_rec("off", 3, 3.0, 2450.0),
    stream_rec("on", 1, 8.0, 1000.0, scenario="tun/gso/sync", loss=0.001),
    stream_rec("off", 1, 2.0, 3000.0, scenario="tun/gso/sync", loss=0.002),
]


def test_streams_summary_medians_and_paired_ratios():
    rows = {r["scenario"]: r for r in streams.summarize(STREAMS)}
    tap = rows["tap/tcp/uring"]
    assert (tap["on_gbps"], tap["on_min"], tap["on_max"]) == (12.0, 9.0, 15.0)
    assert (tap["off_gbps"], tap["off_min"], tap["off_max"]) == (3.0, 3.0, 3.0)
    assert tap["on_cpu"] == 350.0 and tap["off_cpu"] == 2400.0
    assert tap["gbps_x"] == pytest.approx(4.0)
    assert tap["cpu_x"] == pytest.approx(7.0)
    assert rows["tun/gso/sync"]["gbps_x"] == pytest.approx(4.0)
    assert rows["tun/gso/sync"]["cpu_x"] == pytest.approx(3.0)


def test_streams_table():
    text = streams.table(STREAMS)
    lines = text.splitlines()
    assert lines[0].startswith("| scenario         | on Gbit/s (min..max)  | off Gbit/s (min..max) |")
    assert lines[0].endswith("| Gbit/s x |  CPU/B x |")
    assert lines[2] == ("| tap/tcp/uring    |  12.00 ( 9.00..15.00) |   3.00 ( 3.00.. 3.00) |     0.000 |     0.000 |"
                        "      350.0 |     2400.0 |     4.00 |     7.00 |")
    assert lines[3].startswith("| tun/gso/sync     |   8.00 ( 8.00.. 8.00) |   2.00 ( 2.00.. 2.00) |     0.100 |"
                               "     0.200 |")
    assert len({len(line) for line in lines[:4]}) == 1  # the columns line up


def test_streams_table_with_one_side_missing():
    # an interrupted run may hold an on trial without its off twin
    text = streams.table([stream_rec("on", 1, 10.0, None)])
    row = text.splitlines()[2]
    assert row.startswith("| tap/tcp/uring    |  10.00 (10.00..10.00) | -                     |")
    assert row.rstrip(" |").endswith("-")


def test_streams_metric_lines():
    lines = streams.metric_lines(STREAMS[:2] + [stream_rec("on", 4, 0.0, None)])
    assert lines[0] == {"kind": "timed", "name": "e2e/stream/tap/tcp/uring/offload-on/gbps", "value": 12.0,
                        "unit": "Gbit/s", "better": "higher"}
    assert lines[1] == {"kind": "timed", "name": "e2e/stream/tap/tcp/uring/offload-on/cpu_ns_per_kib",
                        "value": 400.0, "unit": "ns/KiB", "better": "lower"}
    assert [m["name"] for m in lines[2:]] == ["e2e/stream/tap/tcp/uring/offload-off/gbps",
                                              "e2e/stream/tap/tcp/uring/offload-off/cpu_ns_per_kib",
                                              "e2e/stream/tap/tcp/uring/offload-on/gbps"]  # no CPU: no line


def test_streams_failures():
    assert streams.failures(STREAMS) == []
    bad = [stream_rec("on", 1, 1.0, 1.0, exact=False), stream_rec("off", 1, 1.0, 1.0, verified=False)]
    got = streams.failures(bad)
    assert len(got) == 2
    assert "accounting mismatch" in got[0] and "unverified data" in got[1]


def test_streams_trial_record_udp():
    gen = {"reflected": 250000, "sent": 260000, "duration_s": 2.0, "loss_ratio": 0.01, "duplicates": 0,
           "foreign": 0}
    summary = {"frames_read": 4000, "bytes_read": 2048 * 1024, "cpu_s": 0.2, "kernel_tx_dropped": 3,
               "cpu_ns_per_frame": 50000.0, "accounting_exact": True, "offloads": "csum"}
    r = streams.trial_record(mode="tun", traffic="gso", io="sync", offload="on", rep=2, gen=gen, summary=summary)
    assert r["scenario"] == "tun/gso/sync" and r["schema_version"] == 2
    assert r["gbps"] == pytest.approx(1.0)  # 250 000 x 1000 B x 8 / 2 s
    assert r["sent_gbps"] == pytest.approx(1.04)
    assert r["cpu_ns_per_kib"] == pytest.approx(0.2e9 / 2048)
    assert r["verified"] is True


# -- latency --------------------------------------------------------------------------------

# sockperf 3.7 ping-pong, as printed (with its colour escapes even into a file)
PINGPONG = """\
sockperf: \x1b[2;35m== version #3.7-no.git == \x1b[0m
sockperf[CLIENT] send on:sockperf: using recvfrom() to block on socket(s)

[ 0] IP = 198.18.0.2      PORT = 11111 # UDP
sockperf: Warmup stage (sending a few dummy messages)...
sockperf: Starting test...
sockperf: Test end (interrupted by timer)
sockperf: Test ended
sockperf: [Total Run] RunTime=1.000 sec; Warm up time=400 msec; SentMessages=15726; ReceivedMessages=15725
sockperf: ========= Printing statistics for Server No: 0
sockperf: [Valid Duration] RunTime=0.550 sec; SentMessages=6639; ReceivedMessages=6639
sockperf: \x1b[2;35m====> avg-latency=41.425 (std-dev=26.285)\x1b[0m
sockperf: # dropped messages = 0; # duplicated messages = 0; # out-of-order messages = 0
sockperf: Summary: Latency is 41.425 usec
sockperf: \x1b[2;35mTotal 6639 observations\x1b[0m; each percentile contains 66.39 observations
sockperf: ---> <MAX> observation = 1088.160
sockperf: ---> percentile 99.999 = 1088.160
sockperf: ---> percentile 99.990 = 1008.943
sockperf: ---> percentile 99.900 =  342.814
sockperf: ---> percentile 99.000 =   79.943
sockperf: ---> percentile 90.000 =   45.702
sockperf: ---> percentile 75.000 =   41.306
sockperf: ---> percentile 50.000 =   39.413
sockperf: ---> percentile 25.000 =   37.390
sockperf: ---> <MIN> observation =    6.644
"""


def test_parse_pingpong():
    r = latency.parse_pingpong(PINGPONG)
    assert r["p50_us"] == 39.413 and r["p99_us"] == 79.943 and r["p999_us"] == 342.814
    assert (r["dropped"], r["duplicated"], r["out_of_order"]) == (0, 0, 0)
    assert r["max_us"] == 1088.16 and r["min_us"] == 6.644
    assert r["avg_us"] == 41.425 and r["observations"] == 6639


def test_parse_pingpong_drops_and_garbage():
    r = latency.parse_pingpong(PINGPONG.replace("# dropped messages = 0", "# dropped messages = 12"))
    assert r["dropped"] == 12
    with pytest.raises(BenchError):
        latency.parse_pingpong("sockperf: ERROR: no server\n")
    with pytest.raises(BenchError):  # percentiles but no drop counts: cannot tell a clean run
        latency.parse_pingpong("\n".join(line for line in PINGPONG.splitlines() if "dropped" not in line))


def test_port_bound():
    ss = "UNCONN 0      0      198.19.0.2:11111 0.0.0.0:*\nUNCONN 0 0 [::]:5353 [::]:*\n"
    assert latency.port_bound(ss, 11111) and latency.port_bound(ss, 5353)
    assert not latency.port_bound(ss, 1111) and not latency.port_bound("", 11111)


LAT = [
    {"setup": "tapreflect wait", "rep": 1, "p50_us": 24.0, "p99_us": 38.0, "cpu_util": 0.10},
    {"setup": "tapreflect busy", "rep": 1, "p50_us": 9.0, "p99_us": 17.0, "cpu_util": 1.0},
    {"setup": "sockperf server (veth)", "rep": 1, "p50_us": 26.0, "p99_us": 40.0},
    {"setup": "tapreflect wait", "rep": 2, "p50_us": 25.0, "p99_us": 36.0, "cpu_util": 0.12},
    {"setup": "tapreflect busy", "rep": 2, "p50_us": 8.0, "p99_us": 18.0, "cpu_util": 0.99},
    {"setup": "sockperf server (veth)", "rep": 2, "p50_us": 27.0, "p99_us": 38.0},
]


def test_latency_table():
    assert latency.table(LAT).splitlines() == [
        "setup                        p50 us     p99 us  reflector CPU",
        "tapreflect wait               24.50      37.00           11 %",
        "tapreflect busy                8.50      17.50          100 %",
        "sockperf server (veth)        26.50      39.00              -",
    ]


def test_latency_metric_lines():
    lines = latency.metric_lines(LAT[:3])
    assert [m["name"] for m in lines] == [
        "latency/tapreflect-wait/p50_us", "latency/tapreflect-wait/p99_us",
        "latency/tapreflect-busy/p50_us", "latency/tapreflect-busy/p99_us",
        "latency/sockperf-server-veth/p50_us", "latency/sockperf-server-veth/p99_us"]
    assert lines[0]["value"] == 24.0 and lines[0]["unit"] == "us" and lines[0]["better"] == "lower"


# -- soak -----------------------------------------------------------------------------------

NET_DEV = """\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
  trf0: 61000000 1000000    0    2    0     0          0         0 64000000 1000050    0   40    0     0       0          0
"""
SNMP = """\
Ip: Forwarding DefaultTTL InReceives
Ip: 1 64 1000
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 999990 4 6 1000000 6 0 0 0 0
UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
UdpLite: 0 0 0 0 0 0 0 0 0
"""


def test_proc_parsers():
    assert soak.parse_net_dev(NET_DEV, "trf0") == {"rx_packets": 1000000, "rx_dropped": 2, "tx_packets": 1000050,
                                                  "tx_dropped": 40}
    with pytest.raises(BenchError):
        soak.parse_net_dev(NET_DEV, "trf1")
    udp = soak.parse_snmp(SNMP)
    assert (udp["InDatagrams"], udp["NoPorts"], udp["InErrors"]) == (999990, 4, 6)
    assert soak.parse_vmrss("Name:\ttapreflect\nVmRSS:\t    6196 kB\n") == 6196


def good_tally(**change):
    t = dict(exact=True, sent=1_000_050, received=999_990, read=1_000_000, written=1_000_000,
             dev_tx_dropped=50, dev_rx_packets=1_000_000, dev_rx_dropped=0, udp_in_errors=6, udp_no_ports=4,
             rss0=6196, rss1=6200, fds0=9, fds1=9)
    t.update(change)
    return soak.Tally(**t)


def test_soak_checks_hold():
    assert soak.check(good_tally(), rss_slack=1024) == []


@pytest.mark.parametrize("change, words", [
    (dict(exact=False), "read != written + dropped"),
    (dict(sent=1_000_051), "sent 1000051 != read 1000000 + device drops 50"),
    (dict(dev_rx_packets=999_999), "written 1000000 != device received 999999 (dropped 0)"),
    (dict(dev_rx_dropped=1), "(dropped 1)"),
    (dict(received=999_989), "written 1000000 != received 999989 + UDP errors 6 + no port 4"),
    (dict(fds1=10), "open fds 9 -> 10"),
    (dict(rss1=6196 + 1025), "resident memory 6196 -> 7221 KiB (slack 1024)"),
])
def test_soak_checks_find_a_mismatch(change, words):
    got = soak.check(good_tally(**change), rss_slack=1024)
    assert len(got) == 1 and words in got[0]


def test_soak_tally_from_counters():
    c0 = {"tx_packets": 10, "tx_dropped": 1, "rx_packets": 20, "rx_dropped": 0, "InDatagrams": 5, "InErrors": 0,
          "NoPorts": 0}
    c1 = {"tx_packets": 1010, "tx_dropped": 3, "rx_packets": 1018, "rx_dropped": 0, "InDatagrams": 1003,
          "InErrors": 0, "NoPorts": 0}
    summary = {"accounting_exact": True, "frames_read": 998, "frames_written": 998, "cpu_ns_per_frame": 2500.0}
    gens = [{"sent": 100, "received": 100}, {"sent": 900, "received": 898}]
    t = soak.tally(summary=summary, gens=gens, c0=c0, c1=c1, rss=(6000, 6100), fds=(9, 9))
    assert (t.sent, t.received, t.dev_tx_dropped, t.dev_rx_packets) == (1000, 998, 2, 998)
    assert soak.check(t, rss_slack=1024) == []
    rec = soak.record(engine="uring", mode="tap", duration=10, rate=5000, t=t, rss_max=6100, fds_max=9, failed=[],
                      summary=summary, ndr=None)
    assert rec["type"] == "soak" and rec["schema_version"] == 2 and rec["verdict"] == "pass"
    assert rec["rss_kib"] == {"start": 6000, "end": 6100, "max": 6100}
    assert soak.metric_lines([rec]) == [
        {"kind": "timed", "name": "soak/uring/rss_growth_kib", "value": 100, "unit": "KiB", "better": "lower"},
        {"kind": "timed", "name": "soak/uring/cpu_ns_per_frame", "value": 2500.0, "unit": "ns/frame",
         "better": "lower"}]
    assert soak.line(rec).endswith("RSS 6000 -> 6100 KiB (max 6100), fds 9 -> 9 (max 9): pass")
