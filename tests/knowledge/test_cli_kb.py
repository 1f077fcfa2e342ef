"""``supportbot kb`` sub-commands, called the way bot/cli.py calls them."""

from __future__ import annotations

import argparse
import gc
import json
import warnings
from pathlib import Path

import pytest

from bot.cli.kb import add_kb_parser
from config import Settings


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="supportbot")
    add_kb_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


async def _run(settings: Settings, argv: list[str]) -> int:
    args = _parse(argv)
    code: int = await args.func(settings, args)
    return code


async def test_ingest_then_search_json(
    kb_settings: Settings, small_kb: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _run(kb_settings, ["kb", "ingest", str(small_kb)]) == 0
    out, err = capsys.readouterr()
    assert "added 5" in out and "ingest 5/5" in err
    assert await _run(kb_settings, ["kb", "search", "refund my annual plan", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["doc_id"] == "billing/refunds" and len(hits) == 5


async def test_eval_json_last_line_is_the_contract(
    kb_settings: Settings, small_kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = tmp_path / "q.jsonl"
    queries.write_text(
        '{"query": "forgot my password", "relevant": ["account/password-reset"]}\n'
        '{"query": "delivery time to Spain", "relevant": ["shipping"]}\n',
        encoding="utf-8",
    )
    argv = ["kb", "eval", str(queries), "--kb", str(small_kb), "--json"]
    assert await _run(kb_settings, argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    metrics = json.loads(out[-1])
    assert list(metrics) == [
        "queries",
        "recall@1",
        "recall@3",
        "recall@5",
        "mrr",
        "latency_ms_p50",
        "latency_ms_p95",
    ]
    assert metrics["queries"] == 2 and metrics["recall@1"] == 1.0
    assert any("recall@3" in line for line in out[:-1])  # the table comes first
    # The isolated eval index leaves the configured one untouched.
    assert not (kb_settings.qdrant_path / "collection" / "kb_chunks").exists()


async def test_user_errors_exit_2(
    kb_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _run(kb_settings, ["kb", "ingest", str(tmp_path / "missing")]) == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text("nope\n", encoding="utf-8")
    assert await _run(kb_settings, ["kb", "eval", str(bad)]) == 2
    assert "bad.jsonl:1" in capsys.readouterr().err


async def test_locked_local_index_is_a_clear_error(
    kb_settings: Settings, small_kb: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from knowledge import make_qdrant_client

    holder = make_qdrant_client(kb_settings)  # e.g. the worker holding the data dir
    try:
        with warnings.catch_warnings():
            # qdrant-client leaves the lock file of the refused client open; collect it here.
            warnings.simplefilter("ignore", ResourceWarning)
            assert await _run(kb_settings, ["kb", "ingest", str(small_kb)]) == 1
            gc.collect()
    finally:
        await holder.close()
    assert "cannot open the Qdrant index" in capsys.readouterr().err
