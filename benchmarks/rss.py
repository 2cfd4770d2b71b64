"""Peak memory of a process *and its descendants*, sampled while it runs.

A sync forks a fetch worker, so the peak RSS of the syncing process alone (``ru_maxrss``) leaves
the worker out. ``TreeRss`` sums VmRSS over the process tree every ``interval`` seconds; pages the
two share after the fork count twice, so the figure errs on the high side.
"""

from __future__ import annotations

import os
import subprocess
import sys
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
    that are not the sync's (e.g. a sandbox server this benchmark started).

    The sampling runs in a separate process, so it takes no time from the measured one's
    threads (a sampling thread inside it slowed a sync by ~10%).
    """

    def __init__(self, pid: int | None = None, interval: float = 0.05, skip: tuple[int, ...] = ()):
        self.pid = os.getpid() if pid is None else pid
        self.interval = interval
        self.skip = skip
        self.peak_mb = 0.0
        self._sampler: subprocess.Popen[str] | None = None

    def __enter__(self) -> TreeRss:
        skip = ",".join(str(p) for p in self.skip)
        self._sampler = subprocess.Popen(
            [sys.executable, "-c", _SAMPLER, str(self.pid), str(self.interval), skip],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )  # fmt: skip
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._sampler is not None
        out, _ = self._sampler.communicate("stop\n")
        self.peak_mb = float(out.strip() or 0)


_SAMPLER = """
import os, select, sys
from benchmarks.rss import tree_rss_mb
pid, interval = int(sys.argv[1]), float(sys.argv[2])
skip = [int(p) for p in sys.argv[3].split(",") if p] + [os.getpid()]
peak = 0.0
while True:
    peak = max(peak, tree_rss_mb(pid) - sum(tree_rss_mb(p) for p in skip))
    if select.select([sys.stdin], [], [], interval)[0]:
        break
print(peak)
"""
