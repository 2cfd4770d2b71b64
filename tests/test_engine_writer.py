"""The first-sync shortcut never skips a DELETE that was needed."""

from __future__ import annotations

from tether.engine.writer import FreshKeys, KeyFilter


def test_fresh_keys_report_every_key_written_before() -> None:
    fresh = FreshKeys()
    first = [f"gid://shopify/Order/{i}" for i in range(20_000)]
    assert len(fresh.seen_then_add(first)) < 5  # almost no false "maybe seen"
    again = [f"gid://shopify/Order/{i}" for i in range(19_000, 21_000)]
    seen = fresh.seen_then_add(again)
    assert {f"gid://shopify/Order/{i}" for i in range(19_000, 20_000)} <= seen
    assert len(seen - set(first)) < 5


def test_key_filter_finds_every_key_added() -> None:
    opened = KeyFilter()
    opened.add([f"gid://shopify/Order/{i}" for i in range(0, 60_000, 2)])
    asked = [f"gid://shopify/Order/{i}" for i in range(60_000)]
    found = set(opened.maybe_added(asked))
    assert {f"gid://shopify/Order/{i}" for i in range(0, 60_000, 2)} <= found
    assert len(found) < 30_000 + 5  # almost no false "maybe"
