"""Fit the confidence combination from agents' decisions (logistic regression).

A decided draft is a labelled example: its stored confidence parts (``Draft.signals``) and
whether the agent sent it as drafted. Good: approved, or edited with an edit ratio of at most
``GOOD_EDIT_RATIO`` (a typo fix). Bad: rejected, edited beyond that, or replaced by a manual
reply. The fit is a regularised logistic regression (Newton/IRLS in numpy, a handful of
weights, so no solver library is needed) pulled towards the current weights: with few
decisions it moves little, and a part that never varies keeps its weight.

``fit_calibration`` is pure; ``load_calibration``/``store_calibration`` keep the result under
the ``calibration`` setting with a rising version; ``refit`` is the scheduled job.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

import numpy as np

from bot.pipeline.confidence import DEFAULT_CALIBRATION, PARTS, Calibration, feature
from bot.store import calibration as calibration_store

# Below this many labelled decisions a fit is noise; the shipped defaults hold.
MIN_SIGNALS = 50
# An edit this small (1 − difflib ratio) is a touch-up: the draft was right.
GOOD_EDIT_RATIO = 0.1
_BAD_ACTIONS = frozenset({"rejected", "manual"})


@dataclass(frozen=True, slots=True)
class Sample:
    """One labelled draft: its confidence parts and whether it went out (nearly) as drafted."""

    parts: Mapping[str, float | None]
    good: bool


def label_decision(action: str, edit_ratio: float | None) -> bool | None:
    """Good (True), bad (False), or not a judgement of the draft (None: auto-sent)."""
    if action == "approved":
        return True
    if action == "edited":
        return edit_ratio is not None and edit_ratio <= GOOD_EDIT_RATIO
    if action in _BAD_ACTIONS:
        return False
    return None


def fit_calibration(
    samples: Sequence[Sample],
    *,
    prior: Calibration | None = DEFAULT_CALIBRATION,
    fixed: Collection[str] = (),
    l2: float = 1.0,
    min_samples: int = MIN_SIGNALS,
    version: int = 1,
    fitted_at: datetime | None = None,
    source: str = "fitted",
) -> Calibration | None:
    """Logistic regression of ``good`` on the parts; None below ``min_samples`` or when only
    one outcome occurs (nothing to separate).

    Weights are penalised by ``l2``·‖w − prior‖²/2 (the intercept is free); ``prior`` None
    means plain ridge towards 0. Parts in ``fixed`` keep the prior's weight (they enter as an
    offset), for parts the data cannot speak to.
    """
    labels = np.array([1.0 if s.good else 0.0 for s in samples])
    if len(samples) < max(1, min_samples) or labels.min() == labels.max():
        return None
    base = prior or Calibration(weights=MappingProxyType({}), bias=0.0)
    free = [p for p in PARTS if p not in fixed]
    x = np.array([[feature(p, s.parts.get(p)) for p in free] for s in samples])
    offset = np.array(
        [sum(base.weight(p) * feature(p, s.parts.get(p)) for p in fixed) for s in samples]
    )
    design = np.hstack([np.ones((len(samples), 1)), x])
    prior_mean = np.array([0.0] + [base.weight(p) if prior else 0.0 for p in free])
    penalty = np.full(len(prior_mean), l2)
    penalty[0] = 0.0
    w = prior_mean.copy()
    w[0] = base.bias
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(design @ w + offset)))
        gradient = design.T @ (p - labels) + penalty * (w - prior_mean)
        hessian = (
            design.T @ (design * (p * (1 - p))[:, None]) + np.diag(penalty) + 1e-9 * np.eye(len(w))
        )
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    weights = {p: round(float(base.weight(p)), 4) for p in fixed}
    weights.update({p: round(float(v), 4) for p, v in zip(free, w[1:], strict=True)})
    return Calibration(
        weights=MappingProxyType({p: weights[p] for p in PARTS}),
        bias=round(float(w[0]), 4),
        margin_scale=base.margin_scale,
        version=version,
        source=source,
        n_samples=len(samples),
        fitted_at=fitted_at.isoformat() if fitted_at else None,
    )


async def training_samples(since: datetime | None = None) -> list[Sample]:
    """Labelled samples from learning signals joined to their drafts' stored parts.

    The latest judgement of a draft wins; drafts stored before parts were kept are skipped.
    """
    verdicts: dict[int, bool] = {}
    for draft_id, action, ratio in await calibration_store.judgements(since):
        good = label_decision(action, ratio)
        if good is not None:
            verdicts[draft_id] = good
    if not verdicts:
        return []
    samples = []
    for draft_id, signals in await calibration_store.draft_parts(list(verdicts)):
        if "top_score" in signals:
            parts = {p: _number(signals.get(p)) for p in PARTS}
            samples.append(Sample(parts, verdicts[draft_id]))
    return samples


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


async def load_calibration() -> Calibration | None:
    """The stored fitted calibration, or None (the defaults hold)."""
    stored = await calibration_store.load()
    return Calibration.from_json(stored) if stored is not None else None


async def store_calibration(calibration: Calibration) -> None:
    """Keep ``calibration`` as the current one."""
    await calibration_store.save(calibration.to_json())


async def refit(*, now: datetime, min_samples: int = MIN_SIGNALS) -> Calibration | None:
    """The scheduled job: fit from all labelled decisions, store it as the next version, and
    return it; None (nothing stored) while fewer than ``min_samples`` exist."""
    current = await load_calibration()
    fitted = fit_calibration(
        await training_samples(),
        prior=current or DEFAULT_CALIBRATION,
        min_samples=min_samples,
        version=(current.version if current else 0) + 1,
        fitted_at=now,
    )
    if fitted is not None:
        await store_calibration(fitted)
    return fitted


class Calibrator:
    """Holds the calibration this process scores with; the refit job replaces it.

    The router reads ``current`` for every message; nothing else mutates the router.
    """

    def __init__(self, current: Calibration | None = None) -> None:
        self._current = current

    @property
    def current(self) -> Calibration | None:
        """The fitted calibration in force, or None (the shipped defaults)."""
        return self._current

    @classmethod
    async def load(cls) -> Calibrator:
        """A calibrator holding the stored calibration."""
        return cls(await load_calibration())

    async def refit(self, now: datetime) -> str:
        """Fit again from the latest learning signals and use the result; what happened."""
        fitted = await refit(now=now)
        if fitted is None:
            return "too few learning signals: the defaults hold"
        self._current = fitted
        return f"confidence refit: version {fitted.version} from {fitted.n_samples} signals"
