"""The one HTTP policy every connector shares: timeouts, retries, backoff and rate limits.

Connectors build requests; this module decides what to do when the answer is bad:

* 401/403 → ``AuthError`` at once (retrying a bad token only burns rate limit).
* 429 → wait ``Retry-After`` (or backoff) while the wait budget lasts, then ``RateLimitedError``.
* 5xx, timeouts, connection errors → bounded exponential backoff with jitter, then
  ``UnavailableError``.
* 3xx → ``ConnectorError`` naming where it pointed. Redirects are never followed: the clients
  carry credentials in headers (``X-Shopify-Access-Token``, ``Api-Token``, TrackStar's keys)
  that httpx, unlike ``Authorization``, would send on to whatever host a redirect names.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tether.errors import (
    AuthError,
    ConnectorError,
    DataError,
    RateLimitedError,
    TetherError,
    UnavailableError,
)

if TYPE_CHECKING:
    import httpx


@dataclass
class HttpPolicy:
    timeout_s: float = 30.0
    max_retries: int = 4
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0
    wait_budget_s: float = 60.0
    """Total seconds one fetch may spend waiting on rate limits before giving up until next run."""
    sleep: Callable[[float], None] = time.sleep
    waited_s: float = field(default=0.0)
    reported_s: float = field(default=0.0)

    def backoff(self, attempt: int) -> float:
        delay: float = min(self.backoff_max_s, self.backoff_base_s * 2.0**attempt)
        return delay * (0.5 + random.random() / 2)

    def wait_for_rate_limit(self, seconds: float, what: str) -> None:
        """Sleep for a rate limit if the budget allows, else raise ``RateLimitedError``."""
        if self.waited_s + seconds > self.wait_budget_s:
            raise RateLimitedError(
                f"Rate limited by {what}: the wait budget of {self.wait_budget_s:.0f}s is spent.",
                hint="The next sync resumes where this one stopped.",
            )
        self.sleep(seconds)
        self.waited_s += seconds

    def take_waited(self) -> float:
        """Seconds waited since the last call (reported on each page as progress)."""
        waited = self.waited_s - self.reported_s
        self.reported_s = self.waited_s
        return waited


def check_base_url(url: str) -> str:
    """Plain http is allowed only to loopback (sandbox, tests); everything else must be https."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return url.rstrip("/")
    if parts.scheme == "http" and parts.hostname in {"127.0.0.1", "localhost", "::1"}:
        return url.rstrip("/")
    raise TetherError(
        f"base_url {url!r} must be https (plain http is allowed only to 127.0.0.1/localhost)."
    )


def make_client(base_url: str, headers: dict[str, str], policy: HttpPolicy) -> httpx.Client:
    import httpx  # lazily: `tether validate` and `plan` load connectors but never talk HTTP

    return httpx.Client(
        base_url=base_url,
        headers=headers,
        timeout=httpx.Timeout(policy.timeout_s, connect=min(10.0, policy.timeout_s)),
        # Connectors talk to one host; keep-alive matters more than pool size.
        limits=httpx.Limits(max_connections=4, max_keepalive_connections=4),
        follow_redirects=False,  # see the module docstring: credentials stay with base_url
    )


def _retry_after(
    response: httpx.Response, fallback: float, header: str | None = None, scale: float = 1.0
) -> float:
    # TrackStar names it x-rate-limit-retry-after; most services use the standard Retry-After;
    # a caller may name its own (BigCommerce: X-Rate-Limit-Time-Reset-Ms, scale 0.001).
    value = response.headers.get(header) if header else None
    if value is None:
        scale = 1.0
        value = response.headers.get("retry-after") or response.headers.get(
            "x-rate-limit-retry-after"
        )
    if value is None:
        return fallback
    try:
        return max(0.0, float(value) * scale)
    except ValueError:
        return fallback


def send(
    client: httpx.Client,
    method: str,
    url: str,
    policy: HttpPolicy,
    *,
    service: str,
    passthrough: Collection[int] = (),
    stream: bool = False,
    retry_after_header: str | None = None,
    retry_after_scale: float = 1.0,
    **kwargs: Any,
) -> httpx.Response:
    """Send with the shared policy; returns a 2xx (or other non-retryable) response.

    ``passthrough`` statuses are returned to the caller as they are, never retried (e.g.
    TrackStar's 501 "not implemented for this WMS", which retrying cannot fix).
    ``stream=True`` returns the response unread (the caller iterates and closes it), e.g. for
    Shopify's bulk JSONL downloads. Messages never show a URL's query string (signed download
    URLs carry credentials there). ``retry_after_header`` names a 429's wait header other than
    ``Retry-After`` (its value times ``retry_after_scale`` is seconds).
    """
    import httpx

    attempt = 0
    shown = url.split("?", 1)[0]
    while True:
        try:
            if stream:
                response = client.send(client.build_request(method, url, **kwargs), stream=True)
            else:
                response = client.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            if attempt >= policy.max_retries:
                raise UnavailableError(
                    f"Connection timeout talking to {service} ({method} {shown}) after "
                    f"{attempt + 1} attempts.",
                    hint="Network or platform issue; retry with a manual sync.",
                ) from exc
        except httpx.TransportError as exc:
            if attempt >= policy.max_retries:
                raise UnavailableError(
                    f"Could not connect to {service} ({method} {shown}): {exc}.",
                    hint="Check the service URL and network; retry with a manual sync.",
                ) from exc
        else:
            status = response.status_code
            if status in passthrough or (200 <= status < 300):
                return response
            if stream:
                response.read()
                response.close()
            if status in (401, 403):
                raise AuthError(
                    f"Authentication failed: {service} answered {status} "
                    f"{response.reason_phrase} to {method} {shown}.",
                    hint="Update the credentials file (sops edit) and apply.",
                )
            if 300 <= status < 400:
                raise _redirected(response, service, method, shown)
            if status == 429:
                wait = _retry_after(
                    response, policy.backoff(attempt), retry_after_header, retry_after_scale
                )
                policy.wait_for_rate_limit(wait, service)
                attempt = 0  # a rate-limit wait is not a failure; the budget bounds it
                continue
            if status < 500:
                return response
            if attempt >= policy.max_retries:
                raise UnavailableError(
                    f"{service} kept failing: {status} {response.reason_phrase} to {method} {shown} "
                    f"after {attempt + 1} attempts.",
                    hint="The service is having trouble; the next sync retries.",
                )
        policy.sleep(policy.backoff(attempt))
        attempt += 1


def _redirected(response: httpx.Response, service: str, method: str, shown: str) -> ConnectorError:
    target = urlsplit(response.headers.get("location", ""))
    origin = response.request.url
    where = f"{target.scheme or origin.scheme}://{target.hostname or origin.host}"
    if target.port:
        where += f":{target.port}"
    where += target.path  # never the query string: signed URLs carry credentials there
    return ConnectorError(
        f"{service} redirected {method} {shown} ({response.status_code}) to {where}; "
        "tether does not follow redirects, so credentials are never sent anywhere but the "
        "configured base_url.",
        hint="If the service moved, set base_url (or the store URL) to the new address.",
    )


def json_body(response: httpx.Response, service: str) -> Any:
    """Decode JSON or raise ``DataError`` naming what came back."""
    try:
        return response.json()
    except ValueError as exc:
        snippet = response.text[:120].replace("\n", " ")
        raise DataError(
            f"Malformed response from {service}: not JSON ({snippet!r}).",
            hint="The service sent an unexpected body; retry later or contact its support.",
        ) from exc
