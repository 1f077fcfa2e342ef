"""Slack as a customer channel: events in (HTTP or Socket Mode), replies out in the thread.

The bolt ``AsyncApp`` runs with ``process_before_response=True``: a listener finishes before
Slack gets its HTTP 200, so a customer message is stored by ``accept`` *before* it is
acknowledged (a failed store answers 500 and Slack retries). Listeners therefore only do fast
work (a database write, a cache read); never a Slack API call: the customer's name and e-mail
(``users.info``) are filled in by a tracked background task after the ack. Everything slow
happens in the worker. This package never imports the router, another channel or ``handoff``.

Modules: ``app`` (the bolt app, Socket Mode), ``http`` (the ``/slack/events`` endpoint),
``events`` (pure event → ``Inbound`` translation), ``users`` (the ``users.info`` cache),
``customer`` (the listener that stores customer messages), ``sender`` (replies into the thread).
"""

from channels.slack.app import make_slack_app, start_socket_mode
from channels.slack.customer import ProfileFn, SlackCustomerChannel, register_customer_channel
from channels.slack.events import (
    CUSTOMER_SUBTYPES,
    SeenEvents,
    clean_text,
    ignore_reason,
    thread_key,
    to_inbound,
)
from channels.slack.http import make_slack_events_router
from channels.slack.sender import PERMANENT_ERRORS, SlackSender
from channels.slack.users import SlackUserDirectory

__all__ = [
    "CUSTOMER_SUBTYPES",
    "PERMANENT_ERRORS",
    "ProfileFn",
    "SeenEvents",
    "SlackCustomerChannel",
    "SlackSender",
    "SlackUserDirectory",
    "clean_text",
    "ignore_reason",
    "make_slack_app",
    "make_slack_events_router",
    "register_customer_channel",
    "start_socket_mode",
    "thread_key",
    "to_inbound",
]
