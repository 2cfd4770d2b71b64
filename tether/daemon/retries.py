"""Run retries: which failed runs run again, and after how long. Pure: no clock, no state.

A scheduled (or catch-up) run whose executions failed on a *transient* error — the service
timed out, kept answering 5xx (``CONNECTION_TIMEOUT``), or rate limited the run until its wait
budget was spent (``RATE_LIMITED``) — runs again as a run of trigger ``retry_after_failure``,
for the capabilities that failed only, after an exponential backoff with jitter:
``backoff × 2^(n-1) × U(0.5, 1)`` before retry n ("equal jitter": retries of many integrations
that failed together spread out, yet each waits at least half its step).

Not retried: ``AUTH_FAILED`` (a bad token stays bad; retrying only burns rate limit and may
lock the account), mapping errors (``UNMAPPED_*`` items: the fix is a mapping row, then
``tether retry``), malformed answers (``SOURCE_ERROR``), cancelled and interrupted runs, and
manual runs (someone is watching). A retry that fails transiently again schedules the next
attempt until ``retry.attempts`` (the first run included) are spent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

RETRY_TRIGGER = "retry_after_failure"
TRANSIENT_CODES = frozenset({"CONNECTION_TIMEOUT", "RATE_LIMITED"})
"""Error codes a later attempt can clear: timeouts and 5xx (``UnavailableError``), rate limits."""
RETRIED_TRIGGERS = frozenset({"scheduled", "catch_up", RETRY_TRIGGER})
MAX_DELAY_S = 6 * 3600.0
"""No single wait is longer than this, whatever the attempt: the next scheduled tick is near."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int
    backoff_s: float

    def delay_s(self, retry: int, jitter: float) -> float:
        """Seconds before retry number ``retry`` (1 = the first retry); ``jitter`` in [0, 1)."""
        step: float = self.backoff_s * 2.0 ** (retry - 1)
        return min(MAX_DELAY_S, step) * (0.5 + jitter / 2)


@dataclass(frozen=True)
class ExecutionOutcome:
    """What one execution of a finished run ended as (from ``executions``)."""

    domain_type: str
    status: str
    error_code: str | None


@dataclass(frozen=True)
class RetryPlan:
    """A retry to schedule: ``attempt`` of ``attempts``, of the failed run ``retry_of``."""

    integration_id: str
    capabilities: tuple[str, ...]
    attempt: int
    attempts: int
    retry_of: int
    delay_s: float
    reason: str


def transient(outcome: ExecutionOutcome) -> bool:
    return outcome.status in ("failed", "partial") and outcome.error_code in TRANSIENT_CODES


def plan_retry(
    integration_id: str,
    run_id: int,
    trigger: str,
    attempt: int,
    outcomes: Iterable[ExecutionOutcome],
    policy: RetryPolicy,
    jitter: Callable[[], float],
) -> RetryPlan | None:
    """The retry a finished run needs, or ``None`` (it succeeded, or retrying cannot help)."""
    if trigger not in RETRIED_TRIGGERS or attempt >= policy.attempts:
        return None
    failing = [o for o in outcomes if transient(o)]
    if not failing:
        return None
    codes = sorted({o.error_code or "" for o in failing})
    return RetryPlan(
        integration_id=integration_id,
        capabilities=tuple(o.domain_type for o in failing),
        attempt=attempt + 1,
        attempts=policy.attempts,
        retry_of=run_id,
        delay_s=policy.delay_s(attempt, jitter()),
        reason=", ".join(codes),
    )
