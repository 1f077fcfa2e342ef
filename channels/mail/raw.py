"""The raw copy of an accepted mail: compressed once, in the parsing thread."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

KeepRaw = Callable[[str, int, bytes], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RawCopy:
    """``sha256`` and ``size`` of the original bytes, and their zlib-compressed form."""

    sha256: str
    size: int
    compressed: bytes = field(repr=False)

    @classmethod
    def of(cls, raw: bytes) -> RawCopy:
        return cls(hashlib.sha256(raw).hexdigest(), len(raw), zlib.compress(raw, 6))

    def describe(self) -> dict[str, object]:
        """What the message metadata keeps to find the original again."""
        return {"sha256": self.sha256, "size": self.size}
