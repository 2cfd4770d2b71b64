"""Watch directories for credential values while a command runs: a thread re-reads every file
under the given roots in a loop (no inotify: it works everywhere and sees short-lived files that
survive at least one pass) and records any file that ever held one of the values in plain text."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path


def scan_once(roots: Iterable[Path], needles: list[bytes]) -> set[str]:
    hits = set()
    for root in roots:
        for path in root.rglob("*"):
            try:
                if not path.is_file() or path.is_symlink():
                    continue
                data = path.read_bytes()
            except OSError:  # vanished between listing and reading, or a socket
                continue
            if any(needle in data for needle in needles):
                hits.add(str(path))
    return hits


class Watch:
    def __init__(self) -> None:
        self.hits: set[str] = set()
        self.passes = 0


@contextmanager
def watch(roots: list[Path], values: list[str]) -> Iterator[Watch]:
    needles = [v.encode() for v in values]
    seen = Watch()
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            seen.hits |= scan_once(roots, needles)
            seen.passes += 1
            stop.wait(0.01)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()
        seen.hits |= scan_once(roots, needles)
        seen.passes += 1
