"""Agents' decisions on drafts and conversations: pure database logic, no Slack.

Every decision is idempotent: the first one wins through a conditional ``UPDATE … WHERE
status = 'pending'`` (atomic on SQLite and PostgreSQL alike), and a losing caller gets an
outcome naming who decided. The reply is queued through the injected ``deliver`` callable
inside the same transaction as the status change, so a decision is never recorded without its
reply, nor a reply queued twice. Each decision writes a ``LearningSignal``; approved, edited
and manual answers are handed to the optional ``learn`` hook after the commit.

Modules: ``outcomes`` (the ``deliver`` port, outcomes, ``DecisionError``), ``drafts``
(approve, reject), ``conversations`` (take over, release, manual reply, note) and
``signals`` (time to decision, the learn hook), shared by both kinds of decision.
"""

from bot.flow.decisions.conversations import (
    add_note,
    assign,
    release,
    reply_manual,
    take_over,
)
from bot.flow.decisions.drafts import approve, reject
from bot.flow.decisions.outcomes import (
    ConversationOutcome,
    DecisionError,
    DeliverFn,
    DraftOutcome,
    HasId,
)

__all__ = [
    "ConversationOutcome",
    "DecisionError",
    "DeliverFn",
    "DraftOutcome",
    "HasId",
    "add_note",
    "approve",
    "assign",
    "reject",
    "release",
    "reply_manual",
    "take_over",
]
