"""Search cost as the knowledge base and the learned answers grow: Qdrant Edge vs local mode.

Run: ``.venv/bin/python tests/benchmarks/bench_scale.py [--articles 100,1000,4000,10000]
[--learned 0,10000,50000] [--queries 200] [--local-queries 40] [--engines edge,local]``

Help centres are generated from real customer utterances read at run time from
``../shared/datasets`` (the HINT3 and BANKING77 example questions, test queries and routing
messages; nothing of them is stored in this repository): each article has one utterance as
its title and three as its example questions, chunked by the product's chunker. Learned
answers pair one utterance as the question with another as the answer.

Each distinct utterance is embedded once with the real model and the points are written
through the product's own chunker and point layout (``knowledge.ingest``,
``knowledge.learned``), so building 10,000 articles and 50,000 learned answers takes minutes,
not an hour. An article's section chunk (its title and questions together) gets the mean of
its questions' dense vectors and its own BM25 vector, rather than 10,000 more model runs. What is
timed is the product's search path for one message, ``KnowledgeBase.search`` (hybrid, convex
fusion, typo-tolerant keywords, hit texts) plus ``LearnedAnswers.search``, with the query's
vectors already in the embedder's cache: the model's own ~4 ms per message is the same on
both engines and is reported apart. Queries are real test queries of the same datasets.

Prints per engine and size the p50/p95 per message, the ratio local mode / Edge, the growth
from the smallest to the largest help centre, build and index times and peak RSS (Edge runs
first, so the RSS printed after it is Edge's alone; it includes the benchmark's own vectors).

``--rss``: after the Edge run, a fresh process opens the largest Edge data as a worker would
(the real embedder, ``KnowledgeBase``, ``LearnedAnswers``), answers every query (embedding
included) and prints its peak RSS: the memory the vector store adds to a running supportbot.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from qdrant_client import AsyncQdrantClient  # noqa: E402

from knowledge import ClientStore, EdgeStore, Embedder, KnowledgeBase, VectorStore  # noqa: E402
from knowledge.chunking import chunk_document  # noqa: E402
from knowledge.embedder import SparseVec  # noqa: E402
from knowledge.evaluate import percentile  # noqa: E402
from knowledge.ingest import _point  # noqa: E402
from knowledge.learned import QA, QUESTION, LearnedAnswers, _point_id  # noqa: E402
from knowledge.loader import iter_kb_files, load_document  # noqa: E402
from knowledge.store import Point  # noqa: E402
from knowledge.types import Chunk, Document  # noqa: E402

SHARED = REPO.parent / "shared"
DATASETS = SHARED / "datasets"
SETS = ("banking77", "hint3_sofmattress", "hint3_curekart", "hint3_powerplay11")
QUESTIONS_PER_ARTICLE = 3
BATCH = 2048
TARGET_P50_MS = 5.0  # on Edge, 4,000 articles + 50,000 learned answers
TARGET_GROWTH = 2.0  # p50 at the largest help centre / at the smallest


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return rss_mb()


def utterances() -> tuple[list[str], list[str]]:
    """Real utterances (KB example questions, routing messages) and real test queries."""
    pool: set[str] = set()
    queries: list[str] = []
    for name in SETS:
        for path in iter_kb_files(DATASETS / name / "kb"):
            body = load_document(path, DATASETS / name / "kb").body
            pool.update(line[2:].strip() for line in body.splitlines() if line.startswith("- "))
        with (DATASETS / name / "queries.jsonl").open(encoding="utf-8") as handle:
            queries.extend(json.loads(line)["query"] for line in handle if line.strip())
    with (DATASETS / "routing.jsonl").open(encoding="utf-8") as handle:
        pool.update(json.loads(line)["text"] for line in handle if line.strip())
    # One line each, as an example question in a Markdown list keeps it.
    return sorted({" ".join(u.split()) for u in pool if 3 <= len(u) <= 300}), queries


def article(n: int, pool: Sequence[str], rng: random.Random) -> Document:
    """A generated FAQ article: a title and three example questions, as the datasets' are."""
    title, *asked = rng.sample(pool, 1 + QUESTIONS_PER_ARTICLE)
    body = f"# {title}\n\n## Example questions\n\n" + "".join(f"- {q}\n" for q in asked)
    return Document(doc_id=f"generated/{n:05d}", title=title, body=body,
                    source=f"generated/{n:05d}.md", content_hash=uuid.uuid4().hex,
                    format="markdown")


class Vectors:
    """Each distinct utterance embedded once (dense and BM25), in large batches."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.dense: dict[str, list[float]] = {}
        self.sparse: dict[str, SparseVec] = {}

    def add(self, texts: Sequence[str]) -> None:
        new = sorted({t for t in texts if t not in self.dense})
        for i in range(0, len(new), BATCH):
            part = new[i:i + BATCH]
            self.dense.update(zip(part, self.embedder.dense(part), strict=True))
            self.sparse.update(zip(part, self.embedder.sparse(part), strict=True))
            print(f"  embedded {min(i + BATCH, len(new))}/{len(new)} utterances",
                  file=sys.stderr, flush=True)

    def section(self, doc: Document, chunk: Chunk) -> tuple[list[float], SparseVec]:
        """A section chunk's vectors: the mean of the article's utterances, its own BM25."""
        if chunk.embed_text in self.dense:
            return self.dense[chunk.embed_text], self.sparse[chunk.embed_text]
        parts = [line[2:] for line in doc.body.splitlines() if line.startswith("- ")]
        mean = np.mean([self.dense[p] for p in [doc.title, *parts] if p in self.dense], axis=0)
        return (mean / np.linalg.norm(mean)).tolist(), self.embedder.sparse([chunk.text])[0]


def open_store(engine: str, folder: Path) -> VectorStore:
    if engine == "edge":
        return EdgeStore(root=folder / "edge")
    # Local mode keeps its points in Python either way; in memory skips pickling to disk.
    return ClientStore(client=AsyncQdrantClient(location=":memory:"))


async def grow_kb(kb: KnowledgeBase, docs: Sequence[Document], vectors: Vectors) -> float:
    """Write the articles' chunks as ``kb.ingest`` would; returns the seconds to index."""
    await kb.ensure_collection()
    points = []
    for doc in docs:
        chunks = chunk_document(doc, kb.chunking)
        points += [_point(kb, doc, c, len(chunks), *vectors.section(doc, c)) for c in chunks]
    for i in range(0, len(points), BATCH):
        await kb.store.upsert(kb.collection, points[i:i + BATCH])
    started = time.perf_counter()
    await kb.store.optimize(kb.collection)
    kb._forget_vocabulary()  # as after an ingest
    return time.perf_counter() - started


async def fill_learned(
    learned: LearnedAnswers, n: int, pool: Sequence[str], vectors: Vectors, rng: random.Random
) -> float:
    """``n`` learned answers laid out as ``LearnedAnswers.add`` writes them."""
    await learned.ensure_collection()
    stamp = "2026-01-01T00:00:00+00:00"
    batch: list[Point] = []
    for i in range(n):
        question, answer = rng.sample(pool, 2)
        q = np.asarray(vectors.dense[question])
        qa = q + 0.5 * np.asarray(vectors.dense[answer])
        answer_id = f"answer-{i}"
        batch.append(Point(_point_id(answer_id), {QUESTION: q.tolist(),
                                                  QA: (qa / np.linalg.norm(qa)).tolist()}, {
            "answer_id": answer_id, "question": question, "answer": answer, "approvals": 1,
            "merged_ids": [], "created_at": stamp, "updated_at": stamp, "metadata": {},
        }))
        if len(batch) == BATCH or i == n - 1:
            await learned.store.upsert(learned.collection, batch)
            batch = []
    started = time.perf_counter()
    await learned.store.optimize(learned.collection)
    return time.perf_counter() - started


Timings = tuple[list[float], list[float]]  # wall-clock ms, CPU ms of this process


async def time_messages(
    kb: KnowledgeBase, learned: LearnedAnswers, queries: Sequence[str]
) -> Timings:
    """Milliseconds of one message's searches (KB + learned), query vectors cached: wall
    clock, and the CPU time of this process (what the machine's other load cannot inflate)."""
    await kb.search(queries[0], 5)  # the vocabulary read after a change is not a search
    wall, cpu = [], []
    for query in queries:
        started, cpu_started = time.perf_counter(), time.process_time()
        await kb.search(query, 5)
        await learned.search(query, 3)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    return wall, cpu


async def run_engine(
    engine: str, args: argparse.Namespace, embedder: Embedder, pool: Sequence[str],
    vectors: Vectors, docs: Sequence[Document], queries: Sequence[str],
) -> dict[tuple[int, int], Timings]:
    sizes = sorted(int(a) for a in args.articles.split(","))
    learned_sizes = sorted(int(n) for n in args.learned.split(","))
    sample = list(queries[: args.queries if engine == "edge" else args.local_queries])
    results: dict[tuple[int, int], Timings] = {}
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        rss_dir = Path(tmp) / "edge"
        store = open_store(engine, Path(tmp))
        try:
            learned_by_size: dict[int, LearnedAnswers] = {}
            for n in learned_sizes:
                learned = LearnedAnswers(store=store, embedder=embedder,
                                         collection=f"learned_{n}")
                started = time.perf_counter()
                index_s = await fill_learned(learned, n, pool, vectors, random.Random(n))
                learned_by_size[n] = learned
                print(f"  [{engine}] {n} learned answers written in "
                      f"{time.perf_counter() - started:.1f}s (index {index_s:.1f}s)",
                      file=sys.stderr, flush=True)
            kb = KnowledgeBase(store=store, embedder=embedder)
            written = 0
            for size in sizes:
                started = time.perf_counter()
                index_s = await grow_kb(kb, docs[written:size], vectors)
                written = size
                points = await store.count(kb.collection)
                print(f"  [{engine}] {size} articles ({points} chunks) in "
                      f"{time.perf_counter() - started:.1f}s (index {index_s:.1f}s)",
                      file=sys.stderr, flush=True)
                for n, learned in learned_by_size.items():
                    results[(size, n)] = await time_messages(kb, learned, sample)
                    p, c = results[(size, n)]
                    print(f"  [{engine}] {size} articles + {n} learned: p50 "
                          f"{percentile(p, 50):.2f} ms, p95 {percentile(p, 95):.2f} ms, "
                          f"CPU p50 {percentile(c, 50):.2f} ms", file=sys.stderr, flush=True)
        finally:
            await store.close()
        if engine == "edge" and args.rss:
            measure_rss(rss_dir, max(learned_sizes), sample)
    gc.collect()
    return results


def measure_rss(root: Path, learned: int, queries: Sequence[str]) -> None:
    """Peak RSS of a fresh process searching the Edge data in ``root`` (see --rss)."""
    import subprocess

    out = subprocess.run(
        [sys.executable, __file__, "--rss-of", str(root), "--rss-learned", str(learned)],
        input="\n".join(queries), capture_output=True, text=True, check=True,
    ).stdout.strip()
    print(f"[edge] {out}", flush=True)


async def rss_of(root: Path, learned_collection: str) -> None:
    embedder = Embedder(
        model_name="sentence-transformers/all-MiniLM-L6-v2",
        model_path=Path(os.environ.get("SUPPORTBOT_EMBED_MODEL_PATH",
                                       SHARED / "models" / "all-MiniLM-L6-v2-onnx")),
        sparse_model_path=Path(os.environ.get("SUPPORTBOT_SPARSE_MODEL_PATH",
                                              SHARED / "models" / "bm25")),
        cache_dir=Path(tempfile.gettempdir()) / "supportbot-bench-models",
    )
    store = EdgeStore(root=root)
    kb = KnowledgeBase(store=store, embedder=embedder)
    learned = LearnedAnswers(store=store, embedder=embedder, collection=learned_collection)
    queries = [q for q in sys.stdin.read().splitlines() if q.strip()]
    for query in queries:
        await kb.search(query, 5)
        await learned.search(query, 3)
    chunks = await store.count(kb.collection)
    answers = await store.count(learned_collection)
    await store.close()
    hwm = peak_rss_mb()
    print(f"fresh process, {chunks} chunks + {answers} learned answers, {len(queries)} messages "
          f"searched (embedding included): peak RSS {hwm:.0f} MB")


def print_tables(by_engine: dict[str, dict[tuple[int, int], Timings]]) -> bool:
    engines = list(by_engine)
    keys = sorted(next(iter(by_engine.values())))
    print("\nSearch per message (KB search + learned search; query vectors cached), ms: "
          "wall-clock p50 / p95, and the process's CPU time p50")
    head = f"  {'articles':>8} {'learned':>8}"
    for e in engines:
        head += f" {e + ' p50':>11} {e + ' p95':>11} {e + ' cpu':>11}"
    if len(engines) == 2:
        head += f" {'ratio p50':>10} {'ratio cpu':>10}"
    print(head)
    for key in keys:
        line = f"  {key[0]:>8} {key[1]:>8}"
        for e in engines:
            p, c = by_engine[e][key]
            line += f" {percentile(p, 50):>11.2f} {percentile(p, 95):>11.2f}"
            line += f" {percentile(c, 50):>11.2f}"
        if len(engines) == 2:
            (a, ac), (b, bc) = ((percentile(by_engine[e][key][0], 50),
                                 percentile(by_engine[e][key][1], 50)) for e in engines)
            line += f" {b / a:>9.1f}x {bc / max(ac, 1e-3):>9.1f}x"
        print(line)
    ok = True
    if "edge" in by_engine:
        edge = {k: v[0] for k, v in by_engine["edge"].items()}
        sizes = sorted({k[0] for k in keys})
        for n in sorted({k[1] for k in keys}):
            growth = percentile(edge[(sizes[-1], n)], 50) / percentile(edge[(sizes[0], n)], 50)
            ok = ok and growth <= TARGET_GROWTH
            print(f"  edge growth {sizes[0]} -> {sizes[-1]} articles with {n} learned: "
                  f"x{growth:.2f} (target <= {TARGET_GROWTH}x)")
        target = (4000, max(k[1] for k in keys))
        if target in edge:
            p50 = percentile(edge[target], 50)
            ok = ok and p50 <= TARGET_P50_MS
            print(f"  edge p50 at {target[0]} articles + {target[1]} learned: {p50:.2f} ms "
                  f"(target <= {TARGET_P50_MS} ms)")
    return ok


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--articles", default="100,1000,4000,10000")
    parser.add_argument("--learned", default="0,10000,50000")
    parser.add_argument("--queries", type=int, default=200, help="timed per size on Edge")
    parser.add_argument("--local-queries", type=int, default=40,
                        help="timed per size on local mode (each costs up to ~0.5 s)")
    parser.add_argument("--engines", default="edge,local")
    parser.add_argument("--rss", action="store_true", help="measure a fresh process's RSS")
    parser.add_argument("--rss-of", help=argparse.SUPPRESS)
    parser.add_argument("--rss-learned", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_of:
        await rss_of(Path(args.rss_of), f"learned_{args.rss_learned}")
        return 0
    started = time.perf_counter()
    embedder = Embedder(
        model_name="sentence-transformers/all-MiniLM-L6-v2",
        model_path=Path(os.environ.get("SUPPORTBOT_EMBED_MODEL_PATH",
                                       SHARED / "models" / "all-MiniLM-L6-v2-onnx")),
        sparse_model_path=Path(os.environ.get("SUPPORTBOT_SPARSE_MODEL_PATH",
                                              SHARED / "models" / "bm25")),
        cache_dir=Path(tempfile.gettempdir()) / "supportbot-bench-models",
    )
    pool, all_queries = utterances()
    rng = random.Random(14)
    queries = rng.sample(all_queries, max(args.queries, args.local_queries))
    largest = max(int(a) for a in args.articles.split(","))
    docs = [article(n, pool, rng) for n in range(largest)]
    vectors = Vectors(embedder)
    vectors.add(pool)
    embed_ms = []
    for query in queries:  # the query vectors go to the embedder's cache, timed once each
        t = time.perf_counter()
        await embedder.aquery(query)
        embed_ms.append((time.perf_counter() - t) * 1000)
    print(f"{len(pool)} distinct utterances embedded, {len(docs)} articles generated, "
          f"{len(queries)} queries ({time.perf_counter() - started:.0f}s); query embedding "
          f"p50 {statistics.median(embed_ms):.1f} ms (both engines, not in the figures below)",
          flush=True)
    by_engine: dict[str, dict[tuple[int, int], Timings]] = {}
    rss: dict[str, float] = {}
    for engine in args.engines.split(","):
        t = time.perf_counter()
        by_engine[engine] = await run_engine(engine, args, embedder, pool, vectors, docs,
                                             queries)
        rss[engine] = rss_mb()
        print(f"[{engine}] done in {time.perf_counter() - t:.0f}s, peak RSS so far "
              f"{rss[engine]:.0f} MB", flush=True)
    ok = print_tables(by_engine)
    print("\npeak RSS after each engine (cumulative, Edge first): "
          + ", ".join(f"{e} {v:.0f} MB" for e, v in rss.items()))
    print(f"total {time.perf_counter() - started:.0f}s, {os.cpu_count()} cores; "
          f"targets {'MET' if ok else 'NOT MET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
