"""The Slack app manifests agree with the code: every Web API method the code calls has its
scopes, no scope is asked for that nothing uses, every subscribed event has a listener and every
listener's event is subscribed, and the slash command is the configured one.

The code is read as text (``client.chat_postMessage(``, ``app.event("message"``): a call
through the SDK that this test does not know fails it until its scopes are written down here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_sdk.web.async_client import AsyncWebClient

from channels.slack.scopes import REQUIRED_SCOPES
from config import load_settings

REPO = Path(__file__).resolve().parents[1]
MANIFESTS = [REPO / "slack" / "manifest.yml", REPO / "slack" / "manifest.socket-mode.yml"]
# Where Slack is spoken: the channel, the approval channel, and the core's entry points
# (the CLI's doctor calls auth.test and friends).
SLACK_CODE = [REPO / "channels" / "slack", REPO / "handoff", REPO / "bot"]

# Bot-token scopes per Web API method (docs.slack.dev/reference/methods). A method that needs
# none is listed with an empty set, so that an unknown method still fails the test.
METHOD_SCOPES: dict[str, set[str]] = {
    "auth_test": set(),
    "chat_getPermalink": set(),
    "chat_postEphemeral": {"chat:write"},
    "chat_postMessage": {"chat:write"},
    "chat_update": {"chat:write"},
    "conversations_info": {"channels:read", "groups:read"},
    "conversations_members": {"channels:read", "groups:read"},
    "conversations_open": {"im:write"},
    "conversations_history": {"channels:history", "groups:history"},
    "conversations_replies": {"channels:history", "groups:history"},
    # files.getUploadURLExternal + files.completeUploadExternal
    "files_upload_v2": {"files:write"},
    "usergroups_list": {"usergroups:read"},
    "usergroups_users_list": {"usergroups:read"},
    "users_info": {"users:read", "users:read.email"},
    "views_open": set(),
    "views_publish": set(),
}
# The scopes an event subscription needs (app_home_opened needs none).
EVENT_SCOPES: dict[str, set[str]] = {
    "app_home_opened": set(),
    "app_mention": {"app_mentions:read"},
    "message.channels": {"channels:history"},
    "message.groups": {"groups:history"},
    "message.im": {"im:history"},
}
_SDK_METHODS = {name for name in vars(AsyncWebClient) if not name.startswith("_")}
_CALL = re.compile(r"\.([a-z]+_[A-Za-z0-9_]+)\(")
_EVENT = re.compile(r"""\.event\(\s*["']([a-z_]+)["']""")


def _sources() -> list[Path]:
    return sorted(p for root in SLACK_CODE for p in root.rglob("*.py"))


def called_methods() -> set[str]:
    """SDK methods called anywhere in the Slack-facing code."""
    found = set()
    for path in _sources():
        found |= {m for m in _CALL.findall(path.read_text(encoding="utf-8")) if m in _SDK_METHODS}
    return found


def handled_events() -> set[str]:
    """Event types that have a bolt listener."""
    found: set[str] = set()
    for path in _sources():
        found |= set(_EVENT.findall(path.read_text(encoding="utf-8")))
    return found


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(params=MANIFESTS, ids=lambda p: p.name)
def manifest(request: pytest.FixtureRequest) -> dict[str, Any]:
    return _load(request.param)


def test_the_code_calls_only_methods_whose_scopes_are_known() -> None:
    called = called_methods()
    assert {"chat_postMessage", "views_open", "users_info"} <= called  # the scan scanned
    assert called - METHOD_SCOPES.keys() == set(), "add these methods' scopes to METHOD_SCOPES"


def test_every_called_method_has_its_scopes(manifest: dict[str, Any]) -> None:
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    missing = {m: METHOD_SCOPES[m] - scopes for m in called_methods() if METHOD_SCOPES[m] - scopes}
    assert missing == {}


def test_the_doctor_expects_exactly_the_manifest_scopes(manifest: dict[str, Any]) -> None:
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == REQUIRED_SCOPES


def test_no_scope_is_asked_for_that_nothing_uses(manifest: dict[str, Any]) -> None:
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    used = set().union(*(METHOD_SCOPES[m] for m in called_methods()))
    for event in manifest["settings"]["event_subscriptions"]["bot_events"]:
        used |= EVENT_SCOPES[event]
    used |= {"commands"} if manifest["features"].get("slash_commands") else set()
    assert scopes - used == set()


def test_events_are_subscribed_and_handled(manifest: dict[str, Any]) -> None:
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert set().union(*(EVENT_SCOPES[e] for e in events)) <= scopes
    # message.channels / .groups / .im all arrive as type "message".
    assert {e.split(".")[0] for e in events} == handled_events()
    # Support channels may be public or private, and customers may DM the bot.
    assert {"message.channels", "message.groups", "message.im"} <= set(events)
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True


def test_the_slash_command_is_the_configured_one(manifest: dict[str, Any]) -> None:
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == load_settings({}, env_file=None).slash_command


def test_http_mode_sends_everything_to_the_events_endpoint() -> None:
    http = _load(MANIFESTS[0])
    settings = http["settings"]
    urls = {settings["event_subscriptions"]["request_url"],
            settings["interactivity"]["request_url"],
            http["features"]["slash_commands"][0]["url"]}
    assert urls == {"https://support.example.com/slack/events"}
    assert settings["interactivity"]["is_enabled"] and not settings["socket_mode_enabled"]


def test_socket_mode_variant_has_no_urls_and_the_same_permissions() -> None:
    http, socket = (_load(p) for p in MANIFESTS)
    assert socket["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in socket["settings"]["event_subscriptions"]
    assert "request_url" not in socket["settings"]["interactivity"]
    assert "url" not in socket["features"]["slash_commands"][0]
    assert socket["oauth_config"] == http["oauth_config"]
    assert (socket["settings"]["event_subscriptions"]["bot_events"]
            == http["settings"]["event_subscriptions"]["bot_events"])
