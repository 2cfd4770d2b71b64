"""The Bloom filters of the writer: the first-sync shortcut never skips a DELETE that was
needed, an open item is always found again, and false "maybe"s stay under the design bound."""

from __future__ import annotations

import random

import pytest

from tether.engine.bloom import FreshKeys, KeyFilter


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


def _keys(rng: random.Random, count: int) -> list[str]:
    """Shopify-like order ids, drawn from ``rng`` (distinct: each draw is 64 random bits)."""
    return [f"gid://shopify/Order/{rng.getrandbits(64)}" for _ in range(count)]


@pytest.mark.parametrize("added", [60_000, 1_000_000])
def test_key_filter_has_no_false_negative_and_stays_under_its_false_maybe_bound(
    added: int,
) -> None:
    rng = random.Random(7)
    keys = _keys(rng, added)
    bloom = KeyFilter()
    for start in range(0, added, 10_000):  # a page at a time, as a sync adds them
        bloom.add(keys[start : start + 10_000])
    assert bloom.maybe_added(keys) == keys  # every key added is found, in order

    strangers = [f"gid://shopify/Product/{i}" for i in range(200_000)]
    false_maybes = len(bloom.maybe_added(strangers))
    bound = KeyFilter.false_maybe_rate(added) * len(strangers)
    # the count of false "maybe"s is about Poisson(bound): 1.2x bound + 10 is several σ above
    assert false_maybes <= 1.2 * bound + 10


def test_fresh_keys_stay_under_their_false_maybe_bound_at_a_million_keys() -> None:
    rng = random.Random(11)
    keys = _keys(rng, 1_000_000)
    fresh = FreshKeys()
    seen: set[str] = set()
    for start in range(0, len(keys), 10_000):
        seen |= fresh.seen_then_add(keys[start : start + 10_000])
    # each key was new when added: all it "saw" are false maybes
    assert FreshKeys.false_maybe_rate(1_000_000) < 2e-5
    assert len(seen) <= 1.2 * FreshKeys.false_maybe_rate(1_000_000) * len(keys) + 10
    assert fresh.seen_then_add(keys[:10_000]) == set(keys[:10_000])  # no false negative


def test_the_design_bounds_are_those_the_docstrings_promise() -> None:
    assert KeyFilter.false_maybe_rate(60_000) < 1e-5  # ~1 in 100,000
    assert 0.02 < KeyFilter.false_maybe_rate(1_000_000) < 0.03  # ~3%
    assert FreshKeys.false_maybe_rate(1_000_000) < 1.1e-5
