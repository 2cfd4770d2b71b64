"""Bloom filters of string keys: "maybe added" / "certainly not", in fixed memory.

A sync passes every key of a first sync through them, so they work on a page of keys at once
with numpy (a Python loop cost ~1 µs per key). Keys are placed by Python's ``hash``: randomised
per process, which is fine, as a filter lives and dies inside the one process that writes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


class KeyFilter:
    """A Bloom filter of string keys: three bits per key in ``BITS`` bits."""

    BITS = 1 << 23
    """1 MiB: about 1 false "maybe" in 100,000 lookups with 60k keys added, 3% with 1M."""
    HASHES = 3
    """Bits set per key (three slices of one 64-bit hash)."""

    def __init__(self) -> None:
        import numpy as np

        # Allocated now: a sync creates its filters while the fetch worker reads the first page.
        self.bits = np.zeros(self.BITS >> 3, np.uint8)

    @classmethod
    def false_maybe_rate(cls, added: int) -> float:
        """The design bound: the chance that a key never added reads "maybe" once ``added``
        keys are in, ``(1 - e^(-k·n/m))^k``."""
        return float((1 - math.exp(-cls.HASHES * added / cls.BITS)) ** cls.HASHES)

    def add(self, keys: Sequence[str]) -> None:
        for byte, bit in self._positions(keys):
            # one bit value at a time: a byte repeated in one fancy-indexed |= gets one write
            for b in range(8):
                self.bits[byte[bit == b]] |= 1 << b

    def maybe_added(self, keys: Sequence[str]) -> list[str]:
        """The ``keys`` that were (maybe) added."""
        import numpy as np

        maybe = np.ones(len(keys), np.bool_)
        for byte, bit in self._positions(keys):
            maybe &= (self.bits[byte] >> bit) & 1 != 0
        return [keys[i] for i in np.flatnonzero(maybe).tolist()]

    def _positions(self, keys: Sequence[str]) -> list[tuple[Any, Any]]:
        """(byte, bit) of each of the three hashes of every key."""
        import numpy as np

        hashes = np.fromiter(map(hash, keys), np.int64, len(keys)).view(np.uint64)
        mask = np.uint64(self.BITS - 1)
        positions = []
        for shifted in (hashes, hashes >> np.uint64(21), (hashes >> np.uint64(42)) ^ hashes):
            position = shifted & mask
            positions.append(
                ((position >> np.uint64(3)).astype(np.int64), (position & 7).astype(np.uint8))
            )
        return positions


class FreshKeys(KeyFilter):
    """The keys one execution wrote into tables that were empty for its integration at start.

    Upserts delete a page's keys before inserting them, and that DELETE scans the table. When
    the tables started empty (a first sync), a key can only be present if this execution wrote
    it, so the DELETE is needed only for keys written by an earlier page. A false "maybe" only
    costs a DELETE that finds nothing.
    """

    BITS = 1 << 27
    """16 MiB, whatever the volume: about 1 false "maybe" in 100,000 lookups with 1M keys."""

    def seen_then_add(self, keys: Sequence[str]) -> set[str]:
        """Add ``keys``; return those (maybe) added by an earlier call.

        A key repeated within ``keys`` is not "seen": the page's upsert keeps one copy of it.
        """
        if not keys:
            return set()
        seen = set(self.maybe_added(keys))
        self.add(keys)
        return seen
