"""The composition root: the one module that builds clients and wires channels and handoff
into the core. Everything else receives what it needs through keyword-only constructors."""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from tortoise import connections

from bot import inbox, metrics, outbox
from bot import scheduler as scheduling
from bot.calibration import load_calibration
from bot.calibration import refit as refit_calibration
from bot.clock import Clock, utcnow
from bot.db import database
from bot.decisions import DeliverFn
from bot.domain import Accepted, AcceptFn, Channel, Inbound, ReplySender
from bot.drafting import make_drafter
from bot.jobs import JobRunner, LogOps, OpsChannel
from bot.learning import LearnFn
from bot.models import Conversation, Draft, Message, OutboxItem
from bot.outbox import OutboxDispatcher
from bot.ports import ApprovalNotifier, NullNotifier
from bot.redact import redact
from bot.router import Router
from bot.worker import Worker, worker_id
from channels.mail import smtp_security
from channels.mail.imap import ImapPoller
from channels.mail.sender import SmtpSender
from channels.mail.smtp_server import serve_smtp
from channels.slack import (
    SlackSender,
    make_slack_app,
    register_customer_channel,
    start_socket_mode,
)
from channels.webhook import DEMO_SOURCE, WebhookReplySender, make_webhook_router
from config import Settings, WebhookSource
from handoff import HandoffHandle, SlackApprovalNotifier, register_handoff
from handoff.ops import SlackOps
from knowledge import Embedder, KnowledgeBase, make_qdrant_client
from knowledge.learned import LearnedAnswers

log = logging.getLogger(__name__)


def with_demo_source(settings: Settings) -> Settings:
    """On the embedded setup, enable the ``demo`` webhook source with a secret kept in the data
    dir (made once), so a newcomer can post a message with a ready curl."""
    if not settings.demo_enabled or DEMO_SOURCE in settings.webhooks:
        return settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / "demo-webhook-secret"
    if not path.exists():
        path.write_text(secrets.token_hex(16))
        path.chmod(0o600)
    demo = WebhookSource(name=DEMO_SOURCE, secret=path.read_text().strip())  # type: ignore[arg-type]
    return settings.model_copy(update={"webhooks": {**settings.webhooks, DEMO_SOURCE: demo}})


@dataclass
class AskRequest(BaseModel):
    """A question for ``POST /api/ask``."""

    message: str = Field(min_length=1, max_length=20_000)
    subject: str | None = Field(default=None, max_length=998)


@dataclass
class Services:
    """Everything one process runs with."""

    settings: Settings
    http: httpx.AsyncClient
    knowledge: KnowledgeBase | None
    learned: LearnedAnswers | None
    notifier: ApprovalNotifier
    router: Router
    worker: Worker
    accept: AcceptFn
    senders: dict[Channel, ReplySender] = field(default_factory=dict)
    slack_app: AsyncApp | None = None
    handoff: HandoffHandle | None = None
    ops: OpsChannel = field(default_factory=LogOps)
    rejected: LearnedAnswers | None = None


def _learner(learned: LearnedAnswers) -> LearnFn:
    """Approved, edited and manual answers feed retrieval for the next similar question."""

    async def learn(question: str, answer: str, meta: Mapping[str, Any]) -> None:
        draft_id = meta.get("draft_id")
        key = draft_id or f"c{meta.get('conversation_id')}-{uuid.uuid4().hex[:8]}"
        entry = await learned.add(redact(question), redact(answer), answer_id=f"answer-{key}",
                                  metadata={k: v for k, v in meta.items() if v is not None})
        if draft_id is not None:
            # The approval that founds (or joins) a topic counts towards earning it.
            await Draft.filter(id=draft_id, topic__isnull=True).update(topic=entry.answer_id)

    return learn


REJECTED_COLLECTION = "rejected_answers"


def _rejection_learner(rejected: LearnedAnswers) -> LearnFn:
    """A rejection with a reason: the question is remembered with the reason, and drafts for
    close questions lose confidence and wait for review (``Router._close_rejection``)."""

    async def learn(question: str, reason: str, meta: Mapping[str, Any]) -> None:
        await rejected.add(redact(question), redact(reason),
                           answer_id=f"rejected-{meta.get('draft_id')}",
                           metadata={"agent": meta.get("agent"), "draft_id": meta.get("draft_id")})

    return learn


@asynccontextmanager
async def build_services(
    settings: Settings,
    *,
    clock: Clock = utcnow,
    with_knowledge: bool = True,
    anthropic_client: Any = None,
    http: httpx.AsyncClient | None = None,
) -> AsyncIterator[Services]:
    """Open the database, clients and the router for one process; close them on exit.

    Build order matters: the Slack approval channel's notifier must exist before the router
    and the outbox dispatcher, which report to it.
    """
    settings = with_demo_source(settings)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(database(settings))
        if http is None:
            http = await stack.enter_async_context(httpx.AsyncClient(timeout=15.0))
        knowledge: KnowledgeBase | None = None
        learned: LearnedAnswers | None = None
        rejected: LearnedAnswers | None = None
        if with_knowledge:
            qdrant = make_qdrant_client(settings)
            stack.push_async_callback(qdrant.close)
            embedder = Embedder.from_settings(settings)
            knowledge = KnowledgeBase(client=qdrant, embedder=embedder)
            learned = LearnedAnswers(client=qdrant, embedder=embedder)
            rejected = LearnedAnswers(client=qdrant, embedder=embedder,
                                      collection=REJECTED_COLLECTION)
        senders: dict[Channel, ReplySender] = {
            Channel.WEBHOOK: WebhookReplySender(settings=settings, http=http),
        }
        if settings.smtp_send_enabled:
            senders[Channel.EMAIL] = SmtpSender.from_settings(settings)

        kicker = _Kicker()
        notifier: ApprovalNotifier = NullNotifier()
        ops: OpsChannel = LogOps()
        slack_app: AsyncApp | None = None
        handle: HandoffHandle | None = None
        if settings.slack_enabled:
            assert settings.slack_bot_token is not None
            client = AsyncWebClient(token=settings.slack_bot_token.get_secret_value(),
                                    base_url=settings.slack_api_url)
            slack_app = make_slack_app(settings, client=client)
            handle = register_handoff(
                slack_app, settings=settings, deliver=_deliver(kicker, clock),
                retry_delivery=outbox.retry,
                search=knowledge.search if knowledge is not None else None,
                reindex=(lambda: knowledge.ingest(settings.kb_dir)) if knowledge else None,
                learn=_learner(learned) if learned is not None else None, learned=learned,
                learn_rejection=_rejection_learner(rejected) if rejected is not None else None,
                clock=clock,
            )
            stack.push_async_callback(handle.tasks.drain)
            notifier = handle.notifier
            register_customer_channel(slack_app, settings=settings, accept=kicker.accept,
                                      on_profile=inbox.update_slack_profile)
            if settings.approval_channel:
                ops = SlackOps(client=client, channel=settings.approval_channel)
            senders[Channel.SLACK] = SlackSender(client=client)

        drafter = make_drafter(settings, client=anthropic_client)
        stack.push_async_callback(drafter.aclose)
        router = Router(settings=settings, knowledge=knowledge, learned=learned, drafter=drafter,
                        notifier=notifier, clock=clock, calibration=await load_calibration(),
                        rejected=rejected)
        owner = worker_id()
        dispatcher = OutboxDispatcher(
            senders=senders, notifier=notifier, owner=owner,
            max_attempts=settings.outbox_max_attempts, backoff_base=settings.outbox_backoff_seconds,
            lease_seconds=settings.lease_seconds, clock=clock,
        )
        worker = Worker(settings=settings, router=router, dispatcher=dispatcher,
                        notifier=notifier, owner=owner, clock=clock,
                        concurrency=settings.worker_concurrency)
        kicker.worker = worker
        yield Services(settings=settings, http=http, knowledge=knowledge, learned=learned,
                       notifier=notifier, router=router, worker=worker, senders=senders,
                       slack_app=slack_app, handoff=handle, accept=kicker.accept,
                       ops=ops, rejected=rejected)


class _Kicker:
    """Accept and enqueue for the edges of this process, waking its worker afterwards."""

    worker: Worker | None = None

    async def accept(self, inbound: Inbound) -> Accepted:
        accepted = await inbox.accept(inbound)
        metrics.ACCEPTED.labels(inbound.channel.value, str(accepted.duplicate).lower()).inc()
        if not accepted.duplicate and self.worker is not None:
            self.worker.kick()
        return accepted


def _deliver(kicker: _Kicker, clock: Clock) -> DeliverFn:
    async def deliver(
        *, conversation_id: int, text: str, decided_by: str, draft_id: int | None, auto: bool
    ) -> OutboxItem:
        item = await outbox.enqueue_reply(
            conversation_id=conversation_id, text=text, decided_by=decided_by,
            draft_id=draft_id, auto=auto, clock=clock,
        )
        if kicker.worker is not None:
            kicker.worker.kick()
        return item

    return deliver


def _slack_route(slack_app: AsyncApp, settings: Settings) -> APIRouter:
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


async def run_worker(services: Services, stop: asyncio.Event) -> None:
    """The worker side of a process: router and outbox loops, SMTP server, IMAP poller."""
    settings = services.settings
    smtp = await serve_smtp(settings, accept=services.accept,
                            tls_context=smtp_security.tls_context(settings),
                            authenticator=smtp_security.authenticator(settings))
    if isinstance(services.notifier, SlackApprovalNotifier):
        # Drafts routed while Slack was unreachable (or before a crash) get their cards now.
        await services.notifier.post_missing_cards()
    scheduler = None
    if settings.scheduler_enabled:
        scheduler = scheduling.start(
            JobRunner(owner=services.worker.owner, ops=services.ops),
            scheduling.plan(settings, notifier=services.notifier, ops=services.ops,
                            ingest=_kb_sync(services), refit=_refit(services)),
        )
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(services.worker.run(stop))
            if settings.imap_enabled:
                poller = ImapPoller.from_settings(settings, accept=services.accept,
                                                  poll_seconds=settings.imap_poll_seconds)
                group.create_task(poller.run(stop))
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        if smtp is not None:
            smtp.close()
            await smtp.wait_closed()


def _refit(services: Services) -> Callable[[], Awaitable[object]]:
    async def refit() -> object:
        fitted = await refit_calibration(now=utcnow())
        if fitted is None:
            return "too few learning signals: the defaults hold"
        services.router.calibration = fitted
        return f"confidence refit: version {fitted.version} from {fitted.n_samples} signals"

    return refit


def _kb_sync(services: Services) -> Callable[[], Awaitable[object]] | None:
    knowledge, kb_dir = services.knowledge, services.settings.kb_dir
    if knowledge is None or not kb_dir.is_dir():
        return None
    return lambda: knowledge.ingest(kb_dir)


def create_web_app(services: Services) -> FastAPI:
    """The HTTP face: webhook, Slack events, health, readiness, metrics, demo conversation view."""
    settings = services.settings
    app = FastAPI(
        title="supportbot",
        version="0.1.0",
        description="Support gateway: customer messages in, grounded drafts out.",
    )
    app.include_router(make_webhook_router(settings=settings, accept=services.accept))
    if services.slack_app is not None:
        app.include_router(_slack_route(services.slack_app, settings))

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
            analysis = await services.router.analyse(
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


async def serve_http(app: FastAPI, *, host: str, port: int, stop: asyncio.Event,
                     services: Services | None = None) -> None:
    """Run uvicorn on this loop until ``stop`` is set (and Socket Mode, when configured)."""
    import uvicorn

    socket_mode = None
    if services is not None and services.slack_app is not None and \
            services.settings.slack_app_token is not None:
        socket_mode = await start_socket_mode(services.slack_app, services.settings)

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                           lifespan="off"))
    task = asyncio.create_task(server.serve())
    await stop.wait()
    server.should_exit = True
    await task
    if socket_mode is not None:
        await socket_mode.close_async()  # type: ignore[no-untyped-call]
