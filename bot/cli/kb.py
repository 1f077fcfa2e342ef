"""``supportbot kb ingest | search | eval``: the knowledge base from the command line.

Progress goes to stderr so stdout stays parseable (``--json`` prints one JSON document; for
``eval`` the last stdout line is the metrics object the design promises).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from config import Settings
from knowledge import (
    SEARCH_MODES,
    EdgeStore,
    Embedder,
    KnowledgeBase,
    KnowledgeError,
    SearchMode,
    StoreError,
    VectorStore,
    open_vector_store,
)
from knowledge.evaluate import EvalError, evaluate, format_table, load_queries
from knowledge.index import DEFAULT_MODE


def progress_reporter(label: str) -> Any:
    """A progress callback printing to stderr: in place on a terminal, every 10% otherwise."""
    tty = sys.stderr.isatty()

    def report(done: int, total: int, _item: str) -> None:
        if tty:
            end = "\n" if done == total else ""
            print(f"\r{label} {done}/{total}", end=end, file=sys.stderr, flush=True)
        elif done == total or done % max(1, total // 10) == 0:
            print(f"{label} {done}/{total}", file=sys.stderr, flush=True)

    return report


@asynccontextmanager
async def _knowledge_base(
    settings: Settings, args: argparse.Namespace, *, isolated: bool = False
) -> AsyncIterator[KnowledgeBase]:
    """The configured KB, or a throw-away one (own local folder, or own server collection)."""
    mode: SearchMode = getattr(args, "mode", None) or DEFAULT_MODE
    embedder = Embedder.from_settings(settings)
    with tempfile.TemporaryDirectory(prefix="supportbot-eval-") as tmp:
        try:
            if isolated and not settings.qdrant_url:
                store: VectorStore = EdgeStore(root=Path(tmp))
            else:
                store = await open_vector_store(settings)
        except StoreError as exc:  # Edge: the shard is held by a running worker
            raise KnowledgeError(f"cannot open the Qdrant index: {exc}") from None
        collection = f"kb_eval_{uuid.uuid4().hex[:12]}" if isolated else "kb_chunks"
        kb = KnowledgeBase(store=store, embedder=embedder, collection=collection, mode=mode)
        try:
            yield kb
        finally:
            if isolated:
                await kb.drop()
            await store.close()


async def _cmd_ingest(settings: Settings, args: argparse.Namespace) -> int:
    """Ingest a folder (or one file) into the knowledge base; prints what changed."""
    path = Path(args.path)
    if not await asyncio.to_thread(path.exists):
        print(f"kb ingest: {path} does not exist", file=sys.stderr)
        return 2
    async with _knowledge_base(settings, args) as kb:
        report = await kb.ingest(path, progress=progress_reporter("ingest"))
    if args.json:
        print(json.dumps(asdict(report)))
    else:
        print(
            f"added {len(report.added)}, updated {len(report.updated)}, unchanged "
            f"{len(report.unchanged)}, removed {len(report.removed)}; {report.chunks} chunks"
        )
        for source, error in report.errors.items():
            print(f"error: {source}: {error}", file=sys.stderr)
    return 1 if report.errors else 0


async def _cmd_search(settings: Settings, args: argparse.Namespace) -> int:
    """Search the knowledge base and print the best documents."""
    async with _knowledge_base(settings, args) as kb:
        hits = await kb.search(args.query, args.limit)
    if args.json:
        print(json.dumps([{**asdict(h), "metadata": dict(h.metadata)} for h in hits]))
        return 0
    if not hits:
        print("no results (is the knowledge base ingested?)")
    for rank, hit in enumerate(hits, 1):
        snippet = " ".join(hit.text.split())[:100]
        print(f"{rank}. {hit.doc_id}  score {hit.score:.3f}  cosine {hit.dense_score:.3f}")
        print(f"   {hit.title}: {snippet}")
    return 0


async def _cmd_eval(settings: Settings, args: argparse.Namespace) -> int:
    """Evaluate retrieval on labelled queries, optionally on a KB folder ingested apart."""
    try:
        queries = load_queries(Path(args.queries))
    except (OSError, EvalError) as exc:
        print(f"kb eval: {exc}", file=sys.stderr)
        return 2
    if args.kb and not await asyncio.to_thread(Path(args.kb).is_dir):
        print(f"kb eval: --kb {args.kb} is not a folder", file=sys.stderr)
        return 2
    async with _knowledge_base(settings, args, isolated=bool(args.kb)) as kb:
        if args.kb:
            await kb.ingest(Path(args.kb), progress=progress_reporter("ingest"))
        await kb.search("warm up", 1)  # load models before timing queries

        async def ranked(query: str, limit: int) -> list[str]:
            return [hit.doc_id for hit in await kb.search(query, limit)]

        result = await evaluate(ranked, queries, progress=progress_reporter("eval"))
    print(format_table(result, f"kb eval: {args.queries} ({kb.mode})"))
    if args.json:
        print(json.dumps(result.as_json()))
    return 0


def _user_facing(
    command: Callable[[Settings, argparse.Namespace], Awaitable[int]],
) -> Callable[[Settings, argparse.Namespace], Awaitable[int]]:
    """Turn index problems (locked folder, wrong model dimension) into a message and exit 1."""

    async def run(settings: Settings, args: argparse.Namespace) -> int:
        try:
            return await command(settings, args)
        except KnowledgeError as exc:
            print(f"kb: {exc}", file=sys.stderr)
            return 1

    run.__doc__ = command.__doc__
    return run


cmd_ingest = _user_facing(_cmd_ingest)
cmd_search = _user_facing(_cmd_search)
cmd_eval = _user_facing(_cmd_eval)


def add_kb_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``kb ingest|search|eval``; each sets ``func(settings, args) -> int``."""
    kb: argparse.ArgumentParser = subparsers.add_parser(
        "kb", help="knowledge base: ingest, search, evaluate"
    )
    commands = kb.add_subparsers(dest="kb_command", required=True)

    ingest = commands.add_parser("ingest", help="index a folder of .md/.txt/.html files")
    ingest.add_argument("path", help="KB folder (or one file)")
    ingest.add_argument("--json", action="store_true", help="print the report as JSON")
    ingest.set_defaults(func=cmd_ingest)

    search = commands.add_parser("search", help="search the knowledge base")
    search.add_argument("query", help="what a customer might ask")
    search.add_argument("--limit", type=int, default=5, help="how many documents (default 5)")
    search.add_argument("--json", action="store_true", help="print the hits as JSON")
    search.add_argument("--mode", choices=SEARCH_MODES, help=f"ranking (default: {DEFAULT_MODE})")
    search.set_defaults(func=cmd_search)

    ev = commands.add_parser("eval", help="recall@k, MRR and latency on labelled queries")
    ev.add_argument("queries", help='JSON lines {"query": ..., "relevant": [doc ids]}')
    ev.add_argument("--kb", help="ingest this folder into an isolated index first")
    ev.add_argument("--json", action="store_true", help="last line: the metrics as JSON")
    ev.add_argument("--mode", choices=SEARCH_MODES, help=f"ranking (default: {DEFAULT_MODE})")
    ev.set_defaults(func=cmd_eval)
    return kb


__all__ = ["add_kb_parser", "cmd_eval", "cmd_ingest", "cmd_search"]
