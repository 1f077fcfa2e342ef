"""Drafting replies: Claude when an API key is configured, an extractive drafter otherwise.

``ClaudeDrafter`` lives in ``bot.pipeline.drafting.claude`` and is not re-exported here, so that
importing the package (the offline path, the text helpers) does not load the Anthropic SDK.
"""

from bot.pipeline.drafting.base import Drafter, DraftRequest, retrieval_score
from bot.pipeline.drafting.factory import make_drafter
from bot.pipeline.drafting.offline import OFFLINE_MODEL, OfflineDrafter

__all__ = [
    "OFFLINE_MODEL",
    "DraftRequest",
    "Drafter",
    "OfflineDrafter",
    "make_drafter",
    "retrieval_score",
]
