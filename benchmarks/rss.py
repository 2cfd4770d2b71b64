"""Peak memory of a process *and its descendants*, sampled while it runs.

A sync forks a fetch worker, so the peak RSS of the syncing process alone (``ru_maxrss``) leaves
the worker out. ``TreeRss`` sums VmRSS over the process tree every ``interval`` seconds; pages the
two share after the fork count twice, so the figure errs on the high side.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import TracebackType


def tree_rss_mb(pid: int) -> float:
    """RSS of ``pid`` plus every descendant, in MB (processes that vanish count as 0)."""
    total_kb, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
                break
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                pending.extend(int(child) for child in task.read_text().split())
            except OSError:
                continue
    return total_kb / 1024


class TreeRss:
    """``with TreeRss(pid) as rss: ...`` then ``rss.peak_mb``; ``skip`` leaves out processes
    that are not the sync's (e.g. a sandbox server this benchmark started)."""

    def __init__(self, pid: int | None = None, interval: float = 0.02, skip: tuple[int, ...] = ()):
        self.pid = os.getpid() if pid is None else pid
        self.interval = interval
        self.skip = skip
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            total = tree_rss_mb(self.pid) - sum(tree_rss_mb(p) for p in self.skip)
            self.peak_mb = max(self.peak_mb, total)
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> TreeRss:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
