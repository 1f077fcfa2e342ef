"""Redaction at the door, end to end: secrets sent through the webhook, a Slack support channel
and SMTP never appear in any Slack call, any stored row, the LLM request or the logs."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from tortoise import Tortoise

from tests.fakes.http import wait_for
from tests.reliability.conftest import (
    SUPPORT_CHANNEL,
    StackFactory,
    db_true,
    mail_bytes,
    smtp_send,
    webhook_message,
)

CARD = "4111.1111.1111.1111"
IBAN = "DE89 3704 0044 0532 0130 00"
PASSWORD = "Tr0ub4dor&3"
API_KEY = "0f3a9c8e7d6b5a4f3e2d1c0b9a8f7e6d"
BASIC = "dXNlcjpodW50ZXIy"
PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"
CVV = "Z917"  # a marker: the CVV digits themselves are too short to scan for
SECRETS = {
    "card": (CARD, ["4111.1111.1111.1111", "4111111111111111", "4111 1111 1111 1111"]),
    "iban": (IBAN, ["DE89 3704 0044 0532 0130 00", "DE89370400440532013000", "370400440532"]),
    "password": (PASSWORD, [PASSWORD, json.dumps(PASSWORD)[1:-1]]),
    "api key": (API_KEY, [API_KEY]),
    "basic auth": (BASIC, [BASIC]),
    "private key": (PEM_BODY, [PEM_BODY]),
}
MESSAGE = (
    f"Hi, my card {CARD} (CVV 917) was charged twice. Refund to IBAN {IBAN} please.\n"
    f"My password is: {PASSWORD} and our api_key={API_KEY}.\n"
    f"Authorization: Basic {BASIC}\n"
    f"-----BEGIN PRIVATE KEY-----\n{PEM_BODY}\n-----END PRIVATE KEY-----\nThanks, Ada"
)


async def _stored_rows() -> str:
    """Every row of every table, as text."""
    connection = Tortoise.get_connection("default")
    dumped: list[str] = []
    for app in Tortoise.apps.values():
        for model in app.values():
            table = model._meta.db_table
            _, rows = await connection.execute_query(f'SELECT * FROM "{table}"')
            dumped.extend(f"{table}: " + json.dumps({k: str(v) for k, v in dict(row).items()})
                          for row in rows)
    return "\n".join(dumped)


def _leaks(haystack: str) -> list[str]:
    return [f"{kind}: {form}" for kind, (_, forms) in SECRETS.items()
            for form in forms if form in haystack]


@pytest.mark.slow
async def test_no_raw_secret_reaches_slack_the_database_the_llm_or_the_logs(
    make_stack: StackFactory, caplog: pytest.LogCaptureFixture
) -> None:
    stack = await make_stack(claude=True)
    assert stack.anthropic is not None and stack.smtp_port is not None
    response = await stack.webhook(webhook_message("m1", MESSAGE, subject=f"Card {CARD}"))
    assert response.status_code == 202
    event: dict[str, Any] = {"type": "message", "channel": SUPPORT_CHANNEL, "user": "UCUST",
                             "text": MESSAGE, "ts": "1700000100.000100",
                             "channel_type": "channel"}
    assert (await stack.slack_event(event, event_id="Ev-secret")).status_code == 200
    raw = mail_bytes("<secret-1@example.com>", subject=f"IBAN {IBAN}", body=MESSAGE)
    await asyncio.to_thread(smtp_send, stack.smtp_port, raw)

    from bot.store.models import Message

    await wait_for(db_true(lambda: Message.filter(direction="in").count()), timeout=30)
    await wait_for(lambda: len(stack.anthropic.requests) >= 3 if stack.anthropic else False,
                   timeout=60)
    await stack.wait_settled(within=60)
    assert await Message.filter(direction="in").count() == 3

    slack_calls = "\n".join(json.dumps(c.params, ensure_ascii=False) for c in stack.slack.calls)
    llm = "\n".join(r.raw.decode() for r in stack.anthropic.requests)
    rows = await _stored_rows()
    conversation_id = response.json()["conversation_id"]
    api = (await stack.http.get(f"{stack.url}/api/conversations/{conversation_id}")).text
    for where, text in (("slack", slack_calls), ("database", rows), ("llm", llm),
                        ("logs", caplog.text), ("api", api)):
        leaks = [line[-1500:] for line in text.splitlines() if _leaks(line)]
        assert _leaks(text) == [], f"raw secret in {where}: {leaks}"
    # The tokens keep what an agent needs: the card's and the IBAN's last four.
    assert "[card •••• 1111]" in slack_calls and "[IBAN DE••••3000]" in slack_calls
    assert "[CVV redacted]" in rows and "917" not in rows.split("[CVV redacted]")[0][-40:]
    assert "[private key redacted]" in llm
