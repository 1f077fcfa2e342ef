"""Webhook channel: web forms, chat widgets and other tools post messages; replies go back signed.

Contract (DESIGN.md): ``POST /webhook/{source}`` with ``X-Supportbot-Timestamp`` and
``X-Supportbot-Signature: sha256=<hex HMAC-SHA256 of "timestamp.body">``; a 5-minute replay
window; 202 with the conversation id; a replayed ``message_id`` answers 200 and changes nothing.
The signature is checked on the raw bytes before anything is parsed, and fails closed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.domain import (
    AcceptError,
    AcceptFn,
    Channel,
    Inbound,
    Reply,
    Sender,
    SendError,
    SendResult,
)
from config import Settings

log = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Supportbot-Timestamp"
SIGNATURE_HEADER = "X-Supportbot-Signature"
DEMO_SOURCE = "demo"


class WebhookSender(BaseModel):
    """The customer as the source knows them."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: Annotated[str, Field(min_length=1, max_length=255)]
    email: Annotated[str | None, Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")] = None
    name: Annotated[str | None, Field(max_length=255)] = None


class WebhookMessage(BaseModel):
    """One customer message posted by a source."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: Annotated[str, Field(min_length=1, max_length=255)]
    message_id: Annotated[str, Field(min_length=1, max_length=255)]
    sender: WebhookSender
    text: Annotated[str, Field(min_length=1, max_length=100_000)]
    subject: Annotated[str | None, Field(max_length=998)] = None
    metadata: dict[str, Any] | None = None


class WebhookAccepted(BaseModel):
    """The answer to an accepted (202) or replayed (200) message."""

    conversation_id: int
    message_id: str
    duplicate: bool


class WebhookError(BaseModel):
    """A rejected request: what was wrong, and for schema errors which field."""

    error: str
    detail: str
    field: str | None = None


def request_schema() -> dict[str, Any]:
    """The JSON schema of ``WebhookMessage`` with its ``$defs`` inlined.

    Pydantic emits ``{"$ref": "#/$defs/WebhookSender"}`` next to a local ``$defs``; placed
    inside an OpenAPI document that reference resolves against the document root, where no
    ``$defs`` exists, so clients and fuzzers could not build a request body from the spec.
    """
    schema = WebhookMessage.model_json_schema()
    defs: dict[str, Any] = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.rsplit("/", 1)[1]])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    return dict(inline(schema))


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp`` (also used for replies)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def check_signature(
    *, secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float,
    window_seconds: int,
) -> str | None:
    """None if the request is authentic and fresh, else the reason it is not."""
    if not timestamp or not signature:
        return f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header"
    try:
        sent_at = int(timestamp)
    except ValueError:
        return f"{TIMESTAMP_HEADER} must be Unix seconds"
    if abs(now - sent_at) > window_seconds:
        return "timestamp outside the replay window"
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.strip()):
        return "signature does not match"
    return None


def to_inbound(source: str, message: WebhookMessage, *, received_at: datetime) -> Inbound:
    """Translate a validated webhook message into the core's ``Inbound``."""
    return Inbound(
        channel=Channel.WEBHOOK,
        thread_key=f"{source}:{message.conversation_id}",
        channel_message_id=f"{source}:{message.message_id}",
        text=message.text,
        sender=Sender(id=message.sender.id, email=message.sender.email, name=message.sender.name),
        received_at=received_at,
        subject=message.subject,
        metadata={
            "source": source,
            "conversation_id": message.conversation_id,
            "message_id": message.message_id,
            "extra": message.metadata or {},
        },
    )


def _error(status: int, error: str, detail: str, field: str | None = None) -> JSONResponse:
    return JSONResponse(WebhookError(error=error, detail=detail, field=field).model_dump(), status)


async def _read_limited(request: Request, limit: int) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            return None
    return bytes(body)


def make_webhook_router(
    *,
    settings: Settings,
    accept: AcceptFn,
    on_accepted: Callable[[], None] = lambda: None,
    now: Callable[[], float] = time.time,
) -> APIRouter:
    """The ``/webhook/{source}`` endpoint, bound to ``accept`` (the durable inbox)."""
    router = APIRouter(tags=["webhook"])
    responses: dict[int | str, dict[str, Any]] = {
        200: {"model": WebhookAccepted, "description": "Replayed message_id: nothing changed"},
        401: {"model": WebhookError, "description": "Bad or missing signature, or stale timestamp"},
        404: {"model": WebhookError, "description": "Unknown source"},
        413: {"model": WebhookError, "description": "Body too large"},
        422: {"model": WebhookError, "description": "Body is not valid JSON or fails the schema"},
        503: {"model": WebhookError, "description": "Could not store the message; retry"},
    }

    @router.post(
        "/webhook/{source}",
        status_code=202,
        response_model=WebhookAccepted,
        responses=responses,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": request_schema()}},
            },
            "parameters": [
                {"name": TIMESTAMP_HEADER, "in": "header", "required": True,
                 "schema": {"type": "string"}},
                {"name": SIGNATURE_HEADER, "in": "header", "required": True,
                 "schema": {"type": "string"}},
            ],
        },
        summary="Post a customer message",
    )
    async def receive(source: str, request: Request) -> JSONResponse:
        config = settings.webhook_source(source)
        if config is None:
            return _error(404, "unknown_source", f"no webhook source named {source!r}")
        body = await _read_limited(request, settings.webhook_max_body_bytes)
        if body is None:
            return _error(413, "too_large", f"body exceeds {settings.webhook_max_body_bytes} bytes")
        problem = check_signature(
            secret=config.secret.get_secret_value(),
            timestamp=request.headers.get(TIMESTAMP_HEADER),
            signature=request.headers.get(SIGNATURE_HEADER),
            body=body,
            now=now(),
            window_seconds=settings.webhook_replay_window_seconds,
        )
        if problem is not None:
            log.warning("webhook %s: rejected request: %s", source, problem)
            return _error(401, "invalid_signature", problem)
        try:
            message = WebhookMessage.model_validate_json(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or None
            kind = "invalid_json" if first["type"] == "json_invalid" else "invalid_field"
            return _error(422, kind, first["msg"], field)
        inbound = to_inbound(source, message, received_at=datetime.now(UTC))
        try:
            accepted = await accept(inbound)
        except AcceptError as exc:
            return _error(503, "unavailable", str(exc))
        if not accepted.duplicate:
            on_accepted()
        result = WebhookAccepted(
            conversation_id=accepted.conversation_id,
            message_id=message.message_id,
            duplicate=accepted.duplicate,
        )
        return JSONResponse(result.model_dump(), status_code=200 if accepted.duplicate else 202)

    return router


class WebhookReplySender:
    """Posts replies to the source's callback URL, signed like inbound requests.

    Any answer but 2xx is retried by the outbox (the receiver dedupes on ``reply_id``).
    A source with no callback URL cannot be sent to; the demo source keeps its replies
    in supportbot (see ``GET /api/conversations/{id}``).
    """

    def __init__(self, *, settings: Settings, http: httpx.AsyncClient,
                 now: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self._http = http
        self._now = now

    async def send(self, reply: Reply) -> SendResult:
        source = str(reply.thread_metadata.get("source") or reply.thread_key.split(":", 1)[0])
        config = self._settings.webhook_source(source)
        if config is None:
            raise SendError(f"webhook source {source!r} is no longer configured", permanent=True)
        if not config.callback_url:
            if source == DEMO_SOURCE:
                return SendResult(f"reply:{reply.reply_id}", {"delivery": "kept (demo source)"})
            raise SendError(f"no callback URL configured for webhook source {source!r}",
                            permanent=True)
        body = json.dumps(
            {
                "reply_id": reply.reply_id,
                "conversation_id": reply.thread_metadata.get("conversation_id",
                                                             reply.thread_key.split(":", 1)[-1]),
                "in_reply_to": reply.thread_metadata.get("message_id"),
                "text": reply.text,
                "sent_at": datetime.now(UTC).isoformat(),
                "decided_by": "auto" if reply.auto else reply.decided_by,
            },
            separators=(",", ":"),
        ).encode()
        timestamp = str(int(self._now()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(config.secret.get_secret_value(), timestamp, body),
        }
        try:
            response = await self._http.post(config.callback_url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise SendError(f"callback {source}: {exc.__class__.__name__}: {exc}") from exc
        if not response.is_success:
            raise SendError(f"callback {source} answered HTTP {response.status_code}")
        return SendResult(f"reply:{reply.reply_id}", {"callback_status": response.status_code})
