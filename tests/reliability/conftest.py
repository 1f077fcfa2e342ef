"""The whole product in one test process, wired by ``bot.app`` exactly as ``supportbot run``
wires it, with every remote it talks to replaced by a real server on loopback:

* the Slack Web API (``FakeSlackAPI``), and signed Slack requests sent to ``/slack/events``
  over real HTTP;
* the Anthropic Messages API (``FakeAnthropicServer``), when a test asks for Claude;
* the webhook source's callback receiver, and the outgoing SMTP relay (aiosmtpd);
* our own SMTP server (``SUPPORTBOT_SMTP_LISTEN``) and uvicorn serving ``create_web_app``.

Fault tests then break one remote at a time and check the four properties of issue 6: no
accepted message lost, none answered twice, the failure visible, recovery without restart.
"""

from __future__ import annotations

import asyncio
import json
import re
import smtplib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier

from bot.app import Services, build_services, create_web_app, run_worker
from bot.store.db import migrate
from bot.store.models import Draft, InboxItem, OutboxItem, QueueStatus
from config import Settings
from tests.conftest import SettingsFactory, _truncate_all
from tests.fakes.anthropic_server import FakeAnthropicServer, fake_anthropic_server
from tests.fakes.http import (
    CallbackReceiver,
    callback_receiver,
    serve_asgi,
    smtp_listening,
    wait_for,
)
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.smtp_relay import SmtpRelay
from tests.fakes.support import KB, free_port, webhook_headers

WEBHOOK_SECRET = "reliability-secret"
SLACK_SECRET = "reliability-slack-secret"
APPROVAL = "CAPPROVAL"
SUPPORT_CHANNEL = "CSUPPORT"
APPROVER = "UAGENT"
ADMIN = "UADMIN"
DOMAIN = "acme.example"
SUPPORT_ADDRESS = f"support@{DOMAIN}"
_METRIC_LINE = re.compile(r"^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$")


def sign_webhook(body: bytes, *, secret: str = WEBHOOK_SECRET, ts: int | None = None
                 ) -> dict[str, str]:
    """Headers of a webhook request signed like the contract says."""
    return webhook_headers(body, secret=secret, ts=ts)


def webhook_message(mid: str, text: str = "I forgot my password, how do I reset it?", *,
                    conversation: str | None = None, **extra: Any) -> dict[str, Any]:
    """One webhook message body (a conversation per message unless told otherwise)."""
    return {"conversation_id": conversation or f"c-{mid}", "message_id": mid,
            "sender": {"id": f"cust-{mid}", "email": "ada@example.com", "name": "Ada"},
            "text": text, **extra}


def sign_slack(body: str, *, secret: str = SLACK_SECRET, ts: int | None = None
               ) -> dict[str, str]:
    """Headers of a request signed with Slack's v0 scheme."""
    stamp = str(int(time.time()) if ts is None else ts)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}


def db_true(query: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[bool]]:
    """A ``wait_for`` predicate from a Tortoise query factory (querysets are awaitables, not
    coroutines, so ``wait_for`` would take the queryset itself as a true value)."""

    async def check() -> bool:
        return bool(await query())

    return check


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text → ``{"name{labels}": value}`` (labels kept verbatim)."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        match = _METRIC_LINE.match(line.strip())
        if match and not line.startswith("#"):
            values[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return values


def mail_bytes(message_id: str, *, subject: str = "Password reset",
               body: str = "I forgot my password, how do I reset it?",
               sender: str = "jane@example.com", name: str = "Jane") -> bytes:
    """A plain customer mail to the support address."""
    return (
        f"From: {name} <{sender}>\r\nTo: {SUPPORT_ADDRESS}\r\nSubject: {subject}\r\n"
        f"Date: Tue, 4 Mar 2025 10:00:00 +0000\r\nMessage-ID: {message_id}\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def smtp_send(port: int, raw: bytes, *, rcpt: str = SUPPORT_ADDRESS,
              mail_from: str = "jane@example.com") -> None:
    """Deliver one mail over SMTP (blocking: call through ``asyncio.to_thread``)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail(mail_from, [rcpt], raw)


@dataclass
class Stack:
    """One running product and its fakes; see the module docstring."""

    settings: Settings
    services: Services
    url: str
    http: httpx.AsyncClient
    receiver: CallbackReceiver
    slack: FakeSlackAPI
    relay: SmtpRelay
    anthropic: FakeAnthropicServer | None
    smtp_port: int | None
    stop: asyncio.Event
    worker: asyncio.Task[None] | None = None
    _exit: AsyncExitStack = field(default_factory=AsyncExitStack)

    async def webhook(self, body: dict[str, Any] | bytes, *, source: str = "shop",
                      **sign: Any) -> httpx.Response:
        """POST a signed webhook message through real HTTP."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return await self.http.post(f"{self.url}/webhook/{source}", content=raw,
                                    headers=sign_webhook(raw, **sign))

    async def slack_post(self, body: str, content_type: str, **sign: Any) -> httpx.Response:
        """POST a signed request to ``/slack/events`` through real HTTP."""
        headers = {"Content-Type": content_type, **sign_slack(body, **sign)}
        return await self.http.post(f"{self.url}/slack/events", content=body.encode(),
                                    headers=headers)

    async def slack_event(self, event: dict[str, Any], *, event_id: str) -> httpx.Response:
        """An Events API ``event_callback`` carrying ``event``."""
        body = {"token": "unused", "team_id": FakeSlackAPI.team_id, "api_app_id": "A1",
                "type": "event_callback", "event": event, "event_id": event_id,
                "event_time": int(time.time()),
                "authorizations": [{"team_id": FakeSlackAPI.team_id, "user_id": "UBOT",
                                    "is_bot": True}]}
        return await self.slack_post(json.dumps(body), "application/json")

    async def slack_form(self, form: dict[str, str], **sign: Any) -> httpx.Response:
        """A form-encoded request (slash commands, interactivity)."""
        return await self.slack_post(urlencode(form), "application/x-www-form-urlencoded",
                                     **sign)

    async def click(self, *, user: str, action_id: str, value: str) -> httpx.Response:
        """A ``block_actions`` payload: one card button clicked."""
        payload = {
            "type": "block_actions", "team": {"id": FakeSlackAPI.team_id},
            "user": {"id": user, "team_id": FakeSlackAPI.team_id}, "api_app_id": "A1",
            "trigger_id": "trigger.1",
            "container": {"type": "message", "channel_id": APPROVAL,
                          "message_ts": "1700000000.000001"},
            "channel": {"id": APPROVAL}, "message": {"ts": "1700000000.000001", "text": "c"},
            "response_url": self.slack.response_url(),
            "actions": [{"type": "button", "action_id": action_id, "block_id": "card",
                         "value": value, "action_ts": str(time.time())}],
        }
        return await self.slack_form({"payload": json.dumps(payload)})

    async def settled(self) -> bool:
        """Nothing left to route and nothing left to send (pending, not backing off)."""
        return not await InboxItem.filter(status=QueueStatus.PENDING).exists() and not (
            await OutboxItem.filter(status=QueueStatus.PENDING).exists())

    async def wait_settled(self, within: float = 30.0) -> None:
        """Wait, with a deadline, until both queues are empty."""
        await wait_for(self.settled, timeout=within, interval=0.05)

    async def metrics(self) -> dict[str, float]:
        """Scrape ``/metrics`` over HTTP."""
        return parse_metrics((await self.http.get(f"{self.url}/metrics")).text)

    async def explain(self) -> str:
        """Every draft's decision and reasons, for failure messages."""
        rows = await Draft.all().order_by("id").values("id", "status", "decision", "reasons",
                                                       "error")
        return "\n".join(str(r) for r in rows) or "no drafts"

    async def drafts(self) -> list[Draft]:
        return await Draft.all().order_by("id")

    def cards(self) -> list[dict[str, Any]]:
        """Every card (a ``chat.postMessage`` with blocks) posted into the approval channel."""
        return [c.params for c in self.slack.calls_to("chat.postMessage")
                if c.params.get("channel") == APPROVAL and c.params.get("blocks")]

    def card_text(self) -> str:
        """All text of all cards and card updates, for "is it visible" assertions."""
        posts = [c.params for c in self.slack.calls
                 if c.method in ("chat.postMessage", "chat.update")
                 and c.params.get("channel") == APPROVAL]
        return "\n".join(f"{p.get('text', '')}\n{p.get('blocks', '')}" for p in posts)

    async def start_worker(self) -> None:
        """Run the worker side (router, outbox, SMTP server, IMAP) as ``supportbot run`` does."""
        self.stop = asyncio.Event()
        self.worker = asyncio.create_task(run_worker(self.services, self.stop))
        if self.smtp_port is not None:
            port = self.smtp_port
            await wait_for(lambda: smtp_listening(port), timeout=10)

    async def stop_worker(self) -> None:
        if self.worker is not None:
            self.stop.set()
            async with asyncio.timeout(20):
                await self.worker
            self.worker = None


StackFactory = Callable[..., Awaitable[Stack]]


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    """The three-article KB of the webhook end-to-end tests."""
    kb = tmp_path / "kb"
    kb.mkdir(exist_ok=True)
    for name, text in KB.items():
        (kb / name).write_text(text)
    return kb


@pytest.fixture
async def make_stack(
    make_settings: SettingsFactory, kb_dir: Path
) -> AsyncIterator[StackFactory]:
    """Build a running product. ``claude=True`` drafts through the fake Anthropic server;
    ``worker=False`` leaves the worker side stopped (``stack.start_worker()`` starts it);
    ``knowledge=False`` skips Qdrant and the embedding models; ``env`` overrides settings."""
    stacks: list[Stack] = []

    async def factory(*, claude: bool = False, worker: bool = True, knowledge: bool = True,
                      smtp_in: bool = True, ingest: bool = True,
                      receiver_failures: int = 0, **env: Any) -> Stack:
        exit_stack = AsyncExitStack()
        await exit_stack.__aenter__()
        slack = await exit_stack.enter_async_context(FakeSlackAPI())
        slack.members[APPROVAL] = [APPROVER]
        slack.add_user("UCUST", name="Ada Lovelace", email="ada@example.com")
        receiver = await exit_stack.enter_async_context(
            callback_receiver(failures=receiver_failures))
        relay = await SmtpRelay().start()
        exit_stack.push_async_callback(relay.close)
        anthropic: FakeAnthropicServer | None = None
        base: dict[str, Any] = {
            "SUPPORTBOT_KB_DIR": kb_dir, "SUPPORTBOT_WEBHOOK_SHOP_SECRET": WEBHOOK_SECRET,
            "SUPPORTBOT_WEBHOOK_SHOP_CALLBACK_URL": receiver.url,
            "SUPPORTBOT_OUTBOX_BACKOFF": "0.05", "SUPPORTBOT_LEASE_SECONDS": "5",
            # Auto-send is otherwise earned per topic through approvals; these tests need it
            # on from the first message (and injection tests must beat it without the gate).
            "SUPPORTBOT_EARN_MIN_APPROVALS": "0",
            "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SLACK_SECRET,
            "SLACK_API_URL": slack.api_url, "SUPPORTBOT_APPROVAL_CHANNEL": APPROVAL,
            "SUPPORTBOT_SUPPORT_CHANNELS": SUPPORT_CHANNEL, "SUPPORTBOT_APPROVERS": APPROVER,
            "SUPPORTBOT_ADMINS": ADMIN,
            "SMTP_HOST": relay.host, "SMTP_PORT": relay.port, "SMTP_STARTTLS": "false",
            "SUPPORTBOT_SUPPORT_ADDRESS": SUPPORT_ADDRESS, "SUPPORTBOT_MAIL_DOMAINS": DOMAIN,
        }
        smtp_port: int | None = None
        if smtp_in:
            smtp_port = free_port()
            base["SUPPORTBOT_SMTP_LISTEN"] = f"127.0.0.1:{smtp_port}"
        if claude:
            anthropic = await exit_stack.enter_async_context(fake_anthropic_server())
            base.update({"ANTHROPIC_API_KEY": "sk-test-fake", "ANTHROPIC_BASE_URL": anthropic.url,
                         "SUPPORTBOT_LLM_TIMEOUT": "2", "SUPPORTBOT_LLM_MAX_ATTEMPTS": "3",
                         "SUPPORTBOT_LLM_MODEL": "claude-test"})
        base.update(env)
        settings = make_settings(**{k: v for k, v in base.items() if v is not None})
        if settings.embedded:
            await migrate(settings)
        services = await exit_stack.enter_async_context(
            build_services(settings, with_knowledge=knowledge))
        if not settings.embedded:
            await _truncate_all()  # the session's PostgreSQL database, emptied per test
        if ingest and services.knowledge is not None:
            await services.knowledge.ingest(kb_dir)
        url = await exit_stack.enter_async_context(serve_asgi(create_web_app(services)))
        http = await exit_stack.enter_async_context(httpx.AsyncClient(timeout=10))
        stack = Stack(settings=settings, services=services, url=url, http=http,
                      receiver=receiver, slack=slack, relay=relay, anthropic=anthropic,
                      smtp_port=smtp_port, stop=asyncio.Event(), _exit=exit_stack)
        # Stop the worker before the services close (the exit stack unwinds after this).
        exit_stack.push_async_callback(stack.stop_worker)
        stacks.append(stack)
        if worker:
            await stack.start_worker()
        return stack

    yield factory
    for stack in reversed(stacks):
        await stack._exit.aclose()
