"""An ``httpx.Auth`` that sets fixed headers or query parameters on every request."""

from __future__ import annotations

from collections.abc import Generator, Mapping

import httpx


class HeaderAuth(httpx.Auth):
    def __init__(self, headers: Mapping[str, str], params: Mapping[str, str] | None = None):
        self.headers = dict(headers)
        self.params = dict(params or {})

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self.headers)
        if self.params:
            request.url = request.url.copy_merge_params(self.params)
        yield request
