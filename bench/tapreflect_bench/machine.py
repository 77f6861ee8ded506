"""Which machine figures were made on: the one identity every writer and reader uses.

The id is no secret: the first 16 hex digits of the SHA-256 of the
machine-id's text with surrounding whitespace stripped.  The old shell runner
hashed the file as it was, trailing newline included, so one machine had two
ids; legacy_ids() gives that older id, so that a baseline it made is still
recognised as this machine's.
"""
from __future__ import annotations

import hashlib
import os
import platform

MACHINE_ID_PATH = "/etc/machine-id"


def _machine_id_text(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _hash16(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def machine_id(path: str = MACHINE_ID_PATH) -> str:
    """This machine's id ("" when the machine-id cannot be read)."""
    text = _machine_id_text(path)
    return "" if text is None else _hash16(text.strip())


def legacy_ids(path: str = MACHINE_ID_PATH) -> set[str]:
    """The ids older writers gave this machine (the hash of the file's text as it is),
    without the current id itself; empty when the machine-id cannot be read."""
    text = _machine_id_text(path)
    if text is None:
        return set()
    return {_hash16(text)} - {_hash16(text.strip())}


def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The first "model name" of the CPU information file ("" when there is none)."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def identity(path: str = MACHINE_ID_PATH) -> dict:
    """{"id", "cpu", "cpus", "kernel"}: what a results file's meta line and the store
    record about the machine (cpus: the CPUs online)."""
    return {"id": machine_id(path), "cpu": cpu_model(), "cpus": os.cpu_count(),
            "kernel": platform.release()}
