"""``supportbot doctor``: checks every configured dependency, one line each with a hint.

Each check returns ``Verdict``s: ``ok``, ``warn`` (works, but not as well as it could), ``fail``
(a configured feature cannot work) or ``skip`` (not configured). The exit status is 1 when any
check failed, so a deploy pipeline can run ``supportbot doctor`` before switching traffic.
The checks talk to the real services (one cheap call each) and change nothing, except that
the Anthropic check spends one tiny request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import enum
import ipaddress
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import urlsplit

import httpx

from bot.pipeline.redact import redact
from config import Settings, WebhookSource


class Status(enum.StrEnum):
    """How one check came out."""

    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class Verdict:
    """One line of the report: what was checked, the outcome, and what to do about it."""

    check: str
    status: Status
    detail: str
    hint: str = ""


def ok(check: str, detail: str) -> Verdict:
    return Verdict(check, Status.OK, detail)


def warn(check: str, detail: str, hint: str) -> Verdict:
    return Verdict(check, Status.WARN, detail, hint)


def fail(check: str, detail: str, hint: str) -> Verdict:
    return Verdict(check, Status.FAIL, detail, hint)


def skip(check: str, detail: str) -> Verdict:
    return Verdict(check, Status.SKIP, detail)


def describe(exc: BaseException) -> str:
    """An exception as a short line: no traceback, and redacted (a driver may quote a URL)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return redact(f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__)


async def check_database(settings: Settings) -> list[Verdict]:
    """Reachable, and every migration this version ships applied."""
    from bot.store import db

    where = "SQLite in the data dir" if settings.embedded else "DATABASE_URL"
    try:
        async with db.database(settings):
            await db.ping()
            pending = await db.pending_migrations()
    except Exception as exc:
        return [fail("database", f"{where} unreachable ({describe(exc)})",
                     "check DATABASE_URL and that the server accepts connections")]
    if pending:
        return [fail("database", f"{where} reachable; not migrated: {', '.join(pending)}",
                     "run `supportbot migrate`")]
    return [ok("database", f"{where} reachable, {len(db.known_migrations())} migrations applied")]


async def check_knowledge(settings: Settings) -> list[Verdict]:
    """The search engine opens and its collection was built with the configured model."""
    from knowledge import DEFAULT_COLLECTION, Embedder, KnowledgeBase, make_vector_store

    where = "Qdrant server" if settings.qdrant_url else "Qdrant Edge"
    try:
        store = make_vector_store(settings)
    except Exception as exc:
        hint = ("another process (a running `supportbot run`?) holds the local index; stop it "
                "or use QDRANT_URL" if not settings.qdrant_url else "check QDRANT_URL/_API_KEY")
        return [fail("search engine", f"{where} does not open ({describe(exc)})", hint)]
    try:
        if not await store.exists(DEFAULT_COLLECTION):
            return [warn("search engine", f"{where} opens; nothing is indexed yet",
                         f"run `supportbot kb ingest {settings.kb_dir}`")]
        embedder = Embedder.from_settings(settings)
        try:
            await asyncio.to_thread(lambda: embedder.dimension)  # loads the model
        except Exception as exc:
            return [fail("search engine", f"the embedding model {settings.embed_model} does "
                                          f"not load ({describe(exc)})",
                         "check SUPPORTBOT_EMBED_MODEL and SUPPORTBOT_EMBED_MODEL_PATH")]
        kb = KnowledgeBase(store=store, embedder=embedder)
        try:
            docs = await kb.documents()  # checks the stored vector size against the model
        except Exception as exc:
            return [fail("search engine", f"{where}: {describe(exc)}",
                         "the collection was built with another model: set "
                         "SUPPORTBOT_EMBED_MODEL back, or drop it and re-ingest")]
        stale = [d.doc_id for d in docs if d.pipeline != kb.pipeline]
        if stale:
            return [warn("search engine",
                         f"{where}: {len(stale)} of {len(docs)} documents were embedded with "
                         "another model or chunker",
                         f"run `supportbot kb ingest {settings.kb_dir}` to re-embed them")]
        return [ok("search engine", f"{where}: {len(docs)} documents, model "
                                    f"{settings.embed_model} matches")]
    except Exception as exc:
        return [fail("search engine", f"{where} does not answer ({describe(exc)})",
                     "check that the Qdrant server is up")]
    finally:
        await store.close()


async def check_anthropic(settings: Settings, client: Any = None) -> list[Verdict]:
    """The key is accepted and the model answers one tiny request."""
    if settings.anthropic_api_key is None and client is None:
        return [skip("anthropic", "no ANTHROPIC_API_KEY: the offline drafter answers")]
    import anthropic

    owned = client is None
    if client is None:
        assert settings.anthropic_api_key is not None
        client = anthropic.AsyncAnthropic(
            api_key=settings.anthropic_api_key.get_secret_value(),
            base_url=settings.anthropic_base_url, max_retries=0, timeout=30.0)
    model = settings.llm_model
    try:
        await client.messages.create(model=model, max_tokens=1,
                                     messages=[{"role": "user", "content": "ping"}])
    except anthropic.AuthenticationError:
        return [fail("anthropic", "the API key was rejected (401)",
                     "set a valid ANTHROPIC_API_KEY, or unset it to draft offline")]
    except anthropic.NotFoundError:
        return [fail("anthropic", f"model {model!r} not found (404)",
                     "set SUPPORTBOT_LLM_MODEL to a model this key may use")]
    except anthropic.APIStatusError as exc:
        return [fail("anthropic", f"the API answered {exc.status_code}",
                     "check the key's permissions and quota, or ANTHROPIC_BASE_URL")]
    except Exception as exc:
        return [fail("anthropic", f"no answer ({describe(exc)})",
                     "check ANTHROPIC_BASE_URL and outbound network access")]
    finally:
        if owned:
            await client.close()
    return [ok("anthropic", f"key accepted, model {model} answered")]


async def check_webhooks(settings: Settings, http: httpx.AsyncClient) -> list[Verdict]:
    """Every source has a strong secret and a callback URL that answers HTTP."""
    verdicts: list[Verdict] = []
    for name, source in sorted(settings.webhooks.items()):
        verdicts.append(await _check_source(name, source, http))
    if not verdicts:
        verdicts.append(skip("webhooks", "no SUPPORTBOT_WEBHOOK_<SOURCE>_SECRET configured"))
    return verdicts


async def _check_source(name: str, source: WebhookSource, http: httpx.AsyncClient) -> Verdict:
    check, env = f"webhook {name}", f"SUPPORTBOT_WEBHOOK_{name.upper()}"
    url = source.callback_url
    if not url:
        return fail(check, "no callback URL: replies cannot be delivered",
                    f"set {env}_CALLBACK_URL")
    try:
        # Any HTTP answer proves the receiver is there; only a signed POST is a reply.
        response = await http.head(url, timeout=5.0)
    except httpx.HTTPError as exc:
        return fail(check, f"callback {url} unreachable ({describe(exc)})",
                    f"check {env}_CALLBACK_URL and that the receiver is up")
    answered = f"callback answers (HTTP {response.status_code})"
    if len(source.secret.get_secret_value()) < 16:
        return warn(check, f"{answered}; the secret is shorter than 16 characters",
                    f"set {env}_SECRET to e.g. `openssl rand -hex 32`")
    parts = urlsplit(url)
    if parts.scheme != "https" and not _is_local(parts.hostname or ""):
        return warn(check, f"{answered}, but not over https", "use an https:// callback URL")
    return ok(check, f"secret set; {answered}")


def _is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_smtp_listen(settings: Settings) -> list[Verdict]:
    """Our own SMTP server's address can be bound."""
    address = settings.smtp_listen_address
    if address is None:
        return [skip("smtp listen", "SUPPORTBOT_SMTP_LISTEN not set: no SMTP server of ours")]
    host, port = address
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        return [fail("smtp listen", f"{host}:{port} cannot be bound ({exc.strerror or exc})",
                     "another process holds it (a running worker?), or the port needs "
                     "privileges: pick another SUPPORTBOT_SMTP_LISTEN")]
    return [ok("smtp listen", f"{host}:{port} is free")]


Check = Callable[[], Awaitable[list[Verdict]]]


async def diagnose(
    settings: Settings, *, http: httpx.AsyncClient | None = None,
    anthropic_client: Any = None, slack_client: Any = None,
) -> list[Verdict]:
    """Run every check (independent ones concurrently) and return the verdicts in order."""
    from bot.cli.doctor_channels import check_imap, check_slack, check_smtp_relay

    owned = httpx.AsyncClient() if http is None else contextlib.nullcontext(http)
    async with owned as client:
        checks: list[Check] = [
            lambda: check_database(settings),
            lambda: check_knowledge(settings),
            lambda: check_slack(settings, client=slack_client),
            lambda: asyncio.to_thread(check_imap, settings),
            lambda: asyncio.to_thread(check_smtp_relay, settings),
            lambda: asyncio.to_thread(check_smtp_listen, settings),
            lambda: check_anthropic(settings, anthropic_client),
            lambda: check_webhooks(settings, client),
        ]
        results = await asyncio.gather(*(check() for check in checks))
    return [verdict for result in results for verdict in result]


def report(verdicts: Sequence[Verdict], out: TextIO) -> int:
    """Print one line per verdict (and its hint); 1 when anything failed, else 0."""
    width = max((len(v.check) for v in verdicts), default=0)
    for v in verdicts:
        print(f"{v.status.value:<4}  {v.check:<{width}}  {v.detail}", file=out)
        if v.hint and v.status in (Status.FAIL, Status.WARN):
            print(f"{'':<4}  {'':<{width}}  → {v.hint}", file=out)
    failed = sum(v.status is Status.FAIL for v in verdicts)
    print(f"\n{failed} failed, {sum(v.status is Status.WARN for v in verdicts)} warnings, "
          f"{sum(v.status is Status.OK for v in verdicts)} ok", file=out)
    return 1 if failed else 0


async def cmd_doctor(settings: Settings, args: argparse.Namespace) -> int:
    """``supportbot doctor``."""
    return report(await diagnose(settings), sys.stdout)


def add_doctor_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``doctor``."""
    text = "check the database, search engine, Slack, mail, Anthropic and webhooks"
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "doctor", help=text, description=text[:1].upper() + text[1:] + "; exit 1 on a failure.")
    parser.set_defaults(func=cmd_doctor)
    return parser
