"""The approval desk under test: fake Slack, the bolt app at /slack/events, a real database."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import Channel, Inbound, Sender
from bot.pipeline.learning import LearnedExample
from bot.store import inbox, outbox
from bot.store.models import Draft
from channels.slack import make_slack_app
from config import Settings
from handoff import HandoffHandle, register_handoff
from tests.conftest import SettingsFactory
from tests.fakes.slack_api import FakeSlackAPI, SlackEdge

SECRET = "handoff-secret"
APPROVAL = "CAPPROVAL"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@dataclass
class Desk:
    """Everything a handoff test drives."""

    slack: FakeSlackAPI
    edge: SlackEdge
    handle: HandoffHandle
    settings: Settings
    learned: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    app: Any = None
    _ts: Any = field(default_factory=lambda: itertools.count(100))

    async def settle(self) -> None:
        """Wait for the background work (card updates, ephemerals) to finish."""
        async with asyncio.timeout(10):
            await self.handle.tasks.drain()

    async def customer_message(self, text: str, *, thread: str | None = None) -> int:
        ts = f"1700000{next(self._ts):03d}.000100"
        accepted = await inbox.accept(Inbound(
            channel=Channel.SLACK, thread_key=f"CSUPPORT:{thread or ts}",
            channel_message_id=f"CSUPPORT:{ts}", text=text,
            sender=Sender(id="UCUST", name="Ada Lovelace", email="ada@example.com"),
            received_at=NOW, metadata={"channel": "CSUPPORT", "ts": ts, "thread_ts": thread}))
        return accepted.message_id

    async def draft(
        self, *, question: str = "How do I reset my password?",
        text: str = "Hi Ada, open Settings → Security and choose Reset password.",
        decision: str = "review", thread: str | None = None, post: bool = True, **extra: Any,
    ) -> Draft:
        """A stored draft as the router leaves it, and its card posted."""
        message_id = await self.customer_message(question, thread=thread)
        from bot.store.models import Message

        message = await Message.get(id=message_id)
        values: dict[str, Any] = {
            "confidence": 0.61, "signals": {"retrieval": 0.7}, "reasons": ["top score 0.71"],
            "sources": [{"source_id": "kb/password", "title": "Resetting your password",
                         "score": 0.71, "kind": "kb"}],
            "triage": {"angry": False}, "model": "offline", "offline": True, **extra}
        draft = await Draft.create(conversation_id=message.conversation_id,  # type: ignore[attr-defined]
                                   message=message, text=text, decision=decision, **values)
        if post:
            await self.handle.notifier.draft_ready(draft.id)
        return await Draft.get(id=draft.id)

    def card_calls(self, method: str, draft: Draft) -> list[Any]:
        return [c for c in self.slack.calls_to(method) if c.params.get("ts") == draft.approval_ts]


DeskFactory = Callable[..., Any]


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlackAPI]:
    async with FakeSlackAPI() as fake:
        fake.members[APPROVAL] = ["UAGENT1", "UAGENT2", "UMEMBER"]
        fake.usergroups["SAGENTS"] = ["UGROUPIE"]
        yield fake


@pytest.fixture
async def make_desk(
    slack: FakeSlackAPI, make_settings: SettingsFactory
) -> AsyncIterator[Callable[..., Any]]:
    edges: list[SlackEdge] = []

    async def factory(**env: Any) -> Desk:
        base = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": slack.api_url, "SUPPORTBOT_APPROVAL_CHANNEL": APPROVAL,
                "SUPPORTBOT_SUPPORT_CHANNELS": "CSUPPORT",
                "SUPPORTBOT_APPROVERS": "UAGENT1,UAGENT2,SAGENTS",
                "SUPPORTBOT_ADMINS": "UADMIN", **env}
        settings = make_settings(**{k: v for k, v in base.items() if v is not None})
        app = make_slack_app(settings, client=AsyncWebClient(token="xoxb-test",
                                                             base_url=slack.api_url))
        learned: list[tuple[str, str, dict[str, Any]]] = []

        async def learn(example: LearnedExample) -> None:
            learned.append((example.question, example.answer, asdict(example)))

        async def search(query: str) -> list[dict[str, Any]]:
            return [{"title": "Resetting your password", "score": 0.8123,
                     "text": f"About {query}: open Settings."}]

        async def reindex() -> str:
            return "3 documents, 12 chunks"

        handle = register_handoff(app, settings=settings, deliver=outbox.enqueue_reply,
                                  retry_delivery=outbox.retry, learn=learn, search=search,
                                  reindex=reindex, learned=LearnedList(), clock=lambda: NOW)
        edge = SlackEdge(app, signing_secret=SECRET)
        edges.append(edge)
        return Desk(slack, edge, handle, settings, learned, app)

    yield factory
    for edge in edges:
        await edge.aclose()


@dataclass
class LearnedEntry:
    answer_id: str
    question: str
    answer: str
    approvals: int


class LearnedList:
    """The learned-answers store's list/delete, in memory (the real store is tested in
    tests/knowledge/test_learned.py)."""

    def __init__(self) -> None:
        self.entries = [LearnedEntry("answer-12", "How do I reset my password?",
                                     "Click Forgot password on the sign-in page.", 3)]

    async def list(self, limit: int = 50) -> list[LearnedEntry]:
        return self.entries[:limit]

    async def delete(self, answer_id: str) -> int:
        before = len(self.entries)
        self.entries = [e for e in self.entries if e.answer_id != answer_id]
        return before - len(self.entries)


@pytest.fixture
async def desk(db: Settings, make_desk: Callable[..., Any]) -> Desk:
    """The desk on both databases (SQLite and PostgreSQL)."""
    result: Desk = await make_desk()
    return result


@pytest.fixture
async def admin_desk(sqlite_db: object, make_desk: Callable[..., Any]) -> Desk:
    """The desk on SQLite only (admin commands do not depend on the database kind)."""
    desk: Desk = await make_desk()
    return desk
