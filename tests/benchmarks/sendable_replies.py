"""Print the offline drafter's replies to 25 realistic questions over ``knowledge/samples``,
for a person to judge which ones a support team would send as they are.

Run: ``.venv/bin/python tests/benchmarks/sendable_replies.py``

The questions are not in the answer benchmark (``answers/samples.jsonl``), so tuning against
that set does not tune these. Each goes through the real ``Router.analyse`` (retrieval,
passage assembly, offline drafter, confidence, policy); the printout shows the decision, the
confidence and the reply.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from qdrant_client import AsyncQdrantClient  # noqa: E402

from bot.flow.facts import FixedFacts  # noqa: E402
from bot.flow.router import Router  # noqa: E402
from bot.pipeline.drafting.offline import OfflineDrafter  # noqa: E402
from bot.ports import NullNotifier  # noqa: E402
from knowledge import Embedder, KnowledgeBase  # noqa: E402
from knowledge.store_client import ClientStore  # noqa: E402
from tests.benchmarks.bench_answers import bench_settings  # noqa: E402

QUESTIONS = (
    ("Sam Lee", "I forgot my password and the reset link says it expired. What now?"),
    ("Priya", "How many wrong password attempts before my account gets locked?"),
    ("", "Can I switch from monthly to annual billing on the Plus plan?"),
    ("Jordan", "We want to go from Business back to Plus. What happens to our SSO?"),
    ("", "How long does Acme Drive delivery take to Australia?"),
    ("Mia", "The tracking says delivered but there's no parcel. What should I do?"),
    ("", "How do I start a return for a faulty Acme Drive?"),
    ("Tom", "What are your support hours and how do I reach you by phone?"),
    ("", "I'd like to change my account email to my new work address."),
    ("Chen", "Is there a way to export everything before I cancel?"),
    ("", "Where do I add our company's tax ID so it shows on invoices?"),
    ("Lena", "Our payment failed last week. Will our workspace be locked?"),
    ("", "Can I request a copy of all the personal data you hold about me?"),
    ("Omar", "How long do you keep old versions of a file?"),
    ("", "Is there a page where I can see if the service is having problems?"),
    ("Ana", "Can I set an expiry date on a shared link?"),
    ("", "Which identity providers work with your single sign-on?"),
    ("Ben", "How much storage do we get per user on Business?"),
    ("", "The desktop app shows a conflicted copy of my file. Why?"),
    ("Kim", "How do I remove someone who left our team, and what happens to their files?"),
    ("", "How do I turn on two-factor authentication?"),
    ("Raj", "I lost my recovery codes too. How do I get back into my account?"),
    ("", "Is a monthly plan refundable if I cancel halfway through the month?"),
    ("Eva", "How do I invite a guest to just one folder? And do guests cost anything?"),
    ("", "Can I pay by bank transfer instead of card?"),
)


async def main() -> None:
    settings = bench_settings()
    embedder = Embedder.from_settings(settings)
    with tempfile.TemporaryDirectory(prefix="sendable-") as tmp:
        client = AsyncQdrantClient(path=tmp)
        kb = KnowledgeBase(store=ClientStore(client=client), embedder=embedder,
                           collection="sendable")
        try:
            await kb.ingest(REPO / "knowledge" / "samples")
            router = Router(settings=settings, knowledge=kb, learned=None,
                            drafter=OfflineDrafter(), notifier=NullNotifier(),
                            facts=FixedFacts(auto_send_threshold=None))
            for number, (name, question) in enumerate(QUESTIONS, 1):
                analysis = await router.analyse(question, customer_name=name or None)
                print(f"\n{'=' * 78}\n#{number} {question}\n"
                      f"[{analysis.policy.decision.value}, confidence "
                      f"{analysis.confidence.value:.2f}; {analysis.draft.reason}]\n")
                print(analysis.draft.reply or "(no reply)")
        finally:
            await kb.drop()
            await client.close()


if __name__ == "__main__":
    asyncio.run(main())
