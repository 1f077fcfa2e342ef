"""Rate limits (pure) and the disclosure line of automatic replies."""

from __future__ import annotations

from bot.pipeline.disclosure import disclose, disclosure_line
from bot.pipeline.limits import Limits, Recent, over_limit
from config import load_settings
from config.settings import DEFAULT_DISCLOSURE


def test_over_the_sender_limit_says_why() -> None:
    limits = Limits(sender_per_hour=3, source_per_minute=0)
    assert over_limit(Recent(3, 999), limits, source="webhook") is None
    reason = over_limit(Recent(4, 0), limits, source="webhook")
    assert reason is not None and "4 messages from this sender" in reason


def test_over_the_source_limit_and_zero_turns_a_limit_off() -> None:
    assert over_limit(Recent(10_000, 10_000), Limits(0, 0), source="email") is None
    reason = over_limit(Recent(1, 51), Limits(0, 50), source="email")
    assert reason is not None and "from email" in reason


def test_disclosure_is_appended_once_and_translated_by_default() -> None:
    text = disclose("Click Forgot password.", DEFAULT_DISCLOSURE)
    assert text.endswith(DEFAULT_DISCLOSURE) and text.startswith("Click Forgot password.")
    assert disclose(text, DEFAULT_DISCLOSURE) == text
    german = disclosure_line(DEFAULT_DISCLOSURE, "de")
    assert german is not None and "human" in german and german != DEFAULT_DISCLOSURE
    assert disclosure_line("Written by a bot.", "de") == "Written by a bot."  # as configured


def test_disclosure_setting_and_off() -> None:
    assert load_settings({}).auto_disclosure == DEFAULT_DISCLOSURE
    assert load_settings({"SUPPORTBOT_AUTO_DISCLOSURE": "off"}).auto_disclosure is None
    assert disclose("Hi.", None) == "Hi."
