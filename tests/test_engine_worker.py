"""The fetch worker: pages fetched and mapped in a forked child come back in order, errors keep
their code and hint, and the child never outlives the sync that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tether.connectors.base import Page
from tether.engine.mapping import MappedPage, Mappings, map_page
from tether.engine.worker import fetch_pages
from tether.errors import AuthError

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the worker forks on Linux")

ROOT = Path(__file__).resolve().parent.parent
MAPPINGS = Mappings({"SKU-1": "T-1"}, {"web": "online"})


def history(n: int) -> list[dict[str, object]]:
    return [
        {"external_id": f"row-{i}", "date": "2026-01-02", "sku": "SKU-1" if i % 2 else "SKU-9", "channel": "web",
         "quantity": i, "revenue": 2.5 * i}
        for i in range(n)
    ]  # fmt: skip


def pages(count: int, error: Exception | None = None) -> Iterator[tuple[Page, MappedPage]]:
    for n in range(count):
        records = history(4)
        page = Page(records, {"page": n, "pid": os.getpid()})
        yield page, map_page("sales_history", records, MAPPINGS, label=f"page-{n}")
    if error is not None:
        raise error


@pytest.fixture(autouse=True)
def _process_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TETHER_FETCH_WORKER", "process")


def test_pages_come_back_in_order_from_another_process_with_rows_as_arrow() -> None:
    got = list(fetch_pages(lambda: pages(3)))

    assert [page.cursor["page"] for page, _ in got if page.cursor] == [0, 1, 2]
    assert {page.cursor["pid"] for page, _ in got if page.cursor} != {os.getpid()}
    page, mapped = got[0]
    assert page.records == [] and page.raw_count == 4  # only the count crosses
    (item,) = mapped.items
    assert (item.status, item.loaded, item.failed) == ("partial_mapped", 2, 2)
    assert item.errors[0].message == "Unmapped SKU 'SKU-9': no row in mappings/skus.csv"
    table = mapped.upserts[0].prepared
    assert table.column("sku").to_pylist() == ["T-1", "T-1"]


def test_an_error_arrives_after_the_pages_before_it_with_its_code_and_hint() -> None:
    failure = AuthError("Shopify rejected the token.", hint="Rotate the token in secrets/.")
    received = []

    with pytest.raises(AuthError) as raised:
        for page, _ in fetch_pages(lambda: pages(2, failure)):
            received.append(page.cursor)

    assert len(received) == 2
    assert raised.value.code == "AUTH_FAILED"
    assert (
        raised.value.render()
        == "Shopify rejected the token.\n  hint: Rotate the token in secrets/."
    )


def test_a_bug_in_the_worker_surfaces_with_its_traceback() -> None:
    class Unpicklable(Exception):
        def __init__(self) -> None:
            super().__init__("boom")
            self.handle = lambda: None  # cannot be pickled

    with pytest.raises(RuntimeError, match=r"Unpicklable: boom\n\(in the fetch worker\)"):
        list(fetch_pages(lambda: pages(1, Unpicklable())))


def test_stopping_early_ends_the_worker(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"

    def endless() -> Iterator[tuple[Page, MappedPage]]:
        pid_file.write_text(str(os.getpid()))
        while True:
            yield from pages(1)

    iterator = fetch_pages(endless)
    next(iterator)
    iterator.close()  # what a cancelled or failed sync does

    assert not _alive(int(pid_file.read_text()))


def test_the_worker_dies_with_a_killed_sync(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = textwrap.dedent(
        f"""
        import os, sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from tether.engine.worker import fetch_pages

        def slow():
            open({str(pid_file)!r}, "w").write(str(os.getpid()))
            while True:
                time.sleep(0.05)
                yield from ()

        for _ in fetch_pages(slow):
            pass
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], env={**os.environ, "TETHER_FETCH_WORKER": "process"}
    )
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() or not pid_file.read_text():
            assert parent.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        child = int(pid_file.read_text())
        assert _alive(child)
    finally:
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()

    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the fetch worker outlived the killed sync"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"  # a zombie has already exited
    except FileNotFoundError:
        return False


def test_the_worker_lets_go_of_the_parents_sockets() -> None:
    # A daemon's client connections must not stay open in a worker forked while they were.
    import socket
    import stat

    ours, theirs = socket.socketpair()

    def check() -> Iterator[tuple[Page, MappedPage]]:
        still = stat.S_ISSOCK(os.fstat(theirs.fileno()).st_mode)
        for page, mapped in pages(1):
            yield Page(page.records, {"socket_in_worker": still}), mapped

    try:
        ((page, _),) = list(fetch_pages(check))
        assert page.cursor == {"socket_in_worker": False}
        theirs.close()
        assert ours.recv(1) == b""  # end of stream: no other process holds the other end
    finally:
        ours.close()
