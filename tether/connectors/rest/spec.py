"""The spec: a YAML description of a REST API, validated into pydantic models.

Every problem is reported as ``path:line:col`` of the spec file (ruamel positions), all at once,
like the rest of the workspace. Record paths, filters and field expressions are JMESPath
(jmespath.org), compiled here so a typo is found by ``tether validate``, not by a sync.
The format is versioned (``version: 1``); a later format gets a new number, never a silent change.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tether.config import yamlpos
from tether.connectors.base import CAPABILITIES
from tether.connectors.rest.auth import AuthSpec
from tether.errors import Problem

SPEC_VERSION = 1
Scalar = str | int | float | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------------------ paginators


class SinglePage(_Strict):
    """The whole answer is one page."""

    type: Literal["single"]


class PageNumberPaginator(_Strict):
    """``?page=N&per_page=M``; stops at ``total_pages`` (header or body) or a short page."""

    type: Literal["page_number"]
    page_param: str = "page"
    start: int = 1
    size_param: str | None = "per_page"
    page_size: int = Field(default=100, ge=1)
    total_pages_header: str | None = None
    """e.g. WooCommerce's ``X-WP-TotalPages``."""
    total_pages_path: str | None = None
    """JMESPath into the body, e.g. BigCommerce v3's ``meta.pagination.total_pages``."""
    stop_when_short: bool = True
    """A page with fewer records than ``page_size`` is the last (an empty page always is)."""


class OffsetPaginator(_Strict):
    """``?offset=N&limit=M``; stops at ``total_path``, ``has_more_path`` false, or a short page."""

    type: Literal["offset"]
    offset_param: str = "offset"
    limit_param: str = "limit"
    limit: int = Field(default=100, ge=1)
    total_path: str | None = None
    has_more_path: str | None = None
    stop_when_short: bool = True


class CursorPaginator(_Strict):
    """A next-page token in the body (``NextToken``, ``next_cursor``), sent back as a parameter."""

    type: Literal["cursor"]
    cursor_path: str
    """JMESPath to the token in the body; absent, null or empty means the last page."""
    cursor_param: str
    size_param: str | None = None
    page_size: int = Field(default=100, ge=1)
    token_only: bool = False
    """Send only the token (and auth) on later pages, without the first page's parameters
    (Amazon SP-API's ``NextToken`` carries the original filters)."""


class LinkHeaderPaginator(_Strict):
    """RFC 8288 (ex-5988) ``Link: <url>; rel="next"`` headers (GitHub, Shopify REST)."""

    type: Literal["link_header"]
    rel: str = "next"
    size_param: str | None = None
    page_size: int = Field(default=100, ge=1)


class NextUrlPaginator(_Strict):
    """The next page's URL (absolute, path or query string) in a header or the body."""

    type: Literal["next_url"]
    header: str | None = None
    """e.g. ShipBob's ``next-page``."""
    path: str | None = None
    """JMESPath into the body, e.g. ``meta.pagination.links.next``."""
    size_param: str | None = None
    page_size: int = Field(default=100, ge=1)


Paginator = Annotated[
    SinglePage
    | PageNumberPaginator
    | OffsetPaginator
    | CursorPaginator
    | LinkHeaderPaginator
    | NextUrlPaginator,
    Field(discriminator="type"),
]

# ----------------------------------------------------------------------------------- resources

TimeFormat = Literal["iso_z", "iso_offset", "iso_naive", "date", "epoch", "epoch_ms", "rfc2822"]


class Incremental(_Strict):
    """Only what changed since the last run: ``param`` gets the newest ``cursor_field`` seen."""

    param: str
    """The updated-since query parameter, e.g. ``modified_after``."""
    cursor_field: str
    """JMESPath into each raw record: its last-modified time."""
    format: TimeFormat = "iso_z"
    """How ``param`` is written: ``iso_z`` 2026-01-02T03:04:05Z, ``iso_offset`` …+00:00,
    ``iso_naive`` without zone (UTC), ``date``, ``epoch`` seconds, ``epoch_ms``, ``rfc2822``."""
    lookback_seconds: int = Field(default=0, ge=0)
    """Re-read this much before the cursor: records updated while the last run paged."""
    until_param: str | None = None
    """The updated-before parameter, used by backfill windows (``tether sync --since/--until``)."""
    initial_days: int | None = Field(default=None, ge=1)
    """How far back the first sync reads (default: everything)."""


class Child(_Strict):
    """A request per record (an order's items); its records are put into the record as ``name``."""

    name: str
    path: str
    """With ``{field}`` placeholders from the parent record, e.g. ``/orders/{id}/products``."""
    params: dict[str, Scalar] = Field(default_factory=dict)
    records: str = "@"
    paginator: Paginator | None = None
    """Default: ``single``."""


class Explode(_Strict):
    """One output record per element of a list inside each record (inventory per location)."""

    path: str
    """JMESPath to the list, e.g. ``fulfillable_quantity_by_fulfillment_center``."""
    as_: str = Field(alias="as")
    """The name the element gets next to the record's own fields."""


class Lines(_Strict):
    """An order's lines: a list inside the record, each mapped with its own ``fields``."""

    path: str
    fields: dict[str, str]


class Resource(_Strict):
    """One capability: the request, where its records are, and how they map."""

    path: str
    method: Literal["GET", "POST"] = "GET"
    params: dict[str, Scalar] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    body: dict[str, Any] | None = None
    """JSON body for ``POST`` (a query API)."""
    records: str = "@"
    """JMESPath to the list of records in the body (``@``: the body is the list)."""
    paginator: Paginator | None = None
    """Default: the spec's ``paginator``."""
    incremental: Incremental | None = None
    children: list[Child] = Field(default_factory=list)
    filter: str | None = None
    """JMESPath, true for records to keep (the rest still move the cursor)."""
    explode: Explode | None = None
    fields: dict[str, str]
    """Canonical field → JMESPath into the record (see docs/rest.md for each capability's)."""
    lines: Lines | None = None


class RateLimit(_Strict):
    requests_per_second: float | None = Field(default=None, gt=0)
    """Requests are spaced to stay under this (a token bucket); waiting is not an error."""
    burst: int = Field(default=1, ge=1)
    retry_after_header: str | None = None
    """A 429's wait, when the API names it otherwise than ``Retry-After``."""
    retry_after_unit: Literal["s", "ms"] = "s"


class CredentialFieldSpec(_Strict):
    name: str
    label: str
    secret: bool = True
    required: bool = True
    help: str = ""
    placeholder: str = ""


class ApiSpec(_Strict):
    version: int
    name: str = Field(min_length=1)
    description: str = ""
    base_url: str
    """Overridden by the integration's ``settings.base_url``; may name ``{setting}``s."""
    base_path: str = ""
    """Appended to the base URL, override or not (``/wp-json/wc/v3``)."""
    headers: dict[str, str] = Field(default_factory=dict)
    params: dict[str, Scalar] = Field(default_factory=dict)
    """Sent with every request."""
    auth: AuthSpec | None = None
    credentials: list[CredentialFieldSpec] = Field(default_factory=list)
    """Labels and help for the credential fields (built-in platforms list them here)."""
    rate_limit: RateLimit = Field(default_factory=RateLimit)
    paginator: Paginator = Field(default_factory=lambda: SinglePage(type="single"))
    resources: dict[str, Resource] = Field(min_length=1)


# ------------------------------------------------------------------------------------- loading


class SpecError(Exception):
    """A spec with problems; ``problems`` are located in the spec file."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the spec")
        self.problems = problems


def load_spec_text(text: str, display: str) -> tuple[ApiSpec, dict[str, Any]]:
    """Parse and check a spec; returns the model and the document it came from (JSON-ready)."""
    try:
        raw = yamlpos.load_fast(text)
    except yamlpos.YamlSyntaxError as exc:
        raise SpecError([Problem(display, exc.line, exc.col, exc.message)]) from None
    if not isinstance(raw, dict):
        raise SpecError([Problem(display, 1, 1, "expected a mapping (a REST API spec)")])
    spec, problems = check_document(raw)
    if problems:
        doc = yamlpos.load_positions(text)
        raise SpecError(
            [
                Problem(display, *yamlpos.position(doc, loc), message, hint)
                for loc, message, hint in problems
            ]
        )
    assert spec is not None
    return spec, raw


def load_spec_file(path: Path, display: str) -> tuple[ApiSpec, dict[str, Any]]:
    try:
        text = yamlpos.read_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([Problem(display, 1, 1, f"cannot read the spec: {exc}")]) from None
    return load_spec_text(text, display)


@cache
def builtin_spec(name: str) -> ApiSpec:
    """A spec shipped in the package (``specs/<name>.yaml``); a broken one is a bug."""
    path = Path(__file__).with_name("specs") / f"{name}.yaml"
    spec, _ = load_spec_file(path, f"tether/connectors/rest/specs/{name}.yaml")
    return spec


Located = tuple[tuple[str | int, ...], str, str | None]


def check_document(raw: dict[str, Any]) -> tuple[ApiSpec | None, list[Located]]:
    """The model, or every problem with its location inside the document."""
    problems: list[Located] = []
    version = raw.get("version")
    if version != SPEC_VERSION:
        problems.append(
            (
                ("version",),
                f"spec version {version!r} is not supported"
                if version is not None
                else "missing required key 'version'",
                f"This Tether reads spec version {SPEC_VERSION}: start the file with "
                f"'version: {SPEC_VERSION}'.",
            )
        )
    try:
        spec = ApiSpec.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            problems.append(_pydantic_problem(loc, err["type"], err["msg"], err.get("ctx")))
        return None, _dedupe(problems)
    problems.extend(_semantic_problems(spec))
    for attr in ("total_pages_path", "total_path", "has_more_path", "cursor_path", "path"):
        value = getattr(spec.paginator, attr, None)
        problem = compile_problem(value) if isinstance(value, str) else None
        if problem:
            problems.append((("paginator", attr), problem, "See jmespath.org for the syntax."))
    return (None if problems else spec), problems


def _pydantic_problem(
    loc: tuple[str | int, ...], kind: str, msg: str, ctx: dict[str, Any] | None
) -> Located:
    # Union members show up in loc as their tag ('page_number'); drop them from the place.
    place = tuple(p for p in loc if not (isinstance(p, str) and p in _UNION_TAGS))
    where = ".".join(str(p) for p in place)
    if kind == "extra_forbidden":
        return place, f"unknown key '{place[-1]}'", None
    if kind == "missing":
        return place[:-1], f"missing required key '{place[-1]}'", None
    if kind == "union_tag_invalid" and ctx:
        return (
            (*place, "type"),
            f"{where}: unknown type {ctx.get('tag')!r}",
            f"Known types: {ctx.get('expected_tags')}.",
        )
    if kind == "union_tag_not_found":
        return place, f"{where}: missing required key 'type'", None
    return place, f"{where}: {msg.lower()}", None


_UNION_TAGS = {
    "single",
    "page_number",
    "offset",
    "cursor",
    "link_header",
    "next_url",
    "bearer",
    "basic",
    "api_key",
    "oauth2_refresh",
    "oauth1",
}


def _dedupe(problems: list[Located]) -> list[Located]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for problem in problems:
        if (problem[0], problem[1]) not in seen:
            seen.add((problem[0], problem[1]))
            out.append(problem)
    return out


def _semantic_problems(spec: ApiSpec) -> list[Located]:
    problems: list[Located] = []
    for capability, resource in spec.resources.items():
        here: tuple[str | int, ...] = ("resources", capability)
        if capability not in CAPABILITIES:
            problems.append(
                (
                    here,
                    f"resource '{capability}' is not a capability",
                    f"Resources are named after capabilities: {', '.join(CAPABILITIES)}.",
                )
            )
        if "external_id" not in resource.fields:
            problems.append(
                ((*here, "fields"), "fields lack 'external_id' (a unique id per record)", None)
            )
        for loc, expression in _expressions(resource):
            problem = compile_problem(expression)
            if problem:
                problems.append(((*here, *loc), problem, "See jmespath.org for the syntax."))
        if resource.lines is not None and capability not in ("sales_orders", "pending_sales"):
            problems.append(((*here, "lines"), "only orders have lines", None))
    return problems


def _expressions(resource: Resource) -> list[tuple[tuple[str | int, ...], str]]:
    found: list[tuple[tuple[str | int, ...], str]] = [(("records",), resource.records)]
    found += [(("fields", name), expr) for name, expr in resource.fields.items()]
    if resource.filter:
        found.append((("filter",), resource.filter))
    if resource.incremental:
        found.append((("incremental", "cursor_field"), resource.incremental.cursor_field))
    if resource.explode:
        found.append((("explode", "path"), resource.explode.path))
    if resource.lines:
        found.append((("lines", "path"), resource.lines.path))
        found += [(("lines", "fields", n), e) for n, e in resource.lines.fields.items()]
    for index, child in enumerate(resource.children):
        found.append((("children", index, "records"), child.records))
    paginators: list[tuple[Any, tuple[str | int, ...]]] = [(resource.paginator, ("paginator",))]
    paginators += [
        (c.paginator, ("children", i, "paginator")) for i, c in enumerate(resource.children)
    ]
    for paginator, loc in paginators:
        for attr in ("total_pages_path", "total_path", "has_more_path", "cursor_path", "path"):
            value = getattr(paginator, attr, None)
            if isinstance(value, str):
                found.append(((*loc, attr), value))
    return found


def compile_problem(expression: str) -> str | None:
    """Why ``expression`` is not valid JMESPath (with our functions), or ``None``."""
    from tether.connectors.rest.records import compile_expression

    try:
        compile_expression(expression)
    except Exception as exc:  # jmespath raises several parse-error classes
        return f"invalid JMESPath {expression!r}: {str(exc).splitlines()[0]}"
    return None
