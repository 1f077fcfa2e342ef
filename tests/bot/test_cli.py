"""The ``supportbot`` command line as a user runs it (real subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.bot.test_webhook_e2e import KB
from tests.conftest import model_env


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
