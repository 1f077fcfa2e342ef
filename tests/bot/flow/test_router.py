"""The router's load-and-store step on SQLite and PostgreSQL: what ``process`` reads from a
conversation and what it writes for each decision. Retrieval is a fixed list of hits here
(this is about storage; retrieval and answers are tested with the real model elsewhere)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from bot.domain import ConversationStatus, Decision, DraftStatus
from bot.flow.router import Router
from bot.pipeline.drafting.offline import OfflineDrafter
from bot.store import conversations, inbox
from bot.store.models import Conversation, Draft, LearningSignal, OutboxItem
from config import Settings
from knowledge.types import Hit
from tests.fakes.support import inbound

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PARCEL = Hit(doc_id="shipping", chunk_id="shipping#0", title="Shipping times",
             text="Orders ship within two business days. Tracking links are emailed when the "
                  "parcel leaves our warehouse.", score=0.9, dense_score=0.82, sparse_score=12.0)


class FixedRetriever:
    """Always the same hits."""

    def __init__(self, hits: Sequence[Hit]) -> None:
        self.hits = list(hits)
        self.queries: list[str] = []

    async def search(self, query: str, limit: int = 5, *,
                     sections: int | None = None) -> Sequence[Hit]:
        self.queries.append(query)
        return self.hits[:limit]


class RecordingNotifier:
    """Records what the router tells the approval channel."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    async def draft_ready(self, draft_id: int) -> None:
        self.calls.append(("draft_ready", draft_id))

    async def customer_followup(self, message_id: int) -> None:
        self.calls.append(("customer_followup", message_id))

    async def draft_superseded(self, draft_id: int) -> None:
        self.calls.append(("draft_superseded", draft_id))

    async def delivery_failed(self, outbox_item_id: int) -> None:
        self.calls.append(("delivery_failed", outbox_item_id))

    async def delivered(self, outbox_item_id: int) -> None:
        self.calls.append(("delivered", outbox_item_id))

    async def auto_sent(self, draft_id: int) -> None:
        self.calls.append(("auto_sent", draft_id))

    async def delivery_retrying(self, outbox_item_id: int) -> None:
        self.calls.append(("delivery_retrying", outbox_item_id))

    async def remind_stale(self, *, older_than: object, now: object) -> int:
        return 0

    async def post_missing_cards(self) -> int:
        return 0


def router(settings: Settings, notifier: RecordingNotifier, *, threshold: str | None = None,
           hits: Sequence[Hit] = (PARCEL,)) -> Router:
    if threshold is not None:
        settings = settings.model_copy(update={"auto_send_threshold": float(threshold),
                                               "earn_min_approvals": 0})
    return Router(settings=settings, knowledge=FixedRetriever(hits), learned=None,
                  drafter=OfflineDrafter(), notifier=notifier, clock=lambda: NOW)


async def test_a_reviewed_draft_is_stored_with_its_reasons_and_the_card_is_asked_for(
    db: Settings,
) -> None:
    notifier = RecordingNotifier()
    accepted = await inbox.accept(inbound("m1", text="When will my parcel ship?", sender="ada"))
    draft = await router(db, notifier).process(accepted.message_id)
    assert draft is not None and draft.decision == Decision.REVIEW
    stored = await Draft.get(id=draft.id)
    assert stored.status == DraftStatus.PENDING and stored.text.strip()
    assert stored.sources[0]["source_id"] == "shipping"
    assert "auto-send is off" in stored.reasons
    assert {"triage", "retrieve", "draft", "score", "decide", "total"} <= set(stored.timings_ms)
    conversation = await Conversation.get(id=accepted.conversation_id)
    assert conversation.status == ConversationStatus.AWAITING_APPROVAL
    assert notifier.calls == [("draft_ready", draft.id)]


async def test_an_auto_sent_draft_is_queued_counted_and_taught_in_one_step(db: Settings) -> None:
    notifier = RecordingNotifier()
    accepted = await inbox.accept(inbound("m1", text="When will my parcel ship?", sender="ada"))
    draft = await router(db, notifier, threshold="0.1").process(accepted.message_id)
    assert draft is not None and draft.decision == Decision.AUTO
    stored = await Draft.get(id=draft.id)
    assert stored.status == DraftStatus.AUTO_SENT and stored.decided_by == "auto"
    assert await OutboxItem.filter(draft_id=draft.id).count() == 1
    assert (await Conversation.get(id=accepted.conversation_id)).auto_replies == 1
    assert await LearningSignal.filter(draft_id=draft.id, action="auto_sent").count() == 1
    # Nothing for a human to decide, but shown in the open (never silently).
    assert notifier.calls == [("auto_sent", draft.id)]


async def test_the_conversation_cap_read_at_load_holds_the_next_draft_back(db: Settings) -> None:
    notifier = RecordingNotifier()
    settings = db.model_copy(update={"auto_reply_cap_per_conversation": 1})
    routing = router(settings, notifier, threshold="0.1")
    first = await inbox.accept(inbound("m1", text="When will my parcel ship?", sender="ada"))
    assert (await routing.process(first.message_id)).decision == Decision.AUTO  # type: ignore[union-attr]
    second = await inbox.accept(inbound("m2", text="And the tracking link?", sender="ada"))
    draft = await routing.process(second.message_id)
    assert draft is not None and draft.decision == Decision.REVIEW
    assert any("auto-reply cap: 1" in r for r in draft.reasons)


async def test_a_follow_up_supersedes_the_pending_draft_and_sees_the_history(
    db: Settings,
) -> None:
    notifier = RecordingNotifier()
    routing = router(db, notifier)
    first = await inbox.accept(inbound("m1", text="When will my parcel ship?", sender="ada"))
    pending = await routing.process(first.message_id)
    second = await inbox.accept(inbound("m2", text="Hello? Any news?"))
    newer = await routing.process(second.message_id)
    assert pending is not None and newer is not None
    assert (await Draft.get(id=pending.id)).status == DraftStatus.SUPERSEDED
    assert ("draft_superseded", pending.id) in notifier.calls
    history = await conversations.history(second.conversation_id, before=second.message_id,
                                          turns=6)
    assert history == [("in", "When will my parcel ship?")]


async def test_suppressed_and_human_owned_messages_get_no_draft(db: Settings) -> None:
    notifier = RecordingNotifier()
    routing = router(db, notifier)
    quiet = await inbox.accept(replace(inbound("m1", text="Out of office"),
                                       suppress_reply="auto-submitted: auto-replied"))
    assert await routing.process(quiet.message_id) is None
    meta = (await Conversation.get(id=quiet.conversation_id)).metadata
    assert meta["suppressed"] == 1 and meta["last_suppressed_reason"].startswith("auto-")
    owned = await inbox.accept(inbound("m2", thread="form:c2", text="Any update?"))
    await Conversation.filter(id=owned.conversation_id).update(
        status=ConversationStatus.HUMAN, assignee="U1")
    assert await routing.process(owned.message_id) is None
    assert ("customer_followup", owned.message_id) in notifier.calls
    assert not await Draft.exists()



async def test_a_related_rejection_is_quoted_not_shown_as_zero_agreement(db: Settings) -> None:
    related = Hit(doc_id="rejected-1", chunk_id="rejected-1", title="When does my parcel ship?",
                  text="Do not promise shipping dates", score=0.7, kind="learned",
                  dense_score=0.7)
    routing = Router(settings=db, knowledge=FixedRetriever([PARCEL]), learned=None,
                     drafter=OfflineDrafter(), notifier=RecordingNotifier(), clock=lambda: NOW,
                     rejected=FixedRetriever([related]))
    accepted = await inbox.accept(inbound("r1", text="When will my parcel ship?", sender="ada"))
    draft = await routing.process(accepted.message_id)
    assert draft is not None
    assert any(r.startswith("a related question (0.70) was rejected: Do not promise")
               for r in draft.reasons), draft.reasons
    assert not any("(0.00)" in r for r in draft.reasons)
