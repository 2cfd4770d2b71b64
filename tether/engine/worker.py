"""The fetch worker: a capability's pages fetched and mapped in a child process.

Fetching (HTTP and JSON, or a database driver decoding rows) and mapping are pure Python;
writing a page is mostly DuckDB, which runs without the GIL. In one process the two share the
GIL and a sync uses about one core. With the fetch in a child, the child's Python and the
parent's writes run on two cores (measured in ``benchmarks/``: see docs/benchmarks.md).

The child is forked, so it starts at once and reuses what the parent already holds (the
connector with its decrypted credentials, the mappings): nothing is sent to it. It sends each
page back pickled, its rows already converted to Arrow (``prepare_upsert``), or, for aggregate
pages the parent maps itself, the page's records as they are. It never touches the
state: it exits with ``os._exit`` (no inherited DuckDB handle is flushed or closed by it) and
dies with its parent (``PR_SET_PDEATHSIG``), so a killed sync leaves no orphan fetching.

Where ``fork`` is unavailable (not Linux), or with ``TETHER_FETCH_WORKER=thread``, pages are
fetched in a thread of this process instead (``prefetch``).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import signal
import stat
import sys
import traceback
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection

from tether.connectors.base import Page
from tether.engine.mapping import MappedPage
from tether.engine.writer import prepare_upsert
from tether.errors import TetherError
from tether.prefetch import prefetch

Produce = Callable[[], Iterator[tuple[Page, MappedPage | None]]]

_PR_SET_PDEATHSIG = 1


def fetch_pages(produce: Produce) -> Iterator[tuple[Page, MappedPage | None]]:
    """The pages of ``produce()``, fetched ahead of the caller in a child process or a thread.

    Pages come out in order; an error raised while fetching comes out after the pages fetched
    before it, so those still commit first. Closing the iterator stops the fetch.
    """
    if _use_process():
        return _in_child(produce)
    return prefetch(produce(), name="tether-fetch")


def _use_process() -> bool:
    choice = os.environ.get("TETHER_FETCH_WORKER", "process")
    return choice != "thread" and sys.platform == "linux" and hasattr(os, "fork")


# ---------------------------------------------------------------------------------- the child


def _in_child(produce: Produce) -> Iterator[tuple[Page, MappedPage | None]]:
    read_fd, write_fd = os.pipe()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()  # or the child would inherit, and later print, a copy of the buffer
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: fetch, send, and never return into the caller's code
        os.close(read_fd)
        code = 0
        try:
            _serve(Connection(write_fd, readable=False), produce, parent)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    return _ChildPages(pid, Connection(read_fd, writable=False))


class _ChildPages(Iterator[tuple[Page, MappedPage | None]]):
    """The pages a forked child sends. The child starts fetching at once (before the first
    ``next``), so the service is read while the caller gets ready; ``close`` stops it."""

    def __init__(self, pid: int, reader: Connection) -> None:
        self.pid, self.reader, self.finished = pid, reader, False

    def __next__(self) -> tuple[Page, MappedPage | None]:
        if self.finished:
            raise StopIteration
        try:
            message = self.reader.recv()
        except EOFError:
            raise FetchWorkerLost(self._reap()) from None
        except BaseException:
            self.close()
            raise
        if message[0] == "page":
            return message[1], message[2]
        self.close()
        if message[0] == "error":
            raise message[1]
        raise StopIteration

    def close(self) -> None:
        if self.finished:
            return
        self.finished = True
        self.reader.close()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)  # stopped early (cancel, error): maybe mid-fetch
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)

    def _reap(self) -> str:
        """Wait for a worker that ended without saying so; say how it ended."""
        self.finished = True
        self.reader.close()
        how = "ended"
        with contextlib.suppress(ChildProcessError):
            _, status = os.waitpid(self.pid, 0)
            if os.WIFSIGNALED(status):
                number = os.WTERMSIG(status)
                how = f"was killed by signal {number} ({signal.Signals(number).name})"
                if number == signal.SIGKILL:
                    how += ", perhaps by the out-of-memory killer"
        return (
            f"The fetch worker (pid {self.pid}) {how} before the end of the data. Pages saved "
            "before it are kept; the next sync resumes after them."
        )


class FetchWorkerLost(TetherError):
    """The fetch worker process died without reporting an error (killed, out of memory)."""


def _serve(writer: Connection, produce: Produce, parent: int) -> None:
    """In the child: send ("page", head, mapped) per page (the page itself when it is not
    mapped yet), then ("done",) or ("error", exc)."""
    _die_with(parent)
    _release_inherited_sockets()
    # The collector would walk every object inherited from the parent again and again (and
    # copy each memory page it touches): set them aside, they are not this process's garbage.
    gc.freeze()
    # Ctrl-C and a service manager's SIGTERM (sent to every process of the unit) are the
    # parent's to handle: it finishes the page in flight and stops this process itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        for page, mapped in produce():
            if mapped is None:  # mapped by the parent: the records themselves cross
                writer.send(("page", page, None))
                continue
            for upsert in mapped.upserts:
                prepare_upsert(upsert)
            writer.send(("page", _head(page), mapped))
        writer.send(("done",))
    except BrokenPipeError:
        return  # the parent stopped reading
    except BaseException as exc:
        writer.send(("error", _picklable(exc)))


def _release_inherited_sockets() -> None:
    """Let go of the parent's sockets (a daemon's listener and client connections): a client
    reading to end-of-stream would otherwise wait for this process too. Each is replaced by
    /dev/null rather than closed, so its number is never reused while a Python object inherited
    from the parent still believes it owns it. Connectors open their connections after the
    fork, so none of theirs is among them."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            with contextlib.suppress(OSError):
                if fd != null and stat.S_ISSOCK(os.fstat(fd).st_mode):
                    os.dup2(null, fd)
    except OSError:
        pass  # no /proc: keep them
    finally:
        os.close(null)


def _head(page: Page) -> Page:
    """The page without its records (the parent needs only their count)."""
    count = len(page.records) if page.raw_count is None else page.raw_count
    return Page([], page.cursor, raw_count=count, waited_s=page.waited_s, notes=page.notes)


def _picklable(exc: BaseException) -> BaseException:
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        text = "".join(traceback.format_exception(exc)).rstrip()
        return RuntimeError(f"{type(exc).__name__}: {exc}\n(in the fetch worker)\n{text}")
    return exc


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when its parent dies (e.g. a kill -9 of the sync)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)


__all__ = ["FetchWorkerLost", "fetch_pages"]
