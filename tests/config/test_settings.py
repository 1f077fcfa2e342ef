"""Settings: typed, validated at start with the variable named, secrets never shown."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from config import SettingsError, load_settings


def test_defaults_are_the_embedded_setup() -> None:
    settings = load_settings({}, env_file=None)
    assert settings.embedded and settings.demo_enabled
    assert settings.db_url == "sqlite://data/supportbot.sqlite3"
    assert settings.qdrant_path == Path("data/qdrant")
    assert settings.auto_send_threshold is None and not settings.slack_enabled


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"IMAP_PORT": "imap"}, "IMAP_PORT"),
        ({"SUPPORTBOT_AUTO_SEND_THRESHOLD": "1.5"}, "SUPPORTBOT_AUTO_SEND_THRESHOLD"),
        ({"SUPPORTBOT_SMTP_LISTEN": "localhost"}, "SUPPORTBOT_SMTP_LISTEN"),
        ({"SMTP_STARTTLS": "perhaps"}, "SMTP_STARTTLS"),
        ({"SUPPORTBOT_WEBHOOK_SHOP_CALLBACK_URL": "http://x"}, "SUPPORTBOT_WEBHOOK_SHOP_SECRET"),
    ],
)
def test_a_bad_value_names_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(env, env_file=None)


def test_lists_thresholds_and_webhook_sources_parse() -> None:
    settings = load_settings({
        "SUPPORTBOT_SUPPORT_CHANNELS": "C1, C2", "SUPPORTBOT_MAIL_DOMAINS": "Help.Example.com",
        "SUPPORTBOT_AUTO_SEND_THRESHOLD": "off", "SUPPORTBOT_WEBHOOK_SHOP_SECRET": "k",
        "SUPPORTBOT_WEBHOOK_SHOP_CALLBACK_URL": "https://shop.example/hook",
        "DATABASE_URL": "postgresql://u:pw@db/support",
    }, env_file=None)
    assert settings.support_channels == ["C1", "C2"]
    assert settings.mail_domains == ["help.example.com"]
    assert settings.auto_send_threshold is None and not settings.demo_enabled
    assert settings.webhook_source("shop").callback_url == "https://shop.example/hook"  # type: ignore[union-attr]
    assert settings.db_url == "postgres://u:pw@db/support"


def test_secrets_never_appear_in_repr_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    secrets = {"ANTHROPIC_API_KEY": "sk-ant-topsecret", "SLACK_BOT_TOKEN": "xoxb-topsecret",
               "IMAP_PASSWORD": "imap-topsecret", "DATABASE_URL": "postgres://u:dbtopsecret@h/d",
               "SUPPORTBOT_WEBHOOK_SHOP_SECRET": "hook-topsecret"}
    settings = load_settings(secrets, env_file=None)
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("settings: %r / %s", settings, settings)
    assert "topsecret" not in repr(settings) and "topsecret" not in caplog.text


def test_dotenv_is_read_under_the_environment(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("SUPPORTBOT_BRAND_NAME=From File\nSUPPORTBOT_LOG_LEVEL=debug\n")
    settings = load_settings({"SUPPORTBOT_BRAND_NAME": "From Env"}, env_file=env_file)
    assert settings.brand_name == "From Env" and settings.log_level == "DEBUG"


def test_worker_port_and_slash_command() -> None:
    defaults = load_settings({}, env_file=None)
    assert defaults.worker_port == 9101 and defaults.slash_command == "/support"
    assert load_settings({"SUPPORTBOT_WORKER_PORT": "off"}, env_file=None).worker_port is None
    assert load_settings({"SUPPORTBOT_WORKER_PORT": "0"}, env_file=None).worker_port == 0
    custom = load_settings({"SUPPORTBOT_SLASH_COMMAND": "/helpdesk"}, env_file=None)
    assert custom.slash_command == "/helpdesk"
    for bad in ("support", "/Support", "/has space"):
        with pytest.raises(SettingsError, match="SUPPORTBOT_SLASH_COMMAND"):
            load_settings({"SUPPORTBOT_SLASH_COMMAND": bad}, env_file=None)
