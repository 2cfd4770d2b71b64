"""Watch directories for credential values while a command runs: a thread re-reads every file
under the given roots in a loop (no inotify: it works everywhere and sees short-lived files that
survive at least one pass) and records any file that ever held one of the values in plain text.

The system temp dir is shared with other work and holds hundreds of MB, so there only files
created or changed since the watch began are read (the command's own; any size up to a cap far
above what a credential file could be)."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

RECENT_FILE_CAP = 64 * 1024 * 1024


def _files(root: Path, since: float | None) -> Iterator[str]:
    for folder, _dirs, names in os.walk(root, onerror=lambda _: None):
        for name in names:
            path = os.path.join(folder, name)
            if since is None:
                yield path
                continue
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if max(st.st_mtime, st.st_ctime) >= since and st.st_size <= RECENT_FILE_CAP:
                yield path


def scan_once(roots: Iterable[Path], needles: list[bytes], since: float | None = None) -> set[str]:
    hits = set()
    for root in roots:
        for path in _files(root, since):
            try:
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                with open(path, "rb") as handle:
                    data = handle.read()
            except OSError:  # vanished between listing and reading, unreadable, or a socket
                continue
            if any(needle in data for needle in needles):
                hits.add(path)
    return hits


class Watch:
    def __init__(self) -> None:
        self.hits: set[str] = set()
        self.passes = 0


@contextmanager
def watch(roots: list[Path], values: list[str]) -> Iterator[Watch]:
    """Scan ``roots`` fully, and the system temp dir for recent files, until the block ends."""
    needles = [v.encode() for v in values]
    since = time.time() - 1
    system_tmp = [Path(tempfile.gettempdir())]
    seen = Watch()
    stop = threading.Event()

    def one_pass() -> None:
        seen.hits |= scan_once(roots, needles) | scan_once(system_tmp, needles, since)
        seen.passes += 1

    def loop() -> None:
        while not stop.is_set():
            one_pass()
            stop.wait(0.01)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()
        one_pass()
