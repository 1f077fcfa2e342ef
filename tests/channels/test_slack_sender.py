"""SlackSender: replies in the customer's thread; Slack errors mapped to retry or dead letter."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import Channel, Reply, Sender, SendError
from channels.slack import SlackSender
from tests.fakes.slack_api import RATELIMITED_TOKEN, FakeSlackAPI


def reply(reply_id: str = "r1", text: str = "Here is your answer.") -> Reply:
    return Reply(
        reply_id=reply_id,
        channel=Channel.SLACK,
        conversation_id=1,
        thread_key="CSUPPORT:1700000100.000100",
        text=text,
        decided_by="UAGENT",
        in_reply_to="CSUPPORT:1700000300.000300",
        recipient=Sender(id="UCUST"),
        thread_metadata={
            "channel": "CSUPPORT",
            "ts": "1700000300.000300",
            "thread_ts": "1700000100.000100",
        },
    )


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlackAPI]:
    async with FakeSlackAPI() as fake:
        yield fake


def sender(slack: FakeSlackAPI, token: str = "xoxb-test") -> SlackSender:
    return SlackSender(client=AsyncWebClient(token=token, base_url=slack.api_url))


async def test_reply_goes_into_the_customers_thread(slack: FakeSlackAPI) -> None:
    result = await sender(slack).send(reply())
    [call] = slack.calls_to("chat.postMessage")
    assert call.params["channel"] == "CSUPPORT"
    assert call.params["thread_ts"] == "1700000100.000100"
    assert call.params["text"] == "Here is your answer."
    assert call.params["metadata"]["event_payload"] == {"reply_id": "r1"}
    assert result.channel_message_id == f"CSUPPORT:{result.metadata['ts']}"


async def test_top_level_message_is_answered_in_its_own_thread(slack: FakeSlackAPI) -> None:
    top_reply = Reply(
        reply_id="r2",
        channel=Channel.SLACK,
        conversation_id=1,
        thread_key="CSUPPORT:1700000500.000500",
        text="hi",
        decided_by="auto",
        in_reply_to=None,
        recipient=Sender(id="UCUST"),
        thread_metadata={"channel": "CSUPPORT", "ts": "1700000500.000500", "thread_ts": None},
    )
    await sender(slack).send(top_reply)
    assert slack.calls_to("chat.postMessage")[0].params["thread_ts"] == "1700000500.000500"


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "is_archived"])
async def test_permanent_errors_are_dead_lettered(slack: FakeSlackAPI, error: str) -> None:
    slack.fail("chat.postMessage", error)
    with pytest.raises(SendError) as raised:
        await sender(slack).send(reply())
    assert raised.value.permanent
    assert error in str(raised.value)


async def test_rate_limit_is_retried_later(slack: FakeSlackAPI) -> None:
    with pytest.raises(SendError) as raised:
        await sender(slack, RATELIMITED_TOKEN).send(reply())
    assert not raised.value.permanent
    assert "rate limit" in str(raised.value)


async def test_server_error_retry_does_not_post_twice(slack: FakeSlackAPI) -> None:
    # Slack posted the reply but answered 500: the outbox retries, and the retry must find
    # the earlier post in the thread instead of posting again.
    slack.fail("chat.postMessage", "internal_error", status=500, applied=True)
    s = sender(slack)
    with pytest.raises(SendError) as raised:
        await s.send(reply())
    assert not raised.value.permanent
    result = await s.send(reply())
    assert len(slack.calls_to("conversations.replies")) == 1
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert result.metadata["ts"] == slack.messages["CSUPPORT"][0]["ts"]


async def test_server_error_without_a_post_is_sent_on_retry(slack: FakeSlackAPI) -> None:
    slack.fail("chat.postMessage", "internal_error", status=500)
    s = sender(slack)
    with pytest.raises(SendError):
        await s.send(reply())
    await s.send(reply())
    assert len(slack.calls_to("chat.postMessage")) == 2
    assert len(slack.messages["CSUPPORT"]) == 1


async def test_network_failure_is_retryable(slack: FakeSlackAPI) -> None:
    client = AsyncWebClient(token="xoxb-test", base_url="http://127.0.0.1:9/api/", timeout=2)
    with pytest.raises(SendError) as raised:
        await SlackSender(client=client).send(reply())
    assert not raised.value.permanent


async def test_rate_limit_carries_retry_after(slack: FakeSlackAPI) -> None:
    slack.ratelimit("chat.postMessage", retry_after=30)
    with pytest.raises(SendError) as raised:
        await sender(slack).send(reply())
    assert not raised.value.permanent
    assert raised.value.retry_after == 30.0
    assert "retry after 30s" in str(raised.value)
