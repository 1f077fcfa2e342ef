"""This process's edges into the queues: ``accept`` (an edge's message into the inbox) and
``deliver`` (a decided reply into the outbox), each waking the worker loops."""

from __future__ import annotations

from bot import telemetry
from bot.clock import Clock, utcnow
from bot.domain import Accepted, AcceptFn, Inbound
from bot.flow.wakeup import WakeUp
from bot.store import inbox, outbox
from bot.store.drafts import EnqueueFn, HasId


def accept_into(wake: WakeUp) -> AcceptFn:
    """Store an edge's message durably (deduplicated), count it, and wake the router."""

    async def accept(inbound: Inbound) -> Accepted:
        accepted = await inbox.accept(inbound)
        telemetry.ACCEPTED.labels(inbound.channel.value, str(accepted.duplicate).lower()).inc()
        if not accepted.duplicate:
            wake.kick()
        return accepted

    return accept


def deliver_into(wake: WakeUp, clock: Clock = utcnow) -> EnqueueFn:
    """Queue an agent's decided reply and wake the outbox dispatcher."""

    async def deliver(*, conversation_id: int, text: str, decided_by: str, draft_id: int | None,
                      auto: bool) -> HasId:
        item = await outbox.enqueue_reply(conversation_id=conversation_id, text=text,
                                          decided_by=decided_by, draft_id=draft_id, auto=auto,
                                          clock=clock)
        wake.reply_queued()
        return item

    return deliver
