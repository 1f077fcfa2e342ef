"""A separate process that posts one draft's card with the real notifier (the crash test
SIGKILLs it between Slack's post and the recording of its ts).

    python -m tests.handoff.card_poster DRAFT_ID      (settings from the environment)
"""

from __future__ import annotations

import asyncio
import sys

from slack_sdk.web.async_client import AsyncWebClient

from bot.store.db import database
from config import load_settings
from handoff.notifier import SlackApprovalNotifier


async def main(draft_id: int) -> None:
    settings = load_settings(env_file=None)
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    client = AsyncWebClient(token=token, base_url=settings.slack_api_url)
    async with database(settings):
        await SlackApprovalNotifier(client=client, settings=settings).draft_ready(draft_id)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
