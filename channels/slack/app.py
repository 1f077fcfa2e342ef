"""The Slack bolt app: built on the injected Web API client, in HTTP or Socket Mode.

The bolt ``AsyncApp`` runs with ``process_before_response=True``: a listener finishes before
Slack gets its HTTP 200, so a customer message is stored by ``accept`` *before* it is
acknowledged (a failed store answers 500 and Slack retries). Listeners therefore only do fast
work (a database write, a cache read); never a Slack API call.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import AcceptError
from config import Settings

log = logging.getLogger(__name__)


def make_slack_app(settings: Settings, *, client: AsyncWebClient) -> AsyncApp:
    """The bolt app for HTTP (``/slack/events``) and Socket Mode, on the injected client.

    ``client`` is built by the caller with ``base_url=settings.slack_api_url`` (tests point it
    at a fake). The signing secret is required for HTTP mode; Socket Mode does not sign.
    """
    secret = settings.slack_signing_secret
    app = AsyncApp(
        client=client,
        signing_secret=secret.get_secret_value() if secret is not None else "",
        # Persist first, then acknowledge: see the module docstring.
        process_before_response=True,
        # Always on, even in Socket Mode: bolt skips the check for Socket Mode envelopes
        # itself, and an HTTP endpoint that is mounted anyway must still fail closed.
        request_verification_enabled=True,
        name="supportbot",
    )
    app.error(_client_error_handler)
    return app


async def _client_error_handler(error: Exception, body: Any, logger: Any) -> BoltResponse | None:
    """A signed request whose fields have shapes bolt does not expect (``"event": true``,
    ``"user": []``) is the sender's error: 400 and a logged rejection, not a 500 that Slack
    would retry forever. Storage failures (``AcceptError``) stay 500 so that Slack retries."""
    if isinstance(error, (TypeError, AttributeError, KeyError, ValueError, IndexError)) and \
            not isinstance(error, AcceptError):
        log.warning("rejected a malformed Slack request: %s: %s", error.__class__.__name__, error)
        return BoltResponse(status=400, body='{"error":"malformed_request"}')
    return None


async def start_socket_mode(app: AsyncApp, settings: Settings) -> AsyncSocketModeHandler:
    """Connect to Slack over Socket Mode (``SLACK_APP_TOKEN``). The caller keeps the handler
    and calls ``await handler.close_async()`` on shutdown."""
    if settings.slack_app_token is None:
        raise ValueError("SLACK_APP_TOKEN is required for Socket Mode")
    handler = AsyncSocketModeHandler(app, settings.slack_app_token.get_secret_value())
    await handler.connect_async()  # type: ignore[no-untyped-call]
    return handler
