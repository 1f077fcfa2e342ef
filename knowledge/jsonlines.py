"""JSON-lines files of labelled rows (``kb eval`` queries, routing evaluation rows)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any


def json_rows(lines: Iterable[str], source: str, *, required: tuple[str, ...],
              error: type[Exception]) -> list[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line; a line that is not a JSON object
    with the ``required`` keys raises ``error`` naming ``source`` and the line."""
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            missing = [key for key in required if key not in data]
        except (json.JSONDecodeError, TypeError) as exc:
            raise error(f"{source}:{number}: expected {{{', '.join(required)}}}: {exc}") from None
        if not isinstance(data, dict) or missing:
            raise error(f"{source}:{number}: expected {{{', '.join(required)}}}: "
                        f"missing {', '.join(repr(m) for m in missing) or 'an object'}")
        rows.append((number, data))
    return rows
