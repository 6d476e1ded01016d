"""What a report is doing while it computes: jobs done, running and queued, and the time left.

On a terminal one line is redrawn every second; elsewhere (a log, or beside a sweep's own lines)
a plain line per finished job, and one at least every `HEARTBEAT` seconds.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from analysis.layers import LayerJob, LayerResult

HEARTBEAT = 30.0


def duration(seconds: float) -> str:
    """`45 s`, `3 min`, `1 h 05 min`."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


class Progress:
    """Counts layer jobs as they are queued and finish; estimates the time left from their costs,
    scaled by how long the finished ones took against their estimates."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False, redraw: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.redraw = self.stream.isatty() if redraw is None else redraw
        self.queued: list[LayerJob] = []  # in submission order
        self.finished = 0
        self.read = 0  # of those, read from the cache
        self.slots = 1  # CPUs the jobs share
        self.spent = self.estimated = 0.0  # seconds and estimates of the computed jobs
        self.t0 = self.last = time.monotonic()
        self.width = 0

    def queue(self, jobs: list[LayerJob]) -> None:
        self.queued.extend(jobs)

    def withdraw(self, jobs: list[LayerJob]) -> None:
        """Queued jobs no longer wanted."""
        gone = set(jobs)
        self.queued = [job for job in self.queued if job not in gone]

    def done(self, result: LayerResult) -> None:
        self.queued.remove(result.job)
        self.finished += 1
        if result.computed:
            self.spent += result.seconds
            self.estimated += result.job.cost()
        else:
            self.read += 1
        if result.error:
            self.say(f"  {result.job.title} FAILED: {result.error}")
        elif not self.redraw and result.computed:
            self.say(f"  [{self.finished:>3}/{self.finished + len(self.queued)}] {result.job.title}: "
                       f"{result.seconds:.1f} s{self._left()}")

    def left(self) -> float:
        """Estimated seconds until the queued jobs are done."""
        scale = self.spent / self.estimated if self.estimated else 1.0
        return scale * sum(j.cost() for j in self.queued) / max(1, min(self.slots, len(self.queued)))

    def tick(self) -> None:
        """Redraw the line (terminal) or, if nothing was said for a while, say what is running."""
        now = time.monotonic()
        if self.quiet or not self.queued:
            return
        running = ", ".join(j.title for j in self.queued[: self.slots])
        text = (f"report: {self.finished}/{self.finished + len(self.queued)} layer jobs done, "
                f"running {running}{self._left()} ({duration(now - self.t0)} so far)")
        if self.redraw:
            self._draw(text)
        elif now - self.last >= HEARTBEAT:
            self.say("  " + text.removeprefix("report: "))

    def close(self, text: str) -> None:
        if self.redraw and self.width:
            self._draw("")
            self.stream.write("\r")
        self.say(text)

    def _left(self) -> str:
        return f"; about {duration(self.left())} left" if self.queued else ""

    def _draw(self, text: str) -> None:
        if self.quiet:
            return
        text = text[:150]
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = len(text)

    def say(self, text: str) -> None:
        self.last = time.monotonic()
        if not self.quiet:
            if self.redraw and self.width:
                self.stream.write("\r" + " " * self.width + "\r")
                self.width = 0
            print(text, file=self.stream, flush=True)
