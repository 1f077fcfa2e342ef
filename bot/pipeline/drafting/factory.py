"""``make_drafter``: Claude when an API key is configured, the offline drafter otherwise."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.domain import DraftResult
from bot.pipeline.drafting.base import Drafter, DraftRequest
from bot.pipeline.drafting.offline import OfflineDrafter
from config import Settings

if TYPE_CHECKING:
    import anthropic

log = logging.getLogger(__name__)


def make_llm_client(settings: Settings) -> anthropic.AsyncAnthropic | None:
    """The Anthropic client of these settings (None without ``ANTHROPIC_API_KEY``); the
    caller closes it. Shared by the drafter and the learned-answer generaliser."""
    if settings.anthropic_api_key is None:
        return None
    import anthropic

    return anthropic.AsyncAnthropic(
        api_key=settings.anthropic_api_key.get_secret_value(),
        base_url=settings.anthropic_base_url,
        max_retries=0,  # ClaudeDrafter retries itself (see bot.pipeline.drafting.claude)
        timeout=settings.llm_timeout_seconds,
    )


def make_drafter(settings: Settings, *, client: anthropic.AsyncAnthropic | None = None) -> Drafter:
    """The drafter for these settings.

    ``ClaudeDrafter`` when ``ANTHROPIC_API_KEY`` is set or a ``client`` is injected (tests
    and the composition root may bring their own); the drafter owns and closes a client it
    created here. ``OfflineDrafter`` otherwise: cards then say "drafted offline".
    """
    if settings.anthropic_api_key is None and client is None:
        log.info("drafter: offline extractive (no ANTHROPIC_API_KEY)")
        return OfflineDrafter()

    # Imported here so the offline path never loads the SDK.
    from bot.pipeline.drafting.claude import ClaudeDrafter

    owns_client = client is None
    if client is None:
        client = make_llm_client(settings)
        assert client is not None
    log.info(
        "drafter: Claude (model=%s, base_url=%s, attempts=%d)",
        settings.llm_model,
        client.base_url,
        settings.llm_max_attempts,
    )
    return ClaudeDrafter(
        client=client,
        model=settings.llm_model,
        max_attempts=settings.llm_max_attempts,
        timeout=settings.llm_timeout_seconds,
        max_tokens=settings.llm_max_tokens,
        retry_max_tokens=settings.llm_retry_max_tokens,
        fallback=OfflineDrafter(),  # a failed draft still puts an extract on the card
        owns_client=owns_client,
    )


#: The model name of offline drafts made because Claude failed its start-up check (the card
#: says so instead of "no API key").
OFFLINE_INSTEAD_MODEL = "offline-extractive (Claude failed the start-up check)"


class OfflineInstead:
    """The offline drafter standing in for Claude after a lasting start-up problem (a
    rejected key, an unknown model): its drafts name why they are offline."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        self._offline = OfflineDrafter()
        self.model = OFFLINE_INSTEAD_MODEL

    async def draft(self, request: DraftRequest) -> DraftResult:
        """The offline extract, labelled as standing in for Claude."""
        result = await self._offline.draft(request)
        return replace(result, model=OFFLINE_INSTEAD_MODEL,
                       reason=f"Claude is off since start-up ({self.problem}); {result.reason}")

    async def aclose(self) -> None:
        """Nothing to release."""

    async def check(self) -> None:
        """Always ready: drafting offline needs nothing."""
