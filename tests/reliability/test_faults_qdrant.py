"""Qdrant unreachable: ``QDRANT_URL`` points at a closed loopback port. Messages are still
accepted (the edge only stores); routing fails visibly on every attempt, and after the inbox's
``SUPPORTBOT_INBOX_MAX_ATTEMPTS`` the message goes to humans with the error on the card."""

from __future__ import annotations

import pytest

from bot.store.models import Draft, InboxItem, QueueStatus
from tests.fakes.http import wait_for
from tests.reliability.conftest import StackFactory, db_true, free_port, webhook_message


@pytest.mark.slow
# qdrant-client checks the server version in a background thread and warns when it cannot
# reach it: that warning is the expected symptom here, not a test failure.
async def test_unreachable_qdrant_hands_messages_to_humans_never_drops_them(
    make_stack: StackFactory, caplog: pytest.LogCaptureFixture
) -> None:
    stack = await make_stack(QDRANT_URL=f"http://127.0.0.1:{free_port()}", ingest=False,
                             SUPPORTBOT_INBOX_MAX_ATTEMPTS="2",
                             SUPPORTBOT_AUTO_SEND_THRESHOLD="0")
    response = await stack.webhook(webhook_message("m1"))
    assert response.status_code == 202  # accepted: storing does not need Qdrant
    await wait_for(lambda: "routing message" in caplog.text, timeout=30)
    # The first failure is retried (backing off 2 s), not given up on.
    item = await InboxItem.get()
    assert item.status == QueueStatus.PENDING and item.last_error
    await wait_for(db_true(lambda: Draft.filter(approval_ts__not_isnull=True).exists()),
                   timeout=30)
    item = await InboxItem.get()
    assert item.status == QueueStatus.FAILED and item.attempts == 2
    draft = await Draft.get()
    assert draft.decision == "human" and draft.status == "pending"
    assert draft.error is not None and "routing failed 2 times" in draft.error
    assert "routing failed" in stack.card_text()
    assert stack.receiver.requests == []  # nothing was sent on a guess
    assert (await stack.metrics())["supportbot_inbox_depth"] == 0.0
