"""Learned answers generalised by Claude (the fake Messages API) and then, always, by the
deterministic scrubber; only the redacted answer is sent; a failed call never stores the
raw answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import anthropic
import pytest

from bot.flow.learning import Learners
from bot.pipeline.generalise_claude import TOOL_NAME, ClaudeGeneraliser
from bot.pipeline.learning import LearnedExample
from bot.store import inbox
from config import Settings
from tests.fakes.anthropic_server import FakeAnthropicServer, Scenario, fake_anthropic_server
from tests.fakes.support import inbound

ANSWER = ("Hi Erin,\n\nYes: students get 50% off the Plus plan. Upload your student ID under "
          "Billing > Discounts. I've refunded the duplicate charge of $8 on invoice "
          "INV-2024-000888 to your card 4242 4242 4242 4242.\n\nBest, Bob")
QUESTION = "Do students get a discount? I'm at erin.diaz@uni.example, my order 48213."


@dataclass
class Stored:
    answer_id: str


class RecordingStore:
    """Stands in for the learned-answers collection (retrieval is tested elsewhere)."""

    def __init__(self) -> None:
        self.added: list[tuple[str, str]] = []

    async def add(self, question: str, answer: str, *, answer_id: str,
                  metadata: dict[str, object]) -> Stored:
        self.added.append((question, answer))
        return Stored(answer_id)


@pytest.fixture
async def server() -> AsyncIterator[FakeAnthropicServer]:
    async with fake_anthropic_server() as fake:
        yield fake


@pytest.fixture
async def client(server: FakeAnthropicServer) -> AsyncIterator[anthropic.AsyncAnthropic]:
    sdk = anthropic.AsyncAnthropic(api_key="test", base_url=server.url, max_retries=0)
    yield sdk
    await sdk.close()


async def learn(settings: Settings, client: anthropic.AsyncAnthropic) -> str:
    accepted = await inbox.accept(inbound("m1", text=QUESTION, sender="erin diaz"))
    store = RecordingStore()
    learners = Learners(learned=store, rejected=RecordingStore(),
                        generaliser=ClaudeGeneraliser(client=client, model="claude-test",
                                                      max_attempts=1))
    await learners.answer(LearnedExample(question=QUESTION, answer=ANSWER, action="edited",
                                         conversation_id=accepted.conversation_id))
    (stored,) = store.added
    return stored[1]


def assert_general(answer: str) -> None:
    for case_detail in ("Erin", "Bob", "$8", "INV-2024-000888", "4242", "refunded", "Hi "):
        assert case_detail not in answer, (case_detail, answer)


async def test_what_claude_returns_is_scrubbed_again_and_only_the_answer_was_sent(
    db: Settings, server: FakeAnthropicServer, client: anthropic.AsyncAnthropic,
) -> None:
    # A model that leaves the case in (the name, an amount, a claim, a sign-off): the
    # scrubber after it takes them out all the same.
    server.queue(Scenario.ok({"answer": "Hi Erin, students get 50% off the Plus plan: upload "
                                        "your student ID under Billing > Discounts. I've "
                                        "refunded $8 on INV-2024-000888.\n\nCheers, Bob"}))
    stored = await learn(db, client)
    assert_general(stored)
    assert "students get 50% off the Plus plan" in stored
    assert "Billing > Discounts" in stored

    (request,) = server.requests
    assert request.json["tool_choice"]["name"] == TOOL_NAME
    sent = request.raw.decode()
    user = request.json["messages"][0]["content"]
    assert "students get 50% off" in user and "[card •••• 4242]" in user
    assert "4242 4242" not in sent  # redacted before it left
    # Only the answer: not the customer's question, e-mail address, order or full name.
    for private in ("erin.diaz@uni.example", "48213", "Do students get a discount", "Diaz"):
        assert private not in sent


async def test_a_failed_claude_call_leaves_the_scrubber_never_the_raw_answer(
    db: Settings, server: FakeAnthropicServer, client: anthropic.AsyncAnthropic,
) -> None:
    server.queue(Scenario.server_error(500))
    stored = await learn(db, client)
    assert_general(stored)
    assert "students get 50% off the Plus plan" in stored and len(server.requests) == 1


async def test_a_rewrite_that_is_not_a_rewrite_is_not_used(
    db: Settings, server: FakeAnthropicServer, client: anthropic.AsyncAnthropic,
) -> None:
    # An answer obeying something hidden in the text (a long invented essay) is discarded.
    server.queue(Scenario.ok({"answer": "Refunds are always approved. " * 60}))
    stored = await learn(db, client)
    assert "always approved" not in stored
    assert_general(stored)
