"""Paginators: which request comes after this page, and where a run cut short resumes.

Pure logic over (request, response headers, body, record count): no I/O, so each kind is tested
with plain data. A position (``state``) is JSON — ``{"page": 3}``, ``{"offset": 200}``,
``{"token": "…"}`` or ``{"url": "…"}`` — saved in the cursor with each page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from tether.connectors.rest.records import compile_expression
from tether.connectors.rest.spec import (
    CursorPaginator,
    LinkHeaderPaginator,
    NextUrlPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    Paginator,
    SinglePage,
)
from tether.errors import DataError


@dataclass(frozen=True)
class PageRequest:
    url: str
    """A path relative to the base URL, or an absolute URL (a next link)."""
    params: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] | None = None
    """This request's position, saved so a resumed run asks for it again."""


@dataclass(frozen=True)
class Answer:
    """What a paginator may look at in a response."""

    url: str
    """The absolute URL that was requested."""
    headers: Mapping[str, str]
    body: Any
    count: int
    links: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Parsed ``Link`` headers by rel (``httpx.Response.links``)."""


class Pager:
    def __init__(
        self, spec: Paginator, path: str, params: dict[str, Any], page_size: int | None = None
    ) -> None:
        self.spec = spec
        self.path = path
        self.params = dict(params)
        self.size = page_size or getattr(spec, "page_size", None) or getattr(spec, "limit", None)

    def first(self, state: Mapping[str, Any] | None) -> PageRequest:
        """The first request, or the one at a saved position."""
        s = self.spec
        params = dict(self.params)
        size_param = getattr(s, "size_param", None)
        if isinstance(s, OffsetPaginator):
            size_param = s.limit_param
        if size_param and self.size:
            params[size_param] = self.size
        if isinstance(s, PageNumberPaginator):
            page = int(state["page"]) if state and "page" in state else s.start
            return PageRequest(self.path, {**params, s.page_param: page}, {"page": page})
        if isinstance(s, OffsetPaginator):
            offset = int(state["offset"]) if state and "offset" in state else 0
            return PageRequest(self.path, {**params, s.offset_param: offset}, {"offset": offset})
        if isinstance(s, CursorPaginator) and state and state.get("token"):
            return self._token_request(str(state["token"]), params)
        if isinstance(s, LinkHeaderPaginator | NextUrlPaginator) and state and state.get("url"):
            return PageRequest(str(state["url"]), {}, {"url": state["url"]})
        return PageRequest(self.path, params, None)

    def after(self, request: PageRequest, answer: Answer) -> PageRequest | None:
        """The request for the next page, or ``None`` after the last."""
        s = self.spec
        if isinstance(s, SinglePage):
            return None
        if isinstance(s, PageNumberPaginator):
            return self._next_page(s, request, answer)
        if isinstance(s, OffsetPaginator):
            return self._next_offset(s, request, answer)
        if isinstance(s, CursorPaginator):
            token = compile_expression(s.cursor_path)(answer.body)
            if token in (None, "") or answer.count == 0:
                return None
            params = dict(self.params)
            if s.size_param and self.size:
                params[s.size_param] = self.size
            return self._token_request(str(token), params)
        if isinstance(s, LinkHeaderPaginator):
            link = answer.links.get(s.rel, {}).get("url")
            return self._url_request(link, answer) if answer.count else None
        assert isinstance(s, NextUrlPaginator)
        value = None
        if s.header:
            value = answer.headers.get(s.header)
        if value in (None, "") and s.path:
            value = compile_expression(s.path)(answer.body)
        return self._url_request(value, answer) if answer.count else None

    def _short(self, count: int, stop_when_short: bool) -> bool:
        return count == 0 or (stop_when_short and self.size is not None and count < self.size)

    def _next_page(
        self, s: PageNumberPaginator, request: PageRequest, answer: Answer
    ) -> PageRequest | None:
        page = int(request.params[s.page_param])
        total = None
        if s.total_pages_header:
            total = _int(answer.headers.get(s.total_pages_header))
        if total is None and s.total_pages_path:
            total = _int(compile_expression(s.total_pages_path)(answer.body))
        if total is not None and page - s.start + 1 >= total:
            return None
        if self._short(answer.count, s.stop_when_short and total is None):
            return None
        nxt = page + 1
        return PageRequest(self.path, {**request.params, s.page_param: nxt}, {"page": nxt})

    def _next_offset(
        self, s: OffsetPaginator, request: PageRequest, answer: Answer
    ) -> PageRequest | None:
        offset = int(request.params[s.offset_param]) + answer.count
        if s.has_more_path is not None:
            if not compile_expression(s.has_more_path)(answer.body):
                return None
        elif s.total_path is not None:
            total = _int(compile_expression(s.total_path)(answer.body))
            if total is not None and offset >= total:
                return None
        if self._short(answer.count, s.stop_when_short and s.has_more_path is None):
            return None
        return PageRequest(
            self.path, {**request.params, s.offset_param: offset}, {"offset": offset}
        )

    def _token_request(self, token: str, params: dict[str, Any]) -> PageRequest:
        assert isinstance(self.spec, CursorPaginator)
        base = {} if self.spec.token_only else params
        return PageRequest(self.path, {**base, self.spec.cursor_param: token}, {"token": token})

    def _url_request(self, value: Any, answer: Answer) -> PageRequest | None:
        if value in (None, ""):
            return None
        url = urljoin(answer.url, str(value))
        if urlsplit(url).netloc != urlsplit(answer.url).netloc:
            # Following it would send our credentials to another host.
            raise DataError(
                f"The next-page link points at another host ({urlsplit(url).netloc}); "
                "not following it.",
                hint="Contact the service's support; the next sync retries.",
            )
        return PageRequest(url, {}, {"url": url})


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
