"""Proof that learning works: replay each dev set as a stream of customer messages, let a
simulated agent decide every draft that needs review from the labels, and watch the share of
drafts that need no edit and the earned auto-send rate grow, with auto-send's error rate.

The simulated agent approves a draft when its top source is the labelled intent (a KB entry,
or a learned answer taught for that intent), and otherwise edits it into that intent's answer.
Approvals and edits feed the learned answers and the earned auto-send record, exactly as in
production (the real router, decisions and learner; SQLite and Qdrant local mode).

The dev sets are small (126–228 HINT3 messages), so which messages land in the first and last
third moves the shares by ±10 points on its own. Each set is therefore replayed in several
arrival orders (``--seeds``), and each order twice: with learning, and as a control in which
agents' answers are not learned (same order, same KB, same auto-send rules). The learning
effect is the paired difference in the last third; the first-to-last change is shown for both.

Run: .venv/bin/python tests/benchmarks/bench_learning.py [--sets a,b] [--plot docs/learning.png]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bot.app import build_services  # noqa: E402
from bot.domain import Channel, Inbound, Sender  # noqa: E402
from bot.flow.decisions import approve  # noqa: E402
from bot.flow.learning import Learners  # noqa: E402
from bot.store import outbox  # noqa: E402
from bot.store.db import migrate  # noqa: E402
from bot.store.models import Draft  # noqa: E402
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


async def run_set(
    name: str, *, threshold: float, earn: int, seed: int, learning: bool = True
) -> Stream:
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
            learn = (Learners(learned=services.learned, rejected=services.rejected).answer
                     if learning and services.rejected is not None else None)
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


def thirds_of(streams: list[Stream], kinds: set[str]) -> list[float]:
    """Mean share of ``kinds`` in each third over several replays."""
    return [statistics.fmean(s.share(s.thirds()[t], kinds) for s in streams) for t in range(3)]


def pooled(streams: list[Stream], name: str) -> Stream:
    """One stream of several sets, thirds aligned (each set's early and late parts together)."""
    out = Stream(name)
    for t in range(3):
        for s in streams:
            out.outcomes.extend(s.outcomes[s.thirds()[t]])
    return out


def table(runs: dict[str, dict[bool, list[Stream]]]) -> None:
    seeds = len(next(iter(runs.values()))[True])
    print(f"\nMean over {seeds} arrival orders; control = the same orders without learned answers.")
    print("\n| set | messages | no-edit share 1st / 2nd / 3rd third | Δ last−first | "
          "control: Δ last−first | learning effect, last third (± sd) | "
          "auto-send rate (last third) | auto-send errors |")
    print("|---|---|---|---|---|---|---|---|")
    rows = dict(runs)
    rows["all (pooled)"] = {
        flag: [pooled([runs[n][flag][i] for n in runs], "pooled") for i in range(seeds)]
        for flag in (True, False)
    }
    for name, by_flag in rows.items():
        learned, control = by_flag[True], by_flag[False]
        with_l, without = thirds_of(learned, NO_EDIT), thirds_of(control, NO_EDIT)
        effect = [a.share(a.thirds()[2], NO_EDIT) - b.share(b.thirds()[2], NO_EDIT)
                  for a, b in zip(learned, control, strict=True)]
        autos = [o for s in learned for o in s.outcomes if o in AUTO]
        wrong = sum(o == "auto_wrong" for o in autos)
        sd = statistics.pstdev(effect) if len(effect) > 1 else 0.0
        auto_last = statistics.fmean(s.share(s.thirds()[2], AUTO) for s in learned)
        print(f"| {name} | {len(learned[0].outcomes)} | {with_l[0]:.1%} / {with_l[1]:.1%} / "
              f"{with_l[2]:.1%} | {100 * (with_l[2] - with_l[0]):+.1f} pts | "
              f"{100 * (without[2] - without[0]):+.1f} pts | "
              f"{100 * statistics.fmean(effect):+.1f} pts (± {100 * sd:.1f}) | "
              f"{auto_last:.1%} | {wrong} of {len(autos)} "
              f"({wrong / len(autos) if autos else 0.0:.1%}) |")


def rolling(streams: list[Stream], kinds: set[str], window: int) -> tuple[list[float], list[float]]:
    """Mean over replays of the rolling share of ``kinds`` along the stream."""
    n = len(streams[0].outcomes)
    w = max(10, min(window, n // 5))
    xs = [end / n for end in range(w, n + 1)]
    ys = [statistics.fmean(sum(o in kinds for o in s.outcomes[end - w:end]) / w for s in streams)
          for end in range(w, n + 1)]
    return xs, ys


def plot(runs: dict[str, dict[bool, list[Stream]]], path: Path, window: int = 60) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 4.8))
    ax = fig.subplots()
    for name, by_flag in runs.items():
        xs, no_edit = rolling(by_flag[True], NO_EDIT, window)
        line = ax.plot(xs, no_edit, label=f"{name}: no edit needed")[0]
        xs, control = rolling(by_flag[False], NO_EDIT, window)
        ax.plot(xs, control, linestyle=":", color=line.get_color(),
                label=f"{name}: same, without learning")
        xs, auto = rolling(by_flag[True], AUTO, window)
        ax.plot(xs, auto, linestyle="--", color=line.get_color(), label=f"{name}: auto-sent")
    ax.set_xlabel("position in the stream (fraction)")
    ax.set_ylabel("share over a rolling window (mean of arrival orders)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=6, loc="lower right", ncol=2)
    ax.set_title("Learning from agents: drafts needing no edit, and earned auto-send")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    print(f"\nplot: {path}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--threshold", type=float, default=0.7)
    parser.add_argument("--earn", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=3, help="arrival orders per set")
    parser.add_argument("--plot", type=Path, default=Path("/tmp/supportbot-learning.png"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import logging

    logging.disable(logging.INFO)
    runs: dict[str, dict[bool, list[Stream]]] = {}
    for name in args.sets.split(","):
        runs[name] = {flag: [await run_set(name, threshold=args.threshold, earn=args.earn,
                                           seed=7 + k, learning=flag)
                             for k in range(args.seeds)]
                      for flag in (True, False)}
        print(f"{name}: done", flush=True)
    print(f"\nLearning loop: auto-send threshold {args.threshold}, earned after {args.earn} "
          "unedited approvals at ≥90%, offline drafter, int8 MiniLM + BM25")
    table(runs)
    print("\nWhy drafts waited for review (last reason, all sets, with learning):")
    total: Counter[str] = Counter()
    for by_flag in runs.values():
        for s in by_flag[True]:
            total.update(s.blockers)
    for reason, count in total.most_common(6):
        print(f"  {count:5d}  {reason}")
    plot(runs, args.plot)


if __name__ == "__main__":
    asyncio.run(main())
