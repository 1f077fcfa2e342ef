"""A real local HTTP server that speaks enough of the Anthropic Messages API for tests.

    async with fake_anthropic_server() as server:
        server.queue(Scenario.rate_limited(retry_after="0"), Scenario.ok())
        client = AsyncAnthropic(api_key="test", base_url=server.url, max_retries=0)

Each ``POST /v1/messages`` consumes the next queued ``Scenario`` (a successful tool call
when the queue is empty) and is recorded with its headers, raw body and parsed JSON, so
tests assert on exactly what went over the wire. ``GET /v1/models/{id}`` answers 401 for a
key in ``server.rejected_keys`` and 404 for an id not in ``server.models`` (when that is
set). Listens on 127.0.0.1, random port.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

DEFAULT_TOOL_INPUT: dict[str, Any] = {
    "reply": "Hi,\n\nYou can reset your password from the login page.\n\nBest regards",
    "confidence": 0.9,
    "needs_human": False,
    "reason": "answered from the password reset article",
    "cited_sources": [],
}
DEFAULT_USAGE: dict[str, int] = {
    "input_tokens": 120,
    "output_tokens": 45,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 1500,
}


@dataclass(frozen=True)
class Scenario:
    """How the server answers one request. Use the constructors below."""

    status: int = 200
    body: Any = None  # JSON body; None means "build a tool_use message"
    raw: bytes | None = None  # sent as-is instead of JSON (malformed responses)
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    tool_input: Mapping[str, Any] | None = None
    usage: Mapping[str, int] | None = None

    @classmethod
    def ok(
        cls, tool_input: Mapping[str, Any] | None = None, usage: Mapping[str, int] | None = None
    ) -> Scenario:
        return cls(tool_input=tool_input, usage=usage)

    @classmethod
    def error(
        cls, status: int, kind: str, message: str, headers: Mapping[str, str] | None = None
    ) -> Scenario:
        body = {"type": "error", "error": {"type": kind, "message": message}}
        return cls(status=status, body=body, headers=headers or {})

    @classmethod
    def rate_limited(cls, retry_after: str | None = "0") -> Scenario:
        headers = {"retry-after": retry_after} if retry_after is not None else {}
        return cls.error(429, "rate_limit_error", "Number of requests exceeded", headers)

    @classmethod
    def overloaded(cls) -> Scenario:
        return cls.error(529, "overloaded_error", "Overloaded")

    @classmethod
    def server_error(cls, status: int = 500) -> Scenario:
        return cls.error(status, "api_error", "Internal server error")

    @classmethod
    def bad_request(cls, message: str = "messages: field required") -> Scenario:
        return cls.error(400, "invalid_request_error", message)

    @classmethod
    def slow(cls, seconds: float) -> Scenario:
        """Answer successfully, but only after ``seconds`` (use with a short client timeout)."""
        return cls(delay=seconds)

    @classmethod
    def malformed(cls) -> Scenario:
        """A 200 whose body is not JSON at all."""
        return cls(raw=b'{"id": "msg_broken", "content": [', headers={})

    @classmethod
    def cut_at_max_tokens(cls) -> Scenario:
        """The reply ran out of output tokens inside the tool call (its input incomplete)."""
        return cls(body={
            "content": [{"type": "tool_use", "id": "toolu_cut", "name": "submit_draft",
                         "input": {"reply": "Hi,\n\nTo reset your pass"}}],
            "stop_reason": "max_tokens",
        })

    @classmethod
    def unauthorized(cls) -> Scenario:
        return cls.error(401, "authentication_error", "invalid x-api-key")

    @classmethod
    def unknown_model(cls, model: str = "claude-nope") -> Scenario:
        return cls.error(404, "not_found_error", f"model: {model}")

    @classmethod
    def text_only(cls, text: str = "Sure! Here is my answer.") -> Scenario:
        """A well-formed message that ignores the forced tool (no tool_use block)."""
        return cls(body={"content": [{"type": "text", "text": text}], "stop_reason": "end_turn"})


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it (header names lower-cased)."""

    path: str
    headers: Mapping[str, str]
    raw: bytes
    json: Any


class FakeAnthropicServer:
    """The server state: queued scenarios and recorded requests. See the module docstring."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._scenarios: deque[Scenario] = deque()
        self._closing = asyncio.Event()
        self.missing_models: set[str] = set()
        self.url = ""
        #: Model ids ``GET /v1/models/{id}`` knows; None knows every id.
        self.models: set[str] | None = None
        #: API keys answered with 401.
        self.rejected_keys: set[str] = {"sk-bad"}

    def queue(self, *scenarios: Scenario) -> None:
        """Answer the next requests with these scenarios, in order."""
        self._scenarios.extend(scenarios)

    @property
    def last(self) -> RecordedRequest:
        return self.requests[-1]

    async def handle_messages(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append(RecordedRequest(request.path, headers, raw, body))
        scenario = self._scenarios.popleft() if self._scenarios else Scenario.ok()
        if scenario.delay:
            # Wait on the closing event, not a bare sleep, so shutdown never hangs on it.
            try:
                await asyncio.wait_for(self._closing.wait(), scenario.delay)
            except TimeoutError:
                pass
        reply_headers = {"request-id": f"req_fake_{len(self.requests)}", **scenario.headers}
        if scenario.raw is not None:
            return web.Response(
                status=scenario.status,
                body=scenario.raw,
                headers=reply_headers,
                content_type="application/json",
            )
        if scenario.status != 200:
            return web.json_response(scenario.body, status=scenario.status, headers=reply_headers)
        return web.json_response(self._message(body, scenario), headers=reply_headers)

    async def handle_model(self, request: web.Request) -> web.StreamResponse:
        """``GET /v1/models/{id}``: a model exists unless listed in ``missing_models`` (or
        absent from ``models`` when that is set); keys in ``rejected_keys`` get 401."""
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append(RecordedRequest(request.path, headers, b"", None))
        model = request.match_info["model"]
        key = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
        if key in self.rejected_keys:
            body = Scenario.unauthorized().body
            return web.json_response(body, status=401)
        if model in self.missing_models or (self.models is not None
                                            and model not in self.models):
            return web.json_response(Scenario.unknown_model(model).body, status=404)
        return web.json_response({"type": "model", "id": model, "display_name": model,
                                  "created_at": "2026-01-01T00:00:00Z"})

    def _message(self, request_body: Any, scenario: Scenario) -> dict[str, Any]:
        model = request_body.get("model", "claude-test") if isinstance(request_body, dict) else ""
        usage = {**DEFAULT_USAGE, **(scenario.usage or {})}
        message: dict[str, Any] = {
            "id": f"msg_fake_{len(self.requests)}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": usage,
        }
        if scenario.body is not None:
            return {**message, **scenario.body}
        tool_name = "submit_draft"
        if isinstance(request_body, dict):
            tool_name = request_body.get("tool_choice", {}).get("name", tool_name)
        tool_input = dict(scenario.tool_input or DEFAULT_TOOL_INPUT)
        message["content"] = [
            {"type": "tool_use", "id": "toolu_fake", "name": tool_name, "input": tool_input}
        ]
        return message


@asynccontextmanager
async def fake_anthropic_server() -> AsyncIterator[FakeAnthropicServer]:
    """Run a ``FakeAnthropicServer`` on 127.0.0.1 with a random port for the block."""
    server = FakeAnthropicServer()
    app = web.Application()
    app.router.add_post("/v1/messages", server.handle_messages)
    app.router.add_get("/v1/models/{model}", server.handle_model)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        server._closing.set()
        await runner.cleanup()
