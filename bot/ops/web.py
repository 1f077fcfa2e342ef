"""The HTTP surface: the FastAPI app with ops routes (health, readiness, metrics) and the
demo routes (``/api/ask``, ``/api/conversations``); and the worker's own small app with the ops
routes only, so a worker's metrics are scraped from the worker.

Channel routers (the webhook, Slack's events endpoint) are built by the composition root
(``bot/app.py``) and passed in as ``edges``, so this module never imports ``channels``,
``handoff`` or a channel's SDK.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from bot import __version__
from bot.flow.router import Router
from bot.ops import metrics
from bot.ops.health import Readiness
from bot.store import views
from config import Settings

log = logging.getLogger(__name__)


class AskRequest(BaseModel):
    """A question for ``POST /api/ask``."""

    message: str = Field(min_length=1, max_length=20_000)
    subject: str | None = Field(default=None, max_length=998)
    conversation_id: int | None = Field(
        default=None, description="Ask as the next message of this conversation (its history "
        "and automatic replies so far count, as they would in production).")


def ops_router(readiness: Readiness) -> APIRouter:
    """``/healthz`` (the process answers), ``/readyz`` (its dependencies do), ``/metrics``."""
    ops = APIRouter(tags=["ops"])

    @ops.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @ops.get("/readyz")
    async def readyz() -> JSONResponse:
        checks = await readiness.verdicts()
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)

    @ops.get("/metrics", response_class=Response)
    async def prometheus() -> Response:
        return Response(await metrics.render(), headers={"Content-Type": metrics.CONTENT_TYPE})

    return ops


def make_ops_app(readiness: Readiness) -> FastAPI:
    """The worker's HTTP face: the ops routes only (``SUPPORTBOT_WORKER_PORT``)."""
    app = FastAPI(title="supportbot worker", version=__version__, docs_url=None,
                  redoc_url=None, openapi_url=None)
    app.include_router(ops_router(readiness))
    return app


def make_web_app(
    *, settings: Settings, router: Router, readiness: Readiness,
    edges: Sequence[APIRouter] = (),
) -> FastAPI:
    """The FastAPI app: ``edges`` (channel routers, mounted first), then health, readiness,
    metrics and, on the embedded demo, the ask and conversation views."""
    app = FastAPI(
        title="supportbot",
        version=__version__,
        description="Support gateway: customer messages in, grounded drafts out.",
    )
    for edge in edges:
        app.include_router(edge)
    app.include_router(ops_router(readiness))

    if settings.demo_enabled:

        @app.post("/api/ask", tags=["demo"])
        async def ask(question: AskRequest) -> dict[str, Any]:
            """``supportbot ask`` over HTTP (embedded demo only): draft, confidence, decision
            and sources for a message, without storing or sending anything. A Qdrant Edge shard
            admits one process, so while ``supportbot run`` holds it this is the way to ask."""
            try:
                analysis = await router.ask(question.message, subject=question.subject,
                                            conversation_id=question.conversation_id)
            except LookupError:
                raise HTTPException(404, "no such conversation") from None
            return analysis.to_dict()

        @app.get("/api/conversations/{conversation_id}", tags=["demo"])
        async def conversation_view(conversation_id: int) -> dict[str, Any]:
            """What happened to a conversation (embedded demo only: no auth, bound locally)."""
            view = await views.conversation(conversation_id)
            if view is None:
                raise HTTPException(404, "no such conversation")
            return view

    return app
