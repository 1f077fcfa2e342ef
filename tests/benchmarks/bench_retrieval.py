"""Retrieval benchmark on the four labelled dev sets in ../shared/datasets.

Run: ``.venv/bin/python tests/benchmarks/bench_retrieval.py [--models fp32,int8] [--sets a,b]
[--engines edge,local]``

For each model, engine (Qdrant Edge in-process, or qdrant-client's local mode: the stand-in for
the server API) and set: ingest ``kb/`` into a throw-away store, rank every query of
``queries.jsonl`` under each search mode (dense, sparse, Qdrant RRF, Qdrant DBSF, our convex
fusion) from one embedding per query, and a plain BM25 baseline (rank_bm25 over whole
documents, lowercase word tokens). Prints per-set tables, averages and medians, ratios of
the default to dense-only and to BM25, and whether the targets hold.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qdrant_client import AsyncQdrantClient  # noqa: E402
from rank_bm25 import BM25Okapi  # noqa: E402

from knowledge import (  # noqa: E402
    SEARCH_MODES,
    ClientStore,
    EdgeStore,
    Embedder,
    KnowledgeBase,
    VectorStore,
)
from knowledge.evaluate import EvalResult, load_queries, percentile, score_rankings  # noqa: E402
from knowledge.index import DEFAULT_MODE  # noqa: E402
from knowledge.loader import iter_kb_files, load_document  # noqa: E402

SHARED = REPO.parent / "shared"
SETS = ("hint3_sofmattress", "hint3_curekart", "hint3_powerplay11", "banking77")
MODELS = {
    "fp32": SHARED / "models" / "all-MiniLM-L6-v2-onnx",
    "int8": SHARED / "models" / "all-MiniLM-L6-v2-onnx-int8",
}
METHODS = (*SEARCH_MODES, "bm25")
TARGET_R1, TARGET_R3 = 0.82, 0.95
LATENCY_SAMPLE = 200  # default-mode queries timed on their own per set


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def bm25_baseline(kb_dir: Path) -> tuple[list[str], BM25Okapi]:
    """rank_bm25 over whole documents (title and body), lowercase word tokens."""
    docs = [load_document(path, kb_dir) for path in iter_kb_files(kb_dir)]
    return [d.doc_id for d in docs], BM25Okapi([_tokens(f"{d.title}\n{d.body}") for d in docs])


def open_store(engine: str, folder: str) -> VectorStore:
    """``edge``: Qdrant Edge shards in ``folder``; ``local``: qdrant-client's local mode."""
    if engine == "edge":
        return EdgeStore(root=Path(folder))
    return ClientStore(client=AsyncQdrantClient(path=folder))


async def run_set(
    embedder: Embedder, name: str, engine: str = "edge"
) -> tuple[dict[str, EvalResult], dict[str, float]]:
    """Metrics of every method on one dev set, and timings (ingest s, query p50/p95 ms)."""
    kb_dir = SHARED / "datasets" / name / "kb"
    queries = load_queries(SHARED / "datasets" / name / "queries.jsonl")
    ids, bm25 = bm25_baseline(kb_dir)
    with tempfile.TemporaryDirectory() as tmp:
        client = open_store(engine, tmp)
        kb = KnowledgeBase(store=client, embedder=embedder)
        started = time.perf_counter()
        report = await kb.ingest(kb_dir)
        ingest_s = time.perf_counter() - started
        rankings: dict[str, list[list[str]]] = {m: [] for m in METHODS}
        for item in queries:
            by_mode = await kb.rankings(item.query, 10, modes=SEARCH_MODES)
            for mode, hits in by_mode.items():
                rankings[mode].append([h.doc_id for h in hits])
            scores = bm25.get_scores(_tokens(item.query))
            order = sorted(range(len(ids)), key=lambda i: -scores[i])[:10]
            rankings["bm25"].append([ids[i] for i in order])
        latencies = []
        for item in queries[:LATENCY_SAMPLE]:
            started = time.perf_counter()
            await kb.search(item.query, 5)
            latencies.append((time.perf_counter() - started) * 1000)
        await client.close()
    results = {m: score_rankings(r, queries) for m, r in rankings.items()}
    timings = {
        "ingest_s": ingest_s,
        "chunks": float(report.chunks),
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
    }
    return results, timings


def _row(label: str, values: list[float]) -> str:
    return f"  {label:<18}" + "".join(f"{v:>9.3f}" for v in values)


def print_model(
    model: str, per_set: dict[str, dict[str, EvalResult]], timing: dict[str, dict[str, float]]
) -> bool:
    """Print one model's tables; return True when the default meets every target."""
    header = f"  {'':<18}" + "".join(f"{h:>9}" for h in ("R@1", "R@3", "R@5", "MRR"))
    for name, results in per_set.items():
        t = timing[name]
        print(
            f"\n[{model}] {name}: {results['dense'].queries} queries, {int(t['chunks'])} chunks, "
            f"ingest {t['ingest_s']:.1f}s, default search p50 {t['p50_ms']:.1f} ms / "
            f"p95 {t['p95_ms']:.1f} ms"
        )
        print(header)
        for method in METHODS:
            r = results[method]
            label = f"{method} (default)" if method == DEFAULT_MODE else method
            print(_row(label, [r.recall_at_1, r.recall_at_3, r.recall_at_5, r.mrr]))
    print(f"\n[{model}] over {len(per_set)} sets: mean R@1 / R@3 / R@5 / MRR | median R@3")
    print(f"  {'':<18}{'R@1':>9}{'R@3':>9}{'R@5':>9}{'MRR':>9}{'med R@3':>9}")
    for method in METHODS:
        rs = [per_set[s][method] for s in per_set]
        means = [
            statistics.fmean(getattr(r, k) for r in rs)
            for k in ("recall_at_1", "recall_at_3", "recall_at_5", "mrr")
        ]
        print(_row(method, [*means, statistics.median(r.recall_at_3 for r in rs)]))
    print(f"\n[{model}] ratios of the default ({DEFAULT_MODE}) R@3: to dense-only, to BM25")
    ok = True
    for name, results in per_set.items():
        d, dense, bm = results[DEFAULT_MODE], results["dense"], results["bm25"]
        above_bm25 = d.recall_at_3 > bm.recall_at_3 and d.recall_at_1 > bm.recall_at_1
        not_below = d.recall_at_3 >= dense.recall_at_3 and d.recall_at_1 >= dense.recall_at_1
        ok = ok and above_bm25 and not_below
        print(
            f"  {name:<20} x{d.recall_at_3 / dense.recall_at_3:.3f} dense  "
            f"x{d.recall_at_3 / bm.recall_at_3:.3f} bm25  "
            f"{'ok' if above_bm25 else 'NOT above bm25'}, "
            f"{'ok' if not_below else 'BELOW dense'}"
        )
    mean_r1 = statistics.fmean(per_set[s][DEFAULT_MODE].recall_at_1 for s in per_set)
    mean_r3 = statistics.fmean(per_set[s][DEFAULT_MODE].recall_at_3 for s in per_set)
    ok = ok and mean_r1 >= TARGET_R1 and mean_r3 >= TARGET_R3
    print(
        f"  targets: mean R@1 {mean_r1:.3f} (>= {TARGET_R1}), mean R@3 {mean_r3:.3f} "
        f"(>= {TARGET_R3}) -> {'MET' if ok else 'NOT MET'}"
    )
    return ok


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--models", default="fp32,int8")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--engines", default="edge,local")
    args = parser.parse_args(argv)
    all_ok = True
    for model, engine in [(m, e) for m in args.models.split(",")
                          for e in args.engines.split(",")]:
        embedder = Embedder(
            model_name="sentence-transformers/all-MiniLM-L6-v2",
            model_path=MODELS[model],
            sparse_model_path=SHARED / "models" / "bm25",
            cache_dir=Path(tempfile.gettempdir()) / "supportbot-bench-models",
        )
        per_set: dict[str, dict[str, EvalResult]] = {}
        timing: dict[str, dict[str, float]] = {}
        for name in args.sets.split(","):
            print(f"[{model} {engine}] {name} ...", file=sys.stderr, flush=True)
            per_set[name], timing[name] = await run_set(embedder, name, engine)
        all_ok = print_model(f"{model} {engine}", per_set, timing) and all_ok
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
