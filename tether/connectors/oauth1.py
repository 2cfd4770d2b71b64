"""OAuth 1.0a request signing (RFC 5849) with authlib, including HMAC-SHA256.

authlib builds the signature base string (method, normalised URL, sorted query and form
parameters, the ``oauth_*`` parameters) and the ``Authorization: OAuth realm="…", …`` header; it
ships HMAC-SHA1, RSA-SHA1 and PLAINTEXT, so HMAC-SHA256 — what NetSuite's token-based
authentication requires — is registered here as the same RFC 5849 §3.4.2 construction with
SHA-256 (key ``escape(consumer_secret) & escape(token_secret)``, base64 of the digest).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Generator
from functools import cache
from typing import Any

import httpx  # this module is imported only when a connector talks HTTP

HMAC_SHA256 = "HMAC-SHA256"


def hmac_sha256(base_string: str, client_secret: str | None, token_secret: str | None) -> str:
    from authlib.common.urls import quote

    key = f"{quote(client_secret or '', safe=b'~')}&{quote(token_secret or '', safe=b'~')}"
    digest = hmac.new(key.encode(), base_string.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _sign_hmac_sha256(client: Any, request: Any) -> str:
    from authlib.oauth1.rfc5849.signature import generate_signature_base_string

    return hmac_sha256(
        generate_signature_base_string(request), client.client_secret, client.token_secret
    )


@cache
def _client_auth() -> type[Any]:
    from authlib.oauth1 import ClientAuth

    ClientAuth.register_signature_method(HMAC_SHA256, _sign_hmac_sha256)
    cls: type[Any] = ClientAuth
    return cls


class OAuth1Signer(httpx.Auth):
    """An ``httpx.Auth`` signing every request (a fresh nonce and timestamp each time).

    authlib's own httpx integration (``OAuth1Auth``) drops a body that is not form-encoded,
    so a JSON POST (SuiteQL's ``{"q": …}``) would arrive empty; this flow asks authlib only for
    the ``Authorization`` header and sends the request otherwise unchanged. Form bodies are
    signed with their parameters, as RFC 5849 §3.4.1.3 requires; other bodies are not signed.
    """

    requires_request_body = True
    requires_response_body = False

    def __init__(
        self,
        *,
        consumer_key: str,
        consumer_secret: str,
        token: str,
        token_secret: str,
        realm: str | None = None,
        signature_method: str = HMAC_SHA256,
    ) -> None:
        self._client = _client_auth()(
            client_id=consumer_key,
            client_secret=consumer_secret,
            token=token,
            token_secret=token_secret,
            signature_method=signature_method,
            realm=realm,
        )

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        form = "application/x-www-form-urlencoded"
        body = request.content.decode() if form in request.headers.get("content-type", "") else ""
        headers = {"Content-Type": form} if body else {}
        _, signed, _ = self._client.sign(request.method, str(request.url), headers, body)
        request.headers["Authorization"] = signed["Authorization"]
        yield request
