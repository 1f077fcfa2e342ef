"""A recording fake of the Slack Web API (and a Socket Mode WebSocket), on loopback.

A real ``aiohttp.web`` server on a random port, so the real ``AsyncWebClient`` talks HTTP to
it: ``AsyncWebClient(token=…, base_url=fake.api_url)``. Every call is recorded (method,
params, token) and answered like Slack does (``{"ok": false, "error": …}`` with HTTP 200, or
429 with ``Retry-After``). Scenarios: the token ``xoxb-ratelimited`` is always rate limited;
``fail()``, ``ratelimit()`` and ``slow()`` script the next calls of one method;
``after_applied()`` runs a callback once a call took effect, before Slack answers (a test
kills the client there: a crash between Slack's post and our recording of it).
Messages and views over Block Kit's documented limits are refused as Slack refuses them
(``tests/fakes/block_kit.py``); ``refused`` keeps what was refused and why.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from aiohttp import WSMsgType, web
from fastapi import FastAPI, Request
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_sdk.signature import SignatureVerifier

from tests.fakes.block_kit import message_errors, view_errors

RATELIMITED_TOKEN = "xoxb-ratelimited"


@dataclass
class Call:
    """One recorded request."""

    method: str
    params: dict[str, Any]
    token: str | None
    at: float = field(default_factory=time.monotonic)

    def json(self, key: str) -> Any:
        """A parameter the client sent JSON-encoded inside a form (``blocks``, ``view``…)."""
        value = self.params.get(key)
        return json.loads(value) if isinstance(value, str) else value


@dataclass
class _Script:
    error: str | None = None
    status: int = 200
    times: int | None = 1
    retry_after: int | None = None
    delay: float = 0.0
    applied: bool = False  # the call takes effect although the answer is an error
    channel: str | None = None  # only calls to this channel (None: every call)


class FakeSlackAPI:
    """See the module docstring. Use as ``async with FakeSlackAPI() as slack:``."""

    team_id = "T0FAKE"
    bot_user_id = "UBOT"
    bot_id = "BBOT"

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.members: dict[str, list[str]] = {}
        self.usergroups: dict[str, list[str]] = {}
        #: usergroups.list: a group's handle (``agents`` for ``@agents``) by id.
        self.usergroup_handles: dict[str, str] = {}
        # Granted bot scopes, reported by auth.test in X-OAuth-Scopes as Slack does (None: no
        # header at all).
        self.scopes: set[str] | None = None
        self.channel_names: dict[str, str] = {}
        self.uploads: dict[str, bytes] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.socket_acks: list[dict[str, Any]] = []
        # (method, errors) of every payload refused for breaking a Block Kit limit.
        self.refused: list[tuple[str, list[str]]] = []
        self._scripts: dict[str, list[_Script]] = {}
        self._after: dict[str, Callable[[Call], None]] = {}
        self._changed = asyncio.Condition()
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_ready = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    # --- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> FakeSlackAPI:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/respond/{token}", self._respond)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        for ws in self._sockets:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def response_url(self, name: str = "r1") -> str:
        """A ``response_url`` for slash commands and actions; posts to it are recorded."""
        return f"{self.url}/respond/{name}"

    # --- scenarios ----------------------------------------------------------------------

    def fail(self, method: str, error: str, *, times: int | None = 1, status: int = 200,
             applied: bool = False, channel: str | None = None) -> None:
        """The next ``times`` calls (None: all) of ``method`` answer ``error``; with
        ``applied`` the call still takes effect (Slack posted, then the answer was lost); with
        ``channel`` only calls to that channel are affected."""
        script = _Script(error=error, status=status, times=times, applied=applied,
                         channel=channel)
        self._scripts.setdefault(method, []).append(script)

    def ratelimit(self, method: str, *, times: int | None = 1, retry_after: int = 1,
                  channel: str | None = None) -> None:
        """The next calls of ``method`` (to ``channel``, when given) answer 429 with
        ``Retry-After``."""
        self._scripts.setdefault(method, []).append(
            _Script(error="ratelimited", status=429, times=times, retry_after=retry_after,
                    channel=channel))

    def slow(self, method: str, seconds: float, *, times: int | None = None,
             channel: str | None = None) -> None:
        """Calls of ``method`` (to ``channel``, when given) answer after ``seconds``."""
        self._scripts.setdefault(method, []).append(_Script(delay=seconds, times=times,
                                                            channel=channel))

    def after_applied(self, method: str, callback: Callable[[Call], None]) -> None:
        """Run ``callback`` after each call of ``method`` took effect, before the answer."""
        self._after[method] = callback

    def heal(self) -> None:
        """Forget every scripted failure and delay: the outage is over."""
        self._scripts.clear()

    def add_user(self, user_id: str, *, name: str, email: str | None = None,
                 is_bot: bool = False) -> None:
        self.users[user_id] = {"id": user_id, "name": name.lower(), "real_name": name,
                               "is_bot": is_bot,
                               "profile": {"display_name": name, "real_name": name,
                                           "email": email}}

    # --- reading the record -------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(
        self, method: str, count: int = 1, *, within: float = 5.0,
        where: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Wait (with a deadline, never a fixed sleep) until ``count`` matching calls arrived."""

        def matching() -> list[Call]:
            return [c for c in self.calls_to(method) if where is None or where(c)]

        async with asyncio.timeout(within):
            async with self._changed:
                await self._changed.wait_for(lambda: len(matching()) >= count)
        return matching()

    # --- handlers -----------------------------------------------------------------------

    async def _record(self, call: Call) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            raw = await request.read()
            if request.content_type == "application/json":
                params.update(json.loads(raw or b"{}"))
            elif request.content_type == "application/x-www-form-urlencoded":
                params.update(parse_qsl(raw.decode()))
        return params

    def _script_for(self, method: str, params: dict[str, Any]) -> _Script | None:
        scripts = self._scripts.get(method) or []
        for script in scripts:
            if script.channel is not None and str(params.get("channel")) != script.channel:
                continue
            if script.times is None or script.times > 0:
                if script.times is not None:
                    script.times -= 1
                return script
        return None

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = await self._params(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth else params.get("token")
        await self._record(Call(method, params, token))
        script = self._script_for(method, params)
        if script is not None and script.delay:
            await asyncio.sleep(script.delay)
        if token == RATELIMITED_TOKEN and method != "auth.test":
            script = _Script(error="ratelimited", status=429, retry_after=1)
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if script is not None and script.error is not None:
            if script.applied and handler is not None:
                handler(params)
            headers = {}
            if script.retry_after is not None:
                headers = {"Retry-After": str(script.retry_after)}
            return web.json_response({"ok": False, "error": script.error},
                                     status=script.status, headers=headers)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        refusal = self._limits(method, params)
        if refusal is not None:
            return web.json_response({"ok": False, **refusal})
        body: dict[str, Any] = handler(params)
        after = self._after.get(method)
        if after is not None:
            after(Call(method, params, token))
        headers = {}
        if method == "auth.test" and self.scopes is not None:
            headers["X-OAuth-Scopes"] = ",".join(sorted(self.scopes))
        return web.json_response({"ok": "error" not in body, **body}, headers=headers)

    def _limits(self, method: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """Slack's answer to a payload over a Block Kit limit, or None."""
        if method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            blocks = params.get("blocks")
            blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
            errors = message_errors(params, blocks if isinstance(blocks, list) else None)
            error = "invalid_blocks"
        elif method in ("views.open", "views.update", "views.push", "views.publish"):
            view = params.get("view")
            view = json.loads(view) if isinstance(view, str) else view
            errors = view_errors(view if isinstance(view, dict) else {})
            error = "invalid_arguments"
        else:
            return None
        if not errors:
            return None
        self.refused.append((method, errors))
        return {"error": error, "errors": errors,
                "response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]}}

    async def _upload(self, request: web.Request) -> web.Response:
        data = await request.read()
        self.uploads[request.match_info["file_id"]] = data
        await self._record(Call("upload", {"file_id": request.match_info["file_id"],
                                           "bytes": len(data)}, None))
        return web.Response(text=f"OK - {len(data)}")

    async def _respond(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        await self._record(Call("response_url", params, request.match_info["token"]))
        return web.Response(text="ok")

    # --- Web API methods (answer shapes follow Slack's documentation) -------------------

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def _m_auth_test(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"url": "https://fake.slack.com/", "team": "Fake", "user": "supportbot",
                "team_id": self.team_id, "user_id": self.bot_user_id, "bot_id": self.bot_id}

    def _m_chat_postMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = str(p.get("channel"))
        ts = self._next_ts()
        message = {"type": "message", "ts": ts, "text": p.get("text"), "bot_id": self.bot_id,
                   "thread_ts": p.get("thread_ts"), "metadata": p.get("metadata"),
                   "blocks": p.get("blocks")}
        self.messages.setdefault(channel, []).append(message)
        return {"channel": channel, "ts": ts, "message": message}

    def _m_chat_update(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"channel": p.get("channel"), "ts": p.get("ts"), "text": p.get("text")}

    def _m_chat_postEphemeral(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"message_ts": self._next_ts()}

    def _m_chat_getPermalink(self, p: dict[str, Any]) -> dict[str, Any]:
        ts = str(p.get("message_ts", "")).replace(".", "")
        return {"channel": p.get("channel"),
                "permalink": f"https://fake.slack.com/archives/{p.get('channel')}/p{ts}"}

    def _m_views_open(self, p: dict[str, Any]) -> dict[str, Any]:
        view = p.get("view")
        view = json.loads(view) if isinstance(view, str) else view
        return {"view": {**(view or {}), "id": f"V{next(self._ids):06d}"}}

    _m_views_update = _m_views_open

    def _m_views_publish(self, p: dict[str, Any]) -> dict[str, Any]:
        view = p.get("view")
        view = json.loads(view) if isinstance(view, str) else view
        if not p.get("user_id"):
            return {"error": "invalid_arguments"}
        return {"view": {**(view or {}), "id": f"V{next(self._ids):06d}"}}

    def _m_users_info(self, p: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(p.get("user")))
        return {"user": user} if user else {"error": "user_not_found"}

    def _m_conversations_members(self, p: dict[str, Any]) -> dict[str, Any]:
        members = self.members.get(str(p.get("channel")))
        if members is None:
            return {"error": "channel_not_found"}
        return {"members": members, "response_metadata": {"next_cursor": ""}}

    def _m_conversations_info(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = str(p.get("channel"))
        members = self.members.get(channel)
        if members is None:
            return {"error": "channel_not_found"}
        return {"channel": {"id": channel, "name": self.channel_names.get(channel, channel.lower()),
                            "is_member": self.bot_user_id in members}}

    def _m_conversations_open(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"channel": {"id": "D" + str(p.get("users", "X")).split(",")[0]}}

    def _m_conversations_replies(self, p: dict[str, Any]) -> dict[str, Any]:
        thread = str(p.get("ts"))
        found = [m for m in self.messages.get(str(p.get("channel")), [])
                 if m["ts"] == thread or m.get("thread_ts") == thread]
        return {"messages": found, "has_more": False}

    def _m_conversations_history(self, p: dict[str, Any]) -> dict[str, Any]:
        # Top-level messages (and thread parents), newest first, paginated by cursor; metadata
        # only with include_all_metadata, as Slack does.
        top = [m for m in self.messages.get(str(p.get("channel")), [])
               if not m.get("thread_ts") or m.get("thread_ts") == m["ts"]][::-1]
        start = int(p.get("cursor") or 0)
        limit = int(p.get("limit") or 100)
        page = top[start:start + limit]
        if str(p.get("include_all_metadata")).lower() not in ("1", "true"):
            page = [{k: v for k, v in m.items() if k != "metadata"} for m in page]
        more = start + limit < len(top)
        return {"messages": page, "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def _m_usergroups_users_list(self, p: dict[str, Any]) -> dict[str, Any]:
        users = self.usergroups.get(str(p.get("usergroup")))
        return {"users": users} if users is not None else {"error": "no_such_subteam"}

    def _m_usergroups_list(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"usergroups": [{"id": gid, "handle": handle, "name": handle.capitalize()}
                               for gid, handle in self.usergroup_handles.items()]}

    def _m_files_getUploadURLExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._ids):06d}"
        return {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        files = json.loads(p.get("files", "[]"))
        return {"files": [{"id": f["id"], "title": f.get("title")} for f in files]}

    def _m_apps_connections_open(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.url.replace("http://", "ws://") + "/socket"}

    # --- Socket Mode --------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1,
                            "debug_info": {"host": "fake"}, "connection_info": {"app_id": "A1"}})
        self._socket_ready.set()
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                async with self._changed:
                    self.socket_acks.append(json.loads(msg.data))
                    self._changed.notify_all()
        return ws

    async def send_envelope(self, envelope: dict[str, Any], *, within: float = 5.0) -> None:
        """Push a Socket Mode envelope to the connected client."""
        async with asyncio.timeout(within):
            await self._socket_ready.wait()
        await self._sockets[-1].send_json(envelope)

    async def wait_for_ack(self, envelope_id: str, *, within: float = 5.0) -> dict[str, Any]:
        """The client's acknowledgement of ``envelope_id``."""
        async with asyncio.timeout(within):
            async with self._changed:
                await self._changed.wait_for(
                    lambda: any(a.get("envelope_id") == envelope_id for a in self.socket_acks))
        return next(a for a in self.socket_acks if a.get("envelope_id") == envelope_id)


# --- the inbound side: requests signed like Slack's, sent to /slack/events -----------------


class SlackEdge:
    """Mounts a bolt app at ``/slack/events`` (FastAPI + bolt's handler, as ``bot/app.py``
    does) and sends it requests signed with the v0 scheme, over HTTP through ASGI."""

    def __init__(self, app: Any, *, signing_secret: str) -> None:
        handler = AsyncSlackRequestHandler(app)
        api = FastAPI()

        @api.post("/slack/events")
        async def events(request: Request) -> Any:
            return await handler.handle(request)

        self._verifier = SignatureVerifier(signing_secret)
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=api),
                                      base_url="http://slack-edge.test")
        self._event_ids = itertools.count(1)
        self._triggers = itertools.count(1)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def post(
        self, body: str, content_type: str, *, headers: dict[str, str] | None = None,
        bad_signature: bool = False,
    ) -> Any:
        timestamp = str(int(time.time()))
        signature = self._verifier.generate_signature(timestamp=timestamp, body=body)
        if bad_signature:
            signature = "v0=" + "0" * 64
        all_headers = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature,
                       "Content-Type": content_type, **(headers or {})}
        return await self.http.post("/slack/events", content=body.encode(), headers=all_headers)

    async def event(
        self, event: dict[str, Any], *, event_id: str | None = None,
        retry_num: int | None = None, bad_signature: bool = False,
    ) -> Any:
        """An Events API ``event_callback``."""
        body = {"token": "unused", "team_id": FakeSlackAPI.team_id, "api_app_id": "A1",
                "type": "event_callback", "event": event,
                "event_id": event_id or f"Ev{next(self._event_ids):08d}",
                "event_time": int(time.time()),
                "authorizations": [{"team_id": FakeSlackAPI.team_id, "user_id": "UBOT",
                                    "is_bot": True}]}
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return await self.post(json.dumps(body), "application/json", headers=headers,
                               bad_signature=bad_signature)

    async def _interactive(self, payload: dict[str, Any]) -> Any:
        return await self.post(urlencode({"payload": json.dumps(payload)}),
                               "application/x-www-form-urlencoded")

    async def click(
        self, *, user: str, action_id: str, value: str, channel: str = "CAPPROVAL",
        message_ts: str = "1700000000.000001", response_url: str = "",
    ) -> Any:
        """A ``block_actions`` payload: one button clicked on a message."""
        return await self._interactive({
            "type": "block_actions", "team": {"id": FakeSlackAPI.team_id},
            "user": {"id": user, "team_id": FakeSlackAPI.team_id}, "api_app_id": "A1",
            "trigger_id": f"trigger.{next(self._triggers)}",
            "container": {"type": "message", "channel_id": channel, "message_ts": message_ts},
            "channel": {"id": channel}, "message": {"ts": message_ts, "text": "card"},
            "response_url": response_url,
            "actions": [{"type": "button", "action_id": action_id, "block_id": "card",
                         "value": value, "action_ts": str(time.time())}],
        })

    async def select_user(
        self, *, user: str, action_id: str, block_id: str, selected: str,
        channel: str = "CAPPROVAL", message_ts: str = "1700000000.000001",
        response_url: str = "",
    ) -> Any:
        """A ``block_actions`` payload: a user picked in a ``users_select`` on a message."""
        return await self._interactive({
            "type": "block_actions", "team": {"id": FakeSlackAPI.team_id},
            "user": {"id": user, "team_id": FakeSlackAPI.team_id}, "api_app_id": "A1",
            "trigger_id": f"trigger.{next(self._triggers)}",
            "container": {"type": "message", "channel_id": channel, "message_ts": message_ts},
            "channel": {"id": channel}, "message": {"ts": message_ts, "text": "card"},
            "response_url": response_url,
            "actions": [{"type": "users_select", "action_id": action_id, "block_id": block_id,
                         "selected_user": selected, "action_ts": str(time.time())}],
        })

    async def submit(
        self, *, user: str, callback_id: str, private_metadata: str,
        values: dict[str, dict[str, str]],
    ) -> Any:
        """A ``view_submission``: ``values`` is ``{block_id: {action_id: text}}``."""
        state = {b: {a: {"type": "plain_text_input", "value": v} for a, v in acts.items()}
                 for b, acts in values.items()}
        return await self._interactive({
            "type": "view_submission", "team": {"id": FakeSlackAPI.team_id},
            "user": {"id": user, "team_id": FakeSlackAPI.team_id}, "api_app_id": "A1",
            "trigger_id": f"trigger.{next(self._triggers)}",
            "view": {"id": "V1", "type": "modal", "callback_id": callback_id,
                     "private_metadata": private_metadata, "state": {"values": state},
                     "team_id": FakeSlackAPI.team_id, "app_id": "A1", "hash": "h"},
        })

    async def command(
        self, *, user: str, text: str, response_url: str, command: str = "/support",
        channel: str = "CADMIN",
    ) -> Any:
        """A slash command."""
        form = {"token": "unused", "team_id": FakeSlackAPI.team_id, "channel_id": channel,
                "user_id": user, "user_name": user.lower(), "command": command, "text": text,
                "api_app_id": "A1", "response_url": response_url,
                "trigger_id": f"trigger.{next(self._triggers)}"}
        return await self.post(urlencode(form), "application/x-www-form-urlencoded")
