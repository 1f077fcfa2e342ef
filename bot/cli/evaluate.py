"""``supportbot eval routing | replay``: measure routing and drafting before a change ships.

Progress goes to stderr so stdout stays parseable; with ``--json`` the last stdout line is
the summary object.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.kb import progress_reporter
from config import Settings

if TYPE_CHECKING:
    from bot.pipeline.drafting.base import Drafter

# The evaluation, router and drafter modules are imported by the commands that use them:
# every ``supportbot`` invocation builds this parser, and ``--help`` should not pay for them.


async def cmd_routing(settings: Settings, args: argparse.Namespace) -> int:
    """AUROC of confidence and the review/human split on labelled messages."""
    from bot.evaluation.plot import reliability_png
    from bot.evaluation.routing import RoutingEvalError, load_rows, resolve_kbs, run_routing
    from bot.evaluation.routing_report import format_table as routing_table
    from bot.evaluation.routing_report import learning_table
    from bot.evaluation.routing_report import summarise as routing_summary
    from bot.pipeline.drafting.offline import OfflineDrafter

    path = Path(args.rows)
    try:
        rows = load_rows(path)
        if not rows:
            raise RoutingEvalError(f"{path}: no rows")
        default = Path(args.kb) if args.kb else settings.kb_dir
        folders = resolve_kbs(rows, base=Path(args.kb) if args.kb else path.parent, default=default)
        from bot.pipeline.drafting.factory import make_drafter

        drafter: Drafter = OfflineDrafter() if args.offline else make_drafter(settings)
        try:
            outcomes = await run_routing(
                rows, folders, settings=settings, progress=progress_reporter("analyse"),
                learn=args.learn, seed=args.seed, drafter=drafter,
            )
        finally:
            await drafter.aclose()
    except RoutingEvalError as exc:
        print(f"eval routing: {exc}", file=sys.stderr)
        return 2
    report = routing_summary(outcomes, human_threshold=settings.human_threshold)
    print(routing_table(report))
    if args.learn:
        print(learning_table(outcomes))
    if args.plot:
        kbs = list(dict.fromkeys(o.kb for o in outcomes))
        series = {
            kb: (
                [o.row.answerable for o in outcomes if o.kb == kb],
                [o.confidence for o in outcomes if o.kb == kb],
            )
            for kb in kbs
        }
        png = reliability_png(Path(args.plot), series, title=f"Confidence reliability: {path.name}")
        print(f"reliability diagram: {png}")
    if args.json:
        print(json.dumps(report.as_json()))
    return 0


async def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    """Replay stored conversations through the current pipeline; send nothing."""
    from bot.evaluation.replay import (
        current_auto_policy,
        format_table,
        load_cases,
        replay,
        summarise,
    )
    from bot.flow.router import Router
    from bot.ops.stats import parse_window
    from bot.pipeline.drafting.factory import make_drafter
    from bot.pipeline.intent_reader import IntentReader
    from bot.ports import NullNotifier
    from bot.store import db
    from knowledge import Embedder, KnowledgeBase, open_vector_store
    from knowledge.learned import LearnedAnswers

    try:
        window = parse_window(args.since)
    except ValueError as exc:
        print(f"eval replay: {exc}", file=sys.stderr)
        return 2
    since = datetime.now(UTC) - window
    async with db.database(settings):
        cases = await load_cases(since=since, limit=args.limit)
        threshold, paused = await current_auto_policy(settings)
        store = await open_vector_store(settings)
        embedder = Embedder.from_settings(settings)
        drafter: Drafter = make_drafter(settings)
        try:
            knowledge = KnowledgeBase(store=store, embedder=embedder)
            learned = (
                LearnedAnswers(store=store, embedder=embedder) if args.with_learned else None
            )
            router = Router(
                settings=settings,
                knowledge=knowledge,
                learned=learned,
                drafter=drafter,
                notifier=NullNotifier(),
                intent_reader=(IntentReader(embed=embedder.dense)
                               if settings.intent_reader else None),
            )
            results = await replay(
                cases,
                analyser=router,
                auto_send_threshold=threshold,
                paused_channels=paused,
                embed=embedder.adense,
            )
        finally:
            await drafter.aclose()
            await store.close()
    summary = summarise(results, auto_send_threshold=threshold)
    print(format_table(results, summary))
    if args.json:
        print(json.dumps(summary))
    return 0


def add_eval_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``eval routing|replay``; each sets ``func(settings, args) -> int`` (async)."""
    ev: argparse.ArgumentParser = subparsers.add_parser(
        "eval", help="evaluate routing and drafting"
    )
    commands = ev.add_subparsers(dest="eval_command", required=True)

    routing = commands.add_parser(
        "routing", help="confidence AUROC and review/human split on labelled messages"
    )
    routing.add_argument(
        "rows", help='JSON lines {"text", "label": "answerable"|"out_of_scope", "kb"}'
    )
    routing.add_argument(
        "--kb",
        help="folder holding the rows' kb folders (default: the file's folder); "
        "the knowledge folder for rows without a kb",
    )
    routing.add_argument("--json", action="store_true", help="last line: the metrics as JSON")
    routing.add_argument("--plot", help="write a reliability diagram PNG here")
    routing.add_argument(
        "--learn",
        action="store_true",
        help="prequential: rows arrive shuffled and each, once scored, is decided as an agent "
        "would (answerable approved, out-of-scope rejected), teaching the rows after it",
    )
    routing.add_argument("--seed", type=int, default=0, help="arrival order with --learn")
    routing.add_argument(
        "--offline",
        action="store_true",
        help="use the offline drafter even when ANTHROPIC_API_KEY is set (by default Claude "
        "drafts every row, so its grounding check counts: one API call per row)",
    )
    routing.set_defaults(func=cmd_routing)

    rep = commands.add_parser("replay", help="replay stored conversations; sends nothing")
    rep.add_argument("--since", default="7d", help="window, e.g. 24h, 7d, 4w (default 7d)")
    rep.add_argument("--limit", type=int, help="only the N most recent cases")
    rep.add_argument("--json", action="store_true", help="last line: the summary as JSON")
    rep.add_argument(
        "--with-learned",
        action="store_true",
        help="also retrieve learned answers (they include the answers being compared, "
        "so similarity is optimistic)",
    )
    rep.set_defaults(func=cmd_replay)
    return ev


__all__ = ["add_eval_parser", "cmd_replay", "cmd_routing"]
