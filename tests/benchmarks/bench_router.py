"""Router CPU benchmark: what one message costs in ``Router.analyse``, in CPU time.

Run: ``.venv/bin/python tests/benchmarks/bench_router.py [--messages 300] [--learned 40]
[--profile]``

The banking77 help centre (``../shared/datasets``) in Qdrant Edge, ``--learned`` approved
answers and as many rejections (earlier banking77 questions, so the learned-answer and
rejection searches have points to search), the offline drafter, then ``--messages`` other
banking77 questions through ``Router.analyse`` one after another, each a new text (the query
cache does not help). Nothing else runs, so the process's CPU time per message is the router's
own, and it stays comparable on a machine other people load (wall time does not).

Prints CPU ms per message for the whole process and for the event loop's thread, the CPU by
thread name (the event loop and the ``asyncio.to_thread`` workers that embed queries are all
named ``python``; Qdrant Edge's search threads ``edge-search-N``), and the model's own cost
per query measured alone. ``--profile`` adds a cProfile of the event loop's thread.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bot.app import build_services  # noqa: E402
from bot.store.db import migrate  # noqa: E402
from config import load_settings  # noqa: E402
from knowledge import Embedder  # noqa: E402

DATASET = REPO.parent / "shared" / "datasets" / "banking77"
MODELS = REPO.parent / "shared" / "models"


def process_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def thread_cpu_s() -> dict[str, tuple[str, float]]:
    """CPU seconds of each live thread of this process, by thread id: (name, seconds)."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        out[task.name] = (name, (int(fields[11]) + int(fields[12])) / ticks)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--learned", type=int, default=40)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows = [json.loads(line)["query"] for line in (DATASET / "queries.jsonl").open()]
    messages, earlier = rows[: args.messages], rows[-2 * args.learned :]
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings({
            "SUPPORTBOT_DATA_DIR": tmp, "SUPPORTBOT_KB_DIR": str(DATASET / "kb"),
            "SUPPORTBOT_DEMO": "false",
            "SUPPORTBOT_EMBED_MODEL_PATH": os.environ.get(
                "SUPPORTBOT_EMBED_MODEL_PATH", str(MODELS / "all-MiniLM-L6-v2-onnx")),
            "SUPPORTBOT_SPARSE_MODEL_PATH": os.environ.get(
                "SUPPORTBOT_SPARSE_MODEL_PATH", str(MODELS / "bm25")),
        }, env_file=None)
        await migrate(settings)
        async with build_services(settings) as services:
            assert services.knowledge and services.learned and services.rejected
            await services.knowledge.ingest(settings.kb_dir)
            for i, question in enumerate(earlier[: args.learned]):
                await services.learned.add(question, f"Here is how that works ({i}).",
                                           answer_id=f"answer-{i}")
            for i, question in enumerate(earlier[args.learned :]):
                await services.rejected.add(question, "Wrong article.",
                                            answer_id=f"rejected-{i}")
            await services.router.analyse("warm up")
            profile = cProfile.Profile() if args.profile else None
            threads0, cpu0, loop0 = thread_cpu_s(), process_cpu_s(), time.thread_time()
            wall0 = time.perf_counter()
            if profile:
                profile.enable()
            for text in messages:
                await services.router.analyse(text)
            if profile:
                profile.disable()
            wall = time.perf_counter() - wall0
            cpu, loop = process_cpu_s() - cpu0, time.thread_time() - loop0
            by_name: dict[str, float] = {}
            for tid, (name, seconds) in thread_cpu_s().items():
                by_name[name] = by_name.get(name, 0.0) + seconds - threads0.get(tid, (name, 0))[1]
            alone = Embedder(model_name=settings.embed_model,
                             model_path=settings.embed_model_path,
                             sparse_model_path=settings.sparse_model_path,
                             cache_dir=settings.data_dir / "models", query_cache_size=0)
            embed0 = process_cpu_s()
            for text in messages:
                alone.query(text)
            embed = process_cpu_s() - embed0
    n = len(messages)
    print(f"\nRouter.analyse: {n} banking77 messages, {args.learned} learned answers and "
          f"{args.learned} rejections stored, offline drafter, Qdrant Edge, "
          f"{os.cpu_count()} cores")
    print(f"  CPU per message: {cpu / n * 1000:.2f} ms (event loop thread "
          f"{loop / n * 1000:.2f} ms); wall {wall / n * 1000:.2f} ms")
    print("  CPU per message by thread name (the event loop's included): " + ", ".join(
        f"{name} {seconds / n * 1000:.2f} ms"
        for name, seconds in sorted(by_name.items(), key=lambda kv: -kv[1]) if seconds > 0))
    print(f"  the model alone: {embed / n * 1000:.2f} ms of CPU per query")
    if profile:
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    asyncio.run(main())
