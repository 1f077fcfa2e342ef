"""Tests of the Slack approval channel."""
