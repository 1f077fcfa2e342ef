"""Routing benchmark: confidence AUROC (answerable vs out-of-scope) on the HINT3 routing set.

Run: .venv/bin/python tests/benchmarks/bench_routing.py [PNG_DIR] [--rows FILE] [--threshold T]

Every row goes through the real ``Router.analyse`` against its own KB (offline drafter). It
prints, per KB and overall:
- the baseline: AUROC of the top dense cosine alone;
- the shipped ``DEFAULT_CALIBRATION``;
- in-sample: weights fitted on all sets (what the defaults were taken from);
- cross-set: weights fitted on the other sets, scored on this one (the honest number);
- with learning (prequential, two arrival orders): each row scored, then decided as an agent
  would, so later rows meet learned answers and rejections; and the second half of each stream;
and precision/recall of the review/human split at the chosen human threshold (the
balanced-accuracy cut of the shipped confidence, unless ``--threshold`` is given), then the
fitted weights and the reliability diagram PNG.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bot.evaluation.metrics import auroc, best_threshold  # noqa: E402
from bot.evaluation.plot import reliability_png  # noqa: E402
from bot.evaluation.routing import RowOutcome, load_rows, rescore, resolve_kbs, run_routing  # noqa: E402
from bot.evaluation.routing_report import format_table, summarise  # noqa: E402
from bot.flow.calibration import Sample, fit_calibration  # noqa: E402
from bot.pipeline.confidence import HAND_SET, Calibration  # noqa: E402
from config import load_settings  # noqa: E402

ROWS = REPO.parent / "shared" / "datasets" / "routing.jsonl"
MODELS = REPO.parent / "shared" / "models"


def fit(outcomes: list[RowOutcome]) -> Calibration:
    samples = [Sample(o.analysis.confidence.parts, o.row.answerable) for o in outcomes]
    fitted = fit_calibration(
        samples,
        prior=None,
        fixed=HAND_SET,
        l2=1.0,
        min_samples=0,
        source="routing.jsonl",
    )
    assert fitted is not None
    return fitted


def aurocs(outcomes: list[RowOutcome], kbs: list[str], key: str | None = None) -> list[float]:
    def score(o: RowOutcome) -> float:
        return float(o.analysis.confidence.parts.get(key) or 0.0) if key else o.confidence

    groups = [[o for o in outcomes if o.kb == kb] for kb in kbs] + [outcomes]
    return [auroc([o.row.answerable for o in g], [score(o) for o in g]) or 0.0 for g in groups]


def line(name: str, values: list[float]) -> str:
    return f"{name:<26}" + "".join(f"{v:>14.3f}" for v in values)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("png_dir", nargs="?", default="/tmp")
    parser.add_argument("--rows", default=str(ROWS))
    parser.add_argument("--threshold", type=float, help="human threshold (default: chosen)")
    args = parser.parse_args()
    settings = load_settings(
        {
            "SUPPORTBOT_DATA_DIR": "/tmp/supportbot-bench-routing",
            "SUPPORTBOT_EMBED_MODEL_PATH": os.environ.get(
                "SUPPORTBOT_EMBED_MODEL_PATH", str(MODELS / "all-MiniLM-L6-v2-onnx")
            ),
            "SUPPORTBOT_SPARSE_MODEL_PATH": os.environ.get(
                "SUPPORTBOT_SPARSE_MODEL_PATH", str(MODELS / "bm25")
            ),
        },
        env_file=None,
    )
    rows = load_rows(Path(args.rows))
    folders = resolve_kbs(rows, base=Path(args.rows).parent, default=None)
    started = time.perf_counter()
    outcomes = await run_routing(rows, folders, settings=settings)
    elapsed = time.perf_counter() - started
    kbs = list(dict.fromkeys(o.kb for o in outcomes))
    print(f"{len(outcomes)} rows, {len(kbs)} KBs, {elapsed:.0f} s (ingest + analyse)\n")
    print(
        f"{'AUROC':<26}"
        + "".join(f"{k.removeprefix('hint3_'):>14}" for k in kbs)
        + f"{'overall':>14}"
    )
    print(line("baseline top cosine", aurocs(outcomes, kbs, "top_score")))
    print(line("shipped defaults", aurocs(outcomes, kbs)))
    in_sample = fit(outcomes)
    print(
        line(
            "in-sample fit",
            aurocs(rescore(outcomes, calibration=in_sample, human_threshold=0), kbs),
        )
    )
    cross = []
    for kb in kbs:
        held_out = [o for o in outcomes if o.kb == kb]
        weights = fit([o for o in outcomes if o.kb != kb])
        scored = rescore(held_out, calibration=weights, human_threshold=0)
        cross.append(
            auroc([o.row.answerable for o in scored], [o.confidence for o in scored]) or 0.0
        )
    print(line("cross-set (leave-one-out)", cross))
    # Prequential: rows arrive shuffled and each, once scored, is decided as an agent would,
    # so learned answers and rejections take part (``eval routing --learn``).
    for seed in (0, 1):
        streamed = await run_routing(rows, folders, settings=settings, learn=True, seed=seed)
        print(line(f"with learning, seed {seed}", aurocs(streamed, kbs)))
        late = []
        for kb in kbs:
            stream = sorted((o for o in streamed if o.kb == kb), key=lambda o: o.position)
            late.extend(stream[len(stream) // 2:])
        print(line("  its second half", aurocs(late, kbs)))

    labels = [o.row.answerable for o in outcomes]
    threshold = (
        args.threshold
        if args.threshold is not None
        else best_threshold(labels, [o.confidence for o in outcomes])
    )
    print(
        f"\nhuman threshold: {threshold:.3f} "
        f"({'given' if args.threshold is not None else 'balanced-accuracy cut'})"
    )
    report = summarise(rescore(outcomes, human_threshold=threshold), human_threshold=threshold)
    print(format_table(report))
    default = settings.human_threshold
    at_default = summarise(rescore(outcomes, human_threshold=default), human_threshold=default)
    o = at_default.overall
    print(
        f"at the settings default {default:.2f}: review P {o.review_precision:.3f} "
        f"R {o.review_recall:.3f}, human P {o.human_precision:.3f} R {o.human_recall:.3f}"
    )
    print("\nin-sample weights (paste into DEFAULT_CALIBRATION):")
    print(
        f"  bias {in_sample.bias}, " + ", ".join(f"{k} {v}" for k, v in in_sample.weights.items())
    )
    png = reliability_png(
        Path(args.png_dir) / "routing_reliability.png",
        {
            kb: (
                [o.row.answerable for o in outcomes if o.kb == kb],
                [o.confidence for o in outcomes if o.kb == kb],
            )
            for kb in kbs
        },
        title="Confidence reliability on routing.jsonl (shipped defaults)",
    )
    print(f"\nreliability diagram: {png}")


if __name__ == "__main__":
    asyncio.run(main())
