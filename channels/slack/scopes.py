"""The bot-token scopes supportbot needs: what ``slack/manifest.yml`` asks for, and what
``supportbot doctor`` expects ``auth.test`` to report (tests/test_slack_manifest.py keeps the
three in step with the Web API methods and events the code uses)."""

from __future__ import annotations

REQUIRED_SCOPES = frozenset({
    "app_mentions:read",  # app_mention events
    "channels:history",  # message.channels; conversations.replies
    "channels:read",  # conversations.members / conversations.info
    "chat:write",  # cards, thread replies, reminders, ephemeral answers
    "commands",  # the admin slash command
    "files:write",  # stats and digest charts
    "groups:history",  # message.groups; conversations.replies in private channels
    "groups:read",  # conversations.members / conversations.info in private channels
    "im:history",  # message.im: customers writing to the bot directly
    "im:write",  # conversations.open: the stats chart in the admin's DM
    "usergroups:read",  # approvers given as a user group
    "users:read",  # users.info: names; approvers exist
    "users:read.email",  # users.info: the customer's e-mail address
})
