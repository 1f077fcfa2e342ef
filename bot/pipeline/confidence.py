"""Confidence that a draft can go out: an explainable logistic combination of signals.

    z = bias + Σ weight[part] · feature(part)        value = 1 / (1 + e^−z)

It judges the draft, not only the retrieval. Parts, each in [0, 1] (None when there is
nothing to measure, which adds nothing to ``z``), are kept on the result with their
contribution so the card can show why a draft scored as it did:

* ``top_score`` — raw cosine of the best chunk (``Passage.cosine``, else ``score``);
* ``margin`` — its gap to the best passage of *another* source, over ``margin_scale``;
* ``sparse_strength`` — the best passage's BM25 score, log-scaled; ``rank_agreement`` — 1
  when BM25 and the dense ranking agree on the best source;
* ``coverage`` — share of the question's content words found in the passages the draft
  *used* (its cited sources; the best passage when it cites none), typos forgiven; for a
  message of several questions, that of its best-covered question;
* ``answer_coverage`` — share of the question's content words the reply itself addresses;
* ``grounding`` — share of the reply's claims supported by the passages it used, halved for
  every number, URL or address no passage contains (``bot.pipeline.grounding``);
* ``negation_mismatch`` — 1 only for a real contradiction: the customer reports a problem
  ("cannot", "never arrived") and the passages used say nothing of problems or conditions
  (a how-to answering "I am unable to join"); an ordinary question never fires it;
* ``self_rating`` — the model's own confidence (Claude only; None for offline drafts, which
  have no opinion of their own extract);
* ``learned_agreement`` — from precedents *about the same topic* only (``precedent_agreement``):
  None without one, so an unrelated approved answer changes nothing; the closeness of a close
  approved answer; 0 for a close rejection. Centred (2a − 1) in ``z``;
* ``frustration`` — from triage, always pulls down.

``DEFAULT_CALIBRATION`` was fitted on the answer benchmark (``tests/benchmarks/
fit_confidence.py``: a draft is correct when it holds every required fact of an answerable
question); ``bot.flow.calibration`` refits it from agents' decisions once enough exist.
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
from bot.pipeline.drafting.text import QUESTION_FRAME, STOPWORDS, stem, synonyms, words
from bot.pipeline.grounding import grounding
from bot.pipeline.questions import split_questions
from bot.pipeline.triage import Triage

PARTS: tuple[str, ...] = (
    "top_score",
    "margin",
    "coverage",
    "sparse_strength",
    "rank_agreement",
    "answer_coverage",
    "grounding",
    "negation_mismatch",
    "self_rating",
    "learned_agreement",
    "frustration",
)

# Fitted on the answer benchmark (tests/benchmarks/fit_confidence.py: 105 offline drafts over
# knowledge/samples and the Mastodon help center, "correct" = every required fact present;
# ridge L2 = 1 towards 0, HAND_SET and grounding held), after question-frame words left
# coverage and the drafter answered from the sections after an introduction. With coverage
# forgiving synonyms and taking a message's best-covered question: AUROC 0.881 on the
# benchmark; refits 0.861 5-fold, and fitted on one KB, scored on the other 0.877 (samples)
# and 0.767 (Mastodon). Grounding keeps its
# earlier weight: an extract is grounded by construction, so offline drafts cannot fit it,
# and it is what catches an invented figure in Claude's. The benchmark never shows a
# reported problem met by a plain how-to, so negation_mismatch keeps the weight fitted on
# HINT3 routing; self_rating, learned_agreement and frustration are hand-set.
DEFAULT_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "top_score": 1.03,
        "margin": 1.26,
        "coverage": 0.71,
        "sparse_strength": 0.61,
        "rank_agreement": 0.75,
        "answer_coverage": 2.27,
        "grounding": 0.60,
        "negation_mismatch": -0.82,
        "self_rating": 1.0,
        "learned_agreement": 1.0,
        "frustration": -1.0,
    }
)
DEFAULT_BIAS = -4.87
# Weights a benchmark cannot fit (no model self-rating offline, no learned answers, no anger).
HAND_SET: frozenset[str] = frozenset(
    {"negation_mismatch", "self_rating", "learned_agreement", "frustration"}
)
# Question similarity (MiniLM cosine) from which a precedent (approved or rejected answer) is
# about the same subject; below it a precedent says nothing about this draft (the router
# passes its RELATED_COSINE, tuned with the prequential routing eval).
SAME_TOPIC = 0.5


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
# A customer reporting a problem: something is not, cannot, failed, never happened.
_PROBLEM = re.compile(
    r"(?i)\b(?:not|nt|nahi|nahin|never|unable|cannot|can't|cant|couldn't|didn't|didnt|don't"
    r"|dont|doesn't|doesnt|isn't|wasn't|haven't|hasn't|won't|failed|fails|failing|stuck"
    r"|broken|missing|lost|locked|wrong|error|nothing)\b"
)
# A passage that deals with problems or conditions: troubleshooting, "if it doesn't arrive".
_DEALS_WITH_PROBLEMS = re.compile(
    r"(?i)\b(?:if|unless|not|no|never|unable|cannot|can't|doesn't|didn't|isn't|won't|fail\w*"
    r"|error\w*|problem\w*|issue\w*|troubleshoot\w*|lost|missing|locked|wrong|stuck)\b"
)


def has_negation(text: str) -> bool:
    """True when ``text`` reports that something is not, cannot or failed."""
    return _PROBLEM.search(text) is not None


def negation_mismatch(question: str, passage_text: str) -> bool:
    """A real contradiction: the question reports a problem and the passage is a plain
    how-to that never speaks of problems or conditions. A question without a problem never
    fires it, whatever the passage says ("What payment methods do you accept?" answered by
    an article that also covers failed payments)."""
    return has_negation(question) and _DEALS_WITH_PROBLEMS.search(passage_text) is None


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
    matches "verify" and Hinglish spellings partly match; a customer's word for what the
    article calls otherwise ("picture" for "image") counts. Words that frame the question
    ("how long", "what happens", ``QUESTION_FRAME``) are not its subject and do not count.
    0 for a question of stopwords.
    """
    wanted = {w for w in words(question)
              if w not in STOPWORDS and w not in QUESTION_FRAME and len(w) > 1}
    if not wanted:
        return 0.0
    have = {w for w in words(passage) if len(w) > 1}
    stems = {stem(w) for w in have}
    grams = [_trigrams(w) for w in have]
    total = 0.0
    for word in wanted:
        if word in have or stem(word) in stems or synonyms(stem(word)) & stems:
            total += 1.0
            continue
        mine = _trigrams(word)
        total += max((len(mine & g) / len(mine | g) for g in grams), default=0.0)
    return total / len(wanted)


def question_coverage(message: str, passage: str) -> float:
    """``fuzzy_coverage`` of the best-covered question of ``message``: a message asking
    several things ("When will my parcel ship? Could someone look into it personally?") is
    on the passage's subject when one of its questions is; the drafter says which it cannot
    answer."""
    return max(fuzzy_coverage(q, passage) for q in split_questions(message))


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
        "negation_mismatch": float(negation_mismatch(question, passage_text)),
    }


def precedent_agreement(
    approved: Sequence[Passage], rejection: Passage | None, *, same_topic: float = SAME_TOPIC,
    topic_rejected: bool = False,
) -> float | None:
    """Learned agreement from precedents about the same topic as this question.

    ``approved`` are learned answers (their ``similarity`` is that of their
    question to this one), ``rejection`` the nearest rejected draft's question. Only those at
    least ``same_topic`` close count: None when there is none (nothing changes), 0 when the
    closest is a rejection (the strongest disagreement), else the closest approval's
    similarity (so ``2a − 1`` in ``z`` is positive). ``topic_rejected``: agents' last word
    on this question's topic (the one earned auto-send uses) is a rejection, which is 0 too,
    however far this wording is from the rejected one.
    """
    if topic_rejected:
        return 0.0
    close = [p for p in approved if _cosine(p) >= same_topic]
    best = max(close, key=_cosine, default=None)
    if rejection is not None and _cosine(rejection) >= same_topic and (
        best is None or _cosine(rejection) >= _cosine(best)
    ):
        return 0.0
    return None if best is None else _clamp(_cosine(best))


def _cosine(passage: Passage) -> float:
    return passage.similarity


def draft_parts(
    question: str, passages: Sequence[Passage], draft: DraftResult
) -> dict[str, float | None]:
    """The draft-side parts: coverage of the question by the passages the draft used, what
    the reply addresses, how grounded it is, and the negation check on the used passages."""
    by_id = {p.source_id: p for p in passages}
    used = [by_id[s] for s in draft.cited_sources if s in by_id]
    if not used:
        used = [max(passages, key=retrieval_score)]
    used_text = "\n".join(f"{p.title}\n{p.text}" for p in used)
    reply = draft.reply.strip()
    return {
        "coverage": question_coverage(question, used_text),
        "answer_coverage": fuzzy_coverage(question, reply) if reply else 0.0,
        "grounding": grounding(reply, used).value if reply else None,
        "negation_mismatch": float(negation_mismatch(question, used_text)),
    }


def _describe(parts: Mapping[str, float | None]) -> list[str]:
    top, margin = parts["top_score"] or 0.0, parts["margin"] or 0.0
    strength = "strong" if top >= 0.7 else "fair" if top >= 0.45 else "weak"
    reasons = [
        f"best passage score {top:.2f} ({strength})",
        f"margin to next source {margin:.2f} ({'clear' if margin >= 0.5 else 'ambiguous'})",
        f"{(parts['coverage'] or 0.0):.0%} of the question's words appear in the passages used",
        f"the reply addresses {(parts.get('answer_coverage') or 0.0):.0%} of them",
    ]
    grounded = parts.get("grounding")
    if grounded is not None:
        reasons.append(f"{grounded:.0%} of the reply is grounded in its passages")
    if parts["sparse_strength"] is not None:
        reasons.append(f"keyword match strength {parts['sparse_strength']:.2f}")
    if parts["rank_agreement"] is not None:
        agree = parts["rank_agreement"] >= 0.5
        reasons.append(
            f"keyword and semantic search {'agree' if agree else 'disagree'} on the best source"
        )
    if parts["negation_mismatch"]:
        reasons.append("the customer reports a problem the passages used never mention "
                       "(negative: not / unable / failed)")
    if parts["self_rating"] is None:
        reasons.append("extractive offline draft: no self-rating")
    else:
        reasons.append(f"drafter self-rating {parts['self_rating']:.2f}")
    learned = parts["learned_agreement"]
    if learned is None:
        reasons.append("no approved answer on this topic to compare with")
    elif learned == 0.0:
        # The router's signal for "agents rejected a draft on this topic or a close question"
        # (it quotes the rejection itself): never an agreement line reading "(0.00)".
        reasons.append("agents rejected a draft on this topic or a close question")
    else:
        verdict = "agrees with an approved" if learned >= 0.5 else "an agent rejected an"
        reasons.append(f"{verdict} answer to a close question ({learned:.2f})")
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
    same_topic: float = SAME_TOPIC,
) -> Confidence:
    """Score a draft. ``question`` is the customer text (with subject) used for coverage;
    ``learned_agreement`` comes from ``precedent_agreement``.

    A drafter error scores 0; no passages scores 0 (nothing grounds it). Learned answers
    less than ``same_topic`` close to the question are left out of every part: an unrelated
    precedent changes nothing. A drafter that declined (empty reply, no error) is still
    scored from retrieval: policy sends it to a human either way, but the value keeps ranking
    messages by how answerable they look, which evaluation and calibration need.
    """
    weights = calibration or DEFAULT_CALIBRATION
    if draft.error is not None and not draft.reply.strip():
        return Confidence(value=0.0, reasons=[f"drafter failed: {draft.error}"])
    relevant = [p for p in passages if p.kind != "learned" or _cosine(p) >= same_topic]
    if not relevant:
        return Confidence(value=0.0, reasons=["no knowledge passage was retrieved"])

    parts = retrieval_parts(question, relevant, weights.margin_scale)
    parts.update(draft_parts(question, relevant, draft))
    declined = not draft.reply.strip()
    if draft.offline:
        parts["self_rating"] = None  # an extract has no opinion of itself
    else:
        parts["self_rating"] = 0.0 if declined else _clamp(draft.self_confidence)
    parts["learned_agreement"] = None if learned_agreement is None else _clamp(learned_agreement)
    parts["frustration"] = _clamp(triage.frustration)
    value, contributions = combine(parts, weights)
    rounded = {k: (None if v is None else round(v, 4)) for k, v in parts.items()}
    reasons = ["the drafter wrote no reply"] if declined else []
    if draft.error is not None:
        reasons.append(f"drafter failed, offline fallback: {draft.error}")
    return Confidence(
        value=round(value, 4),
        parts=MappingProxyType(rounded),
        contributions=MappingProxyType({k: round(v, 4) for k, v in contributions.items()}),
        reasons=reasons + _describe(parts),
    )
