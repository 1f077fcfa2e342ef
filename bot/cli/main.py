"""``supportbot`` command line: run | web | worker | migrate | doctor | kb … | ask | stats."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shlex
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from bot import __version__
from bot.cli.doctor import add_doctor_parser
from bot.cli.evaluate import add_eval_parser
from bot.cli.kb import add_kb_parser
from bot.pipeline.redact import RedactingFilter
from bot.store import db
from config import Settings, SettingsError, load_settings

log = logging.getLogger("supportbot")

Command = Callable[[Settings, argparse.Namespace], Awaitable[int]]


def _configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=settings.log_level, handlers=[handler], force=True)
    for noisy in ("httpx", "httpcore", "tortoise", "aiosqlite", "asyncio", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    await db.migrate(settings)
    print(f"migrations applied ({_db_label(settings)})")
    return 0


def _db_label(settings: Settings) -> str:
    return "SQLite in " + str(settings.data_dir) if settings.embedded else "DATABASE_URL"


async def cmd_web(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import build_services, create_web_app, serve_http

    # A Qdrant Edge shard admits one process: web processes search only against a server.
    async with build_services(settings, with_knowledge=settings.qdrant_url is not None) as services:
        stop = _stop_event()
        host, port = args.host or settings.web_host, args.port or settings.web_port
        log.info("web listening on http://%s:%s", host, port)
        await serve_http(create_web_app(services), host=host, port=port, stop=stop,
                         services=services)
    return 0


async def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import build_services, run_worker, serve_ops

    port = settings.worker_port if args.metrics_port is None else args.metrics_port
    async with build_services(settings, check_llm=True) as services:
        stop = _stop_event()
        log.info("worker running (drafter: %s)", drafter_label(
            settings, problem=services.drafter_problem, offline=services.drafter_offline))
        async with asyncio.TaskGroup() as group:
            group.create_task(run_worker(services, stop))
            if port is not None:
                group.create_task(serve_ops(services, host=settings.web_host, port=port,
                                            stop=stop))
    return 0


async def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import build_services, create_web_app, run_worker, serve_http

    await db.migrate(settings)
    async with build_services(settings, check_llm=True) as services:
        if services.knowledge is not None and settings.kb_dir.is_dir():
            report = await services.knowledge.ingest(settings.kb_dir)
            log.info("knowledge: %s", report)
        stop = _stop_event()
        host, port = args.host or settings.web_host, args.port or settings.web_port
        print(banner(services.settings, host=host, port=port,
                     drafter_problem=services.drafter_problem,
                     drafter_offline=services.drafter_offline), flush=True)
        async with asyncio.TaskGroup() as group:
            group.create_task(run_worker(services, stop))
            group.create_task(
                serve_http(create_web_app(services), host=host, port=port, stop=stop,
                           services=services)
            )
    return 0


def drafter_label(settings: Settings, *, problem: str | None = None,
                  offline: bool | None = None) -> str:
    """Which drafter runs, and what the start-up check found wrong with Claude."""
    if settings.anthropic_api_key is None:
        return "offline extractive drafter (no ANTHROPIC_API_KEY set)"
    if problem is None:
        return f"Claude ({settings.llm_model})"
    if offline:
        return f"offline extractive drafter: {problem}"
    return (f"Claude ({settings.llm_model}), but the start-up check failed: {problem}; "
            "the offline draft stands in while it fails")


def banner(settings: Settings, *, host: str, port: int, drafter_problem: str | None = None,
           drafter_offline: bool | None = None) -> str:
    """What is running and how to try it."""
    base = f"http://{host}:{port}"
    drafter = drafter_label(settings, problem=drafter_problem, offline=drafter_offline)
    lines = [
        "",
        "supportbot is running",
        f"  web        {base}   (OpenAPI docs: {base}/docs, metrics: {base}/metrics)",
        f"  database   {_db_label(settings)}",
        f"  knowledge  {'Qdrant server' if settings.qdrant_url else 'Qdrant Edge (in-process)'}"
        f" ← {settings.kb_dir}",
        f"  drafter    {drafter}",
        "  channels   webhook " + ", ".join(sorted(settings.webhooks)) if settings.webhooks
        else "  channels   webhook (no sources configured)",
        f"             slack {'on' if settings.slack_enabled else 'off'}"
        f" · email IMAP {'on' if settings.imap_enabled else 'off'}"
        f" · email SMTP {'on ' + str(settings.smtp_listen) if settings.smtp_listen else 'off'}",
        "  auto-send  " + (f"at confidence ≥ {settings.auto_send_threshold}, once earned per topic"
                           if settings.auto_send_threshold is not None
                           else "off (every draft waits for review)"),
    ]
    demo = settings.webhook_source("demo")
    if demo is not None:
        # The secret stays in its file (0600): a banner ends up in terminals, CI logs and
        # screenshots, so it shows where the secret is, never the secret itself.
        secret_file = settings.data_dir / "demo-webhook-secret"
        lines += [
            "",
            "Try it: post a customer message to the demo webhook source",
            f"  (its secret is in {secret_file}; the command below reads it from there)",
            "  body='{\"conversation_id\":\"demo-1\",\"message_id\":\"m-'\"$RANDOM\"'\","
            "\"sender\":{\"id\":\"ada\",\"name\":\"Ada\"},"
            "\"text\":\"How do I reset my password?\"}'",
            f"  ts=$(date +%s); sig=$(printf '%s.%s' \"$ts\" \"$body\" | openssl dgst -sha256 "
            f"-hmac \"$(cat {shlex.quote(str(secret_file))})\" | sed 's/^.* //')",
            f"  curl -sS {base}/webhook/demo -H 'Content-Type: application/json' "
            "-H \"X-Supportbot-Timestamp: $ts\" -H \"X-Supportbot-Signature: sha256=$sig\" "
            "-d \"$body\"",
            f"  then: curl -sS {base}/api/conversations/<conversation_id>",
        ]
    lines += ["", "Or ask without storing or sending anything:"]
    if demo is not None:
        lines.append(f"  curl -sS {base}/api/ask -H 'Content-Type: application/json' "
                     "-d '{\"message\": \"I was charged twice this month\"}'")
    lines += [
        "  .venv/bin/supportbot ask \"I was charged twice this month\" --json"
        + ("   (when this process is stopped: a Qdrant Edge shard admits one process)"
           if not settings.qdrant_url else ""),
        "",
    ]
    return "\n".join(lines)


async def cmd_ask(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import build_services

    async with build_services(settings) as services:
        analysis = await services.router.ask(args.message, subject=args.subject,
                                             conversation_id=args.conversation)
    data = analysis.to_dict()
    if args.json:
        print(json.dumps(data, default=str))
        return 0
    print(f"decision:   {data['decision']}  ({'; '.join(data['decision_reasons']) or '-'})")
    conf = data["confidence"]
    parts = ", ".join(f"{k}={v}" for k, v in conf["parts"].items())
    print(f"confidence: {conf['value']:.2f}  [{parts}]")
    for reason in conf["reasons"]:
        print(f"            - {reason}")
    drafter = data["drafter"]
    offline = "  (offline: no ANTHROPIC_API_KEY)" if drafter["offline"] else ""
    print(f"drafter:    {drafter['model']}{offline}")
    print("sources:")
    for s in data["sources"]:
        print(f"  {s['score']:.3f}  [{s['kind']}] {s['source_id']} — {s['title']}")
    print("\ndraft:\n" + (data["draft"] or "(no draft: goes to a human)"))
    return 0


async def cmd_stats(settings: Settings, args: argparse.Namespace) -> int:
    from bot.ops.stats import compute_stats, parse_window

    async with db.database(settings):
        stats = await compute_stats(parse_window(args.since), datetime.now(UTC))
    data = stats.to_dict()
    if args.json:
        print(json.dumps(data, default=str))
        return 0
    print(f"since {data['since']}: {data['inbound']} inbound, {data['drafts']} drafts")
    for channel, count in sorted(data["inbound_by_channel"].items()):
        print(f"  {channel:<8} {count}")
    for name, share in sorted(data["shares"].items()):
        print(f"  {name:<18} {share:6.1%}")
    for label, key in (("median edit ratio", "median_edit_ratio"),
                       ("median s to draft", "median_seconds_to_draft"),
                       ("median s to decision", "median_seconds_to_decision")):
        value = data[key]
        print(f"  {label:<22} {'-' if value is None else f'{value:.2f}'}")
    llm = data["llm"]
    if llm["drafts"]:
        rate = llm["cache_hit_rate"]
        print(f"Claude: {llm['drafts']} drafts, {llm['failed']} failed")
        print(f"  {'prompt cache hit rate':<22} {'-' if rate is None else f'{rate:.1%}'}")
        for label, key in (("cache tokens read", "cache_read_tokens"),
                           ("cache tokens created", "cache_creation_tokens"),
                           ("uncached input tokens", "input_tokens"),
                           ("output tokens", "output_tokens")):
            print(f"  {label:<22} {llm[key]:,}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(
        prog="supportbot",
        description="Support gateway: email, Slack and webhooks in, grounded drafts out, "
                    "agents approve in Slack. Configured by environment variables or a .env "
                    "file (see .env.example).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Command, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text[:1].upper() + help_text[1:])
        p.set_defaults(func=func)
        return p

    for name, func, text in (("run", cmd_run, "web + worker in one process (embedded setup)"),
                             ("web", cmd_web, "HTTP: webhook, Slack events, health, metrics")):
        p = add(name, func, text)
        p.add_argument("--host", help="address to bind (default: SUPPORTBOT_WEB_HOST)")
        p.add_argument("--port", type=int, help="port to listen on (default: PORT)")
    p = add("worker", cmd_worker, "router, outbox, mail and scheduled jobs")
    p.add_argument("--metrics-port", type=int,
                   help="port of the worker's /metrics, /healthz and /readyz "
                        "(default: SUPPORTBOT_WORKER_PORT)")
    add("migrate", cmd_migrate, "apply database migrations")
    add_doctor_parser(sub)
    p = add("ask", cmd_ask, "draft an answer to MESSAGE without storing or sending anything")
    p.add_argument("message", help="the customer's message")
    p.add_argument("--subject", help="the message's subject line, if it has one")
    p.add_argument("--conversation", type=int, metavar="ID",
                   help="ask as the next message of this conversation: its history and its "
                        "automatic replies so far count, as they would in production")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p = add("stats", cmd_stats, "approval, edit and auto-send figures")
    p.add_argument("--since", default="7d", help="window such as 24h, 7d or 30d (default 7d)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_kb_parser(sub)
    add_eval_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``supportbot`` console script."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"supportbot: {exc}", file=sys.stderr)
        return 2
    _configure_logging(settings)
    func: Any = args.func
    try:
        return int(asyncio.run(func(settings, args)) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
