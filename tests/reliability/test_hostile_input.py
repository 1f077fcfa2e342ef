"""Hostile and malformed input at every edge: schemathesis against the webhook's OpenAPI
document, hypothesis on signed Slack requests, oversized and deeply nested bodies, invalid
UTF-8, and CR/LF header injection through names and subjects into outgoing mail.

The MIME parser's property tests live with it: ``tests/channels/mail/test_parse_properties.py``.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.store.models import Draft, InboxItem, OutboxItem, QueueStatus
from config import Settings
from handoff.cards import APPROVE, action_value
from tests.conftest import SettingsFactory
from tests.fakes.http import wait_for
from tests.reliability.conftest import (
    APPROVER,
    SLACK_SECRET,
    SUPPORT_ADDRESS,
    SUPPORT_CHANNEL,
    StackFactory,
    db_true,
    sign_slack,
    sign_webhook,
    smtp_send,
    webhook_message,
)
from tests.reliability.threaded import ThreadedServer, serve_in_thread

# Every status the webhook documents; anything else (a 500 above all) is a bug.
DOCUMENTED = {200, 202, 401, 404, 413, 422, 503}
FUZZ = settings(max_examples=120, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.filter_too_much])


@pytest.fixture
def threaded(make_settings: SettingsFactory) -> Iterator[ThreadedServer]:
    """The web app (webhook source ``shop`` + Slack) served from a thread, on SQLite."""

    def settings_for(slack_api_url: str | None) -> Settings:
        return make_settings(
            SUPPORTBOT_WEBHOOK_SHOP_SECRET="reliability-secret",
            SUPPORTBOT_WEBHOOK_MAX_BODY="65536",
            SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SLACK_SECRET,
            SLACK_API_URL=slack_api_url, SUPPORTBOT_APPROVAL_CHANNEL="CAPPROVAL",
            SUPPORTBOT_SUPPORT_CHANNELS=SUPPORT_CHANNEL, SUPPORTBOT_APPROVERS="UAGENT",
            SUPPORTBOT_ADMINS="UADMIN",
        )

    with serve_in_thread(settings_for) as server:
        yield server


@pytest.fixture
def client(threaded: ThreadedServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=threaded.url, timeout=20) as http:
        yield http


def test_schemathesis_signed_and_unsigned_webhook_requests_never_500(
    client: httpx.Client,
) -> None:
    spec = client.get("/openapi.json").json()
    operation = schemathesis.openapi.from_dict(spec)["/webhook/{source}"]["POST"]
    seen: dict[int, int] = {}

    @FUZZ
    # Mostly the configured source and a valid signature, so cases reach the schema and the
    # inbox; sometimes the generated source name, sometimes no signature at all.
    @given(case=operation.as_strategy(), pick=st.integers(0, 5), signed_pick=st.integers(0, 5))
    def check(case: Any, pick: int, signed_pick: int) -> None:
        source = str(case.path_parameters.get("source", "x")) if pick == 5 else "shop"
        signed = signed_pick != 5
        body = case.body if isinstance(case.body, dict | list | str | int | float) else None
        raw = json.dumps(body).encode()
        headers = sign_webhook(raw) if signed else {"Content-Type": "application/json"}
        response = client.post(f"/webhook/{source}", content=raw, headers=headers)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        assert response.status_code in DOCUMENTED, (response.status_code, response.text)
        if not signed:
            assert response.status_code in (401, 404)

    check()
    # The fuzzer reached past the signature check into the schema and the inbox. (Whether it
    # also produced a schema error depends on schemathesis's generation: checked just below.)
    assert seen.get(422, 0) + seen.get(202, 0) + seen.get(200, 0) > 0, seen
    raw = json.dumps({"conversation_id": "c", "message_id": "m", "text": "no sender"}).encode()
    response = client.post("/webhook/shop", content=raw, headers=sign_webhook(raw))
    assert response.status_code == 422 and response.json()["field"] == "sender"
    assert client.get("/healthz").status_code == 200


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=4),
    max_leaves=20,
)
_slack_shaped = st.fixed_dictionaries(
    {"type": st.sampled_from(["event_callback", "block_actions", "view_submission",
                              "url_verification", "shortcut", "nonsense"])},
    optional={"event": st.dictionaries(st.sampled_from(["type", "channel", "user", "text",
                                                        "ts", "thread_ts", "subtype",
                                                        "bot_id", "files"]), _json,
                                       max_size=8),
              "team_id": _json, "event_id": _json, "user": _json, "actions": _json,
              "challenge": _json, "view": _json},
)


_ts = st.builds(lambda a, b: f"{a}.{b:06d}", st.integers(1_600_000_000, 1_900_000_000),
                st.integers(0, 999_999))
_message_event = st.fixed_dictionaries(
    {"type": st.sampled_from(["message", "app_mention"]),
     "channel": st.sampled_from([SUPPORT_CHANNEL, "CAPPROVAL", "COTHER", "D123"]),
     "ts": _ts},
    optional={"user": st.sampled_from(["UCUST", "UBOT", "UX"]), "text": st.text(max_size=300),
              "thread_ts": _ts, "channel_type": st.sampled_from(["channel", "im", "group"]),
              "subtype": st.sampled_from(["bot_message", "message_changed", "file_share",
                                          "thread_broadcast", "channel_join"]),
              "bot_id": st.sampled_from(["B1", "BBOT"]),
              "files": st.lists(st.fixed_dictionaries({}, optional={"name": st.text(max_size=20)}),
                                max_size=2)},
)


def test_signed_slack_message_events_of_any_shape_never_500(client: httpx.Client) -> None:
    """Our listener (``channels.slack``) on every well-typed message event shape."""
    statuses: dict[int, int] = {}

    @FUZZ
    @given(event=_message_event, event_id=st.text("abcdef0123456789", min_size=1, max_size=8))
    def check(event: dict[str, Any], event_id: str) -> None:
        body = json.dumps({"type": "event_callback", "team_id": "T0FAKE", "api_app_id": "A1",
                           "event": event, "event_id": f"Ev{event_id}", "event_time": 1})
        headers = {"Content-Type": "application/json", **sign_slack(body)}
        response = client.post("/slack/events", content=body.encode(), headers=headers)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code < 500, (response.status_code, body[:300])

    check()
    assert statuses.get(200, 0) > 0, statuses
    assert client.get("/healthz").status_code == 200


def test_signed_arbitrary_slack_requests_never_500(client: httpx.Client) -> None:
    statuses: dict[int, int] = {}

    @FUZZ
    @given(body=st.one_of(
        _slack_shaped.map(lambda d: (json.dumps(d), "application/json")),
        st.dictionaries(st.text(max_size=12), _json, max_size=6).map(
            lambda d: (json.dumps(d), "application/json")),
        _slack_shaped.map(lambda d: (urlencode({"payload": json.dumps(d)}),
                                     "application/x-www-form-urlencoded")),
        st.dictionaries(st.sampled_from(["command", "text", "user_id", "channel_id",
                                         "response_url", "ssl_check", "trigger_id"]),
                        st.text(max_size=60), max_size=6).map(
            lambda d: (urlencode(d), "application/x-www-form-urlencoded")),
    ))
    def check(body: tuple[str, str]) -> None:
        text, content_type = body
        headers = {"Content-Type": content_type, **sign_slack(text)}
        response = client.post("/slack/events", content=text.encode(), headers=headers)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code < 500, (response.status_code, text[:300])

    check()
    assert client.get("/healthz").status_code == 200, "the app survived the fuzzing"


@pytest.mark.parametrize(("body", "content_type"), [
    ("0", "application/json"), ("[]", "application/json"), ("{", "application/json"),
    ("payload=0", "application/x-www-form-urlencoded"),
    ("payload=%7B", "application/x-www-form-urlencoded"),
])
def test_signed_malformed_bodies_are_a_client_error(
    client: httpx.Client, body: str, content_type: str
) -> None:
    headers = {"Content-Type": content_type, **sign_slack(body)}
    assert client.post("/slack/events", content=body.encode(), headers=headers).status_code < 500


@pytest.fixture
async def edge(make_stack: StackFactory) -> AsyncIterator[Any]:
    yield await make_stack(knowledge=False, worker=False, SUPPORTBOT_WEBHOOK_MAX_BODY="65536")


async def test_oversized_bodies_are_413_declared_or_streamed(edge: Any) -> None:
    raw = json.dumps(webhook_message("big", "x" * 70_000)).encode()
    declared = await edge.http.post(f"{edge.url}/webhook/shop", content=raw,
                                    headers=sign_webhook(raw))
    assert declared.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit still holds
        for start in range(0, len(raw), 8192):
            yield raw[start:start + 8192]

    streamed = await edge.http.post(f"{edge.url}/webhook/shop", content=chunks(),
                                    headers=sign_webhook(raw))
    assert streamed.status_code == 413
    assert not await InboxItem.exists()


async def test_deep_json_and_invalid_utf8_are_422(edge: Any) -> None:
    deep = b'{"conversation_id":"c","message_id":"m","sender":{"id":"a"},"text":"hi",' \
           b'"metadata":{"a":' + b"[" * 20_000 + b"]" * 20_000 + b"}}"
    response = await edge.webhook(deep)
    assert response.status_code in (413, 422), response.text
    bad_utf8 = b'{"conversation_id":"c","message_id":"m","sender":{"id":"a"},"text":"\xff\xfe"}'
    response = await edge.webhook(bad_utf8)
    assert response.status_code == 422 and response.json()["error"] == "invalid_json"
    lone_surrogate = b'{"conversation_id":"c","message_id":"m","sender":{"id":"a"},' \
                     b'"text":"\\ud800"}'
    assert (await edge.webhook(lone_surrogate)).status_code in (202, 422)
    assert not await InboxItem.filter(message__text="hi").exists()


def _b64_word(text: str) -> str:
    """An RFC 2047 encoded-word: decoded, it carries raw CR/LF into the header value."""
    return f"=?utf-8?b?{base64.b64encode(text.encode()).decode()}?="


# Double-encoded: our parser decodes once and leaves an encoded-word that would decode again.
INJECTED_SUBJECT = _b64_word(_b64_word("Help\r\nBcc: victim@attacker.example"))
INJECTED_NAME = _b64_word("Jane\r\nBcc: victim@attacker.example\r\nX-Evil: 1")


async def test_crlf_in_names_and_subjects_never_reaches_outgoing_headers(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(SUPPORTBOT_AUTO_SEND_THRESHOLD="0.5")
    assert stack.smtp_port is not None
    raw = (f"From: {INJECTED_NAME} <jane@example.com>\r\nTo: {SUPPORT_ADDRESS}\r\n"
           f"Subject: {INJECTED_SUBJECT}\r\nMessage-ID: <inj@example.com>\r\n"
           "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           "I forgot my password, how do I reset it?\r\n").encode()
    await asyncio.to_thread(smtp_send, stack.smtp_port, raw)
    await wait_for(db_true(lambda: Draft.exists()), timeout=30)
    draft = await Draft.get()
    if draft.status == "pending":  # not confident enough to auto-send: approve it by hand
        assert (await stack.click(user=APPROVER, action_id=APPROVE,
                                  value=action_value(draft=draft.id,
                                                     conversation=draft.conversation_id))
                ).status_code == 200
    await wait_for(db_true(lambda: OutboxItem.filter(
        status__in=[QueueStatus.SENT, QueueStatus.DEAD]).exists()), timeout=30)
    item = await OutboxItem.get()
    assert item.status == QueueStatus.SENT, item.last_error
    [relayed] = stack.relay.messages
    assert relayed.rcpt_tos == ("jane@example.com",)
    message = relayed.message
    assert message["Bcc"] is None and message["X-Evil"] is None, relayed.raw.decode()[:1500]
    assert b"\r\nBcc:" not in relayed.raw and b"\nX-Evil" not in relayed.raw
    assert "victim@attacker.example" in str(message["Subject"])  # kept, as inert text
