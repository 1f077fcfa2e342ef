"""``ClaudeDrafter``: drafts through the Anthropic Messages API with a forced tool call.

Retries are ours (tenacity), not the SDK's, and the injected client is copied with
``max_retries=0`` so the two never multiply (SDK default 3 tries × ours 4 = 12 calls).
Owning the loop lets us:

* inject the backoff base and the sleep function, so tests run in milliseconds;
* honour ``retry-after`` but refuse to park a worker for longer than ``max_retry_after``
  (the SDK would wait whatever the header says); the message then goes to a human;
* retry a malformed structured answer, which the SDK sees as a successful response;
* log every retry with its cause, and add up tokens spent on failed attempts.

A reply cut at ``max_tokens`` is asked for once more with ``retry_max_tokens``, at once
(the same budget would be cut again); cut again, drafting has failed.

Whatever happens, ``draft`` returns a ``DraftResult``: on final failure ``error`` is set,
``needs_human`` is True, ``supportbot_drafter_errors_total`` rises, and the reply is the
``fallback`` drafter's (the offline extract, labelled on the card) or empty without one.

``check_model`` is the start-up check: one cheap call naming a bad key or an unknown model.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import cast

import anthropic
from anthropic.types import Message, MessageParam, TextBlockParam, ToolChoiceParam, ToolParam
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from bot import telemetry
from bot.domain import DraftResult
from bot.domain import retry_after_seconds as retry_after_seconds_of
from bot.pipeline.drafting.base import Drafter, DraftRequest
from bot.pipeline.drafting.prompt import (
    TOOL_CHOICE,
    TOOL_NAME,
    DraftOutputError,
    draft_tools,
    parse_tool_input,
    system_blocks,
    user_message,
)
from bot.pipeline.redact import redact

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(slots=True)
class _Tokens:
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_creation: int = 0

    def add(self, message: Message) -> None:
        self.input += message.usage.input_tokens
        self.output += message.usage.output_tokens
        self.cache_read += message.usage.cache_read_input_tokens or 0
        self.cache_creation += message.usage.cache_creation_input_tokens or 0


class DraftTruncatedError(Exception):
    """The reply did not fit the output budget even after it was raised once."""


@dataclass(frozen=True, slots=True)
class ModelCheck:
    """The answer of ``check_model``: ``problem`` is None when key and model work."""

    model: str
    problem: str | None = None
    #: The problem cannot pass by itself (a rejected key, an unknown model): drafting with
    #: Claude is pointless until the settings change and the process restarts.
    lasting: bool = False

    @property
    def ok(self) -> bool:
        """True when the key was accepted and the model exists."""
        return self.problem is None


async def check_model(client: anthropic.AsyncAnthropic, model: str) -> ModelCheck:
    """One cheap call (``GET /v1/models/{model}``, no tokens) that names what is wrong:
    a rejected key (401), a key without access (403), an unknown model id (404), or an API
    that cannot be reached. For ``supportbot doctor`` and start-up."""
    try:
        await client.with_options(max_retries=0).models.retrieve(model)
    except anthropic.AuthenticationError:
        return ModelCheck(model, "ANTHROPIC_API_KEY rejected by the Anthropic API (401)",
                          lasting=True)
    except anthropic.PermissionDeniedError:
        return ModelCheck(model, f"ANTHROPIC_API_KEY may not use model {model} (403)",
                          lasting=True)
    except anthropic.NotFoundError:
        return ModelCheck(model, f"model {model} not found (404): check SUPPORTBOT_LLM_MODEL",
                          lasting=True)
    except anthropic.APIStatusError as exc:
        return ModelCheck(model, redact(f"the Anthropic API answered {exc.status_code}: "
                                        f"{exc.api_message or exc.message}"))
    except anthropic.APIConnectionError:
        return ModelCheck(model, "could not connect to the Anthropic API (check "
                                 "ANTHROPIC_BASE_URL and the network)")
    return ModelCheck(model)


def retry_after_seconds(exc: BaseException) -> float | None:
    """The server's requested wait from ``retry-after-ms`` / ``retry-after``, if any."""
    if not isinstance(exc, anthropic.APIStatusError):
        return None
    return retry_after_seconds_of(exc.response.headers)


def is_retryable(exc: BaseException) -> bool:
    """Rate limits, overload, 5xx, timeouts, connection errors and malformed answers."""
    if isinstance(exc, anthropic.APIStatusError):
        if exc.response.headers.get("x-should-retry") == "false":
            return False
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return isinstance(exc, anthropic.APIConnectionError | DraftOutputError)


def describe_error(exc: BaseException, timeout: float) -> str:
    """A short, redacted explanation for the approval card."""
    if isinstance(exc, anthropic.RateLimitError):
        text = "rate limited by the Anthropic API (429)"
    elif isinstance(exc, anthropic.APIStatusError) and exc.status_code == 529:
        text = "the Anthropic API is overloaded (529)"
    elif isinstance(exc, anthropic.APIStatusError) and exc.status_code >= 500:
        text = f"Anthropic API server error ({exc.status_code})"
    elif isinstance(exc, anthropic.APIStatusError):
        detail = exc.api_message or exc.message
        text = f"the Anthropic API rejected the request ({exc.status_code}): {detail}"
    elif isinstance(exc, anthropic.APITimeoutError):
        text = f"the Anthropic API did not answer within {timeout:g}s"
    elif isinstance(exc, anthropic.APIConnectionError):
        text = "could not connect to the Anthropic API"
    elif isinstance(exc, DraftOutputError):
        text = f"malformed draft from the model: {exc}"
    elif isinstance(exc, DraftTruncatedError):
        text = str(exc)
    else:
        text = f"unexpected drafter error: {type(exc).__name__}: {exc}"
    return redact(text)


class ClaudeDrafter:
    """Drafts replies with Claude; see the module docstring for retries and failures."""

    def __init__(
        self,
        *,
        client: anthropic.AsyncAnthropic,
        model: str,
        max_attempts: int = 4,
        timeout: float = 60.0,
        max_tokens: int = 1024,
        retry_max_tokens: int = 4096,
        fallback: Drafter | None = None,
        backoff_base: float = 1.0,
        backoff_max: float = 20.0,
        max_retry_after: float = 30.0,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        owns_client: bool = False,
    ) -> None:
        self._client = client.with_options(max_retries=0)
        self._original = client
        self.model = model
        self._max_attempts = max(1, max_attempts)
        self._timeout = timeout
        self._max_tokens = max_tokens
        self._retry_max_tokens = max(retry_max_tokens, max_tokens)
        self._fallback = fallback
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._max_retry_after = max_retry_after
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._owns_client = owns_client

    async def aclose(self) -> None:
        """Close the HTTP client when this drafter created it (``make_drafter`` does)."""
        if self._owns_client:
            await self._original.close()

    async def check(self) -> None:
        """Raise unless the key is accepted and the model exists (a free models lookup)."""
        await self._client.models.retrieve(self.model, timeout=min(self._timeout, 10.0))

    async def draft(self, request: DraftRequest) -> DraftResult:
        """Draft a reply; never raises for API or model trouble (see module docstring)."""
        tokens = _Tokens()
        budget = [self._max_tokens]  # raised once, for every later attempt, on max_tokens
        attempts = 0
        retrying = AsyncRetrying(
            stop=self._should_stop,
            wait=self._wait,
            retry=retry_if_exception(is_retryable),
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    return await self._attempt(request, tokens, budget)
        except Exception as exc:  # every failure must become a visible state, not a drop
            return await self._failure(request, exc, attempts, tokens)
        raise AssertionError("unreachable: tenacity either returns or reraises")

    async def _attempt(
        self, request: DraftRequest, tokens: _Tokens, budget: list[int]
    ) -> DraftResult:
        message = await self._call(request, tokens, budget[0])
        if message.stop_reason == "max_tokens":
            if budget[0] >= self._retry_max_tokens:
                raise DraftTruncatedError(
                    f"the reply did not fit in {budget[0]} output tokens (stop_reason max_tokens)"
                )
            log.warning("draft cut at max_tokens=%d; asking once more with %d",
                        budget[0], self._retry_max_tokens)
            budget[0] = self._retry_max_tokens
            message = await self._call(request, tokens, budget[0])
            if message.stop_reason == "max_tokens":
                raise DraftTruncatedError(
                    f"the reply did not fit in {budget[0]} output tokens, even after one "
                    "retry with a larger budget (stop_reason max_tokens)"
                )
        tool_input = next(
            (
                block.input
                for block in message.content
                if block.type == "tool_use" and block.name == TOOL_NAME
            ),
            None,
        )
        if tool_input is None:
            raise DraftOutputError(f"no {TOOL_NAME} call (stop_reason={message.stop_reason})")
        parsed = parse_tool_input(tool_input, {p.source_id for p in request.passages})
        return DraftResult(
            reply=parsed.reply,
            self_confidence=parsed.confidence,
            needs_human=parsed.needs_human,
            reason=parsed.reason,
            cited_sources=parsed.cited_sources,
            reading=parsed.reading,
            model=message.model or self.model,
            input_tokens=tokens.input,
            output_tokens=tokens.output,
            cache_read_tokens=tokens.cache_read,
            cache_creation_tokens=tokens.cache_creation,
        )

    async def _call(self, request: DraftRequest, tokens: _Tokens, max_tokens: int) -> Message:
        try:
            message = await self._create(request, max_tokens)
        except json.JSONDecodeError as exc:  # a 200 with a broken body (proxy, truncation)
            raise DraftOutputError(f"the API answered with invalid JSON ({exc.msg})") from exc
        tokens.add(message)
        return message

    async def _create(self, request: DraftRequest, max_tokens: int) -> Message:
        return await self._client.messages.create(
            model=self.model,
            max_tokens=max_tokens,
            system=cast("list[TextBlockParam]", system_blocks(request.brand_name)),
            messages=[cast(MessageParam, user_message(request))],
            tools=cast("list[ToolParam]", draft_tools(self.model)),
            tool_choice=cast(ToolChoiceParam, TOOL_CHOICE),
            timeout=self._timeout,
        )

    def _should_stop(self, state: RetryCallState) -> bool:
        if state.attempt_number >= self._max_attempts:
            return True
        exc = state.outcome.exception() if state.outcome is not None else None
        wait = retry_after_seconds(exc) if exc is not None else None
        return wait is not None and wait > self._max_retry_after

    def _wait(self, state: RetryCallState) -> float:
        # Exponential backoff with "equal jitter": half fixed, half random, so concurrent
        # workers hit by the same 429 spread out instead of retrying in lockstep.
        ceiling = min(self._backoff_max, self._backoff_base * 2.0 ** (state.attempt_number - 1))
        delay = ceiling / 2 + self._rng.uniform(0, ceiling / 2)
        exc = state.outcome.exception() if state.outcome is not None else None
        requested = retry_after_seconds(exc) if exc is not None else None
        return max(delay, requested) if requested is not None else delay

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        wait = float(state.next_action.sleep) if state.next_action is not None else 0.0
        log.warning(
            "draft attempt %d/%d failed (%s); retrying in %.2fs",
            state.attempt_number,
            self._max_attempts,
            describe_error(exc, self._timeout) if exc is not None else "?",
            wait,
        )

    async def _failure(
        self, request: DraftRequest, exc: Exception, attempts: int, tokens: _Tokens
    ) -> DraftResult:
        error = describe_error(exc, self._timeout)
        requested = retry_after_seconds(exc)
        if requested is not None and requested > self._max_retry_after:
            error += f"; retry-after {requested:g}s exceeds the {self._max_retry_after:g}s budget"
        error += f" (after {attempts} attempt{'s' if attempts != 1 else ''})"
        expected = is_retryable(exc) or isinstance(
            exc, anthropic.APIStatusError | DraftTruncatedError
        )
        log.error("drafting failed: %s", error, exc_info=not expected)
        telemetry.DRAFTER_ERRORS.labels(self.model, _error_kind(exc)).inc()
        failed = DraftResult(
            reply="",
            self_confidence=0.0,
            needs_human=True,
            reason="the drafter failed; a human must answer",
            cited_sources=(),
            model=self.model,
            input_tokens=tokens.input,
            output_tokens=tokens.output,
            cache_read_tokens=tokens.cache_read,
            cache_creation_tokens=tokens.cache_creation,
            error=error,
        )
        if self._fallback is None:
            return failed
        offline = await self._fallback.draft(request)
        if not offline.reply.strip():
            return replace(failed, reason=f"the drafter failed and {offline.reason}")
        return replace(
            offline,
            needs_human=True,
            reason=f"Claude failed, so this is the offline extractive draft ({offline.reason})",
            input_tokens=tokens.input,
            output_tokens=tokens.output,
            cache_read_tokens=tokens.cache_read,
            cache_creation_tokens=tokens.cache_creation,
            error=error,
        )


def _error_kind(exc: BaseException) -> str:
    """A small label set for the error counter."""
    if isinstance(exc, anthropic.APIStatusError):
        return str(exc.status_code)
    if isinstance(exc, anthropic.APITimeoutError):
        return "timeout"
    if isinstance(exc, anthropic.APIConnectionError):
        return "connection"
    if isinstance(exc, DraftTruncatedError):
        return "max_tokens"
    if isinstance(exc, DraftOutputError):
        return "malformed"
    return "other"
