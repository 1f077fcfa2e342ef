"""Storage basics on both backends: migrations apply and the dedupe keys hold."""

from __future__ import annotations

import pytest
from tortoise.exceptions import IntegrityError

from bot.models import Conversation, Message


async def test_message_dedupe_key_is_unique_per_channel(db: object) -> None:
    conv = await Conversation.create(channel="webhook", thread_key="form:1", token="tok1")
    await Message.create(conversation=conv, channel="webhook", direction="in", author="a",
                         text="hi", channel_message_id="m1")
    # The same id in another channel is a different message.
    await Message.create(conversation=conv, channel="email", direction="in", author="a",
                         text="hi", channel_message_id="m1")
    with pytest.raises(IntegrityError):
        await Message.create(conversation=conv, channel="webhook", direction="in", author="a",
                             text="again", channel_message_id="m1")
    assert await Message.filter(conversation=conv).count() == 2
