"""Progress of a long run: a live bar with elapsed and remaining time on a
terminal (rich), one plain line per step in a log or under CI."""
from __future__ import annotations

import os
import sys
import time


def interactive() -> bool:
    return sys.stdout.isatty() and os.environ.get("CI", "") not in ("true", "1")


class Progress:
    """`with Progress(total, "label") as p: ... p.step("what ran", "result")`."""

    def __init__(self, total: int, label: str):
        self.total, self.label, self.done = total, label, 0
        self.t0 = time.monotonic()
        self._rich = None

    def __enter__(self) -> "Progress":
        if interactive() and self.total > 1:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress,
                                       TextColumn, TimeElapsedColumn, TimeRemainingColumn)

            self._rich = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                                      transient=True)
            self._rich.start()
            self._task = self._rich.add_task(self.label, total=self.total)
        return self

    def __exit__(self, *exc) -> None:
        if self._rich is not None:
            self._rich.stop()

    def doing(self, what: str) -> None:
        """What runs now (a terminal shows it; a log waits for the step's line)."""
        if self._rich is not None:
            self._rich.update(self._task, description=f"{self.label}: {what}")

    def step(self, what: str, result: str = "") -> None:
        """One step finished: a line for the log (above the bar on a terminal)."""
        self.done += 1
        line = f"[{self.done}/{self.total} {time.monotonic() - self.t0:5.0f} s] {what}" + (f": {result}" if result else "")
        if self._rich is not None:
            self._rich.console.print(line, highlight=False)
            self._rich.advance(self._task)
        else:
            print(line, flush=True)
