"""One reading of a customer message from two readers: triage (local, always) and the
drafter's (Claude's draft tool returns ``language``, ``sentiment``, ``wants_human`` and
``urgency``). Where they differ, the stricter wins:

* **wants a human**: true from either reader. The model's "yes" escalates even when triage
  found no phrase ("Could a real person look at this?" in words no pattern knows); the
  reason names the drafter's reading so the card says where it came from.
* **sentiment**: the angrier one. The model's "angry" escalates like triage's anger
  (frustration ≥ ``ANGRY_AT``); "frustrated" is shown, not escalated.
* **urgency**: the higher one (triage's urgent flag reads as "high"). A priority on the card,
  never an escalation.
* **language**: the local detector's, unless it could not tell (``und``: short or mixed
  text), then the model's. The detector is deterministic and measured on short support
  texts (``bot.pipeline.language``); the model's code is an unscored claim, and a reply
  language that flips between two readers would make the disclosure line and the card
  disagree with each other. Both are kept on the draft's triage for review.

``decide()`` receives the combined reading in ``DecisionFacts`` and is where it turns into a
decision; nothing here decides.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain import SENTIMENTS, URGENCIES, ModelReading
from bot.pipeline.language import UNDETERMINED
from bot.pipeline.triage import Flag, Triage

# Triage's frustration score from which a message reads "frustrated" (one strong signal).
FRUSTRATED_AT = 0.25


@dataclass(frozen=True, slots=True)
class Reading:
    """The combined reading; ``escalations`` are what the drafter's reading adds to
    triage's escalation reasons (empty when triage already escalates for the same thing)."""

    language: str
    sentiment: str
    wants_human: bool
    urgency: str
    escalations: tuple[str, ...] = ()
    model: ModelReading | None = None

    @property
    def urgent(self) -> bool:
        """High or critical: shown as a priority on the card."""
        return URGENCIES.index(self.urgency) >= URGENCIES.index("high")

    def to_json(self) -> dict[str, object]:
        """Stored with the draft's triage (the card and ``ask --json`` show it)."""
        data: dict[str, object] = {"language": self.language, "sentiment": self.sentiment,
                                   "wants_human": self.wants_human, "urgency": self.urgency}
        if self.model is not None:
            data["model"] = {"language": self.model.language,
                             "sentiment": self.model.sentiment,
                             "wants_human": self.model.wants_human,
                             "urgency": self.model.urgency}
        return data


def local_sentiment(flags: Triage) -> str:
    """Triage's frustration on the drafter's scale."""
    if flags.angry:
        return "angry"
    return "frustrated" if flags.frustration >= FRUSTRATED_AT else "neutral"


def _stricter(scale: tuple[str, ...], a: str, b: str | None) -> str:
    return a if b is None or scale.index(a) >= scale.index(b) else b


def combine(flags: Triage, model: ModelReading | None) -> Reading:
    """Triage's reading and the drafter's, the stricter winning (see the module docstring)."""
    local_urgency = "high" if flags.urgent else "normal"
    if model is None:
        return Reading(language=flags.language, sentiment=local_sentiment(flags),
                       wants_human=flags.wants_human, urgency=local_urgency)
    escalations: list[str] = []
    if model.wants_human and not flags.has(Flag.WANTS_HUMAN):
        escalations.append("wants human: the drafter read that the customer asks for a person")
    if model.sentiment == "angry" and not flags.angry:
        escalations.append("angry: the drafter read the customer as angry")
    language = flags.language
    if language == UNDETERMINED and model.language:
        language = model.language
    return Reading(
        language=language,
        sentiment=_stricter(SENTIMENTS, local_sentiment(flags), model.sentiment),
        wants_human=flags.wants_human or model.wants_human,
        urgency=_stricter(URGENCIES, local_urgency, model.urgency),
        escalations=tuple(escalations),
        model=model,
    )
