"""Start-up (``supportbot run`` / ``worker``) checks the Claude key and model with one free
call against the fake Messages API: a wrong key or model id is named in the log and the
banner, and the process keeps running on the offline drafter."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from bot.app import build_services
from bot.cli.main import banner
from bot.pipeline.drafting.factory import OFFLINE_INSTEAD_MODEL
from bot.store.db import migrate
from tests.conftest import SettingsFactory
from tests.fakes.anthropic_server import FakeAnthropicServer, fake_anthropic_server

MODEL = "claude-sonnet-5-5"


@pytest.fixture
async def api() -> AsyncIterator[FakeAnthropicServer]:
    async with fake_anthropic_server() as server:
        server.models = {MODEL}
        yield server


@pytest.mark.parametrize(("key", "model", "named"), [
    ("sk-test", "claude-sonnet-9-9", "model claude-sonnet-9-9 not found"),
    ("sk-bad", MODEL, "ANTHROPIC_API_KEY rejected"),
])
async def test_a_wrong_model_or_key_is_named_and_the_offline_drafter_takes_over(
    make_settings: SettingsFactory, api: FakeAnthropicServer, caplog: pytest.LogCaptureFixture,
    key: str, model: str, named: str,
) -> None:
    settings = make_settings(ANTHROPIC_API_KEY=key, ANTHROPIC_BASE_URL=api.url,
                             SUPPORTBOT_LLM_MODEL=model, SUPPORTBOT_SCHEDULER="false")
    await migrate(settings)
    with caplog.at_level(logging.ERROR, logger="bot.app"):
        async with build_services(settings, with_knowledge=False, check_llm=True) as services:
            assert services.drafter_problem is not None and named in services.drafter_problem
            assert services.drafter_offline
            text = banner(services.settings, host="127.0.0.1", port=8000,
                          drafter_problem=services.drafter_problem,
                          drafter_offline=services.drafter_offline)
            analysis = await services.router.ask("How do I reset my password?")
    assert f"drafter    offline extractive drafter: {named}" in text
    assert named in caplog.text and "running on the offline extractive drafter" in caplog.text
    # One free models lookup at start; drafting never calls the Messages API.
    assert [r.path for r in api.requests] == [f"/v1/models/{model}"]
    assert analysis.draft.offline and analysis.draft.error is None
    assert analysis.draft.model == OFFLINE_INSTEAD_MODEL and named in analysis.draft.reason


async def test_a_good_key_and_model_keep_claude(
    make_settings: SettingsFactory, api: FakeAnthropicServer,
) -> None:
    settings = make_settings(ANTHROPIC_API_KEY="sk-test", ANTHROPIC_BASE_URL=api.url,
                             SUPPORTBOT_LLM_MODEL=MODEL, SUPPORTBOT_SCHEDULER="false")
    await migrate(settings)
    async with build_services(settings, with_knowledge=False, check_llm=True) as services:
        assert services.drafter_problem is None and not services.drafter_offline
        text = banner(services.settings, host="127.0.0.1", port=8000)
    assert f"drafter    Claude ({MODEL})" in text


async def test_an_unreachable_api_warns_but_keeps_claude_with_the_offline_stand_in(
    make_settings: SettingsFactory,
) -> None:
    async with fake_anthropic_server() as gone:
        url = gone.url
    settings = make_settings(ANTHROPIC_API_KEY="sk-test", ANTHROPIC_BASE_URL=url,
                             SUPPORTBOT_SCHEDULER="false")
    await migrate(settings)
    async with build_services(settings, with_knowledge=False, check_llm=True) as services:
        assert services.drafter_problem is not None
        assert "could not connect" in services.drafter_problem
        assert not services.drafter_offline  # the outage may pass: Claude is tried per draft
