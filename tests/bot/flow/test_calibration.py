"""Calibration: logistic regression on agents' decisions, stored with a version."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from bot.evaluation.metrics import auroc
from bot.flow import calibration
from bot.flow.calibration import (
    Sample,
    fit_calibration,
    label_decision,
    load_calibration,
    refit,
)
from bot.pipeline.confidence import DEFAULT_CALIBRATION, PARTS, combine
from bot.store import kv
from bot.store.calibration import CALIBRATION_KEY
from bot.store.models import Conversation, Draft, LearningSignal, Message

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def synthetic(n: int, seed: int = 7) -> list[Sample]:
    """Good drafts have well-covered passages; bad ones are covered poorly. Top score is
    noise here, so a fit must learn that coverage matters and top score does not."""
    rng = random.Random(seed)
    samples = []
    for i in range(n):
        good = i % 2 == 0
        parts: dict[str, float | None] = {p: None for p in PARTS}
        parts.update(
            top_score=rng.uniform(0.4, 0.9),
            coverage=min(1.0, max(0.0, rng.gauss(0.75 if good else 0.35, 0.15))),
            margin=rng.uniform(0, 1),
            self_rating=rng.uniform(0.3, 0.9),
            frustration=0.0,
        )
        samples.append(Sample(parts, good))
    return samples


def test_decisions_are_labelled_by_how_much_the_agent_changed() -> None:
    assert label_decision("approved", 0.0) is True
    assert label_decision("edited", 0.05) is True  # a touch-up: the draft was right
    assert label_decision("edited", 0.4) is False
    assert label_decision("rejected", None) is False
    assert label_decision("manual", 0.9) is False
    assert label_decision("auto_sent", 0.0) is None  # nobody judged it


def test_fit_separates_good_from_bad_and_is_explainable() -> None:
    train, test = synthetic(200), synthetic(200, seed=8)
    fitted = fit_calibration(train, version=3, fitted_at=NOW)
    assert fitted is not None
    assert (fitted.version, fitted.n_samples, fitted.source) == (3, 200, "fitted")
    assert fitted.fitted_at == NOW.isoformat()
    assert set(fitted.weights) == set(PARTS)

    def scores(weights: object) -> list[float]:
        return [combine(s.parts, weights)[0] for s in test]  # type: ignore[arg-type]

    labels = [s.good for s in test]
    assert (auroc(labels, scores(fitted)) or 0) > 0.9
    assert fitted.weight("coverage") > DEFAULT_CALIBRATION.weight("coverage") + 1.0
    # Parts that never varied (learned agreement absent, no frustration) keep their prior.
    assert fitted.weight("learned_agreement") == DEFAULT_CALIBRATION.weight("learned_agreement")


def test_fixed_parts_keep_their_weight() -> None:
    fitted = fit_calibration(synthetic(120), fixed={"self_rating"}, prior=None)
    assert fitted is not None
    assert fitted.weight("self_rating") == DEFAULT_CALIBRATION.weight("self_rating")
    assert fitted.weight("coverage") > 1.0


def test_no_fit_below_the_minimum_or_with_one_outcome() -> None:
    assert fit_calibration(synthetic(calibration.MIN_SIGNALS - 1)) is None
    only_good = [s for s in synthetic(200) if s.good]
    assert fit_calibration(only_good) is None


async def _decided_draft(index: int, sample: Sample, action: str, ratio: float | None) -> None:
    conversation = await Conversation.create(
        channel="webhook", thread_key=f"form:{index}", token=f"t{index}"
    )
    message = await Message.create(
        conversation=conversation,
        channel="webhook",
        direction="in",
        author="c",
        text="Question?",
        channel_message_id=f"m{index}",
    )
    draft = await Draft.create(
        conversation=conversation,
        message=message,
        text="Draft.",
        confidence=0.5,
        signals=dict(sample.parts),
        decision="review",
        model="offline",
        status=action,
    )
    await LearningSignal.create(
        draft=draft,
        conversation_id=conversation.id,
        channel="webhook",
        action=action,
        agent="U1",
        edit_ratio=ratio,
    )


async def test_refit_stores_a_versioned_calibration_from_signals(db: object) -> None:
    samples = synthetic(60)
    for i, sample in enumerate(samples):
        action, ratio = ("approved", 0.0) if sample.good else ("edited", 0.5)
        if not sample.good and i % 4 == 1:
            action, ratio = "rejected", None
        await _decided_draft(i, sample, action, ratio)
    # Auto-sent drafts are nobody's judgement and must not count.
    await _decided_draft(999, samples[0], "auto_sent", 0.0)

    first = await refit(now=NOW)
    assert first is not None and first.version == 1 and first.n_samples == 60
    loaded = await load_calibration()
    assert loaded == first
    stored = await kv.get_value(CALIBRATION_KEY)
    assert stored["version"] == 1 and stored["n_samples"] == 60
    assert loaded.weight("coverage") > DEFAULT_CALIBRATION.weight("coverage")

    second = await refit(now=NOW)
    assert second is not None and second.version == 2


async def test_below_the_minimum_nothing_is_stored_and_defaults_hold(db: object) -> None:
    for i, sample in enumerate(synthetic(10)):
        await _decided_draft(i, sample, "approved" if sample.good else "rejected", None)
    assert await refit(now=NOW) is None
    assert await load_calibration() is None
