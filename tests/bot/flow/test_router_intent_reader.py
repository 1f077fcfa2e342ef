"""The router applies the semantic second reading of triage where an embedder is loaded: a
message only that reading understands goes to humans, with the reason on the card."""

from __future__ import annotations

import pytest

from bot.domain import Decision
from bot.flow.facts import FixedFacts
from bot.flow.router import Router
from bot.pipeline.drafting.offline import OfflineDrafter
from bot.pipeline.intent_reader import IntentReader
from bot.pipeline.triage import Flag, triage
from knowledge.embedder import Embedder
from tests.conftest import SettingsFactory


@pytest.fixture
def reader(make_settings: SettingsFactory) -> IntentReader:
    settings = make_settings()
    if settings.embed_model_path is None:
        pytest.skip("offline model not found (set SUPPORTBOT_EMBED_MODEL_PATH)")
    return IntentReader(embed=Embedder.from_settings(settings).dense)


async def test_the_router_sends_what_only_the_reader_hears_to_humans(
    make_settings: SettingsFactory, reader: IntentReader
) -> None:
    text = "We are done with your service."
    assert not triage(text).escalation_reasons  # the patterns alone would let it through
    settings = make_settings()
    facts = FixedFacts(auto_send_threshold=0.0)  # would send anything it may
    plain = Router(settings=settings, knowledge=None, learned=None, drafter=OfflineDrafter(),
                   notifier=_Silent(), facts=facts)
    with_reader = Router(settings=settings, knowledge=None, learned=None,
                         drafter=OfflineDrafter(), notifier=_Silent(), facts=facts,
                         intent_reader=reader)
    before = await plain.analyse(text)
    after = await with_reader.analyse(text)
    assert not before.triage.has(Flag.CHURN)
    assert after.triage.has(Flag.CHURN)
    assert after.policy.decision is Decision.HUMAN
    assert any("churn" in reason for reason in after.policy.reasons)


class _Silent:
    """The approval channel is not reached by ``analyse``."""

    async def draft_ready(self, draft_id: int) -> None: ...
    async def customer_followup(self, message_id: int) -> None: ...
    async def draft_superseded(self, draft_id: int) -> None: ...
    async def delivery_failed(self, outbox_item_id: int) -> None: ...
    async def delivered(self, outbox_item_id: int) -> None: ...
    async def auto_sent(self, draft_id: int) -> None: ...
    async def remind_stale(self, *, older_than: object, now: object) -> int:
        return 0

    async def post_missing_cards(self) -> int:
        return 0
