"""Iterating while a thread already produces what comes next."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar, cast

T = TypeVar("T")

_DONE = object()


def prefetch(items: Iterator[T], depth: int = 2, name: str = "tether-prefetch") -> Iterator[T]:
    """Yield ``items`` while a background thread produces the next ones.

    The source iterator runs entirely in that thread; at most ``depth`` produced items wait
    (bounded memory). Items come out in order, and an error the source raises comes out after
    the items produced before it (a sync still commits those pages first). Closing this
    iterator stops the thread and closes the source there.
    """
    waiting: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(value: object) -> bool:
        while not stop.is_set():
            try:
                waiting.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    break
            else:
                put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            value = waiting.get()
            if value is _DONE:
                return
            if isinstance(value, BaseException):
                raise value
            yield cast(T, value)
    finally:
        stop.set()
        thread.join(timeout=30)
