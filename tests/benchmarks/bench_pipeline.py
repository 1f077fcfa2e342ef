"""Pipeline benchmark: webhook messages through accept → inbox → router (offline drafter) →
outbox, on SQLite and on PostgreSQL, with the real embedding model and Qdrant Edge in-process.

Run: .venv/bin/python tests/benchmarks/bench_pipeline.py [--messages N] [--backends sqlite,postgres]
Prints throughput, accept→decision p50/p99, the per-stage breakdown, the bare embed+search cost
per message (measured in the same run before and after it, on a cold query cache; the lower is
kept), the router's overhead outside
embedding and search, CPU time per message (steadier than wall time on a shared machine) and
peak RSS (after ingest and after each backend; the Edge shards are ingested once and shared).
Set SUPPORTBOT_EMBED_MODEL_PATH to the int8 folder for the int8 rows, and
SUPPORTBOT_WORKER_CONCURRENCY to try another number of messages in flight (default 8).

``--articles N`` answers from a generated help centre of N articles instead of banking77's 77
(bench_scale.py's generator: real utterances from the shared datasets, a title and three
example questions each, written as Markdown files). Its points are written from each
utterance's vectors in a separate process first, as bench_scale does, so the run's ingest
finds them unchanged and the peak RSS is the pipeline's own.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bot.app import build_services, create_web_app  # noqa: E402
from bot.store.db import migrate  # noqa: E402
from bot.store.models import Draft, InboxItem, Message, QueueStatus  # noqa: E402
from config import load_settings  # noqa: E402
from knowledge import Embedder, KnowledgeBase  # noqa: E402

DATASET = REPO.parent / "shared" / "datasets" / "banking77"
MODELS = REPO.parent / "shared" / "models"
PG_ADMIN = os.environ.get("SUPPORTBOT_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
SECRET = "bench"


def peak_rss_mb() -> float:
    """The process's peak resident set so far (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def bare_costs(knowledge: KnowledgeBase, queries: list[str]) -> tuple[float, float]:
    """Mean ms per query of embedding alone and of embed + hybrid search, on a cold cache.

    A fresh embedder (the loaded models are shared per process) with no query cache, so the
    messages the pipeline just embedded are embedded again, as a new message would be.
    """
    cold = Embedder(model_name=knowledge.embedder.model_name,
                    model_path=knowledge.embedder.model_path,
                    sparse_model_path=knowledge.embedder.sparse_model_path,
                    cache_dir=knowledge.embedder.cache_dir, query_cache_size=0)
    bare = KnowledgeBase(store=knowledge.store, embedder=cold, collection=knowledge.collection)
    t0 = time.perf_counter()
    for q in queries:
        await cold.aquery(q)
    embed_ms = (time.perf_counter() - t0) / len(queries) * 1000
    t0 = time.perf_counter()
    for q in queries:
        await bare.search(q, limit=5)
    return embed_ms, (time.perf_counter() - t0) / len(queries) * 1000


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def env_for(data_dir: Path, database_url: str | None,
            kb_dir: Path = DATASET / "kb") -> dict[str, str]:
    env = {
        "SUPPORTBOT_DATA_DIR": str(data_dir),
        "SUPPORTBOT_KB_DIR": str(kb_dir),
        "SUPPORTBOT_WEBHOOK_BENCH_SECRET": SECRET,
        "SUPPORTBOT_DEMO": "false",
        "SUPPORTBOT_EMBED_MODEL_PATH": os.environ.get(
            "SUPPORTBOT_EMBED_MODEL_PATH", str(MODELS / "all-MiniLM-L6-v2-onnx")),
        "SUPPORTBOT_SPARSE_MODEL_PATH": os.environ.get(
            "SUPPORTBOT_SPARSE_MODEL_PATH", str(MODELS / "bm25")),
    }
    if os.environ.get("SUPPORTBOT_WORKER_CONCURRENCY"):
        env["SUPPORTBOT_WORKER_CONCURRENCY"] = os.environ["SUPPORTBOT_WORKER_CONCURRENCY"]
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


async def fresh_pg() -> tuple[str, str]:
    name = f"supportbot_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(PG_ADMIN)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return PG_ADMIN.rpartition("/")[0] + "/" + name, name


async def drop_pg(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


def signed(body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    ts = str(int(time.time()))
    mac = hmac.new(SECRET.encode(), ts.encode() + b"." + raw, hashlib.sha256).hexdigest()
    return raw, {"Content-Type": "application/json", "X-Supportbot-Timestamp": ts,
                 "X-Supportbot-Signature": f"sha256={mac}"}


async def generated_kb(articles: int, folder: Path, edge_dir: Path) -> None:
    """Write a generated help centre of ``articles`` files to ``folder`` and its points to the
    Edge shard in ``edge_dir``, from each distinct utterance's vectors (see bench_scale)."""
    sys.path.insert(0, str(REPO / "tests" / "benchmarks"))
    from bench_scale import Vectors, article, grow_kb, utterances

    from knowledge import EdgeStore
    from knowledge.loader import iter_kb_files, load_document

    pool, _ = utterances()
    rng = random.Random(14)
    for n in range(articles):
        doc = article(n, pool, rng)
        path = folder / f"{doc.doc_id}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(doc.body, encoding="utf-8")
    docs = [load_document(path, folder) for path in iter_kb_files(folder)]
    settings = load_settings(env_for(folder, None, folder), env_file=None)
    embedder = Embedder.from_settings(settings)
    vectors = Vectors(embedder)
    vectors.add(pool)
    store = EdgeStore(root=edge_dir)
    try:
        await grow_kb(KnowledgeBase(store=store, embedder=embedder), docs, vectors)
    finally:
        await store.close()


async def run_backend(backend: str, queries: list[str], qdrant_dir: Path,
                      kb_dir: Path = DATASET / "kb") -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        pg_name = None
        url = None
        if backend == "postgres":
            url, pg_name = await fresh_pg()
        settings = load_settings(env_for(Path(tmp), url, kb_dir), env_file=None)
        # Share the ingested Edge shards between backends (ingest cost is not the subject).
        settings = settings.model_copy(update={"data_dir": Path(tmp)})
        (Path(tmp) / "edge").symlink_to(qdrant_dir, target_is_directory=True)
        await migrate(settings)
        try:
            async with build_services(settings) as services:
                assert services.knowledge is not None
                report = await services.knowledge.ingest(settings.kb_dir)
                if report.added or report.updated:  # the generated points are current
                    print(f"[{backend}] ingest embedded {len(report.added)} new and "
                          f"{len(report.updated)} changed documents", flush=True)
                await services.knowledge.search("warm up")
                rss_ingest = peak_rss_mb()
                # The bare cost of what the router cannot avoid (embed + hybrid search), before
                # the run and again after it; the lower is kept. That is conservative (a lower
                # bare cost means a larger overhead) and keeps the database's own after-load
                # work (PostgreSQL autovacuum, checkpoints) out of the retrieval figure.
                bare_before = await bare_costs(services.knowledge, queries[:300])
                cpu0 = cpu_s()
                loop_cpu0 = time.thread_time()  # this thread runs the event loop
                app = create_web_app(services)
                transport = httpx.ASGITransport(app=app)
                stop = asyncio.Event()
                accept_ms: list[float] = []
                started = time.perf_counter()
                worker = asyncio.create_task(services.worker.run(stop))
                async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                    sem = asyncio.Semaphore(16)

                    async def post(i: int, text: str) -> None:
                        raw, headers = signed({"conversation_id": f"c{i}", "message_id": f"m{i}",
                                               "sender": {"id": f"u{i % 300}"}, "text": text})
                        async with sem:
                            t0 = time.perf_counter()
                            r = await http.post("/webhook/bench", content=raw, headers=headers)
                            accept_ms.append((time.perf_counter() - t0) * 1000)
                        assert r.status_code == 202, r.text

                    await asyncio.gather(*(post(i, q) for i, q in enumerate(queries)))
                    # The database is the only signal that the worker is done; poll it.
                    while await InboxItem.filter(status=QueueStatus.PENDING).exists():  # noqa: ASYNC110
                        await asyncio.sleep(0.05)
                elapsed = time.perf_counter() - started
                cpu_ms = (cpu_s() - cpu0) / len(queries) * 1000
                loop_cpu_ms = (time.thread_time() - loop_cpu0) / len(queries) * 1000
                stop.set()
                await worker
                rss_end = peak_rss_mb()
                drafts = await Draft.all().values("message_id", "created_at", "timings_ms",
                                                  "decision")
                received = dict(await Message.filter(direction="in").values_list(
                    "id", "created_at"))
                latencies = [(d["created_at"] - received[d["message_id"]]).total_seconds() * 1000
                             for d in drafts]
                stages: dict[str, list[float]] = {}
                for d in drafts:
                    for k, v in d["timings_ms"].items():
                        stages.setdefault(k, []).append(v)
                bare_after = await bare_costs(services.knowledge, queries[:300])
                embed_ms, search_ms = min(bare_before, bare_after, key=lambda c: c[1])
        finally:
            if pg_name:
                await drop_pg(pg_name)
    decisions: dict[str, int] = {}
    for d in drafts:
        decisions[d["decision"]] = decisions.get(d["decision"], 0) + 1
    per_msg_ms = elapsed / len(queries) * 1000
    return {
        "backend": backend, "messages": len(queries), "drafts": len(drafts),
        "throughput": len(queries) / elapsed, "per_msg_ms": per_msg_ms,
        "accept_p50": pct(accept_ms, 0.5), "accept_p99": pct(accept_ms, 0.99),
        "decision_p50": pct(latencies, 0.5), "decision_p99": pct(latencies, 0.99),
        "stages": {k: statistics.median(v) for k, v in stages.items()},
        "search_ms": search_ms, "embed_ms": embed_ms, "decisions": decisions,
        "cpu_ms": cpu_ms, "loop_cpu_ms": loop_cpu_ms, "rss_ingest": rss_ingest, "rss_end": rss_end,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--articles", type=int, default=0,
                        help="answer from a generated help centre of N articles")
    parser.add_argument("--generate", nargs=2, metavar=("KB_DIR", "EDGE_DIR"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.generate:
        await generated_kb(args.articles, Path(args.generate[0]), Path(args.generate[1]))
        return
    rows = [json.loads(line) for line in (DATASET / "queries.jsonl").open()]
    queries = [rows[i % len(rows)]["query"] for i in range(args.messages)]
    results = []
    with tempfile.TemporaryDirectory() as qdrant_home, \
            tempfile.TemporaryDirectory() as generated:
        kb_dir, kb_name = DATASET / "kb", "banking77's 77 articles"
        if args.articles:
            kb_dir, kb_name = Path(generated), f"{args.articles} generated articles"
            started = time.perf_counter()
            child = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--articles", str(args.articles),
                "--generate", generated, qdrant_home)
            if await child.wait():
                raise SystemExit(f"generating the help centre failed ({child.returncode})")
            print(f"{kb_name} written in {time.perf_counter() - started:.0f}s", flush=True)
        for backend in args.backends.split(","):
            results.append(await run_backend(backend, queries, Path(qdrant_home), kb_dir))
    model = Path(env_for(Path("."), None)["SUPPORTBOT_EMBED_MODEL_PATH"]).name
    print(f"\nPipeline: {args.messages} webhook messages (banking77 queries) against "
          f"{kb_name}, offline drafter, {model} + BM25, Qdrant Edge, {os.cpu_count()} cores\n")
    print("| backend | msgs/s | CPU ms/msg (event loop) | accept p50 / p99 ms | "
          "accept→decision p50 / p99 ms | per msg ms | embed ms | embed+search ms | "
          "overhead outside embed+search | "
          "peak RSS after ingest / run MB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        overhead = max(0.0, 1 - r["search_ms"] / r["per_msg_ms"])
        print(f"| {r['backend']} | {r['throughput']:.1f} | "
              f"{r['cpu_ms']:.1f} ({r['loop_cpu_ms']:.1f}) | "
              f"{r['accept_p50']:.1f} / {r['accept_p99']:.1f} | "
              f"{r['decision_p50']:.0f} / {r['decision_p99']:.0f} | {r['per_msg_ms']:.1f} | "
              f"{r['embed_ms']:.1f} | {r['search_ms']:.1f} | {overhead:.0%} | "
              f"{r['rss_ingest']:.0f} / {r['rss_end']:.0f} |")
    print("\nMedian per-stage time inside the router (ms; total = Router.analyse), and the share "
          "of the router's own time outside retrieval:\n")
    names = sorted({k for r in results for k in r["stages"]})
    print("| backend | " + " | ".join(names) + " | outside retrieve |")
    print("|---|" + "---|" * (len(names) + 1))
    for r in results:
        st = r["stages"]
        outside = 1 - st.get("retrieve", 0) / st["total"] if st.get("total") else 0.0
        print(f"| {r['backend']} | " + " | ".join(f"{st.get(n, 0):.2f}" for n in names)
              + f" | {outside:.0%} |")
    print("\nDecisions: " + "; ".join(f"{r['backend']}: {r['decisions']}" for r in results))
    print(f"Peak RSS of the whole run: {peak_rss_mb():.0f} MB (target ≤ 600 MB)")


if __name__ == "__main__":
    asyncio.run(main())
