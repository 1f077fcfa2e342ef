"""Slack as a customer channel: signed events through /slack/events into the inbox."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import Accepted, AcceptError, Channel, Inbound, Sender
from bot.store import inbox
from bot.store.models import Conversation, Customer, InboxItem, Message
from channels.slack import (
    SlackCustomerChannel,
    clean_text,
    ignore_reason,
    make_slack_app,
    register_customer_channel,
    thread_key,
    to_inbound,
)
from config import Settings
from tests.conftest import SettingsFactory
from tests.fakes.slack_api import FakeSlackAPI, SlackEdge

SECRET = "test-signing-secret"


def slack_settings(make_settings: SettingsFactory, api_url: str, **extra: Any) -> Settings:
    return make_settings(
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=api_url,
        SUPPORTBOT_APPROVAL_CHANNEL="CAPPROVAL",
        SUPPORTBOT_SUPPORT_CHANNELS="CSUPPORT",
        **extra,
    )


def message(
    text: str = "Hello, my invoice is wrong",
    *,
    ts: str = "1700000100.000100",
    user: str = "UCUST",
    channel: str = "CSUPPORT",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts,
        "channel_type": "channel",
        "team": FakeSlackAPI.team_id,
        **extra,
    }


@dataclass
class Stack:
    slack: FakeSlackAPI
    edge: SlackEdge
    channel: SlackCustomerChannel
    accepted: list[Accepted]


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlackAPI]:
    async with FakeSlackAPI() as fake:
        fake.add_user("UCUST", name="Ada Lovelace", email="ada@example.com")
        yield fake


@pytest.fixture
async def stack(
    sqlite_db: Settings, slack: FakeSlackAPI, make_settings: SettingsFactory
) -> AsyncIterator[Stack]:
    settings = slack_settings(make_settings, slack.api_url)
    app = make_slack_app(settings, client=AsyncWebClient(token="xoxb-test", base_url=slack.api_url))
    accepted: list[Accepted] = []
    channel = register_customer_channel(
        app, settings=settings, accept=inbox.accept, on_accepted=accepted.append,
        on_profile=inbox.update_slack_profile,
    )
    edge = SlackEdge(app, signing_secret=SECRET)
    yield Stack(slack, edge, channel, accepted)
    await edge.aclose()


# --- pure translation --------------------------------------------------------------------


def test_clean_text_unwraps_slack_markup() -> None:
    raw = "<@UBOT> hi &amp; thanks, see <https://x.io/a|the docs> or <mailto:a@b.c> <!here> <@U2>"
    assert clean_text(raw, bot_user_id="UBOT") == (
        "hi & thanks, see the docs (https://x.io/a) or mailto:a@b.c @here @U2"
    )


def test_a_group_mention_keeps_one_at_sign() -> None:
    assert clean_text("ping <!subteam^S1|@agents> and <!subteam^S2>") == (
        "ping @agents and @subteam^S2")


def test_thread_key_uses_the_parent_ts_for_replies() -> None:
    assert thread_key("C1", "1.2", None) == "C1:1.2"
    assert thread_key("C1", "3.4", "1.2") == "C1:1.2"


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (message(), None),
        (message(channel="CRANDOM"), "not a support channel"),
        (message(channel="D1", channel_type="im"), None),
        ({**message(channel="CRANDOM"), "type": "app_mention"}, None),
        (message(subtype="message_changed"), "subtype message_changed"),
        (message(subtype="message_deleted"), "subtype message_deleted"),
        (message(subtype="channel_join"), "subtype channel_join"),
        (message(subtype="bot_message", bot_id="B2"), "subtype bot_message"),
        (message(bot_id="B2"), "another bot"),
        (message(user="UBOT"), "our own message"),
        (message(channel="CAPPROVAL"), "approval channel"),
        (message(subtype="thread_broadcast"), None),
    ],
)
def test_ignore_reason(
    make_settings: SettingsFactory, event: dict[str, Any], reason: str | None
) -> None:
    settings = slack_settings(make_settings, "http://127.0.0.1:1/api/")
    assert ignore_reason(event, settings, bot_user_id="UBOT") == reason


def test_other_bots_can_be_let_in(make_settings: SettingsFactory) -> None:
    settings = slack_settings(make_settings, "http://x/api/", SUPPORTBOT_IGNORE_BOTS="false")
    assert ignore_reason(message(bot_id="B2"), settings, bot_user_id="UBOT") is None


def test_to_inbound_keys_and_metadata() -> None:
    event = message(ts="1700000200.000200", thread_ts="1700000100.000100")
    inbound = to_inbound(event, team="T1", sender=Sender(id="UCUST"), bot_user_id="UBOT")
    assert inbound.channel is Channel.SLACK
    assert inbound.thread_key == "CSUPPORT:1700000100.000100"
    assert inbound.channel_message_id == "CSUPPORT:1700000200.000200"
    assert inbound.metadata["thread_ts"] == "1700000100.000100"
    assert inbound.metadata["ts"] == "1700000200.000200"
    assert inbound.received_at.timestamp() == pytest.approx(1700000200.0002)


# --- through HTTP ------------------------------------------------------------------------


async def test_support_channel_message_is_stored_with_the_customer_profile(
    stack: Stack,
) -> None:
    response = await stack.edge.event(message())
    assert response.status_code == 200
    stored = await Message.get(channel="slack", channel_message_id="CSUPPORT:1700000100.000100")
    assert stored.text == "Hello, my invoice is wrong"
    assert await InboxItem.filter(message_id=stored.id).count() == 1
    # The profile is filled in after the ack (users.info is never awaited in the ack path).
    async with asyncio.timeout(5):
        await stack.channel.profiles_settled()
    customer = await Customer.get(slack_user="UCUST")
    assert (customer.name, customer.email) == ("Ada Lovelace", "ada@example.com")
    assert len(stack.accepted) == 1


async def test_thread_replies_join_the_conversation(stack: Stack) -> None:
    await stack.edge.event(message(ts="1700000100.000100"))
    await stack.edge.event(
        message("Any news?", ts="1700000300.000300", thread_ts="1700000100.000100")
    )
    assert await Conversation.all().count() == 1
    assert await Message.filter(direction="in").count() == 2
    # users.info is asked once for both messages.
    assert len(stack.slack.calls_to("users.info")) == 1


async def test_retried_deliveries_store_one_message(stack: Stack) -> None:
    event = message()
    first = await stack.edge.event(event, event_id="EvSAME")
    again = await stack.edge.event(event, event_id="EvSAME", retry_num=1)
    # The mention of the same message arrives as another event with another id.
    mention = await stack.edge.event({**event, "type": "app_mention"}, event_id="EvMENTION")
    assert [r.status_code for r in (first, again, mention)] == [200, 200, 200]
    assert await Message.all().count() == 1
    assert await InboxItem.all().count() == 1
    assert len(stack.accepted) == 1


async def test_bad_signature_is_refused_and_nothing_stored(stack: Stack) -> None:
    response = await stack.edge.event(message(), bad_signature=True)
    assert response.status_code == 401
    assert await Message.all().count() == 0
    assert stack.slack.calls_to("users.info") == []


@pytest.mark.parametrize(
    "event",
    [
        message(subtype="message_changed"),
        message(bot_id="BOTHER"),
        message(user="UBOT"),
        message(channel="CRANDOM"),
        message(subtype="channel_join"),
    ],
)
async def test_ignored_events_are_acknowledged_without_storing(
    stack: Stack, event: dict[str, Any]
) -> None:
    response = await stack.edge.event(event)
    assert response.status_code == 200
    assert await Message.all().count() == 0


async def test_direct_message_and_mention_are_customer_messages(stack: Stack) -> None:
    await stack.edge.event(message("dm question", channel="DCUST", channel_type="im"))
    await stack.edge.event(
        {**message("<@UBOT> help please", channel="CRANDOM"), "type": "app_mention"}
    )
    texts: list[Any] = sorted(await Message.all().values_list("text", flat=True))
    assert texts == ["dm question", "help please"]


async def test_a_storage_failure_answers_500_so_slack_retries(
    sqlite_db: Settings, slack: FakeSlackAPI, make_settings: SettingsFactory
) -> None:
    settings = slack_settings(make_settings, slack.api_url)
    app = make_slack_app(settings, client=AsyncWebClient(token="xoxb-test", base_url=slack.api_url))
    calls: list[Inbound] = []

    async def failing_accept(inbound: Inbound) -> Accepted:
        calls.append(inbound)
        if len(calls) == 1:
            raise AcceptError("database unreachable")
        return await inbox.accept(inbound)

    register_customer_channel(app, settings=settings, accept=failing_accept,
                              on_profile=inbox.update_slack_profile)
    edge = SlackEdge(app, signing_secret=SECRET)
    try:
        first = await edge.event(message(), event_id="EvX")
        retry = await edge.event(message(), event_id="EvX", retry_num=1)
    finally:
        await edge.aclose()
    assert (first.status_code, retry.status_code) == (500, 200)
    assert await Message.all().count() == 1


async def test_users_info_failure_still_stores_the_message(stack: Stack) -> None:
    stack.slack.fail("users.info", "user_not_found")
    await stack.edge.event(message(user="UNKNOWN"))
    stored = await Message.get()
    assert stored.author == "UNKNOWN"


class AnswerRecordingClient(AsyncWebClient):
    """The real client, noting in ``order`` when a users.info answer came back."""

    def __init__(self, order: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.order = order

    async def users_info(self, *, user: str, **kwargs: Any) -> Any:
        response = await super().users_info(user=user, **kwargs)
        self.order.append("users.info answered")
        return response


async def test_a_slow_users_info_does_not_delay_the_ack(
    sqlite_db: Settings, slack: FakeSlackAPI, make_settings: SettingsFactory
) -> None:
    slack.slow("users.info", 2.0)  # Slack retries an event whose ack takes over 3 s
    settings = slack_settings(make_settings, slack.api_url)
    order: list[str] = []
    client = AnswerRecordingClient(order, token="xoxb-test", base_url=slack.api_url)
    app = make_slack_app(settings, client=client)

    async def recording_accept(inbound: Inbound) -> Accepted:
        order.append(f"stored ({len(slack.calls_to('users.info'))} users.info calls)")
        return await inbox.accept(inbound)

    channel = register_customer_channel(app, settings=settings, accept=recording_accept,
                                        on_profile=inbox.update_slack_profile)
    edge = SlackEdge(app, signing_secret=SECRET)
    try:
        response = await edge.event(message())
        order.append("ack")
        assert response.status_code == 200
        customer = await Customer.get(slack_user="UCUST")
        assert (customer.name, customer.email) == (None, None)  # the event carries no name
        await slack.wait_for("users.info")  # asked in the background, after the ack
        async with asyncio.timeout(5):
            await channel.profiles_settled()
    finally:
        await edge.aclose()
    # Persist first, acknowledge, and only then does the profile arrive.
    assert order == ["stored (0 users.info calls)", "ack", "users.info answered"]
    customer = await Customer.get(slack_user="UCUST")
    assert (customer.name, customer.email) == ("Ada Lovelace", "ada@example.com")
    stored = await Message.get()
    assert stored.author == "UCUST"


async def test_the_next_message_carries_the_cached_profile(stack: Stack) -> None:
    await stack.edge.event(message(ts="1700000100.000100"))
    async with asyncio.timeout(5):
        await stack.channel.profiles_settled()
    await stack.edge.event(message("Any news?", ts="1700000300.000300"))
    authors: list[Any] = await Message.all().order_by("id").values_list("author", flat=True)
    assert authors == ["UCUST", "Ada Lovelace"]
    assert len(stack.slack.calls_to("users.info")) == 1


async def test_a_failed_profile_update_is_logged_and_the_message_kept(
    sqlite_db: Settings, slack: FakeSlackAPI, make_settings: SettingsFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = slack_settings(make_settings, slack.api_url)
    app = make_slack_app(settings, client=AsyncWebClient(token="xoxb-test", base_url=slack.api_url))

    async def broken_profile_store(profile: Sender) -> None:
        raise RuntimeError("database went away")

    channel = register_customer_channel(
        app, settings=settings, accept=inbox.accept, on_profile=broken_profile_store
    )
    edge = SlackEdge(app, signing_secret=SECRET)
    try:
        with caplog.at_level(logging.ERROR, logger="channels.slack"):
            response = await edge.event(message())
            async with asyncio.timeout(5):
                await channel.profiles_settled()
    finally:
        await edge.aclose()
    assert response.status_code == 200
    assert await Message.all().count() == 1
    [record] = [r for r in caplog.records if "Slack profile" in r.getMessage()]
    assert record.exc_info is not None and "database went away" in str(record.exc_info[1])
