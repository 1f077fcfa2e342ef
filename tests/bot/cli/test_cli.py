"""The ``supportbot`` command line as a user runs it (real subprocesses)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bot.app import with_demo_source
from bot.cli.main import banner, build_parser
from config import load_settings
from tests.conftest import model_env
from tests.fakes.support import KB


def supportbot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli.main", *args], env=env, text=True,
                          capture_output=True, timeout=180)


def base_env(tmp_path: Path) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HF_HUB_OFFLINE": "1", **model_env(),
            "SUPPORTBOT_DATA_DIR": str(tmp_path / "data")}


def test_ask_shows_draft_confidence_decision_and_sources_without_sending(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    for name, text in KB.items():
        (kb / name).write_text(text)
    env = base_env(tmp_path)
    assert supportbot("migrate", env=env).returncode == 0
    ingest = supportbot("kb", "ingest", str(kb), env=env)
    assert ingest.returncode == 0, ingest.stderr
    result = supportbot("ask", "I forgot my password, how do I reset it?", "--json", env=env)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["decision"] in {"review", "auto", "human"}
    assert answer["sources"][0]["source_id"] == "reset-password"
    assert "Forgot password" in answer["draft"] and answer["drafter"]["offline"] is True
    assert {"top_score", "margin", "coverage"} <= set(answer["confidence"]["parts"])
    # Nothing was stored or sent: stats still show an empty desk.
    stats = supportbot("stats", "--since", "1d", "--json", env=env)
    assert stats.returncode == 0, stats.stderr
    figures = json.loads(stats.stdout.strip().splitlines()[-1])
    assert figures["inbound"] == 0 and figures["drafts"] == 0


def test_a_bad_setting_stops_start_up_naming_the_variable(tmp_path: Path) -> None:
    env = {**base_env(tmp_path), "SUPPORTBOT_AUTO_SEND_THRESHOLD": "very"}
    result = supportbot("migrate", env=env)
    assert result.returncode == 2 and "SUPPORTBOT_AUTO_SEND_THRESHOLD" in result.stderr


def test_version_and_help(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    version = supportbot("--version", env=env)
    assert version.returncode == 0 and version.stdout.startswith("supportbot ")
    top = supportbot("--help", env=env)
    assert top.returncode == 0
    assert "``" not in top.stdout and "**" not in top.stdout  # no raw markup
    assert "doctor" in top.stdout and "--version" in top.stdout


def _walk(parser: argparse.ArgumentParser, path: str = "supportbot") -> Iterator[tuple[str, Any]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, f"{path} {name}")
        else:
            yield path, action


def test_every_option_and_argument_has_help_text() -> None:
    missing = [f"{path}: {action.dest}" for path, action in _walk(build_parser())
               if not action.help and action.dest != "help"]
    assert missing == []


def test_the_banner_says_where_the_demo_secret_is_and_never_prints_it(tmp_path: Path) -> None:
    settings = with_demo_source(load_settings({"SUPPORTBOT_DATA_DIR": str(tmp_path / "d")},
                                              env_file=None))
    demo = settings.webhook_source("demo")
    assert demo is not None
    text = banner(settings, host="127.0.0.1", port=8000)
    assert demo.secret.get_secret_value() not in text
    assert str(tmp_path / "d" / "demo-webhook-secret") in text


def test_doctor_exits_non_zero_when_a_check_fails(tmp_path: Path) -> None:
    # A fresh data dir: the database is not migrated (the exit-0 path: tests/bot/test_doctor.py).
    result = supportbot("doctor", env=base_env(tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL  database" in result.stdout and "→ run `supportbot migrate`" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("1 failed")
