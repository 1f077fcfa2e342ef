"""The HTTP surface: the FastAPI app with ops routes (health, readiness, metrics), the demo
routes (``/api/ask``, ``/api/conversations``) and the signed Slack events endpoint.

Channel routers (the webhook) are built by the composition root (``bot/app.py``) and passed
in as ``edges``, so this module never imports ``channels`` or ``handoff``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from tortoise import connections

from bot import metrics
from bot.models import Conversation, Draft, Message
from bot.router import Router
from config import Settings

log = logging.getLogger(__name__)


class AskRequest(BaseModel):
    """A question for ``POST /api/ask``."""

    message: str = Field(min_length=1, max_length=20_000)
    subject: str | None = Field(default=None, max_length=998)


def slack_events_route(slack_app: AsyncApp, settings: Settings) -> APIRouter:
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


def make_web_app(
    *, settings: Settings, router: Router, edges: Sequence[APIRouter] = ()
) -> FastAPI:
    """The FastAPI app: ``edges`` (channel routers, mounted first), then health, readiness,
    metrics and, on the embedded demo, the ask and conversation views."""
    app = FastAPI(
        title="supportbot",
        version="0.1.0",
        description="Support gateway: customer messages in, grounded drafts out.",
    )
    for edge in edges:
        app.include_router(edge)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    async def readyz() -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            await connections.get("default").execute_query("SELECT 1")
            checks["database"] = "ok"
        except Exception as exc:  # readiness reports, it does not raise
            checks["database"] = f"error: {exc.__class__.__name__}"
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["ops"], response_class=Response)
    async def prometheus() -> Response:
        return Response(await metrics.render(), media_type="text/plain; version=0.0.4")

    if settings.demo_enabled:

        @app.post("/api/ask", tags=["demo"])
        async def ask(question: AskRequest) -> dict[str, Any]:
            """``supportbot ask`` over HTTP (embedded demo only): draft, confidence, decision
            and sources for a message, without storing or sending anything. Qdrant local mode
            admits one process, so while ``supportbot run`` holds it this is the way to ask."""
            analysis = await router.analyse(
                question.message, subject=question.subject,
                auto_send_threshold=settings.auto_send_threshold)
            return analysis.to_dict()

        @app.get("/api/conversations/{conversation_id}", tags=["demo"])
        async def conversation_view(conversation_id: int) -> dict[str, Any]:
            """What happened to a conversation (embedded demo only: no auth, bound locally)."""
            conversation = await Conversation.get_or_none(id=conversation_id)
            if conversation is None:
                raise HTTPException(404, "no such conversation")
            messages = await Message.filter(conversation_id=conversation_id).order_by("id").values(
                "direction", "author", "text", "created_at")
            drafts = await Draft.filter(conversation_id=conversation_id).order_by("id").values(
                "id", "status", "decision", "confidence", "text", "reasons", "sources", "model",
                "offline", "timings_ms")
            return {"id": conversation.id, "channel": conversation.channel,
                    "status": conversation.status, "subject": conversation.subject,
                    "messages": messages, "drafts": drafts}

    return app
