"""Webhook channel: signature rules and translation (pure parts)."""

from __future__ import annotations

from datetime import UTC, datetime

from channels.webhook import WebhookMessage, check_signature, sign, to_inbound


def test_signature_accepts_the_exact_body_and_rejects_any_change() -> None:
    body = b'{"text":"hi"}'
    sig = sign("s3cret", "1700000000", body)
    ok = dict(
        secret="s3cret", timestamp="1700000000", body=body, now=1700000100.0, window_seconds=300
    )
    assert check_signature(signature=sig, **ok) is None  # type: ignore[arg-type]
    assert (
        check_signature(signature=sig, **{**ok, "body": body + b" "}) == "signature does not match"
    )  # type: ignore[arg-type]
    assert check_signature(signature=sig, **{**ok, "secret": "other"}) == "signature does not match"  # type: ignore[arg-type]
    assert check_signature(signature=None, **ok) is not None  # type: ignore[arg-type]


def test_replay_window_is_enforced_both_ways() -> None:
    body = b"{}"
    for skew in (-301, 301):
        ts = str(1700000000 + skew)
        assert check_signature(
            secret="k",
            timestamp=ts,
            signature=sign("k", ts, body),
            body=body,
            now=1700000000.0,
            window_seconds=300,
        ) == ("timestamp outside the replay window")
    assert (
        check_signature(
            secret="k",
            timestamp="yesterday",
            signature="sha256=00",
            body=body,
            now=1.0,
            window_seconds=300,
        )
        is not None
    )


def test_translation_scopes_ids_by_source() -> None:
    message = WebhookMessage.model_validate(
        {
            "conversation_id": "c-9",
            "message_id": "m-1",
            "sender": {"id": "u1", "name": "Ada"},
            "text": "Help",
            "subject": "Login",
        }
    )
    inbound = to_inbound("shop", message, received_at=datetime.now(UTC))
    assert inbound.thread_key == "shop:c-9" and inbound.channel_message_id == "shop:m-1"
    assert inbound.sender.name == "Ada" and inbound.metadata["conversation_id"] == "c-9"
