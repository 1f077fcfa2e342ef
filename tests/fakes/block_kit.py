"""Block Kit's documented limits, checked the way Slack refuses a payload: the fake Slack API
answers ``invalid_blocks`` (messages) or ``invalid_arguments`` (views) with the reasons, so a
card or modal over a limit fails its test the way it would fail in production.

docs.slack.dev/reference/block-kit: a message holds 50 blocks, a modal or Home tab 100;
section text 3000 characters, 10 fields of 2000; header 150; context 10 elements; actions 25
elements; button text 75, value 2000; block_id/action_id 255 and unique block ids; modal
title/submit/close 24; private_metadata 3000; plain_text_input 3000; message text 40,000.
"""

from __future__ import annotations

from typing import Any

MESSAGE_BLOCKS, VIEW_BLOCKS = 50, 100


def _text(obj: Any) -> str:
    return str(obj.get("text", "")) if isinstance(obj, dict) else ""


def _element(element: dict[str, Any], where: str) -> list[str]:
    errors: list[str] = []
    if len(str(element.get("action_id", ""))) > 255:
        errors.append(f"{where}: action_id longer than 255")
    if element.get("type") == "button":
        if not 0 < len(_text(element.get("text"))) <= 75:
            errors.append(f"{where}: button text must be 1-75 characters")
        if len(str(element.get("value", ""))) > 2000:
            errors.append(f"{where}: button value longer than 2000")
        if len(str(element.get("url", ""))) > 3000:
            errors.append(f"{where}: button url longer than 3000")
    if element.get("type") == "plain_text_input":
        limit = int(element.get("max_length") or 3000)
        if limit > 3000:
            errors.append(f"{where}: max_length over 3000")
        if len(str(element.get("initial_value") or "")) > limit:
            errors.append(f"{where}: initial_value longer than max_length")
    return errors


def block_errors(blocks: list[dict[str, Any]], *, limit: int) -> list[str]:
    """Every limit the blocks break (empty: Slack would take them)."""
    errors: list[str] = []
    if len(blocks) > limit:
        errors.append(f"{len(blocks)} blocks, more than {limit}")
    ids = [b["block_id"] for b in blocks if "block_id" in b]
    if len(ids) != len(set(ids)):
        errors.append("duplicate block_id")
    for i, block in enumerate(blocks):
        where = f"blocks[{i}]"
        kind = block.get("type")
        if len(str(block.get("block_id", ""))) > 255:
            errors.append(f"{where}: block_id longer than 255")
        if kind == "header" and not 0 < len(_text(block.get("text"))) <= 150:
            errors.append(f"{where}: header text must be 1-150 characters")
        elif kind == "section":
            if "text" in block and not 0 < len(_text(block["text"])) <= 3000:
                errors.append(f"{where}: section text must be 1-3000 characters")
            fields = block.get("fields") or []
            if len(fields) > 10 or any(len(_text(f)) > 2000 for f in fields):
                errors.append(f"{where}: at most 10 fields of 2000 characters")
            if "text" not in block and not fields:
                errors.append(f"{where}: a section needs text or fields")
            if isinstance(block.get("accessory"), dict):
                errors += _element(block["accessory"], where)
        elif kind == "context":
            elements = block.get("elements") or []
            if not 0 < len(elements) <= 10:
                errors.append(f"{where}: context must have 1-10 elements")
            if any(len(_text(e)) > 3000 for e in elements):
                errors.append(f"{where}: context text longer than 3000")
        elif kind == "actions":
            elements = block.get("elements") or []
            if not 0 < len(elements) <= 25:
                errors.append(f"{where}: actions must have 1-25 elements")
            for element in elements:
                errors += _element(element, where)
        elif kind == "input":
            if len(_text(block.get("label"))) > 2000:
                errors.append(f"{where}: label longer than 2000")
            errors += _element(block.get("element") or {}, where)
    return errors


def message_errors(params: dict[str, Any], blocks: list[dict[str, Any]] | None) -> list[str]:
    """What ``chat.postMessage`` / ``chat.update`` would refuse."""
    errors = block_errors(blocks, limit=MESSAGE_BLOCKS) if blocks is not None else []
    if len(str(params.get("text") or "")) > 40_000:
        errors.append("text longer than 40,000 characters")
    return errors


def view_errors(view: dict[str, Any]) -> list[str]:
    """What ``views.open`` / ``views.update`` / ``views.publish`` would refuse."""
    errors = block_errors(view.get("blocks") or [], limit=VIEW_BLOCKS)
    for key in ("title", "submit", "close"):
        if key in view and len(_text(view[key])) > 24:
            errors.append(f"{key} longer than 24 characters")
    if len(str(view.get("private_metadata") or "")) > 3000:
        errors.append("private_metadata longer than 3000")
    if len(str(view.get("callback_id") or "")) > 255:
        errors.append("callback_id longer than 255")
    return errors
