"""Slack's HTTP endpoint: ``POST /slack/events`` for the bolt app, as a FastAPI router.

Mounted by the composition root like the webhook's router; Socket Mode needs no endpoint.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier

from config import Settings

log = logging.getLogger(__name__)


def make_slack_events_router(slack_app: AsyncApp, settings: Settings) -> APIRouter:
    """``POST /slack/events``: Events API, interactivity and slash commands.

    The signature is verified with the SDK on the raw bytes before anything is parsed (fail
    closed); a correctly signed body bolt cannot parse (``0``, ``[]``, fields of the wrong
    type) is a client error, answered 400 and logged, not a 500.
    """
    router = APIRouter()
    handler = AsyncSlackRequestHandler(slack_app)
    secret = settings.slack_signing_secret
    verifier = SignatureVerifier(secret.get_secret_value()) if secret is not None else None

    @router.post("/slack/events", tags=["slack"], include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        body = await request.body()
        if verifier is None or not verifier.is_valid_request(body, dict(request.headers)):
            return JSONResponse({"error": "invalid_signature"}, status_code=401)
        try:
            return await handler.handle(request)
        except (TypeError, AttributeError, KeyError, ValueError, IndexError) as exc:
            # Listener errors are answered by bolt itself (500, so Slack retries); what reaches
            # here failed in bolt's own parsing of a signed but malformed body.
            log.warning("rejected a malformed Slack request: %s: %s",
                        exc.__class__.__name__, exc)
            return JSONResponse({"error": "malformed_request"}, status_code=400)

    return router
