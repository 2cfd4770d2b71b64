"""The first-sync shortcut never skips a DELETE that was needed."""

from __future__ import annotations

from tether.engine.writer import FreshKeys


def test_fresh_keys_report_every_key_written_before() -> None:
    fresh = FreshKeys()
    first = [f"gid://shopify/Order/{i}" for i in range(20_000)]
    assert len(fresh.seen_then_add(first)) < 5  # almost no false "maybe seen"
    again = [f"gid://shopify/Order/{i}" for i in range(19_000, 21_000)]
    seen = fresh.seen_then_add(again)
    assert {f"gid://shopify/Order/{i}" for i in range(19_000, 20_000)} <= seen
    assert len(seen - set(first)) < 5
