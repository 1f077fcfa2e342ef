"""OAuth2 for mailboxes that refuse passwords (Google Workspace, Microsoft 365): an access
token from a refresh token (RFC 6749 section 6), kept until shortly before it expires, and the
SASL XOAUTH2 string IMAP and SMTP log in with.

Blocking by design: IMAP and SMTP connect in worker threads, and so does the token refresh.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

from config import Settings


class OAuth2Error(Exception):
    """The token endpoint refused to issue an access token (a revoked or wrong refresh token,
    a wrong client): a configuration problem a person must fix."""


class RefreshingToken:
    """Callable access-token provider: ``token()`` returns a valid access token."""

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        refresh_token: str,
        client_secret: str | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
        margin_seconds: float = 60.0,
    ) -> None:
        self._url = token_url
        self._form = {"grant_type": "refresh_token", "refresh_token": refresh_token,
                      "client_id": client_id}
        if client_secret:
            self._form["client_secret"] = client_secret
        self._http = http or httpx.Client(timeout=30.0)
        self._clock = clock
        self._margin = margin_seconds
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()
        self.refreshes = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> RefreshingToken | None:
        """The provider of SUPPORTBOT_MAIL_OAUTH2_*; None when no token URL is set."""
        if not settings.mail_oauth2_token_url:
            return None
        if not settings.mail_oauth2_client_id or settings.mail_oauth2_refresh_token is None:
            raise ValueError("SUPPORTBOT_MAIL_OAUTH2_CLIENT_ID and _REFRESH_TOKEN are required "
                             "with SUPPORTBOT_MAIL_OAUTH2_TOKEN_URL")
        secret = settings.mail_oauth2_client_secret
        return cls(token_url=settings.mail_oauth2_token_url,
                   client_id=settings.mail_oauth2_client_id,
                   refresh_token=settings.mail_oauth2_refresh_token.get_secret_value(),
                   client_secret=secret.get_secret_value() if secret else None)

    def __call__(self) -> str:
        with self._lock:
            if self._token is not None and self._clock() < self._expires - self._margin:
                return self._token
            try:
                response = self._http.post(self._url, data=self._form)
            except httpx.HTTPError as exc:
                raise OSError(f"OAuth2 token endpoint unreachable: {exc}") from exc
            body = _json(response)
            token = body.get("access_token")
            if response.status_code != 200 or not isinstance(token, str) or not token:
                error = body.get("error") or f"HTTP {response.status_code}"
                raise OAuth2Error(f"OAuth2 token refresh refused: {error}")
            expires_in = body.get("expires_in")
            lifetime = float(expires_in) if isinstance(expires_in, int | float) else 3600.0
            self._token, self._expires = token, self._clock() + lifetime
            self.refreshes += 1
            return token


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def xoauth2(user: str, access_token: str) -> str:
    """The SASL XOAUTH2 initial response (before base64), as Google and Microsoft define it."""
    return f"user={user}\x01auth=Bearer {access_token}\x01\x01"
