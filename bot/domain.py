"""Frozen domain types shared by the core, the channels and the approval channel.

Channel-specific data travels in ``metadata`` (JSON-serialisable); the core never interprets it
except to hand it back to the same channel with the reply.
"""

from __future__ import annotations

import email.utils
import enum
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class Channel(enum.StrEnum):
    """Where a conversation lives; replies always go back through the same channel."""

    WEBHOOK = "webhook"
    SLACK = "slack"
    EMAIL = "email"


@dataclass(frozen=True, slots=True)
class Sender:
    """The customer as the channel knows them."""

    id: str
    email: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Inbound:
    """One customer message, translated by a channel, before it is accepted.

    ``thread_key`` names the conversation within the channel (webhook ``source:conversation``,
    Slack ``channel:thread_ts``, email the root Message-ID). ``related_message_ids`` lists
    channel message ids this message answers (email In-Reply-To then References), most
    specific first: the core joins the conversation of the first one it knows.
    ``suppress_reply`` is set when the message must never be answered (auto-reply, bounce,
    list mail) and says why. ``metadata["conversation_token"]``, when a channel finds one
    (email: the Reply-To plus-address), joins the conversation with that token.
    """

    channel: Channel
    thread_key: str
    channel_message_id: str
    text: str
    sender: Sender
    received_at: datetime
    subject: str | None = None
    related_message_ids: tuple[str, ...] = ()
    suppress_reply: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply on its way out, as stored in the outbox and handed to a channel's ``send``.

    ``reply_id`` is stable across retries so receivers can dedupe. ``thread_metadata`` is the
    metadata of the customer message being answered (the channel's own threading data), and
    ``related_message_ids`` is the conversation's message-id chain, oldest first (email builds
    References from it). ``conversation_token`` is the conversation's opaque token (email puts
    it in the Reply-To plus-address so replies thread even when clients drop headers).
    """

    reply_id: str
    channel: Channel
    conversation_id: int
    thread_key: str
    text: str
    decided_by: str
    in_reply_to: str | None
    recipient: Sender
    conversation_token: str = ""
    subject: str | None = None
    auto: bool = False
    thread_metadata: Mapping[str, Any] = field(default_factory=dict)
    related_message_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SendResult:
    """What a channel reports after sending: the id the channel gave our message."""

    channel_message_id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


class SendError(Exception):
    """A channel could not send a reply. ``permanent`` failures are dead-lettered at once;
    ``retry_after`` (seconds) is the earliest retry the remote asked for (HTTP Retry-After)."""

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


def retry_after_seconds(headers: Mapping[str, Any]) -> float | None:
    """The wait a remote asked for: ``retry-after-ms``, or ``Retry-After`` as delta-seconds or
    an HTTP date (RFC 9110 §10.2.3). Names match case-insensitively; None when absent or
    unreadable. The one parser for Slack, Anthropic and webhook receivers."""
    found = {str(k).lower(): v for k, v in headers.items()}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = found.get(name)
        if isinstance(raw, list | tuple):
            raw = raw[0] if raw else None
        if raw is None:
            continue
        text = str(raw).strip()
        try:
            seconds = float(text) * scale
        except ValueError:
            parsed = email.utils.parsedate_tz(text)
            if parsed is None:
                return None
            return max(0.0, email.utils.mktime_tz(parsed) - time.time())
        return seconds if seconds >= 0 else None
    return None


def backoff_seconds(attempts: int, *, base: float, cap: float = 900.0) -> float:
    """Exponential backoff with full jitter (AWS architecture blog), capped at ``cap``."""
    return random.uniform(base / 2, min(cap, base * 2 ** max(0, attempts - 1)))


class Decision(enum.StrEnum):
    """What the policy decided for a draft."""

    AUTO = "auto"
    REVIEW = "review"
    HUMAN = "human"
    SUPPRESSED = "suppressed"  # never answered: auto-reply, bounce, list mail


class ConversationStatus(enum.StrEnum):
    """Where a conversation stands."""

    OPEN = "open"
    AWAITING_APPROVAL = "awaiting_approval"
    ANSWERED = "answered"
    HUMAN = "human"
    CLOSED = "closed"


class DraftStatus(enum.StrEnum):
    """Where a draft stands: pending until someone (or auto-send) decides it."""

    PENDING = "pending"
    APPROVED = "approved"
    EDITED = "edited"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"
    AUTO_SENT = "auto_sent"
    EXPIRED = "expired"
    HUMAN = "human"  # escalated: no draft text to approve, humans answer


class QueueStatus(enum.StrEnum):
    """An inbox or outbox item's state."""

    PENDING = "pending"
    DONE = "done"
    COALESCED = "coalesced"  # inbox: folded into a later message of its conversation (a burst)
    FAILED = "failed"  # inbox: gave up after max attempts, visible for humans
    SENT = "sent"
    DEAD = "dead"  # outbox: dead-lettered


class LearnedStatus(enum.StrEnum):
    """A learned answer's review state."""

    PROPOSED = "proposed"  # used for drafts; cannot earn auto-send until an admin accepts it
    ACCEPTED = "accepted"
    STALE = "stale"  # the KB article it rests on changed or disappeared


class Direction(enum.StrEnum):
    """Who wrote a stored message: the customer, us, or an agent's internal note."""

    IN = "in"
    OUT = "out"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class PassageSection:
    """One section (or part of a long one) of a KB article, in Markdown, with its heading path
    (article title first) and its place in the article."""

    heading_path: tuple[str, ...]
    text: str
    position: int


@dataclass(frozen=True, slots=True)
class Passage:
    """A retrieved piece of knowledge: a KB chunk or a learned (agent-approved) answer.

    ``score`` is the fused retrieval score; ``cosine`` the dense similarity between the
    customer's message and the passage's question or chunk; ``keyword`` the BM25 score;
    ``grounded_in`` the KB article a learned answer rests on.

    ``text`` is what the drafter reads. For a KB article, ``sections`` are the sections its
    matching chunks belong to, best first, as retrieved; once passages are assembled
    (``bot.pipeline.passages``) they are the sections the text was built from, in article
    order.
    """

    source_id: str
    title: str
    text: str
    score: float
    kind: str = "kb"  # "kb" | "learned"
    url: str | None = None
    cosine: float | None = None
    keyword: float | None = None
    chunk_id: str | None = None
    grounded_in: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    sections: tuple[PassageSection, ...] = ()

    @property
    def similarity(self) -> float:
        """The dense cosine when known, else the fused score."""
        return self.score if self.cosine is None else self.cosine


#: The scales of the drafter's reading, calmest / least urgent first.
SENTIMENTS = ("positive", "neutral", "frustrated", "angry")
URGENCIES = ("low", "normal", "high", "critical")


@dataclass(frozen=True, slots=True)
class ModelReading:
    """What the LLM read in the customer's message while drafting (the draft tool's
    ``language``, ``sentiment``, ``wants_human`` and ``urgency``); None where it gave no
    valid value. Combined with triage by ``bot.pipeline.reading``: the stricter wins."""

    language: str | None = None
    sentiment: str | None = None
    wants_human: bool = False
    urgency: str | None = None


@dataclass(frozen=True, slots=True)
class DraftResult:
    """A drafter's answer before policy: the reply and its own view of it.

    ``error`` set with ``offline`` True and a non-empty ``reply`` is Claude's failure with the
    offline extractive draft in its place (labelled so on the card, sent to a human).
    ``cache_read_tokens``/``cache_creation_tokens`` are prompt-cache reads and writes.
    ``reading`` is the drafter's reading of the message (language, sentiment, wants a human,
    urgency), None when the drafter gives none (offline).
    """

    reply: str
    self_confidence: float
    needs_human: bool
    reason: str
    cited_sources: tuple[str, ...]
    model: str
    offline: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    error: str | None = None
    cache_creation_tokens: int = 0
    reading: ModelReading | None = None  # Claude only: its reading of the message


@dataclass(frozen=True, slots=True)
class Accepted:
    """The answer of ``accept``: the message is durably stored (or was already)."""

    conversation_id: int
    message_id: int
    duplicate: bool
    conversation_token: str = ""


class AcceptError(Exception):
    """An inbound message could not be stored (a system error): the edge must answer with a
    temporary failure (HTTP 503, SMTP 451, no IMAP flag) so that the sender retries."""


AcceptFn = Callable[[Inbound], Awaitable[Accepted]]


class ReplySender(Protocol):
    """A channel's outbound side: send one reply, threaded in the customer's conversation.

    Raise ``SendError(permanent=True)`` for failures that retrying cannot fix (SMTP 5xx,
    Slack ``channel_not_found``); any other exception is retried with backoff.
    """

    async def send(self, reply: Reply) -> SendResult: ...
