"""make_drafter: Claude with a key (or an injected client), offline otherwise."""

from __future__ import annotations

import logging
from collections.abc import Callable

import anthropic
import pytest

from bot.pipeline.drafting import DraftRequest, OfflineDrafter, make_drafter
from bot.pipeline.drafting.claude import ClaudeDrafter
from config import Settings
from tests.fakes.anthropic_server import fake_anthropic_server


def test_offline_without_a_key(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="bot.pipeline.drafting.factory"):
        drafter = make_drafter(make_settings())
    assert isinstance(drafter, OfflineDrafter)
    assert "offline extractive (no ANTHROPIC_API_KEY)" in caplog.text


async def test_claude_with_a_key_talks_to_the_configured_base_url(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    async with fake_anthropic_server() as server:
        settings = make_settings(
            ANTHROPIC_API_KEY="sk-ant-test-key-0000000000000000",
            ANTHROPIC_BASE_URL=server.url,
            SUPPORTBOT_LLM_MODEL="claude-configured",
            SUPPORTBOT_LLM_MAX_ATTEMPTS=1,
        )
        with caplog.at_level(logging.INFO, logger="bot.pipeline.drafting.factory"):
            drafter = make_drafter(settings)
        try:
            assert isinstance(drafter, ClaudeDrafter)
            result = await drafter.draft(DraftRequest(customer_text="hello"))
        finally:
            await drafter.aclose()
    assert result.error is None
    assert server.last.json["model"] == "claude-configured"
    # The installed SDK (2.x) sends the key as a bearer token; older ones used x-api-key.
    sent = server.last.headers.get("x-api-key") or server.last.headers.get("authorization", "")
    assert sent.removeprefix("Bearer ") == "sk-ant-test-key-0000000000000000"
    assert "sk-ant-test" not in caplog.text
    assert "drafter: Claude (model=claude-configured" in caplog.text


async def test_injected_client_is_used_and_not_closed(
    make_settings: Callable[..., Settings],
) -> None:
    async with fake_anthropic_server() as server:
        client = anthropic.AsyncAnthropic(api_key="test", base_url=server.url, max_retries=0)
        drafter = make_drafter(make_settings(), client=client)
        assert isinstance(drafter, ClaudeDrafter)
        await drafter.aclose()
        assert not client.is_closed()
        await client.close()
