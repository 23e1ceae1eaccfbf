"""When a driven run counts as hung, not slow: shared by the reliability tests and the benchmarks that drive a hub."""

from __future__ import annotations

import time


class Patience:
    """When a driven run counts as hung, not slow: nothing moved (no case or operation decided, no job finished)
    for `stall` seconds, or not done after `cap` seconds in all. A loaded 2-core machine runs the same work several
    times slower (the full crash run took 21 min at load ~25); speed is measured in bench/, so only a
    run that stops moving fails here, whatever the load."""

    def __init__(self, stall: float, cap: float):
        self.stall, self.cap = stall, cap
        self.started = self.moved = time.monotonic()
        self.mark = None

    def hung(self, mark) -> str:
        """Why the run counts as hung ("" while it does not); `mark` is what the run has done so far."""
        now = time.monotonic()
        if mark != self.mark:
            self.mark, self.moved = mark, now
        if now - self.moved > self.stall:
            return f"nothing moved for {self.stall:.0f} s"
        if now - self.started > self.cap:
            return f"not done after {self.cap:.0f} s"
        return ""
