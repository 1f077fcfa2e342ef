"""Socket Mode: a local WebSocket server hands out an envelope and expects the ack."""

from __future__ import annotations

import asyncio

from slack_sdk.web.async_client import AsyncWebClient

from bot.store import inbox
from bot.store.models import Message
from channels.slack import make_slack_app, register_customer_channel, start_socket_mode
from config import Settings
from tests.conftest import SettingsFactory
from tests.fakes.slack_api import FakeSlackAPI


async def test_socket_mode_envelope_is_stored_then_acknowledged(
    sqlite_db: Settings, make_settings: SettingsFactory
) -> None:
    async with FakeSlackAPI() as slack:
        slack.add_user("UCUST", name="Grace", email="grace@example.com")
        settings = make_settings(
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_APP_TOKEN="xapp-test",
            SLACK_API_URL=slack.api_url,
            SUPPORTBOT_SUPPORT_CHANNELS="CSUPPORT",
        )
        app = make_slack_app(
            settings, client=AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
        )
        register_customer_channel(app, settings=settings, accept=inbox.accept,
                                  on_profile=inbox.update_slack_profile)
        handler = await start_socket_mode(app, settings)
        try:
            [opened] = await slack.wait_for("apps.connections.open")
            assert opened.token == "xapp-test"
            await slack.send_envelope(
                {
                    "envelope_id": "env-1",
                    "type": "events_api",
                    "accepts_response_payload": False,
                    "retry_attempt": 0,
                    "retry_reason": "",
                    "payload": {
                        "team_id": FakeSlackAPI.team_id,
                        "api_app_id": "A1",
                        "type": "event_callback",
                        "event_id": "EvSOCK",
                        "event_time": 1700000000,
                        "event": {
                            "type": "message",
                            "channel": "CSUPPORT",
                            "user": "UCUST",
                            "text": "socket hello",
                            "ts": "1700000100.000100",
                            "channel_type": "channel",
                        },
                    },
                }
            )
            ack = await slack.wait_for_ack("env-1")
        finally:
            await asyncio.wait_for(handler.close_async(), 5)  # type: ignore[no-untyped-call]
        assert ack["envelope_id"] == "env-1"
        # The message was stored before the ack went out.
        stored = await Message.get(channel_message_id="CSUPPORT:1700000100.000100")
        assert stored.text == "socket hello"
