"""Triage's reading combined with the drafter's: the stricter wins."""

from __future__ import annotations

from bot.domain import ModelReading
from bot.pipeline.reading import combine
from bot.pipeline.triage import triage


def test_without_a_model_reading_triage_stands_alone() -> None:
    reading = combine(triage("Our whole team can't sign in, board meeting in one hour"), None)
    assert reading.urgency == "high" and reading.urgent
    assert not reading.escalations and reading.model is None


def test_the_stricter_of_the_two_readings_wins() -> None:
    calm = triage("Where can I download my invoices for last year?")
    assert calm.language == "en" and not calm.wants_human
    model = ModelReading(language="en", sentiment="angry", wants_human=True, urgency="critical")
    reading = combine(calm, model)
    assert reading.wants_human and reading.sentiment == "angry" and reading.urgency == "critical"
    assert len(reading.escalations) == 2

    # A calmer model never lowers triage: a request for a person and urgency stay.
    loud = triage("Can I talk to a human please? Our whole team can't log in, deadline today")
    calmer = combine(loud, ModelReading(sentiment="positive", wants_human=False, urgency="low"))
    assert calmer.wants_human and calmer.urgency == "high" and calmer.sentiment == "neutral"
    assert calmer.escalations == ()  # triage escalates already; nothing to add


def test_language_is_the_local_detectors_unless_it_cannot_tell() -> None:
    german = triage("Ich kann mich nicht anmelden, das Passwort wird nicht akzeptiert.")
    assert combine(german, ModelReading(language="nl")).language == "de"
    short = triage("ok?")
    assert short.language == "und"
    assert combine(short, ModelReading(language="sv")).language == "sv"
    assert combine(short, ModelReading()).language == "und"
