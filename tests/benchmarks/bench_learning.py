"""Proof that learning works: replay each dev set as a stream of customer messages, let a
simulated agent decide every draft that needs review from the labels, and watch the share of
drafts that need no edit and the earned auto-send rate grow, with auto-send's error rate.

The simulated agent approves a draft when its top source is the labelled intent (a KB entry,
or a learned answer taught for that intent), and otherwise edits it into that intent's answer.
Approvals and edits feed the learned answers and the earned auto-send record, exactly as in
production (the real router, decisions and learner; SQLite and Qdrant local mode).

Run: .venv/bin/python tests/benchmarks/bench_learning.py [--sets a,b] [--plot docs/learning.png]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bot import outbox  # noqa: E402
from bot.app import _learner, build_services  # noqa: E402
from bot.db import migrate  # noqa: E402
from bot.decisions import approve  # noqa: E402
from bot.domain import Channel, Inbound, Sender  # noqa: E402
from bot.models import Draft  # noqa: E402
from config import load_settings  # noqa: E402

DATASETS = REPO.parent / "shared" / "datasets"
MODELS = REPO.parent / "shared" / "models"
SETS = ["hint3_sofmattress", "hint3_curekart", "hint3_powerplay11", "banking77"]


@dataclass
class Stream:
    name: str
    outcomes: list[str] = field(default_factory=list)  # per message, in arrival order
    blockers: Counter[str] = field(default_factory=Counter)  # why drafts were not auto-sent

    def share(self, part: slice, kinds: set[str]) -> float:
        chunk = self.outcomes[part]
        return sum(o in kinds for o in chunk) / len(chunk) if chunk else 0.0

    def thirds(self) -> list[slice]:
        n = len(self.outcomes)
        return [slice(0, n // 3), slice(n // 3, 2 * n // 3), slice(2 * n // 3, n)]


NO_EDIT = {"approved", "auto_ok"}
AUTO = {"auto_ok", "auto_wrong"}


def answer_text(kb_dir: Path, intent: str) -> str:
    """The canonical answer an agent writes for an intent (the KB entry's own text)."""
    text = (kb_dir / f"{intent}.md").read_text()
    return text.split("---", 2)[-1].strip()[:1500]


async def run_set(name: str, *, threshold: float, earn: int, seed: int) -> Stream:
    folder = DATASETS / name
    rows = [json.loads(line) for line in (folder / "queries.jsonl").open()]
    random.Random(seed).shuffle(rows)  # banking77's file is grouped by intent: not an arrival order
    stream = Stream(name)
    intent_of_answer: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings({
            "SUPPORTBOT_DATA_DIR": tmp, "SUPPORTBOT_DEMO": "false",
            "SUPPORTBOT_AUTO_SEND_THRESHOLD": str(threshold),
            "SUPPORTBOT_EARN_MIN_APPROVALS": str(earn),
            "SUPPORTBOT_AUTO_REPLY_SENDER_CAP": "100000",
            "SUPPORTBOT_EMBED_MODEL_PATH": os.environ.get(
                "SUPPORTBOT_EMBED_MODEL_PATH", str(MODELS / "all-MiniLM-L6-v2-onnx-int8")),
            "SUPPORTBOT_SPARSE_MODEL_PATH": str(MODELS / "bm25"),
        }, env_file=None)
        await migrate(settings)
        async with build_services(settings) as services:
            assert services.knowledge is not None and services.learned is not None
            await services.knowledge.ingest(folder / "kb")
            learn = _learner(services.learned)
            for i, row in enumerate(rows):
                label = row["relevant"][0]
                accepted = await services.accept(Inbound(
                    channel=Channel.WEBHOOK, thread_key=f"sim:{i}",
                    channel_message_id=f"sim:{i}", text=row["query"],
                    sender=Sender(id=f"customer-{i}"), received_at=datetime.now(UTC)))
                draft = await services.router.process(accepted.message_id)
                assert draft is not None
                top = draft.sources[0] if draft.sources else None
                intent = None
                if top is not None:
                    intent = (intent_of_answer.get(top["source_id"]) if top["kind"] == "learned"
                              else top["source_id"])
                if draft.status == "auto_sent":
                    stream.outcomes.append("auto_ok" if intent == label else "auto_wrong")
                    continue
                blocker = draft.reasons[-1] if draft.reasons else draft.decision
                stream.blockers[re.sub(r"[\d.%/]+", "#", blocker)[:70]] += 1
                right = intent == label and bool(draft.text.strip())
                final = None if right else answer_text(folder / "kb", label)
                await approve(draft.id, agent="U-sim", now=datetime.now(UTC),
                              deliver=outbox.enqueue_reply, final_text=final, learn=learn)
                refreshed = await Draft.get(id=draft.id)
                intent_of_answer.setdefault(refreshed.topic or "", label)
                intent_of_answer[f"answer-{draft.id}"] = label
                stream.outcomes.append("approved" if right else "edited")
    return stream


def table(streams: list[Stream]) -> None:
    print("\n| set | messages | no-edit share 1st / 2nd / 3rd third | Δ last−first | "
          "auto-send rate (last third) | auto-send error rate |")
    print("|---|---|---|---|---|---|")
    pooled = Stream("all (pooled)")
    for s in [*streams, pooled]:
        if s is pooled:
            # Pool thirds per set so each set's early and late parts line up.
            for t in range(3):
                for x in streams:
                    pooled.outcomes.extend(x.outcomes[x.thirds()[t]])
        thirds = [s.share(part, NO_EDIT) for part in s.thirds()]
        autos = [o for o in s.outcomes if o in AUTO]
        error = sum(o == "auto_wrong" for o in autos) / len(autos) if autos else 0.0
        print(f"| {s.name} | {len(s.outcomes)} | {thirds[0]:.1%} / {thirds[1]:.1%} / "
              f"{thirds[2]:.1%} | {100 * (thirds[2] - thirds[0]):+.1f} pts | "
              f"{s.share(s.thirds()[2], AUTO):.1%} | {error:.1%} ({len(autos)} sent) |")


def plot(streams: list[Stream], path: Path, window: int = 60) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 4.5))
    ax = fig.subplots()
    for s in streams:
        w = max(10, min(window, len(s.outcomes) // 5))
        xs, no_edit, auto = [], [], []
        for end in range(w, len(s.outcomes) + 1):
            chunk = s.outcomes[end - w:end]
            xs.append(end / len(s.outcomes))
            no_edit.append(sum(o in NO_EDIT for o in chunk) / w)
            auto.append(sum(o in AUTO for o in chunk) / w)
        line = ax.plot(xs, no_edit, label=f"{s.name}: no edit needed")[0]
        ax.plot(xs, auto, linestyle="--", color=line.get_color(), label=f"{s.name}: auto-sent")
    ax.set_xlabel("position in the stream (fraction)")
    ax.set_ylabel("share over a rolling window")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("Learning from agents: drafts needing no edit, and earned auto-send")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    print(f"\nplot: {path}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--earn", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--plot", type=Path, default=Path("/tmp/supportbot-learning.png"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import logging

    logging.disable(logging.INFO)
    streams = [await run_set(name, threshold=args.threshold, earn=args.earn, seed=args.seed)
               for name in args.sets.split(",")]
    print(f"\nLearning loop: auto-send threshold {args.threshold}, earned after {args.earn} "
          "unedited approvals at ≥90%, offline drafter, int8 MiniLM + BM25")
    table(streams)
    print("\nWhy drafts waited for review (last reason, all sets):")
    total: Counter[str] = Counter()
    for s in streams:
        total.update(s.blockers)
    for reason, count in total.most_common(6):
        print(f"  {count:5d}  {reason}")
    plot(streams, args.plot)


if __name__ == "__main__":
    asyncio.run(main())
