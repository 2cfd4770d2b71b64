"""Running a spec: requests through the shared HTTP policy, pages of canonical records, cursors.

Cursors (JSON in ``sync_state``), per resource:

* incremental, mid-run: ``{"updated_since": S, "next": <paginator position>, "newest": N}`` —
  a run cut short (kill -9, the rate-limit budget) resumes at the page where it stopped, with
  the same filter; a saved position the API no longer accepts (4xx) restarts from ``S``.
* incremental, done: ``{"updated_since": N}``, the newest ``cursor_field`` seen; the next run asks
  for ``param = N - lookback``.
* not incremental (a snapshot such as inventory): ``{"next": …}`` mid-run, and
  ``{"snapshot": "complete"}`` at the end, so the next run reads it all again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from pydantic import Field

from tether.connectors.base import (
    CAPABILITIES,
    CredentialField,
    Cursor,
    Page,
    ServiceSettings,
    ServiceSpec,
    Window,
)
from tether.connectors.http import HttpPolicy, check_base_url, json_body, make_client, send
from tether.connectors.rest.paginate import Answer, Pager, PageRequest
from tether.connectors.rest.records import RecordMapper, compile_expression, iso_z, parse_time
from tether.connectors.rest.spec import (
    ApiSpec,
    Child,
    Incremental,
    Resource,
    SinglePage,
    SpecError,
    TimeFormat,
    check_document,
    load_spec_file,
)
from tether.connectors.rest.throttle import Throttle
from tether.errors import AuthError, ConnectorError, DataError, Problem, UnsupportedCapabilityError

if TYPE_CHECKING:
    import httpx

    from tether.connectors.rest.auth.base import AuthModel

Report = Callable[[tuple[str | int, ...], str, str | None], None]


class RestSettings(ServiceSettings):
    spec: str | None = None
    """The spec file, relative to the workspace root, e.g. ``specs/acme_orders.yaml``."""
    spec_document: dict[str, Any] | None = None
    """The spec as applied: filled in by ``tether validate/plan`` from ``spec`` (do not write it;
    it is what ``plan`` diffs and what syncs run, until the next apply)."""
    page_size: int | None = Field(default=None, ge=1)
    """Override the spec's page size."""
    wait_budget_s: float = Field(default=60.0, ge=0)
    """Seconds one capability may wait on 429s before stopping until the next run."""
    token_url: str | None = None
    """Override an OAuth 2.0 spec's token URL (a sandbox, a proxy)."""

    def load_workspace_files(
        self, root: Path, capabilities: tuple[str, ...], report: Report
    ) -> list[Problem]:
        """Read and check ``spec``; on success ``spec_document`` holds it (see config checker)."""
        if self.spec is None:
            if self.spec_document is None:
                report((), "missing required setting 'spec'", "e.g. spec: specs/my_api.yaml")
            return []
        path = (root / self.spec).resolve()
        if not path.is_file():
            report(
                ("spec",),
                f"spec file '{self.spec}' does not exist",
                "Create it: docs/rest.md has a complete example.",
            )
            return []
        try:
            spec, document = load_spec_file(path, self.spec)
        except SpecError as exc:
            return exc.problems
        problems = _credential_problems(spec, self.spec)
        for capability in capabilities:
            if capability not in spec.resources:
                report(
                    ("spec",),
                    f"spec '{self.spec}' has no resource for capability '{capability}'",
                    f"Its resources: {', '.join(spec.resources)}.",
                )
        self.spec_document = document
        return problems


REST_CREDENTIALS = (
    ("token", "Bearer token", "The API token sent as 'Authorization: Bearer …'"),
    ("username", "User name", "HTTP basic user (a consumer key)"),
    ("password", "Password", "HTTP basic password (a consumer secret)"),
    ("api_key", "API key", "Sent in the header or query parameter the spec names"),
    ("client_id", "OAuth client id", "OAuth 2.0 client id"),
    ("client_secret", "OAuth client secret", "OAuth 2.0 client secret"),
    ("refresh_token", "OAuth refresh token", "Long-lived token exchanged for access tokens"),
    (
        "consumer_key",
        "OAuth 1.0a consumer key",
        "OAuth 1.0a consumer key (NetSuite: of the integration record)",
    ),
    ("consumer_secret", "OAuth 1.0a consumer secret", "OAuth 1.0a consumer secret"),
    (
        "token_secret",
        "OAuth 1.0a token secret",
        "OAuth 1.0a token secret ('token' holds the token id)",
    ),
)


def _credential_problems(spec: ApiSpec, display: str) -> list[Problem]:
    """A custom spec's auth may read only the fields ``service: rest`` declares."""
    known = [name for name, _, _ in REST_CREDENTIALS]
    if spec.auth is None:
        return []
    return [
        Problem(
            display,
            1,
            1,
            f"auth reads credential field '{name}', which service 'rest' does not have",
            f"Use one of: {', '.join(known)}.",
        )
        for name in spec.auth.credential_names()
        if name not in known
    ]


def _format_time(moment: datetime, fmt: TimeFormat) -> str:
    moment = moment.astimezone(UTC)
    if fmt == "iso_z":
        return iso_z(moment)
    if fmt == "iso_offset":
        return moment.isoformat(timespec="seconds")
    if fmt == "iso_naive":
        return moment.strftime("%Y-%m-%dT%H:%M:%S")
    if fmt == "date":
        return moment.strftime("%Y-%m-%d")
    if fmt == "epoch":
        return str(int(moment.timestamp()))
    if fmt == "epoch_ms":
        return str(int(moment.timestamp() * 1000))
    return moment.strftime("%a, %d %b %Y %H:%M:%S +0000")


class _AuthContext:
    def __init__(self, policy: HttpPolicy, service: str, base_url: str) -> None:
        self.policy = policy
        self.service = service
        self.base_url = base_url


class SpecConnector:
    """A connector driven by an ``ApiSpec``. Subclasses (the built-in platforms) supply the spec
    and may adjust records with ``adjust``; ``RestConnector`` reads it from the settings."""

    preload: ClassVar[tuple[str, ...]] = ("httpx", "jmespath")
    spec: ClassVar[ServiceSpec]

    def __init__(
        self,
        settings: ServiceSettings,
        credentials: Mapping[str, str],
        *,
        full: bool = False,
        window: Window | None = None,
        policy: HttpPolicy | None = None,
        client: httpx.Client | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.full = full
        self.window = window
        self.clock = clock or (lambda: datetime.now(UTC))
        self.api = self.api_spec(settings)
        budget = float(getattr(settings, "wait_budget_s", 60.0))
        self.policy = policy or HttpPolicy(wait_budget_s=budget)
        self.service = self.api.name
        self.credentials = dict(credentials)
        base_url = check_base_url(self.base_url(settings))
        headers = {"accept": "application/json", **self.api.headers}
        self.client = client or make_client(base_url, headers, self.policy)
        if client is not None:
            self.client.headers.update(headers)
        self.base = base_url
        self.auth: AuthModel | None = self.api.auth
        rate = self.api.rate_limit
        self.throttle = Throttle(rate.requests_per_second, rate.burst, sleep=self.policy.sleep)
        self._retry_after_header = rate.retry_after_header
        self._retry_after_scale = 0.001 if rate.retry_after_unit == "ms" else 1.0
        self._authorised = False

    # -- what subclasses say ------------------------------------------------------------------
    def api_spec(self, settings: ServiceSettings) -> ApiSpec:
        raise NotImplementedError

    def base_url(self, settings: ServiceSettings) -> str:
        values = {k: v for k, v in settings.model_dump().items() if isinstance(v, str)}
        root = (settings.base_url or self.api.base_url).format_map(values).rstrip("/")
        return root + self.api.base_path.format_map(values)

    def adjust(self, capability: str, record: dict[str, Any], raw: dict[str, Any]) -> None:
        """A platform's last word on a mapped record (what no spec can say)."""

    # -- fetching ----------------------------------------------------------------------------
    def _authorise(self) -> None:
        if self._authorised or self.auth is None:
            self._authorised = True
            return
        missing = [n for n in self.auth.credential_names() if not self.credentials.get(n)]
        if missing:
            raise AuthError(
                f"{self.service} credentials lack {', '.join(missing)}.",
                hint="Add the field(s) to the integration's SOPS file (sops edit) and apply.",
            )
        token_url = getattr(self.settings, "token_url", None)
        auth = self.auth
        if token_url and hasattr(auth, "token_url"):
            auth = auth.model_copy(update={"token_url": token_url})
        context = _AuthContext(self.policy, self.service, self.base)
        self.client.auth = auth.build(self.credentials, context)
        self._authorised = True

    def fetch(self, capability: str, cursor: Cursor | None) -> Iterator[Page]:
        resource = self.api.resources.get(capability)
        if resource is None:
            raise UnsupportedCapabilityError(
                f"{self.service} does not offer the capability '{capability}'.",
                hint=f"{self.service} offers: {', '.join(self.api.resources)}.",
            )
        self._authorise()
        inc = resource.incremental
        if self.window is not None or self.full:
            cursor = None
        since = cursor.get("updated_since") if cursor and inc else None
        resume = cursor.get("next") if cursor else None
        newest: str | None = cursor.get("newest") if cursor and inc and resume else None
        start = self._since(inc, since)
        params = {**self.api.params, **resource.params}
        if inc is not None and start is not None:
            params[inc.param] = _format_time(start, inc.format)
        if inc is not None and self.window and self.window.until and inc.until_param:
            params[inc.until_param] = _format_time(self.window.until, inc.format)
        paginator = resource.paginator or self.api.paginator
        page_size = getattr(self.settings, "page_size", None)
        pager = Pager(paginator, resource.path, params, page_size)
        mapper = RecordMapper(resource, self.service)
        newest_of = compile_expression(inc.cursor_field) if inc else None
        request: PageRequest | None = pager.first(resume)
        while request is not None:
            try:
                answer, raws = self._get(resource, request, mapper)
            except DataError:
                if not (resume and request.state == resume):
                    raise
                # The saved position expired: read again from the saved filter.
                resume = None
                request = pager.first(None)
                continue
            resume = None
            if newest_of is not None:
                newest = _newest(newest, (newest_of(raw) for raw in raws)) or since
            records = []
            for raw in raws:
                if not mapper.keep(raw):
                    continue
                for child in resource.children:
                    raw[child.name] = self._children(child, raw)
                for record in mapper.canonical(raw):
                    self.adjust(capability, record, raw)
                    records.append(record)
            request = pager.after(request, answer)
            yield Page(
                records=records,
                cursor=self._cursor(inc, since, request, newest),
                raw_count=len(raws),
                waited_s=self.policy.take_waited() + self._take_throttled(),
            )

    def _since(self, inc: Incremental | None, since: str | None) -> datetime | None:
        if inc is None:
            return None
        if self.window is not None:
            return self.window.since
        moment = parse_time(since) if since else None
        if moment is not None:
            return moment - timedelta(seconds=inc.lookback_seconds)
        if inc.initial_days is not None:
            return self.clock() - timedelta(days=inc.initial_days)
        return None

    def _cursor(
        self,
        inc: Incremental | None,
        since: str | None,
        request: PageRequest | None,
        newest: str | None,
    ) -> Cursor | None:
        if self.window is not None:
            return None
        if request is not None:
            if inc is None:
                return {"next": request.state}
            return {"updated_since": since, "next": request.state, "newest": newest}
        if inc is None:
            return {"snapshot": "complete"}
        return {"updated_since": newest} if newest else None

    def _take_throttled(self) -> float:
        waited = self.throttle.waited_s
        self.throttle.waited_s = 0.0
        return waited

    def _children(self, child: Child, parent: dict[str, Any]) -> list[dict[str, Any]]:
        values = {k: quote(str(v), safe="") for k, v in parent.items() if not isinstance(v, dict)}
        try:
            path = child.path.format_map(values)
        except KeyError as exc:
            raise DataError(
                f"{self.service}: a record has no field {exc} for the child request "
                f"'{child.name}' ({child.path}).",
                hint="Fix the child's path in the spec.",
            ) from None
        sub = Resource(path=path, params=child.params, records=child.records, fields={})
        pager = Pager(child.paginator or SinglePage(type="single"), path, dict(child.params))
        mapper = RecordMapper(sub, self.service)
        found: list[dict[str, Any]] = []
        request: PageRequest | None = pager.first(None)
        while request is not None:
            answer, raws = self._get(sub, request, mapper)
            found.extend(raws)
            request = pager.after(request, answer)
        return found

    def _get(
        self, resource: Resource, request: PageRequest, mapper: RecordMapper
    ) -> tuple[Answer, list[dict[str, Any]]]:
        self.throttle.acquire()
        # No params= at all for a next-page URL: httpx would replace its query with an empty one.
        kwargs: dict[str, Any] = {"params": request.params} if request.params else {}
        if resource.body is not None:
            kwargs["json"] = resource.body
        if resource.headers:
            kwargs["headers"] = resource.headers
        response = send(
            self.client,
            resource.method,
            request.url,
            self.policy,
            service=self.service,
            retry_after_header=self._retry_after_header,
            retry_after_scale=self._retry_after_scale,
            **kwargs,
        )
        shown = request.url.split("?", 1)[0]
        if response.status_code >= 300:
            raise DataError(
                f"{self.service} refused {resource.method} {shown}: {response.status_code} "
                f"{_error_detail(response)}",
                hint="Check the integration's settings and spec; if they look right, the next "
                "sync retries.",
            )
        # BigCommerce v2 answers 204 No Content when nothing matches.
        empty = response.status_code == 204 or not response.content
        body: Any = [] if empty else json_body(response, self.service)
        raws = mapper.raw_records(body)
        answer = Answer(
            url=str(response.request.url),
            headers=response.headers,
            body=body,
            count=len(raws),
            links={str(k): v for k, v in response.links.items()},
        )
        return answer, raws

    def close(self) -> None:
        self.client.close()


def _newest(current: str | None, values: Iterator[Any]) -> str | None:
    best = parse_time(current) if current else None
    for value in values:
        moment = parse_time(value)
        if moment is not None and (best is None or moment > best):
            best = moment
    return iso_z(best) if best is not None else current


class RestConnector(SpecConnector):
    """``service: rest`` — any REST API, described by a spec the workspace carries."""

    spec: ClassVar[ServiceSpec] = ServiceSpec(
        name="rest",
        display_name="Custom: API integrations",
        description="Any REST API, described by a YAML spec in the workspace (docs/rest.md)",
        capabilities=tuple(CAPABILITIES.values()),
        credential_fields=tuple(
            CredentialField(name, label, type="password", required=False, secret=True, help=text)
            for name, label, text in REST_CREDENTIALS
        ),
        settings_model=RestSettings,
    )

    def api_spec(self, settings: ServiceSettings) -> ApiSpec:
        assert isinstance(settings, RestSettings)
        if settings.spec_document is None:
            raise ConnectorError(
                "This integration has no applied spec.",
                hint="Set settings.spec to the spec file, then `tether plan` and `tether apply`.",
            )
        api, problems = check_document(settings.spec_document)
        if api is None:
            listed = "; ".join(message for _, message, _ in problems)
            raise ConnectorError(
                f"The applied spec is invalid: {listed}",
                hint="Fix the spec file, then `tether plan` and `tether apply`.",
            )
        return api


def platform_spec(
    api: ApiSpec, name: str, description: str, settings_model: type[ServiceSettings]
) -> ServiceSpec:
    """A built-in platform's ``ServiceSpec``, from its shipped spec (capabilities = resources,
    credential fields = the spec's ``credentials``)."""
    return ServiceSpec(
        name=name,
        display_name=api.name,
        description=description,
        capabilities=tuple(CAPABILITIES[c] for c in api.resources),
        credential_fields=tuple(
            CredentialField(
                c.name,
                c.label,
                type="password" if c.secret else "string",
                required=c.required,
                secret=c.secret,
                placeholder=c.placeholder,
                help=c.help,
            )
            for c in api.credentials
        ),
        settings_model=settings_model,
    )


def _error_detail(response: httpx.Response) -> str:
    """The message of a 4xx body in the common error shapes (NetSuite's ``o:errorDetails``,
    Amazon's ``errors``, OAuth's ``error_description``, ``message``), else its start."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        listed = body.get("o:errorDetails") or body.get("errors")
        first = listed[0] if isinstance(listed, list) and listed else None
        if isinstance(first, dict):
            text = first.get("detail") or first.get("message")
            if text:
                return repr(str(text)[:300])
        for key in ("error_description", "message", "error", "title"):
            if isinstance(body.get(key), str):
                return repr(body[key][:300])
    return repr(response.text[:160])
