"""Client-side rate limits: a token bucket of ``requests_per_second`` with ``burst``.

Waiting for the bucket is how a slow API is honoured (Amazon's getOrders allows one request a
minute): it is reported as waiting on each page, never an error, and does not spend the 429 wait
budget, which is for the service refusing us.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Throttle:
    def __init__(
        self,
        requests_per_second: float | None,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = requests_per_second
        self.burst = float(burst)
        self.tokens = float(burst)
        self.clock = clock
        self.sleep = sleep
        self.last = clock()
        self.waited_s = 0.0

    def acquire(self) -> float:
        """Take one request's token, sleeping until there is one; returns the seconds slept."""
        if self.rate is None:
            return 0.0
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        wait = (1.0 - self.tokens) / self.rate
        self.sleep(wait)
        self.last = self.clock()
        self.tokens = 0.0
        self.waited_s += wait
        return wait
