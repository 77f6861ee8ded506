"""Engine names, one vocabulary for every subcommand: NAME[+MOD...] -> tapreflect options.

NAME: sync (--io sync), uring (--io uring: its default read), multishot or
fixed (--io uring --read ...), fixed:N (--read fixed --fixed-reads N).
Modifiers: +cUSEC (--coalesce USEC), +busy (--poll busy), +wait (--poll wait: the ring
alone, without --poll hybrid's blocking reads), +hash and +kernel
(--steering hash or kernel), +bN (--buffers N), +perqueue (--workers per-queue).
"""
from __future__ import annotations

import re

from .model import BenchError

NAMES = "sync, uring, multishot, fixed, fixed:N"
MODIFIERS = "+cUSEC, +busy, +wait, +hash, +kernel, +bN, +perqueue"


def engine_args(engine: str) -> list[str]:
    name, *mods = engine.split("+")
    if name == "sync":
        args = ["--io", "sync"]
    elif name == "uring":
        args = ["--io", "uring"]
    elif name in ("multishot", "fixed"):
        args = ["--io", "uring", "--read", name]
    elif re.fullmatch(r"fixed:[0-9]+", name):
        args = ["--io", "uring", "--read", "fixed", "--fixed-reads", name.split(":")[1]]
    else:
        raise BenchError(f"unknown engine {engine} (engines: {NAMES})")
    for mod in mods:
        if re.fullmatch(r"c[0-9]+", mod):
            args += ["--coalesce", mod[1:]]
        elif mod == "busy":
            args += ["--poll", "busy"]
        elif mod == "wait":
            args += ["--poll", "wait"]
        elif mod in ("hash", "kernel"):
            args += ["--steering", mod]
        elif re.fullmatch(r"b[0-9]+", mod):
            args += ["--buffers", mod[1:]]
        elif mod == "perqueue":
            args += ["--workers", "per-queue"]
        else:
            raise BenchError(f"unknown engine modifier +{mod} in {engine} ({MODIFIERS})")
    return args
