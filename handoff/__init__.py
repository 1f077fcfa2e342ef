"""The Slack approval channel: cards, decisions, modals, notes and the ``/support`` command.

``bot/app.py`` wires it with ``register_handoff``; the handoff reaches customers only through
the injected ``deliver`` callable (``bot.store.outbox.enqueue_reply``) and never imports a channel.
"""

from __future__ import annotations

from dataclasses import dataclass

from slack_bolt.async_app import AsyncApp

from bot.clock import Clock, utcnow
from bot.flow.decisions import DeliverFn
from bot.pipeline.learning import LearnFn
from bot.store import cards as card_store
from bot.store import conversations, inbox
from config import Settings
from handoff.access import AccessPolicy
from handoff.actions import Handoff, RetryFn, register_actions
from handoff.admin import AdminCommands, LearnedStore, ReindexFn, SearchFn, register_admin
from handoff.context_actions import register_context_actions
from handoff.home import HomePublisher, register_home
from handoff.notifier import SlackApprovalNotifier
from handoff.runtime import TaskSet
from handoff.text import MESSAGE_TEXT, fit

__all__ = ["HandoffHandle", "SlackApprovalNotifier", "register_handoff"]


@dataclass(frozen=True)
class HandoffHandle:
    """What ``register_handoff`` returns: the notifier for the core, the background tasks
    (await ``tasks.drain()`` on shutdown) and the access policy."""

    notifier: SlackApprovalNotifier
    tasks: TaskSet
    access: AccessPolicy
    home: HomePublisher

    async def customer_edited(self, channel_message_id: str, text: str) -> bool:
        """A customer edited a Slack message: store the new text. When a pending draft
        answered the earlier text, the message is routed again (the router supersedes that
        draft and drafts for the new question; True: the caller wakes the worker) and the
        card shows the edit meanwhile. Otherwise the edit is posted into the conversation's
        card thread, so agents see what changed."""
        edited = await conversations.edit_customer_message("slack", channel_message_id, text)
        if edited is None:
            return False
        if edited.pending_draft_id is not None:
            await inbox.requeue(edited.message_id)
            await self.notifier.refresh(edited.pending_draft_id)
            return True
        if await card_store.has_thread(edited.conversation_id):
            shown = await self.notifier.names.render(text)
            await self.notifier.post_in_thread(
                edited.conversation_id,
                fit(f"✏️ The customer edited their message. Now: {shown}", MESSAGE_TEXT))
        return False


def register_handoff(
    app: AsyncApp,
    *,
    settings: Settings,
    deliver: DeliverFn,
    search: SearchFn | None = None,
    reindex: ReindexFn | None = None,
    learn: LearnFn | None = None,
    learned: LearnedStore | None = None,
    learn_rejection: LearnFn | None = None,
    retry_delivery: RetryFn | None = None,
    clock: Clock = utcnow,
) -> HandoffHandle:
    """Register the approval channel's listeners on ``app`` (the same bolt app as the Slack
    customer channel) and return the ``ApprovalNotifier`` for the router and the outbox.

    ``deliver``: ``bot.store.outbox.enqueue_reply``; ``retry_delivery``: ``bot.store.outbox.retry``;
    ``search(query)`` / ``reindex()``: the knowledge base for ``/support kb``; ``learn``: the
    learned-answers store (``learn(question, answer, meta)``).
    """
    client = app.client
    notifier = SlackApprovalNotifier(client=client, settings=settings, clock=clock)
    tasks = TaskSet()
    access = AccessPolicy(client=client, settings=settings)
    h = Handoff(client=client, settings=settings, access=access, notifier=notifier, tasks=tasks,
                deliver=deliver, clock=clock, learn=learn, retry_delivery=retry_delivery,
                learn_rejection=learn_rejection)
    register_actions(app, h)
    register_context_actions(app, h)
    home = register_home(app, h)
    register_admin(app, h, AdminCommands(h, search=search, reindex=reindex, learned=learned))
    return HandoffHandle(notifier=notifier, tasks=tasks, access=access, home=home)
