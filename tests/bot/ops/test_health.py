"""The ops surface of every process: Prometheus naming and content type, process metrics, the
readiness checks (engine; Slack and the LLM cached), and the worker's own metrics port."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from bot import telemetry
from bot.app import Services, build_services, create_web_app, serve_ops
from bot.ops.health import Check, Readiness
from bot.store.db import migrate
from tests.conftest import SettingsFactory
from tests.fakes.anthropic_server import FakeAnthropicServer, fake_anthropic_server
from tests.fakes.slack_api import FakeSlackAPI

APPROVAL = "CAPPROVE"


def test_metric_names_follow_prometheus_conventions() -> None:
    families = list(telemetry.REGISTRY.collect())
    names = {f.name for f in families}
    assert {"process_resident_memory_bytes", "process_cpu_seconds", "python_info"} <= names
    for family in families:
        assert family.name.startswith(("supportbot_", "process_", "python_")), family.name
        assert "_ms" not in family.name and family.name == family.name.lower()
        if family.type == "counter":
            # prometheus_client strips the suffix from the family; every sample carries it.
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples)
        if any(word in family.name for word in ("duration", "latency", "age", "seconds")):
            assert family.name.endswith(("_seconds", "_seconds_total")), family.name
    assert {"supportbot_drafter_errors", "supportbot_imap_last_poll_age_seconds",
            "supportbot_llm_request_duration_seconds"} <= names


def test_imap_poll_age_is_nan_until_watched_then_grows_until_marked() -> None:
    age = telemetry.Staleness("supportbot_test_age_seconds", "test")
    try:
        assert math.isnan(age.age())
        age.watch()
        first = age.age()
        assert 0 <= first < 1
        age.mark()
        assert age.age() < 1
    finally:
        telemetry.REGISTRY.unregister(age.gauge)


async def test_cached_checks_are_not_repeated_within_their_ttl() -> None:
    calls = {"local": 0, "remote": 0}
    now = [0.0]

    async def local() -> None:
        calls["local"] += 1

    async def remote() -> None:
        calls["remote"] += 1
        raise RuntimeError("slack is down")

    readiness = Readiness({"local": Check(local), "remote": Check(remote, ttl=60)},
                          clock=lambda: now[0])
    assert await readiness.verdicts() == {"local": "ok", "remote": "error: RuntimeError"}
    await readiness.verdicts()
    assert calls == {"local": 2, "remote": 1}
    now[0] = 61.0
    await readiness.verdicts()
    assert calls == {"local": 3, "remote": 2}


async def test_a_hanging_check_times_out() -> None:
    async def hang() -> None:
        await asyncio.Event().wait()

    readiness = Readiness({"hang": Check(hang)}, timeout=0.05)
    assert (await readiness.verdicts())["hang"].startswith("error: no answer")


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlackAPI]:
    async with FakeSlackAPI() as fake:
        fake.members[APPROVAL] = [FakeSlackAPI.bot_user_id]
        yield fake


@pytest.fixture
async def anthropic_api() -> AsyncIterator[FakeAnthropicServer]:
    async with fake_anthropic_server() as server:
        yield server


@pytest.fixture
async def services(
    make_settings: SettingsFactory, slack: FakeSlackAPI, anthropic_api: FakeAnthropicServer,
) -> AsyncIterator[Services]:
    settings = make_settings(
        SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET="s" * 32, SLACK_API_URL=slack.api_url,
        SUPPORTBOT_APPROVAL_CHANNEL=APPROVAL, ANTHROPIC_API_KEY="sk-test",
        ANTHROPIC_BASE_URL=anthropic_api.url, SUPPORTBOT_SCHEDULER="false",
    )
    await migrate(settings)
    async with build_services(settings) as built:
        yield built


async def get(app: Any, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as http:
        return await http.get(path)


async def test_web_readiness_checks_every_dependency_and_caches_remote_ones(
    services: Services, slack: FakeSlackAPI, anthropic_api: FakeAnthropicServer,
) -> None:
    app = create_web_app(services)
    ready = await get(app, "/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "knowledge": "ok", "slack": "ok",
                                      "llm": "ok"}
    await get(app, "/readyz")
    assert len(slack.calls_to("auth.test")) == 1  # cached for a minute
    assert [r.path for r in anthropic_api.requests] == [
        f"/v1/models/{services.settings.llm_model}"]  # a free lookup, once


async def test_readiness_fails_naming_the_dependency(
    services: Services, slack: FakeSlackAPI, anthropic_api: FakeAnthropicServer,
) -> None:
    slack.fail("auth.test", "invalid_auth")
    anthropic_api.missing_models.add(services.settings.llm_model)
    ready = await get(create_web_app(services), "/readyz")
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["slack"] == "error: SlackApiError" and checks["llm"] == "error: NotFoundError"
    assert checks["database"] == "ok"


async def test_metrics_use_prometheus_content_type(services: Services) -> None:
    response = await get(create_web_app(services), "/metrics")
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    names = {f.name for f in text_string_to_metric_families(response.text)}
    assert {"supportbot_inbox_depth", "process_resident_memory_bytes"} <= names


async def test_the_worker_serves_metrics_health_and_readiness_on_its_own_port(
    services: Services,
) -> None:
    stop = asyncio.Event()
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve_ops(services, host="127.0.0.1", port=0, stop=stop,
                                         on_listening=bound.set_result))
    port = await asyncio.wait_for(bound, 5)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            async with asyncio.timeout(10):
                while True:  # uvicorn starts serving the pre-bound socket shortly after
                    try:
                        health = await http.get("/healthz")
                        break
                    except httpx.ConnectError:
                        await asyncio.sleep(0.02)
            assert health.json() == {"status": "ok"}
            metrics = await http.get("/metrics")
            assert metrics.headers["content-type"] == CONTENT_TYPE_LATEST
            assert "supportbot_decisions_total" in metrics.text or \
                "supportbot_inbox_depth" in metrics.text
            assert (await http.get("/readyz")).status_code == 200
            assert (await http.get("/webhook/demo")).status_code == 404  # ops routes only
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
