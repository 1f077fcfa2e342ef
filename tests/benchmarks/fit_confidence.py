"""Fit the confidence weights on the answer benchmark: does confidence tell a correct draft
from a wrong one?

Run: ``.venv/bin/python tests/benchmarks/fit_confidence.py [--kb samples,mastodon_docs]
[--cache FILE]``

Every question of the answer sets goes through ``Router.analyse`` (offline drafter) as in
``bench_answers.py``; each draft is labelled correct when its question is answerable and the
reply holds every required fact (an unanswerable question's draft is never correct). The
confidence parts are fitted by the same regularised logistic regression agents' decisions
use (``bot.flow.calibration.fit_calibration``), with the hand-set parts held fixed.

Printed: AUROC of the shipped and of the fitted weights, in-sample, across knowledge bases
(fit on one, score the other) and 5-fold; the fitted weights; and, per human threshold, the
share of unanswerable questions sent to humans and of answerable ones not sent. ``--cache``
keeps the analysed parts in a JSON file so a refit does not re-run the pipeline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from anthropic import AsyncAnthropic  # noqa: E402

import tests.benchmarks.bench_answers as bench  # noqa: E402
from bot.evaluation.metrics import auroc  # noqa: E402
from bot.flow.calibration import Sample, fit_calibration  # noqa: E402
from bot.flow.router import Analysis, Router  # noqa: E402
from bot.pipeline.confidence import (  # noqa: E402
    DEFAULT_CALIBRATION,
    HAND_SET,
    PARTS,
    Calibration,
    combine,
)
from knowledge import Embedder  # noqa: E402
from tests.fakes.anthropic_server import fake_anthropic_server  # noqa: E402


class RecordingRouter(Router):
    """The benchmark's router, keeping every analysis in order."""

    analyses: list[Analysis] = []  # noqa: RUF012 - one run per process

    async def analyse(self, text: str, **kwargs: Any) -> Analysis:
        result = await super().analyse(text, **kwargs)
        RecordingRouter.analyses.append(result)
        return result


async def collect(names: Sequence[str]) -> list[dict[str, Any]]:
    """Analyse every question; one row per question with its parts and label."""
    bench.Router = RecordingRouter  # type: ignore[misc]
    embedder = Embedder.from_settings(bench.bench_settings())
    rows: list[dict[str, Any]] = []
    async with fake_anthropic_server() as server:
        client = AsyncAnthropic(api_key="bench", base_url=server.url, max_retries=0)
        claude = bench.ClaudeDrafter(client=client, model="claude-bench", max_attempts=1)
        for name in names:
            questions = bench.load_answer_set(bench.ANSWERS / f"{name}.jsonl")
            RecordingRouter.analyses = []
            outcomes = await bench.run_kb(name, questions, embedder, claude, server)
            for outcome, analysis in zip(outcomes, RecordingRouter.analyses, strict=True):
                rows.append({
                    "id": outcome.q.id, "kb": name, "answerable": outcome.q.answerable,
                    "correct": outcome.draft_correct,
                    "declined": analysis.draft.needs_human or not analysis.draft.reply.strip(),
                    "escalated": bool(analysis.triage.escalation_reasons),
                    "parts": dict(analysis.confidence.parts),
                })
        await client.close()
    return rows


def _samples(rows: Sequence[dict[str, Any]]) -> list[Sample]:
    return [Sample(r["parts"], r["correct"]) for r in rows if r["parts"]]


def _auroc(rows: Sequence[dict[str, Any]], calibration: Calibration) -> float:
    scores = [combine(r["parts"], calibration)[0] if r["parts"] else 0.0 for r in rows]
    area = auroc([r["correct"] for r in rows], scores)
    return float("nan") if area is None else area


def fit(rows: Sequence[dict[str, Any]], l2: float) -> Calibration | None:
    # Offline extracts are grounded by construction: grounding cannot be fitted on them.
    return fit_calibration(_samples(rows), prior=None, fixed=HAND_SET | {"grounding"}, l2=l2,
                           min_samples=10, source="answer benchmark")


def report(rows: list[dict[str, Any]], l2: float) -> None:
    fitted = fit(rows, l2)
    assert fitted is not None
    print(f"{len(rows)} drafts, {sum(r['correct'] for r in rows)} correct\n")
    print(f"{'draft-correct AUROC':<34}{'shipped':>10}{'fitted':>10}")
    print(f"{'in sample':<34}{_auroc(rows, DEFAULT_CALIBRATION):>10.3f}"
          f"{_auroc(rows, fitted):>10.3f}")
    kbs = sorted({r["kb"] for r in rows})
    for kb in kbs if len(kbs) > 1 else ():
        train = [r for r in rows if r["kb"] != kb]
        test = [r for r in rows if r["kb"] == kb]
        other = fit(train, l2)
        cross = _auroc(test, other) if other else float("nan")
        print(f"{'fit elsewhere, scored on ' + kb:<34}{_auroc(test, DEFAULT_CALIBRATION):>10.3f}"
              f"{cross:>10.3f}")
    shuffled = rows[:]
    random.Random(7).shuffle(shuffled)
    folds = [shuffled[i::5] for i in range(5)]
    scores: list[float] = []
    labels: list[bool] = []
    for i, test in enumerate(folds):
        train = [r for j, f in enumerate(folds) if j != i for r in f]
        model = fit(train, l2) or DEFAULT_CALIBRATION
        scores += [combine(r["parts"], model)[0] if r["parts"] else 0.0 for r in test]
        labels += [r["correct"] for r in test]
    print(f"{'5-fold cross-validated':<34}{'':>10}{auroc(labels, scores) or float('nan'):>10.3f}")
    print("\nfitted weights:", json.dumps(dict(fitted.weights)), "bias", fitted.bias)
    floor = bench.bench_settings().coverage_floor
    print(f"\nwith the out-of-scope floor {floor:.2f} (coverage of the question by the passages "
          "used), fitted weights")
    print("human threshold   oos->human   answerable not human   correct not human")
    for threshold in (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5):
        oos, answerable, correct = _routing(rows, fitted, threshold, floor)
        print(f"{threshold:>15.2f}{oos:>13.3f}{answerable:>23.3f}{correct:>20.3f}")
    threshold = bench.bench_settings().human_threshold
    print(f"\nper-KB split at the default thresholds ({threshold:.2f}, floor {floor:.2f}): "
          "weights fitted on the other KB")
    print(f"{'scored on':<16}{'oos->human':>12}{'answerable not human':>23}")
    for kb in kbs if len(kbs) > 1 else ():
        other = fit([r for r in rows if r["kb"] != kb], l2)
        oos, answerable, _ = _routing([r for r in rows if r["kb"] == kb],
                                      other or DEFAULT_CALIBRATION, threshold, floor)
        print(f"{kb:<16}{oos:>12.3f}{answerable:>23.3f}")


def _routing(rows: Sequence[dict[str, Any]], weights: Calibration, threshold: float,
             floor: float) -> tuple[float, float, float]:
    """Shares of unanswerable questions sent to humans, of answerable ones and of correct
    drafts not sent, deciding as ``decide()`` does from these parts."""
    def human(r: dict[str, Any]) -> bool:
        value = combine(r["parts"], weights)[0] if r["parts"] else 0.0
        uncovered = r["parts"].get("coverage") is not None and r["parts"]["coverage"] < floor
        return bool(r["declined"] or r["escalated"] or value < threshold or uncovered)

    def share(flags: list[bool]) -> float:
        return sum(flags) / len(flags) if flags else float("nan")

    return (share([human(r) for r in rows if not r["answerable"]]),
            share([not human(r) for r in rows if r["answerable"]]),
            share([not human(r) for r in rows if r["correct"]]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kb", default=",".join(bench.KB_DIRS))
    parser.add_argument("--cache", type=Path, help="JSON file of analysed parts (reused)")
    parser.add_argument("--l2", type=float, default=1.0)
    args = parser.parse_args()
    if args.cache and args.cache.is_file():
        rows = json.loads(args.cache.read_text())
    else:
        rows = asyncio.run(collect([n for n in args.kb.split(",") if n]))
        if args.cache:
            args.cache.write_text(json.dumps(rows))
    for r in rows:
        r["parts"] = {p: r["parts"].get(p) for p in PARTS} if r["parts"] else {}
    report(rows, args.l2)


if __name__ == "__main__":
    main()
