"""The refresh-token flow behind ``type: oauth2_refresh`` (imported only when a sync runs)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Generator, Mapping
from typing import Any

import httpx

from tether.connectors.rest.auth.base import AuthContext
from tether.connectors.rest.auth.oauth2 import OAuth2RefreshAuth
from tether.errors import AuthError, UnavailableError

LEEWAY_S = 60
"""Buy a new access token this long before the old one expires (clock skew, a slow page)."""

_cache: dict[str, dict[str, Any]] = {}
_cache_lock = threading.Lock()


def forget_cached_tokens() -> None:
    """Drop every cached access token (tests; a credentials rotation)."""
    with _cache_lock:
        _cache.clear()


class RefreshTokenAuth(httpx.Auth):
    """Signs each request with a cached access token, refreshing it when due."""

    def __init__(
        self, spec: OAuth2RefreshAuth, credentials: Mapping[str, str], context: AuthContext
    ) -> None:
        self.spec = spec
        self.context = context
        self.client_id = credentials[spec.client_id]
        self.client_secret = credentials[spec.client_secret]
        self.refresh_token = credentials[spec.refresh_token]
        url = spec.token_url
        if not url.startswith(("https://", "http://")):
            url = context.base_url.rstrip("/") + "/" + url.lstrip("/")
        self.token_url = url
        material = "\x1f".join((url, self.client_id, self.refresh_token)).encode()
        self.key = hashlib.sha256(material).hexdigest()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token, fresh = self._access_token(force=False)
        self._sign(request, token)
        response = yield request
        if response.status_code in self.spec.refresh_on and not fresh:
            # The cached token was revoked or expired early: buy one more, once.
            token, _ = self._access_token(force=True)
            self._sign(request, token)
            yield request

    def _sign(self, request: httpx.Request, token: str) -> None:
        scheme = self.spec.scheme
        request.headers[self.spec.header] = f"{scheme} {token}" if scheme else token

    def _access_token(self, *, force: bool) -> tuple[str, bool]:
        """The access token, and whether it was just bought."""
        with _cache_lock:
            cached = _cache.get(self.key)
            if cached is not None and not force and not _expired(cached):
                return str(cached["access_token"]), False
            token = self._refresh()
            _cache[self.key] = token
            return str(token["access_token"]), True

    def _refresh(self) -> dict[str, Any]:
        from authlib.integrations.httpx_client import OAuth2Client, OAuthError

        service = self.context.service
        policy = self.context.policy
        client = OAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            token_endpoint_auth_method=self.spec.client_auth,
            scope=self.spec.scope,
            timeout=policy.timeout_s,
        )
        try:
            for attempt in range(policy.max_retries + 1):
                try:
                    token = client.refresh_token(self.token_url, refresh_token=self.refresh_token)
                    break
                except (httpx.TransportError, httpx.HTTPStatusError) as exc:
                    if attempt >= policy.max_retries:
                        raise UnavailableError(
                            f"{service}'s token endpoint did not answer: {type(exc).__name__}.",
                            hint="Network or platform issue; the next sync retries.",
                        ) from None
                    policy.sleep(policy.backoff(attempt))
        except OAuthError as exc:
            raise AuthError(
                f"Authentication failed: {service}'s token endpoint refused the refresh token "
                f"({exc.error}).",
                hint="Renew the refresh token or client secret in the credentials file "
                "(sops edit) and apply.",
            ) from None
        except ValueError:
            raise AuthError(
                f"Authentication failed: {service}'s token endpoint sent no usable token.",
                hint="Check auth.token_url in the spec.",
            ) from None
        finally:
            client.close()
        if not token.get("access_token"):
            raise AuthError(
                f"Authentication failed: {service}'s token endpoint sent no access_token.",
                hint="Check auth.token_url in the spec.",
            )
        return dict(token)


def _expired(token: Mapping[str, Any]) -> bool:
    expires_at = token.get("expires_at")
    if expires_at is None:
        return False
    return bool(float(expires_at) - LEEWAY_S <= time.time())
