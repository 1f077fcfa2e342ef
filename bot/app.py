"""The composition root: the one module that builds clients and wires channels and handoff
into the core. Everything else receives what it needs through keyword-only constructors."""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock, utcnow
from bot.domain import AcceptFn, Channel, ReplySender
from bot.flow.calibration import Calibrator
from bot.flow.intake import accept_into, deliver_into
from bot.flow.learning import REJECTED_COLLECTION, Learners
from bot.flow.outbox import OutboxDispatcher
from bot.flow.router import Router
from bot.flow.wakeup import WakeUp
from bot.flow.worker import Worker, worker_id
from bot.ops import scheduler as scheduling
from bot.ops.health import Check, Readiness
from bot.ops.jobs import JobRunner, LogOps, OpsChannel
from bot.ops.web import make_ops_app, make_web_app
from bot.pipeline.drafting import Drafter, OfflineDrafter, make_drafter
from bot.pipeline.drafting.factory import OfflineInstead, make_llm_client
from bot.pipeline.generalise import Generaliser
from bot.pipeline.intent_reader import IntentReader
from bot.ports import ApprovalNotifier, NullNotifier
from bot.store import db, inbox, outbox
from bot.store.db import database
from channels.mail import smtp_security
from channels.mail.imap import ImapPoller
from channels.mail.imap_health import MailboxHealth
from channels.mail.inbound import bounce_recorder
from channels.mail.sender import SmtpSender
from channels.mail.smtp_server import serve_smtp
from channels.slack import (
    SlackSender,
    make_slack_app,
    make_slack_events_router,
    register_customer_channel,
    start_socket_mode,
)
from channels.webhook import DEMO_SOURCE, WebhookReplySender, make_webhook_router
from config import Settings, WebhookSource
from handoff import HandoffHandle, SlackApprovalNotifier, register_handoff
from handoff.ops import SlackOps
from knowledge import Embedder, KnowledgeBase, open_vector_store
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
    calibrator: Calibrator = field(default_factory=Calibrator)
    # The watched mailbox's health (``snapshot()``, ``ready(max_age)``) once the worker polls it:
    # for /readyz, metrics and ``supportbot doctor``.
    mailbox: MailboxHealth | None = None
    readiness: Readiness = field(default_factory=lambda: Readiness({"database": Check(db.ping)}))
    # What the start-up check found wrong with the Claude key or model (None: fine or offline).
    drafter_problem: str | None = None
    drafter_offline: bool = True


@asynccontextmanager
async def build_services(
    settings: Settings,
    *,
    clock: Clock = utcnow,
    with_knowledge: bool = True,
    anthropic_client: Any = None,
    http: httpx.AsyncClient | None = None,
    check_llm: bool = False,
) -> AsyncIterator[Services]:
    """Open the database, clients and the router for one process; close them on exit.

    ``check_llm`` (``run`` and ``worker``): one free call checks the Claude key and model
    first; a rejected key or an unknown model is logged by name and the process drafts
    offline instead (a problem that may pass, such as no connection, only warns).

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
        learners: Learners | None = None
        intent_reader: IntentReader | None = None
        llm_client = anthropic_client
        if llm_client is None:
            llm_client = make_llm_client(settings)
            if llm_client is not None:
                stack.push_async_callback(llm_client.close)
        if with_knowledge:
            store = await open_vector_store(settings)
            stack.push_async_callback(store.close)
            embedder = Embedder.from_settings(settings)
            knowledge = KnowledgeBase(store=store, embedder=embedder)
            learned = LearnedAnswers(store=store, embedder=embedder)
            rejected = LearnedAnswers(store=store, embedder=embedder,
                                      collection=REJECTED_COLLECTION)
            learners = Learners(learned=learned, rejected=rejected,
                                generaliser=_generaliser(settings, llm_client))
            if settings.intent_reader:
                intent_reader = IntentReader(embed=embedder.dense)
        senders: dict[Channel, ReplySender] = {
            Channel.WEBHOOK: WebhookReplySender(settings=settings, http=http),
        }
        if settings.smtp_send_enabled:
            senders[Channel.EMAIL] = SmtpSender.from_settings(settings)

        # Remote checks are cached: a probe every few seconds must not spend Slack's rate
        # limit or an API quota (bot.ops.health).
        checks = {"database": Check(db.ping)}
        if knowledge is not None:
            checks["knowledge"] = Check(lambda: knowledge.store.exists(knowledge.collection))
        wake = WakeUp()
        accept = accept_into(wake)
        deliver = deliver_into(wake, clock)
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
                slack_app, settings=settings, deliver=deliver,
                retry_delivery=outbox.retry,
                search=knowledge.search if knowledge is not None else None,
                reindex=(lambda: knowledge.ingest(settings.kb_dir)) if knowledge else None,
                learn=learners.answer if learners else None, learned=learned,
                learn_rejection=learners.rejection if learners else None,
                clock=clock,
            )
            stack.push_async_callback(handle.tasks.drain)
            notifier = handle.notifier
            edits = handle.customer_edited

            async def on_edit(channel_message_id: str, text: str) -> None:
                if await edits(channel_message_id, text):
                    wake.kick()  # the edited message is routed again now

            register_customer_channel(slack_app, settings=settings, accept=accept,
                                      on_profile=inbox.update_slack_profile, on_edit=on_edit)
            if settings.approval_channel:
                ops = SlackOps(client=client, channel=settings.approval_channel)
            senders[Channel.SLACK] = SlackSender(client=client)
            checks["slack"] = Check(client.auth_test, ttl=60.0)

        drafter_problem: str | None = None
        drafter: Drafter = make_drafter(settings, client=llm_client)
        if check_llm and llm_client is not None:
            drafter_problem, drafter = await _checked_drafter(settings, llm_client, drafter)
        stack.push_async_callback(drafter.aclose)
        offline = isinstance(drafter, OfflineDrafter | OfflineInstead)
        if not offline:
            checks["llm"] = Check(drafter.check, ttl=300.0)
        calibrator = await Calibrator.load()
        router = Router(settings=settings, knowledge=knowledge, learned=learned, drafter=drafter,
                        notifier=notifier, clock=clock, calibration=calibrator,
                        rejected=rejected, intent_reader=intent_reader)
        owner = worker_id()
        dispatcher = OutboxDispatcher(
            senders=senders, notifier=notifier, owner=owner,
            max_attempts=settings.outbox_max_attempts, backoff_base=settings.outbox_backoff_seconds,
            lease_seconds=settings.lease_seconds, clock=clock,
        )
        worker = Worker(settings=settings, router=router, dispatcher=dispatcher,
                        notifier=notifier, owner=owner, wake=wake, clock=clock,
                        concurrency=settings.worker_concurrency)
        yield Services(settings=settings, http=http, knowledge=knowledge, learned=learned,
                       notifier=notifier, router=router, worker=worker, senders=senders,
                       slack_app=slack_app, handoff=handle, accept=accept,
                       ops=ops, rejected=rejected, calibrator=calibrator,
                       readiness=Readiness(checks), drafter_problem=drafter_problem,
                       drafter_offline=offline)


def _generaliser(settings: Settings, client: Any) -> Generaliser | None:
    """Claude (then the scrubber) generalises learned answers when a key is set."""
    if client is None or not settings.llm_generalise:
        return None  # Learners' default: the scrubber alone
    from bot.pipeline.generalise_claude import ClaudeGeneraliser

    return ClaudeGeneraliser(client=client, model=settings.llm_model,
                             timeout=settings.llm_timeout_seconds)


async def _checked_drafter(settings: Settings, client: Any,
                           drafter: Drafter) -> tuple[str | None, Drafter]:
    """The start-up check of the Claude key and model (one free ``models`` lookup)."""
    from bot.pipeline.drafting.claude import check_model

    check = await check_model(client, settings.llm_model)
    if check.ok:
        log.info("drafter: Claude key accepted, model %s found", settings.llm_model)
        return None, drafter
    if check.lasting:
        log.error("drafter: %s; running on the offline extractive drafter until this is "
                  "fixed and supportbot restarted", check.problem)
        return check.problem, OfflineInstead(check.problem or "")
    log.warning("drafter: %s; Claude is tried for every draft, and while it fails the "
                "offline extractive draft goes on the card", check.problem)
    return check.problem, drafter


async def run_worker(services: Services, stop: asyncio.Event) -> None:
    """The worker side of a process: router and outbox loops, SMTP server, IMAP poller."""
    settings = services.settings
    # Bounces of our replies mark the delivery failed on its card, not a new conversation.
    on_bounce = bounce_recorder(services.notifier)
    smtp = await serve_smtp(settings, accept=services.accept,
                            tls_context=smtp_security.tls_context(settings),
                            authenticator=smtp_security.authenticator(settings),
                            on_bounce=on_bounce)
    if isinstance(services.notifier, SlackApprovalNotifier):
        # Drafts routed while Slack was unreachable (or before a crash) get their cards now.
        await services.notifier.post_missing_cards()
    scheduler = None
    if settings.scheduler_enabled:
        scheduler = scheduling.start(
            JobRunner(owner=services.worker.owner, ops=services.ops),
            scheduling.plan(settings, notifier=services.notifier, ops=services.ops,
                            ingest=_kb_sync(services),
                            refit=lambda: services.calibrator.refit(utcnow())),
        )
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(services.worker.run(stop))
            if settings.imap_enabled:
                # A stall, refused login or TLS failure is posted once to the approval
                # channel (and again on recovery).
                poller = ImapPoller.from_settings(settings, accept=services.accept,
                                                  poll_seconds=settings.imap_poll_seconds,
                                                  alert=services.ops.report_problem,
                                                  on_bounce=on_bounce)
                services.mailbox = poller.health
                group.create_task(poller.run(stop))
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        if smtp is not None:
            smtp.close()
            await smtp.wait_closed()


def _kb_sync(services: Services) -> Callable[[], Awaitable[object]] | None:
    knowledge, kb_dir = services.knowledge, services.settings.kb_dir
    if knowledge is None or not kb_dir.is_dir():
        return None
    return lambda: knowledge.ingest(kb_dir)


def create_web_app(services: Services) -> FastAPI:
    """The HTTP face: webhook, Slack events, health, readiness, metrics, demo conversation view.

    The channel routers are built here (the composition root); ``bot.ops.web`` mounts them."""
    settings = services.settings
    edges = [make_webhook_router(settings=settings, accept=services.accept)]
    if services.slack_app is not None:
        edges.append(make_slack_events_router(services.slack_app, settings))
    return make_web_app(settings=settings, router=services.router,
                        readiness=services.readiness, edges=edges)


async def serve_ops(services: Services, *, host: str, port: int, stop: asyncio.Event,
                    on_listening: Callable[[int], object] | None = None) -> None:
    """The worker's ``/metrics``, ``/healthz`` and ``/readyz`` (``SUPPORTBOT_WORKER_PORT``)
    until ``stop`` is set. ``on_listening`` gets the bound port (port 0 picks a free one)."""
    import uvicorn

    try:
        sock = socket.create_server((host, port))
    except OSError as exc:
        # The worker's job matters more than its metrics: say so loudly and go on working.
        log.error("worker metrics not served: cannot bind %s:%s (%s); set "
                  "SUPPORTBOT_WORKER_PORT to a free port for each worker on this host",
                  host, port, exc.strerror or exc)
        return
    bound = int(sock.getsockname()[1])
    log.info("worker metrics on http://%s:%s/metrics", host, bound)
    if on_listening is not None:
        on_listening(bound)
    server = uvicorn.Server(uvicorn.Config(make_ops_app(services.readiness), log_level="warning",
                                           lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await stop.wait()
    finally:
        server.should_exit = True
        await task
        sock.close()


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
