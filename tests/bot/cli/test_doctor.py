"""``supportbot doctor`` against local fakes: fake Slack Web API, fake Anthropic Messages API,
pymap IMAP and aiosmtpd relays. Every check passes on a healthy set-up and each failure comes
out as one FAIL line with a hint (and exit status 1)."""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.cli.doctor import (
    Status,
    Verdict,
    check_anthropic,
    check_database,
    check_knowledge,
    check_smtp_listen,
    check_webhooks,
    diagnose,
    report,
)
from bot.cli.doctor_channels import check_imap, check_slack, check_smtp_relay
from bot.store.db import migrate
from channels.slack.scopes import REQUIRED_SCOPES
from config import Settings
from knowledge import ChunkingOptions, Embedder, KnowledgeBase, make_vector_store
from tests.conftest import SettingsFactory
from tests.fakes.anthropic_server import FakeAnthropicServer, Scenario, fake_anthropic_server
from tests.fakes.http import CallbackReceiver, callback_receiver
from tests.fakes.imap_server import FakeImapServer
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.smtp_relay import SmtpRelay

APPROVAL = "CAPPROVE"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def closed_port() -> int:
    return free_port()  # nothing listens there once the probe socket is closed


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlackAPI]:
    async with FakeSlackAPI() as fake:
        fake.scopes = set(REQUIRED_SCOPES)
        fake.members[APPROVAL] = [FakeSlackAPI.bot_user_id, "UAGENT"]
        fake.channel_names[APPROVAL] = "support-approvals"
        fake.add_user("UAGENT", name="Agent")
        fake.add_user("UADMIN", name="Admin")
        fake.usergroups["SAGENTS"] = ["UAGENT"]
        yield fake


@pytest.fixture
def imap() -> Iterator[FakeImapServer]:
    with FakeImapServer() as server:
        yield server


@pytest.fixture
async def relay() -> AsyncIterator[SmtpRelay]:
    server = await SmtpRelay().start()
    yield server
    await server.close()


@pytest.fixture
async def anthropic_api() -> AsyncIterator[FakeAnthropicServer]:
    async with fake_anthropic_server() as server:
        yield server


@pytest.fixture
async def receiver() -> AsyncIterator[CallbackReceiver]:
    async with callback_receiver() as server:
        yield server


@pytest.fixture
def configured(
    make_settings: SettingsFactory, slack: FakeSlackAPI, imap: FakeImapServer, relay: SmtpRelay,
    anthropic_api: FakeAnthropicServer, receiver: CallbackReceiver,
) -> Callable[..., Settings]:
    """Settings with every feature on, pointed at the fakes; keyword overrides per test."""

    def factory(**env: Any) -> Settings:
        base = {
            "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "s" * 32,
            "SLACK_API_URL": slack.api_url, "SUPPORTBOT_APPROVAL_CHANNEL": APPROVAL,
            "SUPPORTBOT_APPROVERS": "UAGENT,SAGENTS", "SUPPORTBOT_ADMINS": "UADMIN",
            "IMAP_HOST": imap.host, "IMAP_PORT": str(imap.port), "IMAP_USER": imap.user,
            "IMAP_PASSWORD": imap.password, "IMAP_SSL": "false", "IMAP_STARTTLS": "false",
            "SMTP_HOST": relay.host, "SMTP_PORT": str(relay.port), "SMTP_STARTTLS": "false",
            "SUPPORTBOT_SUPPORT_ADDRESS": "support@example.com",
            "SUPPORTBOT_SMTP_LISTEN": f"127.0.0.1:{free_port()}",
            "ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": anthropic_api.url,
            "SUPPORTBOT_WEBHOOK_SHOP_SECRET": "x" * 32,
            "SUPPORTBOT_WEBHOOK_SHOP_CALLBACK_URL": receiver.url,
            **env,
        }
        return make_settings(**{k: v for k, v in base.items() if v is not None})

    return factory


def only(verdicts: list[Verdict], check: str) -> Verdict:
    [verdict] = [v for v in verdicts if v.check == check]
    return verdict


def assert_fails(verdicts: list[Verdict], check: str, *words: str) -> Verdict:
    verdict = only(verdicts, check)
    assert verdict.status is Status.FAIL, verdict
    assert verdict.hint, verdict
    for word in words:
        assert word in verdict.detail + " " + verdict.hint, verdict
    return verdict


async def test_a_healthy_set_up_passes_every_check(
    configured: Callable[..., Settings], anthropic_api: FakeAnthropicServer,
) -> None:
    settings = configured()
    await migrate(settings)
    verdicts = await diagnose(settings)
    out = io.StringIO()
    assert report(verdicts, out) == 0, out.getvalue()
    statuses = {v.check: v.status for v in verdicts}
    assert statuses == {
        "database": Status.OK, "search engine": Status.WARN,  # nothing ingested yet
        "slack auth": Status.OK, "slack scopes": Status.OK, "slack channel": Status.OK,
        "slack people": Status.OK, "imap": Status.OK, "imap folder": Status.OK,
        "imap idle": Status.OK, "smtp relay": Status.OK, "mail addresses": Status.OK,
        "smtp listen": Status.OK, "anthropic": Status.OK, "webhook shop": Status.OK,
    }
    # One cheap request: max_tokens 1.
    [request] = [r for r in anthropic_api.requests if r.path == "/v1/messages"]
    assert request.json["max_tokens"] == 1
    lines = out.getvalue().splitlines()
    assert lines[-1] == "0 failed, 1 warnings, 13 ok"
    assert "sk-test" not in out.getvalue() and "xoxb-test" not in out.getvalue()


async def test_nothing_configured_is_skipped_not_failed(make_settings: SettingsFactory) -> None:
    settings = make_settings()
    await migrate(settings)
    verdicts = await diagnose(settings)
    assert {v.status for v in verdicts} <= {Status.OK, Status.WARN, Status.SKIP}
    assert only(verdicts, "anthropic").status is Status.SKIP


async def test_database_unmigrated_and_unreachable(make_settings: SettingsFactory) -> None:
    assert_fails(await check_database(make_settings()), "database", "supportbot migrate")
    down = make_settings(DATABASE_URL=f"postgres://u:pw@127.0.0.1:{closed_port()}/x")
    verdict = assert_fails(await check_database(down), "database", "DATABASE_URL")
    assert "pw" not in verdict.detail


async def test_knowledge_indexed_with_another_model_is_reported(
    make_settings: SettingsFactory, tmp_path: Path,
) -> None:
    settings = make_settings()
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "refunds.md").write_text("# Refunds\n\nRefunds take five days.\n")
    client = make_vector_store(settings)
    try:
        # Chunked differently from what this version does: the documents are stale.
        await KnowledgeBase(store=client, embedder=Embedder.from_settings(settings),
                            chunking=ChunkingOptions(max_words=90)).ingest(tmp_path / "kb")
    finally:
        await client.close()
    [stale] = await check_knowledge(settings)
    assert stale.status is Status.WARN and "kb ingest" in stale.hint, stale
    client = make_vector_store(settings)
    try:
        await KnowledgeBase(store=client, embedder=Embedder.from_settings(settings)).ingest(
            tmp_path / "kb")
    finally:
        await client.close()
    [good] = await check_knowledge(settings)
    assert good.status is Status.OK and "1 documents" in good.detail, good
    unknown = make_settings(SUPPORTBOT_EMBED_MODEL="nobody/no-such-model")
    assert_fails(await check_knowledge(unknown), "search engine", "does not load",
                 "SUPPORTBOT_EMBED_MODEL")


async def test_slack_failures(configured: Callable[..., Settings], slack: FakeSlackAPI) -> None:
    settings = configured()
    slack.fail("auth.test", "invalid_auth")
    assert_fails(await check_slack(settings), "slack auth", "invalid_auth", "SLACK_BOT_TOKEN")

    slack.scopes = set(REQUIRED_SCOPES) - {"files:write"}
    assert_fails(await check_slack(settings), "slack scopes", "files:write", "manifest")

    slack.members[APPROVAL] = ["UAGENT"]
    assert_fails(await check_slack(settings), "slack channel", "not a member", "/invite @")

    unknown = configured(SUPPORTBOT_APPROVAL_CHANNEL="CNOPE")
    assert_fails(await check_slack(unknown), "slack channel", "channel_not_found")

    missing = configured(SUPPORTBOT_APPROVERS="UAGENT,UGHOST,SNOGROUP")
    assert_fails(await check_slack(missing), "slack people", "UGHOST", "SNOGROUP")

    no_secret = configured(SLACK_SIGNING_SECRET=None)
    assert_fails(await check_slack(no_secret), "slack", "SLACK_SIGNING_SECRET")


def test_imap_failures(configured: Callable[..., Settings], imap: FakeImapServer) -> None:
    assert_fails(check_imap(configured(IMAP_PASSWORD="wrong")), "imap", "refused",
                 "IMAP_PASSWORD")
    assert_fails(check_imap(configured(IMAP_FOLDER="Support")), "imap folder", "Support")
    assert_fails(check_imap(configured(IMAP_PORT=str(closed_port()))), "imap", "unreachable")
    starttls = configured(IMAP_STARTTLS="true")
    assert_fails(check_imap(starttls), "imap", "STARTTLS")


def test_imap_without_idle_is_a_warning(configured: Callable[..., Settings]) -> None:
    with FakeImapServer(idle=False) as plain:
        verdicts = check_imap(configured(IMAP_PORT=str(plain.port)))
    assert only(verdicts, "imap idle").status is Status.WARN
    assert only(verdicts, "imap").status is Status.OK


async def test_smtp_relay_failures(configured: Callable[..., Settings]) -> None:
    async def relay_check(**env: Any) -> list[Verdict]:
        # The relay serves on this loop: the blocking check runs in a thread, as doctor does.
        return await asyncio.to_thread(check_smtp_relay, configured(**env))

    assert_fails(await relay_check(SMTP_PORT=str(closed_port())), "smtp relay", "unreachable")
    assert_fails(await relay_check(SMTP_STARTTLS="true"), "smtp relay", "no STARTTLS")
    assert_fails(await relay_check(SMTP_USER="bot", SMTP_PASSWORD="pw"), "smtp relay",
                 "no AUTH")
    assert_fails(await relay_check(SUPPORTBOT_SUPPORT_ADDRESS=None), "smtp relay",
                 "SUPPORTBOT_SUPPORT_ADDRESS")


async def test_every_from_address_is_tried_at_the_relay(
    configured: Callable[..., Settings], relay: SmtpRelay
) -> None:
    env = {"SUPPORTBOT_MAIL_ADDRESSES": "billing@example.com,sales@example.com"}
    verdicts = await asyncio.to_thread(check_smtp_relay, configured(**env))
    verdict = only(verdicts, "mail addresses")
    assert verdict.status is Status.OK
    assert "support@example.com, billing@example.com, sales@example.com" in verdict.detail
    assert "plus-addresses" in verdict.detail

    relay.refused_senders.add("sales@example.com")
    verdicts = await asyncio.to_thread(check_smtp_relay, configured(**env))
    verdict = only(verdicts, "mail addresses")
    assert verdict.status is Status.WARN and "sales@example.com" in verdict.detail
    assert "send as" in verdict.hint
    assert relay.messages == [], "the check sends nothing"

    plain = configured(SUPPORTBOT_MAIL_PLUS_ADDRESSING="false")
    verdict = only(await asyncio.to_thread(check_smtp_relay, plain), "mail addresses")
    assert "In-Reply-To/References only" in verdict.detail


def test_smtp_listen_address_in_use(configured: Callable[..., Settings]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as held:
        port = held.getsockname()[1]
        assert_fails(check_smtp_listen(configured(SUPPORTBOT_SMTP_LISTEN=f"127.0.0.1:{port}")),
                     "smtp listen", "cannot be bound")


async def test_anthropic_failures(
    configured: Callable[..., Settings], anthropic_api: FakeAnthropicServer,
) -> None:
    settings = configured()
    anthropic_api.queue(Scenario.error(401, "authentication_error", "invalid x-api-key"))
    assert_fails(await check_anthropic(settings), "anthropic", "rejected", "ANTHROPIC_API_KEY")
    anthropic_api.queue(Scenario.error(404, "not_found_error", "model: claude-nope"))
    assert_fails(await check_anthropic(settings), "anthropic", "not found",
                 "SUPPORTBOT_LLM_MODEL")
    anthropic_api.queue(Scenario.error(529, "overloaded_error", "Overloaded"))
    assert_fails(await check_anthropic(settings), "anthropic", "529")
    down = configured(ANTHROPIC_BASE_URL=f"http://127.0.0.1:{closed_port()}")
    assert_fails(await check_anthropic(down), "anthropic", "no answer")


async def test_webhook_failures(configured: Callable[..., Settings]) -> None:
    import httpx

    async with httpx.AsyncClient() as http:
        gone = configured(
            SUPPORTBOT_WEBHOOK_SHOP_CALLBACK_URL=f"http://127.0.0.1:{closed_port()}/replies")
        assert_fails(await check_webhooks(gone, http), "webhook shop", "unreachable")
        none = configured(SUPPORTBOT_WEBHOOK_SHOP_CALLBACK_URL=None)
        assert_fails(await check_webhooks(none, http), "webhook shop", "CALLBACK_URL")
        weak = configured(SUPPORTBOT_WEBHOOK_SHOP_SECRET="short")
        assert only(await check_webhooks(weak, http), "webhook shop").status is Status.WARN


def test_a_failure_makes_the_exit_status_one() -> None:
    out = io.StringIO()
    verdicts = [Verdict("database", Status.OK, "fine"),
                Verdict("imap", Status.FAIL, "login refused", "check IMAP_PASSWORD")]
    assert report(verdicts, out) == 1
    assert "→ check IMAP_PASSWORD" in out.getvalue()
    assert out.getvalue().splitlines()[-1] == "1 failed, 0 warnings, 1 ok"
