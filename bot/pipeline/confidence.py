"""Confidence that a draft can go out: an explainable logistic combination of signals.

    z = bias + Σ weight[part] · feature(part)        value = 1 / (1 + e^−z)

Parts, each in [0, 1] (None when there is nothing to measure), kept on the result with their
contribution to ``z`` so the card can show why a draft scored as it did:

* ``top_score`` — raw cosine of the best chunk (``Passage.cosine``, else ``score``);
* ``margin`` — its gap to the best passage of *another* source, over ``margin_scale``;
* ``coverage`` — share of the question's content words found in the best passage, typos and
  transliterations forgiven (``fuzzy_coverage``);
* ``sparse_strength`` — the best passage's BM25 score, log-scaled (``sparse_strength``);
* ``rank_agreement`` — 1 when BM25 and the dense ranking agree on the best source;
* ``negation_mismatch`` — 1 when only one of question and passage says "not / unable / …"
  (a customer who *cannot* join a contest is not asking how to join one);
* ``self_rating`` — the drafter's own confidence; ``learned_agreement`` — closeness of an
  approved learned answer, centred (2a − 1) so a distant one pulls down and none is neutral;
* ``frustration`` — from triage, always pulls down.

The retrieval weights of ``DEFAULT_CALIBRATION`` were fitted by logistic regression on
``routing.jsonl`` (HINT3 answerable vs out-of-scope; see ``tests/benchmarks/bench_routing.py``
for the fit and its cross-set check); ``self_rating``, ``learned_agreement`` and
``frustration`` have no signal in that data and keep hand-set weights. ``bot.flow.calibration``
refits all of them from agents' decisions once enough exist.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from bot.domain import DraftResult, Passage
from bot.pipeline.drafting.base import retrieval_score
from bot.pipeline.drafting.text import STOPWORDS, stem, words
from bot.pipeline.triage import Triage

PARTS: tuple[str, ...] = (
    "top_score",
    "margin",
    "coverage",
    "sparse_strength",
    "rank_agreement",
    "negation_mismatch",
    "self_rating",
    "learned_agreement",
    "frustration",
)

# Fitted on routing.jsonl (all three HINT3 sets, ridge L2 = 1) with the HAND_SET weights
# held fixed; fitting on two sets and scoring the third loses < 0.01 AUROC (bench_routing.py).
DEFAULT_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "top_score": 3.46,
        "margin": 1.12,
        "coverage": 0.37,
        "sparse_strength": 2.09,
        "rank_agreement": 0.26,
        "negation_mismatch": -0.82,
        "self_rating": 1.0,
        "learned_agreement": 1.5,
        "frustration": -1.0,
    }
)
DEFAULT_BIAS = -4.42
# Weights a routing eval cannot fit (no drafter judgement, no learned answers, no anger).
HAND_SET: frozenset[str] = frozenset({"self_rating", "learned_agreement", "frustration"})


@dataclass(frozen=True, slots=True)
class Calibration:
    """Weights of the logistic combination, and where they came from.

    ``version`` 0 with ``source`` "default" are the shipped weights; ``bot.flow.calibration``
    stores fitted ones with a rising version, the number of decisions they were fitted on and
    when. ``margin_scale`` is the gap to the next source that counts as fully unambiguous.
    """

    weights: Mapping[str, float] = field(default_factory=lambda: DEFAULT_WEIGHTS)
    bias: float = DEFAULT_BIAS
    margin_scale: float = 0.2
    version: int = 0
    source: str = "default"
    n_samples: int = 0
    fitted_at: str | None = None

    @property
    def intercept(self) -> float:
        """The bias, under its statistics name."""
        return self.bias

    def weight(self, part: str) -> float:
        """The weight of ``part`` (the default weight when this calibration lacks it)."""
        return float(self.weights.get(part, DEFAULT_WEIGHTS.get(part, 0.0)))

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (stored under the ``calibration`` setting)."""
        return {
            "weights": dict(self.weights),
            "bias": self.bias,
            "margin_scale": self.margin_scale,
            "version": self.version,
            "source": self.source,
            "n_samples": self.n_samples,
            "fitted_at": self.fitted_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Calibration:
        """Rebuild a stored calibration; unknown parts are ignored, missing ones default."""
        weights = {k: float(v) for k, v in dict(data.get("weights") or {}).items() if k in PARTS}
        return cls(
            weights=MappingProxyType({**DEFAULT_WEIGHTS, **weights}),
            bias=float(data.get("bias", DEFAULT_BIAS)),
            margin_scale=float(data.get("margin_scale", 0.2)),
            version=int(data.get("version", 0)),
            source=str(data.get("source", "fitted")),
            n_samples=int(data.get("n_samples", 0)),
            fitted_at=data.get("fitted_at"),
        )


DEFAULT_CALIBRATION = Calibration()


@dataclass(frozen=True, slots=True)
class Confidence:
    """A confidence in [0, 1], its parts (each in [0, 1] or None), and readable reasons."""

    value: float
    parts: Mapping[str, float | None] = field(default_factory=lambda: MappingProxyType({}))
    contributions: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    reasons: list[str] = field(default_factory=list)


def _clamp(value: float) -> float:
    return max(0.0, min(1.0, value))


def feature(part: str, value: float | None) -> float:
    """What a part adds to ``z`` per unit of weight: None adds nothing; learned agreement is
    centred so a disagreeing approved answer pulls down as much as an agreeing one pushes."""
    if value is None:
        return 0.0
    return 2 * value - 1 if part == "learned_agreement" else value


def combine(
    parts: Mapping[str, float | None], calibration: Calibration
) -> tuple[float, dict[str, float]]:
    """The confidence value of ``parts`` under ``calibration`` and each part's contribution."""
    contributions = {"bias": calibration.bias}
    for part in PARTS:
        contributions[part] = calibration.weight(part) * feature(part, parts.get(part))
    z = sum(contributions.values())
    return 1.0 / (1.0 + math.exp(-z)), contributions


# BM25 scores are unbounded; on our KBs a best passage sharing one rare word scores ~5 and a
# near-verbatim match 20–40. log1p flattens the long tail; this many points count as full.
SPARSE_FULL = 30.0
# Negative or problem cues: "how to join a contest" does not answer "unable to join contest".
_NEGATION = re.compile(
    r"(?i)\b(?:not|no|nt|nahi|nahin|never|unable|cannot|can't|cant|didn't|didnt|don't|dont"
    r"|doesn't|isn't|wasn't|haven't|hasn't|won't|failed|fail|problem|issue|error|wrong)\b"
)


def has_negation(text: str) -> bool:
    """True when ``text`` says something is not, cannot or failed."""
    return _NEGATION.search(text) is not None


def sparse_strength(score: float) -> float:
    """A BM25 score mapped onto [0, 1] (log scale, ``SPARSE_FULL`` and above is 1)."""
    return _clamp(math.log1p(max(0.0, score)) / math.log1p(SPARSE_FULL))


def _trigrams(word: str) -> set[str]:
    padded = f" {word} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def fuzzy_coverage(question: str, passage: str) -> float:
    """Share of the question's content words found in the passage, forgiving typos.

    A word counts 1 when the passage has it (or the same crude stem), else its best
    character-trigram Jaccard similarity with a passage word, so "verfiy" still mostly
    matches "verify" and Hinglish spellings partly match. 0 for a question of stopwords.
    """
    wanted = {w for w in words(question) if w not in STOPWORDS and len(w) > 1}
    if not wanted:
        return 0.0
    have = {w for w in words(passage) if len(w) > 1}
    stems = {stem(w) for w in have}
    grams = [_trigrams(w) for w in have]
    total = 0.0
    for word in wanted:
        if word in have or stem(word) in stems:
            total += 1.0
            continue
        mine = _trigrams(word)
        total += max((len(mine & g) / len(mine | g) for g in grams), default=0.0)
    return total / len(wanted)


def answer_source(passage: Passage) -> str:
    """What a passage's answer rests on: a learned answer approved from a KB article counts
    as that article (the agents' words for it, not a rival to it)."""
    return passage.grounded_in or passage.source_id


def _margin(ranked: Sequence[Passage], scale: float) -> float:
    """Gap between the top passage and the best passage of a *different* source.

    Two chunks of the same source agreeing is not ambiguity; two sources scoring alike is.
    """
    top = ranked[0]
    rival = next((p for p in ranked[1:] if answer_source(p) != answer_source(top)), None)
    gap = _clamp(retrieval_score(top)) - (_clamp(retrieval_score(rival)) if rival else 0.0)
    return _clamp(gap / scale) if scale > 0 else 1.0


def _sparse(passage: Passage) -> float | None:
    return passage.keyword


def _rank_agreement(ranked: Sequence[Passage]) -> float | None:
    """1 when the passage BM25 scores highest is the dense best; None without BM25 scores."""
    scored = [(s, p) for p in ranked if (s := _sparse(p)) is not None]
    if not scored or max(s for s, _ in scored) <= 0:
        return None if not scored else 0.0
    best_sparse = max(scored, key=lambda item: item[0])[1]
    return 1.0 if answer_source(best_sparse) == answer_source(ranked[0]) else 0.0


def retrieval_parts(
    question: str, passages: Sequence[Passage], margin_scale: float = 0.2
) -> dict[str, float | None]:
    """The retrieval-side parts of ``question`` against ``passages`` (non-empty)."""
    ranked = sorted(passages, key=retrieval_score, reverse=True)
    top = ranked[0]
    passage_text = f"{top.title}\n{top.text}"
    sparse = _sparse(top)
    return {
        "top_score": _clamp(retrieval_score(top)),
        "margin": _margin(ranked, margin_scale),
        "coverage": fuzzy_coverage(question, passage_text),
        "sparse_strength": None if sparse is None else sparse_strength(sparse),
        "rank_agreement": _rank_agreement(ranked),
        "negation_mismatch": float(has_negation(question) != has_negation(passage_text)),
    }


def _describe(parts: Mapping[str, float | None]) -> list[str]:
    top, margin = parts["top_score"] or 0.0, parts["margin"] or 0.0
    strength = "strong" if top >= 0.7 else "fair" if top >= 0.45 else "weak"
    reasons = [
        f"best passage score {top:.2f} ({strength})",
        f"margin to next source {margin:.2f} ({'clear' if margin >= 0.5 else 'ambiguous'})",
        f"{(parts['coverage'] or 0.0):.0%} of the question's words appear in the best passage",
    ]
    if parts["sparse_strength"] is not None:
        reasons.append(f"keyword match strength {parts['sparse_strength']:.2f}")
    if parts["rank_agreement"] is not None:
        agree = parts["rank_agreement"] >= 0.5
        reasons.append(
            f"keyword and semantic search {'agree' if agree else 'disagree'} on the best source"
        )
    if parts["negation_mismatch"]:
        reasons.append("only one of question and passage is negative (not / unable / error)")
    reasons.append(f"drafter self-rating {(parts['self_rating'] or 0.0):.2f}")
    learned = parts["learned_agreement"]
    if learned is None:
        reasons.append("no approved answer to compare with")
    elif learned == 0.0:
        # The router's signal for "the nearest decided question was a rejection" (it names the
        # rejection itself): never an agreement line reading "(0.00)".
        reasons.append("the nearest question agents decided was rejected")
    else:
        verdict = "agrees with" if learned >= 0.5 else "differs from"
        reasons.append(f"{verdict} an approved answer ({learned:.2f})")
    if parts["frustration"]:
        reasons.append(f"customer frustration {parts['frustration']:.2f} lowers confidence")
    return reasons


def score_confidence(
    *,
    passages: Sequence[Passage],
    draft: DraftResult,
    learned_agreement: float | None,
    triage: Triage,
    question: str = "",
    calibration: Calibration | None = None,
) -> Confidence:
    """Score a draft. ``question`` is the customer text (with subject) used for coverage.

    A drafter error scores 0; no passages scores 0 (nothing grounds it). A drafter that
    declined (empty reply, no error) is still scored from retrieval with a self-rating of 0:
    policy sends it to a human either way, but the value keeps ranking messages by how
    answerable they look, which evaluation and calibration need.
    """
    weights = calibration or DEFAULT_CALIBRATION
    if draft.error is not None:
        return Confidence(value=0.0, reasons=[f"drafter failed: {draft.error}"])
    if not passages:
        return Confidence(value=0.0, reasons=["no knowledge passage was retrieved"])

    parts = retrieval_parts(question, passages, weights.margin_scale)
    declined = not draft.reply.strip()
    parts["self_rating"] = 0.0 if declined else _clamp(draft.self_confidence)
    parts["learned_agreement"] = None if learned_agreement is None else _clamp(learned_agreement)
    parts["frustration"] = _clamp(triage.frustration)
    value, contributions = combine(parts, weights)
    rounded = {k: (None if v is None else round(v, 4)) for k, v in parts.items()}
    return Confidence(
        value=round(value, 4),
        parts=MappingProxyType(rounded),
        contributions=MappingProxyType({k: round(v, 4) for k, v in contributions.items()}),
        reasons=(["the drafter wrote no reply"] if declined else []) + _describe(parts),
    )
