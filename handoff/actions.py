"""Card buttons, modal submissions and card-thread notes in the approval channel.

Each handler checks the clicker may decide, makes the decision in the database
(``bot.flow.decisions``: the first decision wins) and returns, so Slack gets its answer at once;
card updates, ephemerals and learning run afterwards as tracked tasks.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.clock import Clock
from bot.domain import DraftStatus
from bot.flow import decisions
from bot.flow.decisions import DeliverFn, DraftOutcome
from bot.pipeline.learning import LearnedExample, LearnFn
from bot.store import cards as card_store
from bot.store import conversations, runtime
from bot.store import drafts as draft_store
from config import Settings
from handoff import cards, modals
from handoff.access import AccessPolicy
from handoff.context import form_context
from handoff.notifier import SlackApprovalNotifier
from handoff.runtime import TaskSet, with_retry
from handoff.text import fit, user

if TYPE_CHECKING:
    from bot.store.models import Draft

log = logging.getLogger(__name__)
Listener = Callable[..., Awaitable[None]]
REFUSAL = "Only approvers can act on drafts. Ask an admin to add you to SUPPORTBOT_APPROVERS."
_EXPIRED = ("Slack allows 3 seconds to open a form after a click and that time ran out. "
            "Please click the button again.")
RetryFn = Callable[[int], Awaitable[bool]]
_STATUS_WORDS = {"approved": "approved", "edited": "edited and sent", "rejected": "rejected",
                 "superseded": "superseded", "auto_sent": "sent automatically",
                 "expired": "expired", "human": "escalated"}


@dataclass
class Handoff:
    """The collaborators every handler needs."""

    client: AsyncWebClient
    settings: Settings
    access: AccessPolicy
    notifier: SlackApprovalNotifier
    tasks: TaskSet
    deliver: DeliverFn
    clock: Clock
    learn: LearnFn | None = None
    retry_delivery: RetryFn | None = None
    learn_rejection: LearnFn | None = None

    def learn_later(self, *, rejection: bool = False) -> LearnFn | None:
        """The learner hook, run after the answer to Slack (embedding takes a while)."""
        learn = self.learn_rejection if rejection else self.learn
        if learn is None:
            return None

        async def spawn(example: LearnedExample) -> None:
            async def run() -> None:
                await learn(example)

            self.tasks.spawn(run(), name="learn")

        return spawn

    def ephemeral(self, channel: str | None, user_id: str, text: str,
                  body: Mapping[str, Any] | None = None) -> None:
        """Tell one agent something only they see (in the background). With the click's
        ``body``, through its ``response_url`` (works for agents who are not members of the
        channel, where ``chat.postEphemeral`` fails), falling back to ``chat.postEphemeral``."""
        target = channel or self.settings.approval_channel
        response_url = str((body or {}).get("response_url") or "")

        async def send() -> None:
            if response_url:
                try:
                    result = await AsyncWebhookClient(response_url).send(
                        text=text, response_type="ephemeral", replace_original=False)
                    if result.status_code == 200:
                        return
                except Exception:
                    log.warning("response_url failed; trying chat.postEphemeral", exc_info=True)
            if target is None:
                return
            await with_retry(lambda: self.client.chat_postEphemeral(
                channel=target, user=user_id, text=text))

        self.tasks.spawn(send(), name="ephemeral")

    def refresh(self, draft_id: int) -> None:
        self.tasks.spawn(self.notifier.refresh(draft_id), name=f"refresh:{draft_id}")

    def refresh_conversation(self, conversation_id: int) -> None:
        self.tasks.spawn(self.notifier.refresh_conversation(conversation_id),
                         name=f"refresh-conversation:{conversation_id}")


def _ids(action: Mapping[str, Any]) -> dict[str, int]:
    data = json.loads(str(action.get("value") or "{}"))
    return {k: int(v) for k, v in data.items() if v is not None}


def owned_by(owner: str | None) -> str:
    """What an agent is told when someone else owns the conversation."""
    return (f"{user(owner)} owns this conversation: only they can reply or decide on it. "
            "They (or an admin) can hand it over with *Assign to…* or *Release to bot*.")


def replied_meanwhile(by: str | None, at: datetime | None) -> str:
    """What an agent is told when a reply went out while they were writing theirs."""
    when = at.strftime("%H:%M UTC") if at else "just now"
    return (f"{user(by)} replied to the customer at {when}, after you started writing. "
            "Your text was not sent; it is still here if you want to send it as a follow-up: "
            "close this form and click Reply again.")


async def _owner_other_than(conversation_id: int, agent: str) -> str | None:
    conversation = await conversations.get(conversation_id)
    if conversation is None or conversation.assignee in (None, agent):
        return None
    return str(conversation.assignee)


async def _refused_for_non_owner(h: Handoff, body: Mapping[str, Any], conversation_id: int,
                                 agent: str) -> bool:
    """True (and the agent told who owns it) when someone else owns the conversation."""
    owner = await _owner_other_than(conversation_id, agent)
    if owner is None:
        return False
    h.ephemeral(_channel(body), agent, owned_by(owner), body)
    return True


def _channel(body: Mapping[str, Any]) -> str | None:
    return (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")


def already(outcome: DraftOutcome) -> str:
    """The ephemeral a later click gets: who decided, what and when."""
    word = _STATUS_WORDS.get(outcome.status, outcome.status)
    who = "a newer customer message" if outcome.decided_by == "customer" else user(
        outcome.decided_by)
    when = outcome.decided_at.strftime("%H:%M UTC") if outcome.decided_at else "earlier"
    return f"This draft was already {word} by {who} at {when}."


async def _pending_or_tell(
    h: Handoff, draft_id: int, channel: str | None, agent: str
) -> Draft | None:
    draft = await card_store.draft(draft_id)
    if draft is None:
        h.ephemeral(channel, agent, "This draft no longer exists.")
        return None
    if draft.status != DraftStatus.PENDING:
        h.ephemeral(channel, agent, already(DraftOutcome(
            won=False, draft_id=draft.id, conversation_id=draft.conversation_id,  # type: ignore[attr-defined]
            status=draft.status, decided_by=draft.decided_by, decided_at=draft.decided_at)))
        return None
    return draft


async def _reply_text_or_refuse(h: Handoff, ack: AsyncAck, agent: str,
                                 view: dict[str, Any]) -> str | None:
    """The reply typed in an Edit or Reply modal, or None after answering the modal with the
    error to show (empty reply, or an agent who may not decide)."""
    text = modals.submitted_text(view, modals.TEXT_BLOCK, modals.TEXT_ACTION)
    if not text.strip():
        await ack(response_action="errors", errors={modals.TEXT_BLOCK: "The reply is empty."})
        return None
    if not await h.access.may_decide(agent):
        await ack(response_action="errors", errors={modals.TEXT_BLOCK: REFUSAL})
        return None
    return text


def register_actions(app: AsyncApp, h: Handoff) -> None:
    """Register every approval-channel listener on ``app``."""

    async def acked_deciders_only(ack: AsyncAck, body: dict[str, Any], context: dict[str, Any],
                                  next: Callable[[], Awaitable[None]]) -> None:
        """Listener middleware of every card button: acknowledge at once (Slack's 3-second
        deadline), then let only agents who may decide through; others are told why."""
        await ack()
        agent = str(body["user"]["id"])
        if not await h.access.may_decide(agent):
            h.ephemeral(_channel(body), agent, REFUSAL, body)
            # Still call the listener (marked refused, it does nothing): a middleware that
            # stops the chain leaves bolt with no listener that handled the request, and it
            # answers Slack 404 although the click was acknowledged.
            context["refused"] = True
        await next()

    def button(action_id: str) -> Callable[[Listener], Any]:
        register = app.action(action_id, middleware=[acked_deciders_only])

        def decorate(listener: Listener) -> Any:
            @functools.wraps(listener)
            async def guarded(body: dict[str, Any], action: dict[str, Any],
                              context: dict[str, Any]) -> None:
                if context.get("refused"):
                    return
                # Slack already has its 200 (the middleware acked): a failure here must
                # reach the agent as a message, never vanish into the log.
                try:
                    await listener(body, action)
                except SlackApiError as error:
                    log.exception("button %s failed", action_id)
                    code = str(error.response.get("error") or "")
                    h.ephemeral(_channel(body), str(body["user"]["id"]),
                                _EXPIRED if code in ("expired_trigger_id", "invalid_trigger_id")
                                else f"⚠️ Slack refused that ({code or 'error'}). "
                                     "Please try again.", body)
                except decisions.DecisionError as error:
                    h.ephemeral(_channel(body), str(body["user"]["id"]),
                                f"⚠️ That could not be done: {error}.", body)
                except Exception:
                    log.exception("button %s failed", action_id)
                    h.ephemeral(_channel(body), str(body["user"]["id"]),
                                "⚠️ Something went wrong handling that click; nothing was "
                                "sent. Please try again.", body)

            del guarded.__wrapped__  # bolt inspects the wrapper's own signature
            return register(guarded)

        return decorate

    @button(cards.APPROVE)
    async def approve(body: dict[str, Any], action: dict[str, Any]) -> None:
        agent, ids = str(body["user"]["id"]), _ids(action)
        outcome = await decisions.approve(ids["draft"], agent=agent, now=h.clock(),
                                          deliver=h.deliver, learn=h.learn_later())
        if outcome.owner is not None:
            h.ephemeral(_channel(body), agent, owned_by(outcome.owner), body)
            return
        if not outcome.won:
            h.ephemeral(_channel(body), agent, already(outcome), body)
            return
        h.refresh(outcome.draft_id)

    @button(cards.EDIT)
    async def edit(body: dict[str, Any], action: dict[str, Any]) -> None:
        agent, ids = str(body["user"]["id"]), _ids(action)
        if await _refused_for_non_owner(h, body, ids["conversation"], agent):
            return
        draft = await _pending_or_tell(h, ids["draft"], _channel(body), agent)
        if draft is None:
            return
        question = await draft.message
        context = await form_context(ids["conversation"], question.id, h.notifier.links)
        # views.open must use the trigger id within 3 seconds of the click: do it now.
        await h.client.views_open(trigger_id=body["trigger_id"], view=modals.edit_modal(
            draft_id=draft.id, conversation_id=ids["conversation"], draft=draft.text,
            question=question.text, context=context))

    @button(cards.REJECT)
    async def reject(body: dict[str, Any], action: dict[str, Any]) -> None:
        agent, ids = str(body["user"]["id"]), _ids(action)
        if await _refused_for_non_owner(h, body, ids["conversation"], agent):
            return
        if await _pending_or_tell(h, ids["draft"], _channel(body), agent) is None:
            return
        await h.client.views_open(trigger_id=body["trigger_id"], view=modals.reject_modal(
            draft_id=ids["draft"], conversation_id=ids["conversation"]))

    @button(cards.TAKE_OVER)
    async def take_over(body: dict[str, Any], action: dict[str, Any]) -> None:
        agent, ids = str(body["user"]["id"]), _ids(action)
        outcome = await decisions.take_over(ids["conversation"], agent=agent)
        if not outcome.won:
            h.ephemeral(_channel(body), agent,
                        f"{user(outcome.assignee)} has already taken over this conversation. "
                        + owned_by(outcome.assignee), body)
            return
        await _open_reply(h, body["trigger_id"], ids["conversation"])
        h.tasks.spawn(h.notifier.refresh_conversation(ids["conversation"]), name="take-over")

    @button(cards.REPLY)
    async def reply(body: dict[str, Any], action: dict[str, Any]) -> None:
        agent, ids = str(body["user"]["id"]), _ids(action)
        if await _refused_for_non_owner(h, body, ids["conversation"], agent):
            return
        await _open_reply(h, body["trigger_id"], ids["conversation"])

    async def acked_deciders_or_admins(ack: AsyncAck, body: dict[str, Any],
                                       context: dict[str, Any],
                                       next: Callable[[], Awaitable[None]]) -> None:
        await ack()
        agent = str(body["user"]["id"])
        if not (h.access.is_admin(agent) or await h.access.may_decide(agent)):
            h.ephemeral(_channel(body), agent, REFUSAL, body)
            context["refused"] = True  # see acked_deciders_only
        await next()

    @app.action(cards.ASSIGN, middleware=[acked_deciders_or_admins])
    async def assign(body: dict[str, Any], action: dict[str, Any],
                     context: dict[str, Any]) -> None:
        if context.get("refused"):
            return
        agent = str(body["user"]["id"])
        conversation_id = int(str(action.get("block_id", "")).rsplit(":", 1)[-1])
        to = str(action.get("selected_user") or "")
        if not to:
            return
        outcome = await decisions.assign(conversation_id, to=to, agent=agent,
                                         admin=h.access.is_admin(agent))
        if not outcome.won:
            h.ephemeral(_channel(body), agent, owned_by(outcome.assignee), body)
            return
        h.tasks.spawn(h.notifier.refresh_conversation(conversation_id), name="assign")
        h.tasks.spawn(h.notifier.post_in_thread(
            conversation_id, f"👤 {user(agent)} assigned this conversation to {user(to)}."),
            name="assign-note")

    @button(cards.RELEASE)
    async def release(body: dict[str, Any], action: dict[str, Any]) -> None:
        agent, ids = str(body["user"]["id"]), _ids(action)
        outcome = await decisions.release(ids["conversation"], agent=agent,
                                          admin=h.access.is_admin(agent))
        if not outcome.won:
            if outcome.assignee not in (None, agent):
                h.ephemeral(_channel(body), agent, owned_by(outcome.assignee), body)
            return
        h.tasks.spawn(h.notifier.refresh_conversation(ids["conversation"]), name="release")
        h.tasks.spawn(h.notifier.post_in_thread(
            ids["conversation"], f"🤖 {user(agent)} handed this conversation back to the bot."),
            name="release-note")

    @button(cards.CORRECT)
    async def correct(body: dict[str, Any], action: dict[str, Any]) -> None:
        # A follow-up through the customer's channel, prefilled with what was sent.
        agent, ids = str(body["user"]["id"]), _ids(action)
        if await _refused_for_non_owner(h, body, ids["conversation"], agent):
            return
        draft = await card_store.draft(ids["draft"])
        if draft is None:
            raise decisions.DecisionError(f"draft {ids['draft']} does not exist")
        seen = await draft_store.latest_reply_id(ids["conversation"])
        question = await _last_question(ids["conversation"])
        await h.client.views_open(trigger_id=body["trigger_id"], view=modals.reply_modal(
            conversation_id=ids["conversation"], question=question,
            initial=f"A correction to my previous message: {draft.final_text or draft.text}",
            seen_reply=seen))

    @button(cards.STOP_TOPIC)
    async def stop_topic(body: dict[str, Any], action: dict[str, Any]) -> None:
        agent, ids = str(body["user"]["id"]), _ids(action)
        draft = await card_store.draft(ids["draft"])
        if draft is None or not draft.topic:
            h.ephemeral(_channel(body), agent, "This reply belongs to no topic to stop.", body)
            return
        stopped = await runtime.stop_topic(draft.topic, updated_by=agent)
        h.ephemeral(_channel(body), agent,
                    "Auto-send stopped for this topic: its drafts wait for an agent again."
                    if stopped else "Auto-send was already stopped for this topic.", body)
        if stopped:
            h.tasks.spawn(h.notifier.post_in_thread(
                ids["conversation"], f"🛑 {user(agent)} stopped auto-send for this topic."),
                name="stop-topic-note")

    @button(cards.RETRY)
    async def retry(body: dict[str, Any], action: dict[str, Any]) -> None:
        agent, ids = str(body["user"]["id"]), _ids(action)
        if h.retry_delivery is None or not await h.retry_delivery(ids["outbox"]):
            h.ephemeral(_channel(body), agent, "That reply is no longer waiting for a retry.")
            return
        if "draft" in ids:
            h.refresh(ids["draft"])
        h.ephemeral(_channel(body), agent, "Sending the reply again.")

    def modal(callback_id: str, block_id: str) -> Callable[[Listener], Any]:
        """A view-submission listener whose failure shows in the open modal (under
        ``block_id``, with the agent's text kept) instead of an HTTP 500."""
        register = app.view(callback_id)

        def decorate(listener: Listener) -> Any:
            async def guarded(ack: AsyncAck, body: dict[str, Any],
                              view: dict[str, Any]) -> None:
                acked = False

                async def ack_once(**kwargs: Any) -> None:
                    nonlocal acked
                    if not acked:
                        acked = True
                        await ack(**kwargs)

                try:
                    await listener(ack_once, body, view)
                except Exception as exc:
                    log.exception("modal %s failed", callback_id)
                    if acked:
                        h.ephemeral(None, str(body["user"]["id"]),
                                    "⚠️ Something went wrong after sending your form.")
                        return
                    text = (f"That could not be done: {exc}." if isinstance(
                        exc, decisions.DecisionError) else
                        "Something went wrong; nothing was sent. Please try again.")
                    await ack(response_action="errors", errors={block_id: text})

            return register(guarded)

        return decorate

    @modal(modals.EDIT_VIEW, modals.TEXT_BLOCK)
    async def edit_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        agent, meta = str(body["user"]["id"]), modals.metadata(view)
        text = await _reply_text_or_refuse(h, ack, agent, view)
        if text is None:
            return
        outcome = await decisions.approve(int(meta["draft"]), agent=agent, now=h.clock(),
                                          deliver=h.deliver, final_text=text,
                                          learn=h.learn_later())
        if not outcome.won:
            # The form stays open with the agent's text in it, and says why it was not sent.
            refusal = (owned_by(outcome.owner) if outcome.owner is not None
                       else already(outcome) + " Your edit was not sent.")
            await ack(response_action="errors", errors={modals.TEXT_BLOCK: refusal[:1900]})
            return
        await ack()
        h.refresh(outcome.draft_id)
        # The card shows the first 1,400 characters of the edited reply and says the full
        # text is in its thread: put it there.
        h.tasks.spawn(h.notifier.post_full_texts(outcome.draft_id, edited_by=agent),
                      name=f"full-texts:{outcome.draft_id}")

    @modal(modals.REJECT_VIEW, modals.REASON_BLOCK)
    async def reject_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        agent, meta = str(body["user"]["id"]), modals.metadata(view)
        if not await h.access.may_decide(agent):
            await ack(response_action="errors", errors={modals.REASON_BLOCK: REFUSAL})
            return
        reason = modals.submitted_text(view, modals.REASON_BLOCK, modals.REASON_ACTION)
        outcome = await decisions.reject(int(meta["draft"]), agent=agent, now=h.clock(),
                                         reason=reason, on_reject=h.learn_later(rejection=True))
        if not outcome.won:
            refusal = owned_by(outcome.owner) if outcome.owner is not None else already(outcome)
            await ack(response_action="errors", errors={modals.REASON_BLOCK: refusal[:1900]})
            return
        await ack()
        h.refresh(outcome.draft_id)

    @modal(modals.REPLY_VIEW, modals.TEXT_BLOCK)
    async def reply_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        agent, meta = str(body["user"]["id"]), modals.metadata(view)
        text = await _reply_text_or_refuse(h, ack, agent, view)
        if text is None:
            return
        conversation_id = int(meta["conversation"])
        seen = meta.get("seen_reply")
        outcome = await decisions.reply_manual(conversation_id, agent=agent, text=text,
                                               now=h.clock(), deliver=h.deliver,
                                               learn=h.learn_later(),
                                               seen_reply=int(seen) if seen is not None else None)
        if not outcome.won:
            refusal = (replied_meanwhile(outcome.replied_by, outcome.replied_at)
                       if outcome.replied_by is not None else owned_by(outcome.assignee))
            await ack(response_action="errors", errors={modals.TEXT_BLOCK: refusal[:1900]})
            return
        await ack()
        h.refresh_conversation(conversation_id)
        if outcome.superseded_draft_id is not None:
            h.refresh(outcome.superseded_draft_id)
        h.tasks.spawn(h.notifier.post_in_thread(
            conversation_id, f"📨 {user(agent)} replied:\n" + fit(text, 3800)), name="reply-note")

    async def in_approval_channel(event: Mapping[str, Any]) -> bool:
        return event.get("channel") == h.settings.approval_channel

    @app.event("message", matchers=[in_approval_channel])
    async def note(event: dict[str, Any]) -> None:
        # Agents talking in a card's thread: an internal note, stored and never sent.
        thread, author = event.get("thread_ts"), event.get("user")
        if event.get("subtype") or event.get("bot_id") or not thread or not author:
            return
        conversation_id = await card_store.conversation_by_thread(h.settings.approval_channel,
                                                             str(thread))
        if conversation_id is None:
            return
        stored = await decisions.add_note(conversation_id, agent=str(author),
                                          text=str(event.get("text") or ""),
                                          note_id=f"{event['channel']}:{event['ts']}")
        if stored.won:  # the newest card counts the notes written since its message
            h.refresh_conversation(conversation_id)


async def _open_reply(h: Handoff, trigger_id: str, conversation_id: int) -> None:
    # The newest reply now: a reply queued after this (by anyone) refuses this form's send.
    seen = await draft_store.latest_reply_id(conversation_id)
    draft = await card_store.pending_draft(conversation_id)
    latest = (draft.message if draft is not None
              else await conversations.latest_customer_message(conversation_id))
    context = await form_context(conversation_id, latest.id if latest is not None else None,
                                 h.notifier.links)
    await h.client.views_open(trigger_id=trigger_id, view=modals.reply_modal(
        conversation_id=conversation_id, question=latest.text if latest is not None else "",
        initial=draft.text if draft is not None else "",
        draft_id=draft.id if draft is not None else None, seen_reply=seen, context=context))


async def _last_question(conversation_id: int) -> str:
    message = await conversations.latest_customer_message(conversation_id)
    return message.text if message is not None else ""
