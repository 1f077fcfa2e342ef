"""The ``/support`` admin command: answers only admins, only they see them (ephemeral).

Quick subcommands answer in the acknowledgement; slow ones (stats, pending, kb) acknowledge
with "working on it" and answer through the command's ``response_url`` from a tracked task.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError

from bot.domain import Channel
from bot.flow.earning import earned_topics
from bot.ops.stats import Stats, compute_stats, parse_window
from bot.store import attention, learned_review, runtime
from bot.store import drafts as draft_store
from handoff.actions import Handoff
from handoff.chart import render_chart
from handoff.runtime import with_retry
from handoff.text import fit, plain, slack_date, user

if TYPE_CHECKING:
    from bot.store.models import Draft

log = logging.getLogger(__name__)
SearchFn = Callable[[str], Awaitable[Sequence[Any]]]
ReindexFn = Callable[[], Awaitable[Any]]
ANSWER_LIMIT = 3900  # a response_url / ack text stays readable under Slack's 4000 advice
RESPONSES = 4  # a response_url answers five times; one is kept for the chart's error


def waited(age: timedelta) -> str:
    """How long someone has waited: "30 min", "5 h", "3 days"."""
    minutes = max(0, int(age.total_seconds() // 60))
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} days"


def pieces(text: str, limit: int) -> list[str]:
    """``text`` in parts of at most ``limit`` characters, split between lines but never before
    an indented line (it belongs to the item above); longer items are cut by ``plain``."""
    items: list[str] = []
    for line in text.split("\n"):
        if items and line.startswith("   "):
            items[-1] += "\n" + line
        else:
            items.append(line)
    parts: list[str] = []
    current = ""
    for line in items:
        if current and len(current) + 1 + len(line) > limit:
            parts.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    parts.append(current)
    return parts
USAGE = """*`/support` commands* (only you see the answers)
• `stats [24h|7d|30d]` volume, decisions, edit ratio, latencies, top sources, chart
• `pending` every conversation waiting on us (a draft, a reply, a failed delivery), longest first
• `kb search QUERY` search the knowledge base · `kb reindex` re-ingest it
• `autosend` show · `autosend off` · `autosend 0.85` set the auto-send threshold
• `pause CHANNEL` / `resume CHANNEL` stop or allow auto-send on a channel (slack, email, webhook)
• `learned` list approved answers used for retrieval · `learned delete ID` forget one
• `learned review` answers awaiting review (proposed, stale) · `learned accept ID` accept one
• `help` this text"""


class LearnedEntry(Protocol):
    """One learned answer as ``/support learned`` lists it (read-only)."""

    @property
    def answer_id(self) -> str: ...

    @property
    def question(self) -> str: ...

    @property
    def answer(self) -> str: ...

    @property
    def approvals(self) -> int: ...


class LearnedStore(Protocol):
    """The learned-answers store as ``/support learned`` needs it."""

    async def list(self, limit: int = 50) -> Sequence[LearnedEntry]: ...

    async def delete(self, answer_id: str) -> int: ...


def format_stats(stats: Stats) -> str:
    """The stats as an ephemeral message."""

    def pct(name: str) -> str:
        return f"{stats.shares.get(name, 0.0) * 100:.0f}%"

    def secs(value: float | None) -> str:
        if value is None:
            return "n/a"
        return f"{value:.1f}s" if value < 120 else f"{value / 60:.1f} min"

    ratio = "n/a" if stats.median_edit_ratio is None else f"{stats.median_edit_ratio:.2f}"
    by_channel = ", ".join(f"{c}: {n}" for c, n in stats.inbound_by_channel.items()) or "none"
    lines = [
        f"*Support desk since {stats.since:%Y-%m-%d %H:%M} UTC*",
        f"Inbound messages: *{stats.inbound}* ({by_channel}) · drafts: *{stats.drafts}*",
        f"Auto-sent {pct('auto_sent')} · approved unedited {pct('approved')} · "
        f"edited {pct('edited')} · rejected {pct('rejected')} · human-only {pct('human')} · "
        f"pending {pct('pending')}",
        f"Median edit ratio: {ratio}"
        f" · median time to draft: {secs(stats.median_seconds_to_draft)}"
        f" · to decision: {secs(stats.median_seconds_to_decision)}",
    ]
    if stats.llm.drafts:
        lines.append(llm_line(stats))
    if stats.top_sources:
        lines.append("Top sources: " + ", ".join(f"{s} ({n})" for s, n in stats.top_sources))
    if stats.top_unanswered:
        lines.append("Top unanswered topics: "
                     + ", ".join(f"{t} ({n})" for t, n in stats.top_unanswered))
    return plain("\n".join(lines), ANSWER_LIMIT)


def llm_line(stats: Stats) -> str:
    """Claude's token use and prompt-cache hit rate (only when Claude drafted)."""
    llm = stats.llm
    rate = "n/a" if llm.cache_hit_rate is None else f"{llm.cache_hit_rate * 100:.0f}%"
    failed = f" · {llm.failed} failed (offline draft stood in)" if llm.failed else ""
    return (f"Claude: {llm.drafts} drafts{failed} · prompt cache hit rate {rate} "
            f"({llm.cache_read_tokens:,} tokens read, {llm.cache_creation_tokens:,} created, "
            f"{llm.input_tokens:,} uncached) · {llm.output_tokens:,} output tokens")


def _hit_line(hit: Any) -> str:
    get = hit.get if isinstance(hit, Mapping) else (lambda k, d=None: getattr(hit, k, d))
    title = get("title") or get("doc_id") or get("source_id") or "?"
    score = get("score")
    snippet = " ".join(str(get("text") or "").split())[:160]
    score_text = f"{float(score):.3f}" if isinstance(score, int | float) else "?"
    return f"• *{title}* ({score_text}) {snippet}"


def describe_error(exc: BaseException) -> str:
    """An error as a reader sees it: Slack's error code, or the message without Python's
    class names where it has one."""
    if isinstance(exc, SlackApiError):
        return f"Slack answered `{exc.response.get('error') or 'an error'}`"
    return str(exc) or exc.__class__.__name__


def describe_report(report: Any) -> str:
    """An ingest report (or any result) as lines a person reads, never a Python repr."""
    if isinstance(report, str):
        return report
    if not dataclasses.is_dataclass(report):
        return str(report)
    lines: list[str] = []
    for item in dataclasses.fields(report):
        value = getattr(report, item.name)
        label = item.name.replace("_", " ").capitalize()
        if isinstance(value, Mapping):
            lines.append(f"{label}: {len(value)}" + "".join(
                f"\n  • {fit(str(k), 120)}: {fit(str(v), 200)}" for k, v in
                list(value.items())[:10]))
        elif isinstance(value, tuple | list):
            shown = ", ".join(fit(str(v), 80) for v in value[:5])
            more = f" (+{len(value) - 5} more)" if len(value) > 5 else ""
            lines.append(f"{label}: {len(value)}" + (f" — {shown}{more}" if value else ""))
        else:
            lines.append(f"{label}: {value}")
    return "\n".join(lines)


class AdminCommands:
    """Parses and runs ``/support`` subcommands."""

    def __init__(self, h: Handoff, *, search: SearchFn | None, reindex: ReindexFn | None,
                 learned: LearnedStore | None = None) -> None:
        self._h = h
        self._search = search
        self._reindex = reindex
        self._learned = learned

    async def quick(self, user_id: str, text: str) -> str | None:
        """The answer of a quick subcommand, or None when it is a slow one."""
        words = text.split()
        name = words[0].lower() if words else "help"
        if name == "help":
            return USAGE
        if name == "autosend":
            return await self._autosend(user_id, words[1:])
        if name in ("pause", "resume"):
            return await self._pause(user_id, name, words[1:])
        if name == "learned":
            return await self._learned_answers(user_id, words[1:])
        if name in ("stats", "pending") or (name == "kb" and len(words) > 1
                                            and words[1] in ("search", "reindex")):
            if name == "kb" and words[1] == "search" and len(words) < 3:
                return "Usage: `/support kb search QUERY`"
            return None
        return f"Unknown command `{plain(text, 100)}`.\n{USAGE}"

    async def slow(self, user_id: str, text: str, respond: AsyncRespond) -> None:
        """Run a slow subcommand and answer through ``respond`` (ephemeral)."""
        words = text.split()
        chart: Stats | None = None
        try:
            if words[0].lower() == "stats":
                answer, chart = await self._stats(words[1:])
            elif words[0].lower() == "pending":
                answer = await self._pending()
            elif words[1] == "search":
                answer = await self._kb_search(" ".join(words[2:]))
            else:
                answer = await self._kb_reindex()
        except Exception as exc:  # an admin command failing must say so, not go silent
            log.exception("/support %s failed", text)
            answer = f"That failed: {describe_error(exc)}."
        # A long list (``pending``) goes out in several answers: a response_url takes five.
        for piece in pieces(self.named(answer), ANSWER_LIMIT)[:RESPONSES]:
            await respond(text=plain(piece, ANSWER_LIMIT), response_type="ephemeral",
                          replace_original=False)
        if chart is not None:
            # The text is out first; the chart is a best effort that can fail on its own.
            try:
                await self._send_chart(user_id, chart, words[1] if len(words) > 1 else "7d")
            except Exception as exc:
                log.exception("stats chart upload failed")
                await respond(text=f"(The chart could not be sent: {describe_error(exc)}.)",
                              response_type="ephemeral", replace_original=False)

    def named(self, answer: str) -> str:
        """The answer with the command's configured name (``SUPPORTBOT_SLASH_COMMAND``): the
        texts here are written for the default ``/support``."""
        command = self._h.settings.slash_command
        return answer if command == "/support" else answer.replace("`/support", f"`{command}")

    async def _autosend(self, user_id: str, args: list[str]) -> str:
        if not args:
            current = await runtime.auto_send_threshold(self._h.settings.auto_send_threshold)
            shown = "off" if current is None else f"{current:.2f}"
            return (f"Auto-send threshold: *{shown}*.\n" + await self._earned() + "\n"
                    + await self._recent_auto_sends())
        if args[0].lower() == "off":
            await runtime.set_auto_send_threshold(None, updated_by=user_id)
            return "Auto-send is *off*: every draft waits for an agent."
        try:
            value = float(args[0])
        except ValueError:
            value = -1.0
        if not 0.0 <= value <= 1.0:
            return "Usage: `/support autosend off` or `/support autosend 0.85` (between 0 and 1)."
        await runtime.set_auto_send_threshold(value, updated_by=user_id)
        return f"Auto-send threshold set to *{value:.2f}*."

    async def _learned_answers(self, user_id: str, args: list[str]) -> str:
        if args and args[0].lower() == "review":
            return await self._review()
        if args and args[0].lower() == "accept":
            if len(args) != 2:
                return "Usage: `/support learned accept ID`"
            if await learned_review.accept(args[1], admin=user_id):
                return (f"Accepted learned answer `{plain(args[1], 80)}`: its topic may earn "
                        "auto-send.")
            return f"No learned answer `{plain(args[1], 80)}` awaits review."
        if self._learned is None:
            return "Learned answers are not available in this process."
        if args and args[0].lower() == "delete":
            if len(args) != 2:
                return "Usage: `/support learned delete ID`"
            removed = await self._learned.delete(args[1])
            return (f"Forgot learned answer `{plain(args[1], 80)}`." if removed
                    else f"No learned answer `{plain(args[1], 80)}`.")
        if args:
            return ("Usage: `/support learned`, `/support learned review`, "
                    "`/support learned accept ID` or `/support learned delete ID`")
        entries = await self._learned.list(limit=15)
        if not entries:
            return "No learned answers yet: approved and edited replies appear here."
        lines = [f"• `{e.answer_id}` ({e.approvals}×) {fit(e.question, 90)} → "
                 f"{fit(e.answer, 120)}" for e in entries]
        return "*Learned answers*, most recent first:\n" + "\n".join(lines)

    async def _review(self) -> str:
        """Proposed and stale learned answers: they are used for drafts but cannot earn
        auto-send until an admin accepts them."""
        waiting = await learned_review.awaiting_review(limit=15)
        if not waiting:
            return "No learned answers await review."
        lines = [f"• `{r.answer_id}` *{r.status}*{f' ({plain(r.reason, 80)})' if r.reason else ''}"
                 f": {fit(r.question, 90)} → {fit(r.answer, 140)}" for r in waiting]
        return ("*Learned answers awaiting review* (used for drafts; they earn auto-send only "
                "once accepted with `/support learned accept ID`):\n" + "\n".join(lines))

    async def _recent_auto_sends(self, limit: int = 10) -> str:
        sent = await draft_store.recent_auto_sent(limit)
        if not sent:
            return "Nothing was sent automatically yet."
        lines = [f"• {slack_date(d.decided_at)} #{d.conversation.id} "
                 f"({d.conversation.channel}, confidence {d.confidence:.2f}): "
                 f"{fit(' '.join(d.message.text.split()), 80)} → "
                 f"{fit(' '.join((d.final_text or d.text).split()), 100)}" for d in sent]
        return f"*Last {len(sent)} automatic replies*, newest first:\n" + "\n".join(lines)

    async def _earned(self) -> str:
        settings = self._h.settings
        if settings.earn_min_approvals == 0:
            return "Topics need no earned record (SUPPORTBOT_EARN_MIN_APPROVALS=0)."
        rule = (f"{settings.earn_min_approvals} unedited approvals at "
                f"≥{settings.earn_min_rate:.0%} of the last {settings.earn_window} decisions")
        topics = await earned_topics(window=settings.earn_window,
                                     min_approvals=settings.earn_min_approvals,
                                     min_rate=settings.earn_min_rate)
        if not topics:
            return f"No topic has earned auto-send yet ({rule})."
        lines = [f"• {fit(t.question or t.topic, 120)} — {t.approved}/{t.decided} approved"
                 for t in topics]
        return f"Topics that earned auto-send ({rule}):\n" + "\n".join(lines)

    async def _pause(self, user_id: str, verb: str, args: list[str]) -> str:
        valid = [c.value for c in Channel]
        if len(args) != 1 or args[0].lower() not in valid:
            return f"Usage: `/support {verb} CHANNEL` where CHANNEL is one of {', '.join(valid)}."
        channel = args[0].lower()
        paused = set(await runtime.paused_channels())
        paused = paused | {channel} if verb == "pause" else paused - {channel}
        await runtime.set_paused_channels(paused, updated_by=user_id)
        state = "paused: drafts wait for agents" if verb == "pause" else "resumed"
        now = ", ".join(sorted(paused)) or "none"
        return f"Auto-send on *{channel}* {state}. Paused now: {now}."

    async def _stats(self, args: list[str]) -> tuple[str, Stats | None]:
        """The stats text and the stats to chart (None: nothing to chart)."""
        try:
            window = parse_window(args[0]) if args else timedelta(days=7)
        except ValueError:
            return (f"`{plain(args[0], 40)}` is not a window.\n"
                    "Usage: `/support stats [24h|7d|30d|2w]`", None)
        if len(args) > 1:
            return "Usage: `/support stats [24h|7d|30d|2w]`", None
        stats = await compute_stats(window, self._h.clock())
        return format_stats(stats) + "\n(The chart follows in your DM with me.)", stats

    async def _send_chart(self, user_id: str, stats: Stats, label: str) -> None:
        png = await asyncio.to_thread(render_chart, stats)
        client = self._h.client
        # A DM with the admin: the chart stays as private as the ephemeral answer.
        dm = await with_retry(lambda: client.conversations_open(users=user_id))
        await client.files_upload_v2(channel=str(dm["channel"]["id"]), file=png,
                                     filename="supportbot-stats.png",
                                     title=f"Support desk, last {label}")

    async def _pending(self, limit: int = 500) -> str:
        """Every conversation waiting on us (up to ``limit``), longest first: where, customer,
        why, how long, owner, and the customer's first words (mentions named)."""
        waiting = await attention.waiting_on_us(limit=limit, scan=max(500, limit))
        if not waiting:
            return "Nothing is waiting on us. 🎉"
        now = self._h.clock()
        links = await asyncio.gather(*(self._thread_link(item) for item in waiting))
        names = self._h.notifier.names
        lines = [f"*{len(waiting)} conversations waiting on us*, longest first"]
        for item, link in zip(waiting, links, strict=True):
            label = fit(item.subject or f"conversation #{item.conversation_id}", 60)
            where = f"<{link}|{label}>" if link else label
            owner = f" · owner {user(item.assignee)}" if item.assignee else ""
            words = await names.render(item.first_words)
            lines.append(f"• {where} · {fit(item.customer, 50)} · {item.reason} · waiting "
                         f"{waited(now - item.since)}{owner}\n   _{fit(words, 90)}_")
        return "\n".join(lines)

    async def _thread_link(self, item: attention.Waiting) -> str | None:
        channel = item.approval_channel or self._h.settings.approval_channel
        if not item.approval_thread_ts or channel is None:
            return None
        try:
            response = await self._h.client.chat_getPermalink(
                channel=channel, message_ts=item.approval_thread_ts)
        except Exception:
            log.warning("no permalink for conversation %s", item.conversation_id, exc_info=True)
            return None
        return str(response.get("permalink") or "") or None

    async def _permalink(self, draft: Draft) -> str | None:
        if not draft.approval_ts:
            return None
        channel = draft.conversation.approval_channel or self._h.settings.approval_channel
        if channel is None:
            return None
        try:
            response = await self._h.client.chat_getPermalink(channel=channel,
                                                               message_ts=draft.approval_ts)
        except Exception:
            log.warning("no permalink for draft %s", draft.id, exc_info=True)
            return None
        return str(response.get("permalink") or "") or None

    async def _kb_search(self, query: str) -> str:
        if self._search is None:
            return "Knowledge search is not configured in this process."
        hits = await self._search(query)
        if not hits:
            return f"No results for _{plain(query, 200)}_."
        return f"*Results for* _{plain(query, 200)}_\n" + "\n".join(_hit_line(h) for h in hits[:8])

    async def _kb_reindex(self) -> str:
        if self._reindex is None:
            return "Re-indexing is not configured in this process."
        result = await self._reindex()
        return "Knowledge base re-indexed." + (f"\n{describe_report(result)}"
                                               if result is not None else "")


def register_admin(app: AsyncApp, h: Handoff, commands: AdminCommands) -> None:
    """Register the admin command (``SUPPORTBOT_SLASH_COMMAND``, default ``/support``)."""

    @app.command(h.settings.slash_command)
    async def support(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        user_id, text = str(command["user_id"]), str(command.get("text") or "").strip()
        if not h.access.is_admin(user_id):
            await ack(text=commands.named(
                "Only support admins can use `/support` (SUPPORTBOT_ADMINS)."))
            return
        answer = await commands.quick(user_id, text)
        if answer is not None:
            await ack(text=commands.named(answer))
            return
        await ack(text="Working on it…")
        h.tasks.spawn(commands.slow(user_id, text, respond), name=f"/support {text[:40]}")
