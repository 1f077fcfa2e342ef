"""PostgreSQL goes away while messages flow, and comes back.

The outage is made without touching the shared server: the test database stops accepting
connections (``ALTER DATABASE … ALLOW_CONNECTIONS false``) and every backend on it is killed
(``pg_terminate_backend``), which is what clients see when the server restarts. While it is
down the edges must refuse (webhook 503, SMTP 451) so senders retry; once it is back,
everything accepted is processed and answered once, without restarting anything.
"""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from bot.store.models import Draft, InboxItem, Message, OutboxItem
from tests.conftest import PG_ADMIN_URL
from tests.fakes.http import wait_for
from tests.reliability.conftest import (
    Stack,
    StackFactory,
    mail_bytes,
    smtp_send,
    webhook_message,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


class Outage:
    """Takes the test database down and up through an admin connection."""

    def __init__(self, database: str) -> None:
        self.database = database

    async def _admin(self, *statements: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    async def down(self) -> None:
        await self._admin(
            f'ALTER DATABASE "{self.database}" ALLOW_CONNECTIONS false',
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{self.database}' AND pid <> pg_backend_pid()",
        )

    async def up(self) -> None:
        await self._admin(f'ALTER DATABASE "{self.database}" ALLOW_CONNECTIONS true')


@pytest.fixture
async def outage(pg_url: str) -> AsyncIterator[Outage]:
    control = Outage(pg_url.rpartition("/")[2])
    yield control
    await control.up()  # never leave the shared database closed, whatever happened


async def post_until_stored(stack: Stack, mid: str, text: str) -> int:
    """Send like a well-behaved source: retry 503s (with a deadline) until stored."""
    async with asyncio.timeout(30):
        while True:
            response = await stack.webhook(webhook_message(mid, text))
            if response.status_code in (200, 202):
                return response.status_code
            assert response.status_code == 503, response.text
            await asyncio.sleep(0.1)


async def test_database_outage_refuses_at_the_edges_and_recovers_without_restart(
    make_stack: StackFactory, pg_url: str, outage: Outage
) -> None:
    stack = await make_stack(DATABASE_URL=pg_url, SUPPORTBOT_AUTO_SEND_THRESHOLD="0.5",
                             SUPPORTBOT_LEASE_SECONDS="2")
    assert stack.smtp_port is not None
    question = "I forgot my password, how do I reset it?"
    for i in range(5):
        assert (await stack.webhook(webhook_message(f"before-{i}", question))).status_code == 202

    await outage.down()
    refused = await stack.webhook(webhook_message("during-0", question))
    assert refused.status_code == 503 and refused.json()["error"] == "unavailable"
    with pytest.raises(smtplib.SMTPDataError) as smtp_refusal:
        await asyncio.to_thread(smtp_send, stack.smtp_port, mail_bytes("<during@example.com>"))
    assert smtp_refusal.value.smtp_code == 451
    ready = await stack.http.get(f"{stack.url}/readyz")
    assert ready.status_code == 503

    await outage.up()
    # The senders retry what was refused; new traffic flows again on the same processes.
    assert await post_until_stored(stack, "during-0", question) == 202
    for i in range(5):
        assert await post_until_stored(stack, f"after-{i}", question) == 202
    await _retry_smtp(stack.smtp_port, mail_bytes("<during@example.com>"))

    try:
        await wait_for(lambda: len({r.json()["reply_id"] for r in stack.receiver.delivered})
                       >= 11, timeout=60)
    except TimeoutError:
        raise AssertionError(await _state()) from None
    await wait_for(lambda: stack.relay.messages, timeout=60)
    await stack.wait_settled(within=60)
    # Delivery is at least once by contract: a reply sent just as the database went away may
    # be sent again with the same reply_id, which receivers dedupe on. What must never happen
    # is a second, different reply to one message.
    replies = {r.json()["reply_id"]: r.json()["in_reply_to"] for r in stack.receiver.delivered}
    answered = sorted(replies.values())
    expected = sorted([f"before-{i}" for i in range(5)] + ["during-0"]
                      + [f"after-{i}" for i in range(5)])
    assert answered == expected, "every accepted message answered exactly once"
    assert len(stack.relay.messages) == 1
    assert await Message.filter(direction="in").count() == 12
    assert not await InboxItem.filter(status="failed").exists()
    assert (await stack.http.get(f"{stack.url}/readyz")).status_code == 200


async def _state() -> str:
    """Where every message is, for a failure message."""
    inbox = await InboxItem.all().values("id", "status", "attempts", "lease_until", "last_error")
    out = await OutboxItem.all().values("id", "status", "attempts", "last_error")
    drafts = await Draft.all().values("id", "message_id", "status", "decision")
    return f"inbox={inbox}\noutbox={out}\ndrafts={drafts}"


async def _retry_smtp(port: int, raw: bytes) -> None:
    """An MTA retries a 4xx later; here with a short deadline."""
    async with asyncio.timeout(30):
        while True:
            try:
                await asyncio.to_thread(smtp_send, port, raw)
                return
            except (smtplib.SMTPException, OSError, httpx.HTTPError):
                await asyncio.sleep(0.1)
