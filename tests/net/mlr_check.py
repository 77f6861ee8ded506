#!/usr/bin/env python3
"""Check a tapgen --search mlr record against RFC 9971 from its own trace.

The load classification (appendix A) and the conditional throughput
(appendix B) are worked again here, independently of tapgen's C, from the
trials the record lists: every goal's relevant upper bound must be the
smallest load that classifies as an upper bound, its relevant lower bound the
largest lower bound under it, its conditional throughput what that load's
full-length trials give, and a regular result no wider than the goal's width.
Prints one line per goal; exit status 1 with the first disagreement.
"""
import json
import sys

EPS = 1e-9


def classify(trials, goal):
    full = goal["final_trial_duration_s"]
    good_long = bad_long = good_short = bad_short = 0.0
    for t in trials:
        bad = t["loss_ratio"] > goal["loss_ratio"]
        if t["duration_s"] >= full - EPS:
            if bad:
                bad_long += t["duration_s"]
            else:
                good_long += t["duration_s"]
        elif bad:
            bad_short += t["duration_s"]
        else:
            good_short += t["duration_s"]
    e = goal["exceed_ratio"]
    effective_bad = bad_long + max(0.0, bad_short - good_short * e / (1 - e))
    whole = max(good_long + effective_bad, goal["duration_sum_s"])
    quantile = whole * e
    if effective_bad > quantile + EPS:
        return "upper"
    if whole - good_long <= quantile + EPS:
        return "lower"
    return "undecided"


def conditional(load, trials, goal):
    full = sorted((t for t in trials if t["duration_s"] >= goal["final_trial_duration_s"] - EPS),
                  key=lambda t: t["loss_ratio"])
    whole = max(goal["duration_sum_s"], sum(t["duration_s"] for t in full))
    remaining = whole * (1 - goal["exceed_ratio"])
    q = None
    for t in full:
        if q is not None and remaining <= EPS:
            break
        q = t["loss_ratio"]
        remaining -= t["duration_s"]
    if q is None or remaining > EPS:
        q = 1.0
    return load * (1 - q)


def main(path):
    rec = json.load(open(path))
    trials = [t for t in rec["trace"] if t["phase"] != "ceiling"]
    by_load = {}
    for t in trials:
        by_load.setdefault(t["rate_target"], []).append(t)
    for goal in rec["goals"]:
        cls = {load: classify(ts, goal) for load, ts in by_load.items()}
        uppers = [x for x, c in cls.items() if c == "upper"]
        upper = min(uppers) if uppers else None
        lowers = [x for x, c in cls.items() if c == "lower" and (upper is None or x < upper)]
        lower = max(lowers) if lowers else None
        got_l, got_u = goal["relevant_lower_bound_pps"], goal["relevant_upper_bound_pps"]
        if (got_l, got_u) != (lower, upper):
            sys.exit(f"{goal['name']}: bounds {got_l}, {got_u}; the trace gives {lower}, {upper}")
        if lower is not None:
            # The record rounds the figure to whole frames per second.
            ct = conditional(lower, by_load[lower], goal)
            if abs(goal["conditional_throughput_pps"] - ct) > 1:
                sys.exit(f"{goal['name']}: conditional throughput {goal['conditional_throughput_pps']},"
                         f" the trace gives {ct:.1f}")
        regular = lower is not None and upper is not None and (upper - lower) / upper <= goal["width"] + 1e-12
        if goal["regular"] != regular:
            sys.exit(f"{goal['name']}: regular {goal['regular']}, the trace says {regular}")
        print(f"{goal['name']}: lower {lower}, upper {upper}, regular {regular}: as the trace says")


if __name__ == "__main__":
    main(sys.argv[1])
