"""``type: oauth2_refresh`` — the OAuth 2.0 refresh-token grant (RFC 6749 §6), via authlib.

The long-lived refresh token (in the credentials) buys a short-lived access token from the token
endpoint; the access token is cached in the process (a sync's fetch worker) until shortly before
it expires, shared by every connector built from the same credentials, and bought again when the
API answers 401 to a cached one (revoked early). Amazon's Login with Amazon is this grant with the token in an
``x-amz-access-token`` header (``header:``/``scheme:``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from tether.connectors.rest.auth.base import AuthContext, AuthModel

if TYPE_CHECKING:
    import httpx


class OAuth2RefreshAuth(AuthModel):
    type: Literal["oauth2_refresh"]
    token_url: str
    """Absolute, or relative to the API's base URL (a sandbox serves both)."""
    client_id: str = "client_id"
    client_secret: str = "client_secret"
    refresh_token: str = "refresh_token"
    """The credential fields holding the client id, client secret and refresh token."""
    client_auth: Literal["client_secret_post", "client_secret_basic"] = "client_secret_post"
    """How the client authenticates to the token endpoint: in the form body or HTTP basic."""
    scope: str | None = None
    header: str = "Authorization"
    scheme: str = "Bearer"
    """The access token is sent as ``<header>: <scheme> <token>`` (no scheme: the bare token)."""
    refresh_on: tuple[int, ...] = (401,)
    """Statuses meaning "the access token expired": buy a new one and retry once (Amazon: 403)."""

    def credential_names(self) -> tuple[str, ...]:
        return (self.client_id, self.client_secret, self.refresh_token)

    def build(self, credentials: Mapping[str, str], context: AuthContext) -> httpx.Auth:
        from tether.connectors.rest.auth.oauth2_flow import RefreshTokenAuth

        return RefreshTokenAuth(self, credentials, context)
