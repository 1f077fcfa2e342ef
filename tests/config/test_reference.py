"""The settings reference: every setting is documented, and the README's table and
``.env.example`` are what ``config.reference`` generates from ``config/settings.py``."""

from __future__ import annotations

import re
from pathlib import Path

from config import Settings, load_settings
from config.reference import END, env_example, main, markdown_table, rows

REPO = Path(__file__).resolve().parents[2]


def test_every_setting_has_a_name_and_a_description() -> None:
    for name, field in Settings.model_fields.items():
        if name == "webhooks":  # SUPPORTBOT_WEBHOOK_<SOURCE>_*: documented as its own rows
            continue
        assert field.alias, f"{name} has no environment name"
        assert field.description and len(field.description) >= 10, f"{field.alias} undocumented"


def test_the_readme_table_and_env_example_are_up_to_date() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme, "run: python -m config.reference --write"
    assert (REPO / ".env.example").read_text(encoding="utf-8") == env_example()
    assert main(["--root", str(REPO)]) == 0


def test_every_variable_is_in_the_table_once() -> None:
    table = markdown_table()
    names = [name for name, *_ in rows()]
    assert len(names) == len(set(names))
    for name in names:
        assert table.count(f"| `{name}` |") == 1
    assert table.endswith(END)


def test_the_documented_defaults_are_the_real_ones(tmp_path: Path) -> None:
    # Uncomment every example line that has a value: the result must be the default settings.
    lines = [re.sub(r"^# ([A-Z][A-Z0-9_]*=.+)$", r"\1", line)
             for line in env_example().splitlines() if "<SOURCE>" not in line]
    env_file = tmp_path / ".env"
    env_file.write_text("\n".join(line for line in lines if "SHOP" not in line) + "\n")
    assert sum(1 for line in lines if re.match(r"^[A-Z]", line)) >= 40
    assert load_settings({}, env_file=env_file) == load_settings({}, env_file=None)


def test_a_stale_readme_is_reported_and_rewritten(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    (tmp_path / "README.md").write_text(readme.replace("| `PORT` |", "| `PORTX` |"))
    assert main(["--root", str(tmp_path)]) == 1  # README stale, .env.example missing
    assert main(["--root", str(tmp_path), "--write"]) == 0
    assert main(["--root", str(tmp_path)]) == 0
    assert (tmp_path / "README.md").read_text(encoding="utf-8") == readme
