"""Tortoise models: the durable state of supportbot (see DESIGN.md, data model).

Every timestamp is timezone-aware UTC. Migrations live in ``bot/store/migrations`` and are made with
``tortoise makemigrations`` (Tortoise's own migration engine); ``supportbot migrate`` applies them.
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from bot.domain import ConversationStatus, Direction, DraftStatus, LearnedStatus, QueueStatus

__all__ = ["ConversationStatus", "Direction", "DraftStatus", "LearnedStatus", "QueueStatus"]


class Customer(Model):
    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=320, null=True, db_index=True)
    slack_user = fields.CharField(max_length=64, null=True, db_index=True)
    external_id = fields.CharField(max_length=255, null=True, db_index=True)
    name = fields.CharField(max_length=255, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "customer"


class Conversation(Model):
    id = fields.IntField(primary_key=True)
    channel = fields.CharField(max_length=16)
    thread_key = fields.CharField(max_length=512)
    token = fields.CharField(max_length=32, unique=True)
    subject = fields.CharField(max_length=998, null=True)
    customer: fields.ForeignKeyNullableRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name="conversations", null=True, on_delete=fields.SET_NULL
    )
    status = fields.CharField(max_length=24, default=ConversationStatus.OPEN, db_index=True)
    assignee = fields.CharField(max_length=64, null=True)
    approval_channel = fields.CharField(max_length=64, null=True)
    approval_thread_ts = fields.CharField(max_length=64, null=True)
    metadata: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    auto_replies = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "conversation"
        unique_together = (("channel", "thread_key"),)


class Message(Model):
    id = fields.IntField(primary_key=True)
    conversation: fields.ForeignKeyRelation[Conversation] = fields.ForeignKeyField(
        "models.Conversation", related_name="messages", on_delete=fields.CASCADE
    )
    channel = fields.CharField(max_length=16)
    direction = fields.CharField(max_length=8)  # in | out | note
    author = fields.CharField(max_length=255)
    text = fields.TextField()
    channel_message_id = fields.CharField(max_length=512, null=True)
    metadata: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    raw_ref = fields.CharField(max_length=1024, null=True)
    suppress_reply = fields.CharField(max_length=255, null=True)
    received_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "message"
        unique_together = (("channel", "channel_message_id"),)
        # A conversation's history, in order (the router reads it for every message).
        indexes = (("conversation_id", "id"),)


class InboxItem(Model):
    id = fields.IntField(primary_key=True)
    message: fields.ForeignKeyRelation[Message] = fields.ForeignKeyField(
        "models.Message", related_name="inbox_items", on_delete=fields.CASCADE
    )
    status = fields.CharField(max_length=16, default=QueueStatus.PENDING, db_index=True)
    attempts = fields.IntField(default=0)
    lease_owner = fields.CharField(max_length=64, null=True)
    lease_until = fields.DatetimeField(null=True)
    last_error = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    done_at = fields.DatetimeField(null=True)

    class Meta:
        table = "inbox_item"
        indexes = (("message_id",),)


class Draft(Model):
    id = fields.IntField(primary_key=True)
    conversation: fields.ForeignKeyRelation[Conversation] = fields.ForeignKeyField(
        "models.Conversation", related_name="drafts", on_delete=fields.CASCADE
    )
    message: fields.ForeignKeyRelation[Message] = fields.ForeignKeyField(
        "models.Message", related_name="drafts", on_delete=fields.CASCADE
    )
    text = fields.TextField()
    confidence = fields.FloatField()
    signals: fields.JSONField[dict[str, float | None]] = fields.JSONField(default=dict)
    reasons: fields.JSONField[list[str]] = fields.JSONField(default=list)
    sources: fields.JSONField[list[dict[str, Any]]] = fields.JSONField(default=list)
    decision = fields.CharField(max_length=16)
    triage: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    timings_ms: fields.JSONField[dict[str, float]] = fields.JSONField(default=dict)
    model = fields.CharField(max_length=128)
    offline = fields.BooleanField(default=False)
    input_tokens = fields.IntField(default=0)
    output_tokens = fields.IntField(default=0)
    # Prompt-cache reads and writes (Anthropic usage), counted apart from input_tokens.
    cache_read_tokens = fields.IntField(default=0)
    cache_creation_tokens = fields.IntField(default=0)
    error = fields.TextField(null=True)
    status = fields.CharField(max_length=16, default=DraftStatus.PENDING, db_index=True)
    approval_ts = fields.CharField(max_length=64, null=True)
    # The card's post is claimed first (a token the Slack message carries in its metadata,
    # and when the post began): a crash between posting and recording ``approval_ts`` is
    # then found again in Slack instead of posted twice.
    card_token = fields.CharField(max_length=64, null=True)
    card_posting_at = fields.DatetimeField(null=True)
    decided_by = fields.CharField(max_length=64, null=True)
    decided_at = fields.DatetimeField(null=True)
    final_text = fields.TextField(null=True)
    reminded_at = fields.DatetimeField(null=True)
    topic = fields.CharField(max_length=128, null=True, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "draft"
        # A conversation's pending draft (superseding, follow-ups) and a message's draft.
        indexes = (("conversation_id", "status"), ("message_id",))


class LearningSignal(Model):
    id = fields.IntField(primary_key=True)
    draft: fields.ForeignKeyNullableRelation[Draft] = fields.ForeignKeyField(
        "models.Draft", related_name="signals_recorded", null=True, on_delete=fields.SET_NULL
    )
    conversation_id = fields.IntField(null=True)
    channel = fields.CharField(max_length=16, null=True)
    action = fields.CharField(max_length=16)  # approved | edited | rejected | manual | auto_sent
    agent = fields.CharField(max_length=64)
    original_text = fields.TextField(null=True)
    final_text = fields.TextField(null=True)
    edit_ratio = fields.FloatField(null=True)
    seconds_to_decision = fields.FloatField(null=True)
    confidence = fields.FloatField(null=True)
    reason = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "learning_signal"
        indexes = (("draft_id",),)


class OutboxItem(Model):
    id = fields.IntField(primary_key=True)
    conversation: fields.ForeignKeyRelation[Conversation] = fields.ForeignKeyField(
        "models.Conversation", related_name="outbox_items", on_delete=fields.CASCADE
    )
    draft: fields.ForeignKeyNullableRelation[Draft] = fields.ForeignKeyField(
        "models.Draft", related_name="outbox_items", null=True, on_delete=fields.SET_NULL
    )
    channel = fields.CharField(max_length=16)
    payload: fields.JSONField[dict[str, Any]] = fields.JSONField()
    idempotency_key = fields.CharField(max_length=128, unique=True)
    status = fields.CharField(max_length=16, default=QueueStatus.PENDING, db_index=True)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(db_index=True)
    lease_owner = fields.CharField(max_length=64, null=True)
    lease_until = fields.DatetimeField(null=True)
    last_error = fields.TextField(null=True)
    channel_message_id = fields.CharField(max_length=512, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox_item"
        indexes = (("conversation_id",), ("draft_id",))


class KnowledgeDoc(Model):
    id = fields.IntField(primary_key=True)
    source = fields.CharField(max_length=1024, unique=True)
    doc_id = fields.CharField(max_length=1024)
    title = fields.CharField(max_length=1024)
    content_hash = fields.CharField(max_length=64)
    chunk_count = fields.IntField(default=0)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "knowledge_doc"


class Setting(Model):
    key = fields.CharField(max_length=128, primary_key=True)
    value: fields.JSONField[dict[str, Any]] = fields.JSONField()
    updated_by = fields.CharField(max_length=64, null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "setting"


class Lease(Model):
    """A named lease so that only one worker runs a scheduled job at a time."""

    name = fields.CharField(max_length=128, primary_key=True)
    owner = fields.CharField(max_length=64, null=True)
    until = fields.DatetimeField(null=True)

    class Meta:
        table = "lease"


class RawMail(Model):
    """The original bytes of an accepted mail, zlib-compressed, keyed by their SHA-256: any
    parse can be redone and the card can show the original. Purged by the retention job."""

    id = fields.IntField(primary_key=True)
    sha256 = fields.CharField(max_length=64, unique=True)
    size = fields.IntField()
    data = fields.BinaryField()
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "raw_mail"


class LearnedAnswerReview(Model):
    """The review state of one learned answer (the answer itself lives in the vector store)."""

    answer_id = fields.CharField(max_length=128, primary_key=True)
    status = fields.CharField(max_length=16, default=LearnedStatus.PROPOSED, db_index=True)
    question = fields.TextField(default="")
    answer = fields.TextField(default="")
    grounded_in = fields.CharField(max_length=1024, null=True, db_index=True)
    reason = fields.TextField(null=True)
    decided_by = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "learned_answer_review"
