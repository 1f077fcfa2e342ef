"""``eval routing``: rows against their own tiny KBs through the real router and model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from bot.cli.evaluate import add_eval_parser
from bot.evaluation.metrics import auroc, best_threshold, precision_recall, reliability
from bot.evaluation.routing import RoutingEvalError, parse_rows, resolve_kbs
from tests.conftest import SettingsFactory

KBS = {
    "shop": {
        "returns": "# Returns\n\n- How do I return an item\n- Can I send my order back",
        "shipping": "# Shipping\n\n- How long does delivery take\n- When will my parcel arrive",
        "payment": "# Payment\n\n- Which payment methods do you accept\n- Can I pay by card",
    },
    "game": {
        "withdraw": "# Withdraw winnings\n\n- How do I withdraw my winnings\n- Minimum withdrawal",
        "verify": "# Verify PAN card\n\n- How to verify my PAN card\n- PAN verification steps",
    },
}
ROWS = [
    ("How can I return an item I bought", "answerable", "shop"),
    ("when will my parcel arrive", "answerable", "shop"),
    ("do you accept payment by card", "answerable", "shop"),
    ("what is the capital of peru", "out_of_scope", "shop"),
    ("my cat likes to sleep on the sofa all day", "out_of_scope", "shop"),
    ("how to withdraw my winnings", "answerable", "game"),
    ("verify pan card", "answerable", "game"),
    ("which football team won the league in 1998", "out_of_scope", "game"),
]


def write_dataset(root: Path) -> Path:
    for kb, docs in KBS.items():
        folder = root / kb / "kb"
        folder.mkdir(parents=True)
        for name, text in docs.items():
            (folder / f"{name}.md").write_text(text, encoding="utf-8")
    rows = root / "routing.jsonl"
    rows.write_text(
        "\n".join(json.dumps({"text": t, "label": y, "kb": k}) for t, y, k in ROWS) + "\n",
        encoding="utf-8",
    )
    return rows


def test_auroc_counts_ties_as_half_and_needs_both_classes() -> None:
    assert auroc([True, False], [0.9, 0.1]) == 1.0
    assert auroc([True, False], [0.1, 0.9]) == 0.0
    assert auroc([True, False, True, False], [0.5, 0.5, 0.5, 0.5]) == 0.5
    assert auroc([True, True, False], [0.8, 0.4, 0.6]) == 0.5
    assert auroc([True, True], [0.1, 0.2]) is None


def test_precision_recall_reliability_and_threshold() -> None:
    assert precision_recall([True, True, False], [True, False, False]) == (0.5, 1.0)
    assert precision_recall([False], [True]) == (0.0, 0.0)
    bins = reliability([True, False, True], [0.05, 0.05, 1.0], bins=10)
    assert bins[0].count == 2 and bins[0].observed == 0.5 and bins[9].count == 1
    assert bins[5].observed is None
    assert 0.2 < best_threshold([False, False, True, True], [0.1, 0.2, 0.7, 0.8]) < 0.7


def test_rows_are_validated_with_line_numbers(tmp_path: Path) -> None:
    assert parse_rows(['{"text": "hi", "label": "answerable"}', ""])[0].kb is None
    with pytest.raises(RoutingEvalError, match=":2:"):
        parse_rows(['{"text": "a", "label": "answerable"}', '{"text": "b", "label": "maybe"}'])
    write_dataset(tmp_path)
    rows = parse_rows(['{"text": "a", "label": "answerable", "kb": "shop"}'])
    assert resolve_kbs(rows, base=tmp_path, default=None) == {"shop": tmp_path / "shop" / "kb"}
    with pytest.raises(RoutingEvalError, match="nowhere"):
        resolve_kbs(
            parse_rows(['{"text": "a", "label": "answerable", "kb": "nowhere"}']),
            base=tmp_path,
            default=None,
        )


async def test_eval_routing_reports_auroc_split_and_plot(
    tmp_path: Path, make_settings: SettingsFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = write_dataset(tmp_path / "data")
    png = tmp_path / "out" / "reliability.png"
    parser = argparse.ArgumentParser()
    add_eval_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["eval", "routing", str(rows), "--json", "--plot", str(png)])

    assert await args.func(make_settings(SUPPORTBOT_HUMAN_THRESHOLD="0.3"), args) == 0

    out = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(out[-1])
    assert list(summary) == [
        "rows",
        "auroc",
        "review_precision",
        "review_recall",
        "human_precision",
        "human_recall",
    ]
    assert summary["rows"] == len(ROWS)
    assert summary["auroc"] == 1.0  # near-verbatim questions against unrelated chatter
    assert summary["human_recall"] == 1.0 and summary["review_precision"] == 1.0
    table = "\n".join(out)
    assert "shop" in table and "game" in table and "overall" in table
    assert png.read_bytes().startswith(b"\x89PNG")


async def test_eval_routing_refuses_a_missing_kb(
    tmp_path: Path, make_settings: SettingsFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"text": "a", "label": "answerable", "kb": "absent"}\n', encoding="utf-8")
    parser = argparse.ArgumentParser()
    add_eval_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["eval", "routing", str(rows)])
    assert await args.func(make_settings(), args) == 2
    assert "absent" in capsys.readouterr().err


async def test_prequential_eval_learns_from_earlier_decisions(
    tmp_path: Path, make_settings: SettingsFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.evaluation.routing import load_rows, run_routing

    root = tmp_path / "data"
    write_dataset(root)
    repeats = [
        ("can I pay with bitcoin", "out_of_scope"),
        ("do you take bitcoin payments", "out_of_scope"),
        ("How can I return an item I bought", "answerable"),
        ("how do I send back an item I bought", "answerable"),
    ]
    path = root / "repeats.jsonl"
    path.write_text("\n".join(json.dumps({"text": t, "label": y, "kb": "shop"})
                              for t, y in repeats) + "\n", encoding="utf-8")
    rows = load_rows(path)
    folders = resolve_kbs(rows, base=root, default=None)
    settings = make_settings()
    static = {o.row.text: o for o in await run_routing(rows, folders, settings=settings)}
    learned = await run_routing(rows, folders, settings=settings, learn=True, seed=3)

    assert sorted(o.position for o in learned) == [0, 1, 2, 3]
    by_label: dict[bool, list[object]] = {True: [], False: []}
    for outcome in sorted(learned, key=lambda o: o.position):
        by_label[outcome.row.answerable].append(outcome)
    later_oos = by_label[False][1]
    later_answerable = by_label[True][1]
    # The second bitcoin question meets the first one's rejection; the second return question
    # meets the first one's approved answer. Nothing was learned in the static run.
    assert later_oos.analysis.confidence.parts["learned_agreement"] == 0.0  # type: ignore[attr-defined]
    assert later_oos.confidence < static[later_oos.row.text].confidence  # type: ignore[attr-defined]
    assert later_answerable.confidence > static[later_answerable.row.text].confidence  # type: ignore[attr-defined]
    assert all(o.analysis.confidence.parts["learned_agreement"] is None for o in static.values())

    parser = argparse.ArgumentParser()
    add_eval_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["eval", "routing", str(path), "--learn", "--seed", "3"])
    assert await args.func(settings, args) == 0
    assert "learning (prequential)" in capsys.readouterr().out


async def test_with_an_api_key_claudes_grounding_check_enters_the_confidence(
    tmp_path: Path, make_settings: SettingsFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.fakes.anthropic_server import Scenario, fake_anthropic_server

    rows = write_dataset(tmp_path / "data")
    parser = argparse.ArgumentParser()
    add_eval_parser(parser.add_subparsers(dest="command"))
    async with fake_anthropic_server() as claude:
        # Rows are drafted KB by KB in file order: Claude grounds the answerable ones and
        # declines the rest (needs_human, no reply), as the real model is asked to.
        for _, label, _ in sorted(ROWS, key=lambda r: list(KBS).index(r[2])):
            answerable = label == "answerable"
            claude.queue(Scenario.ok({
                "reply": "Here is how." if answerable else "",
                "confidence": 0.95 if answerable else 0.05,
                "needs_human": not answerable,
                "reason": "grounded" if answerable else "the passages do not answer this",
                "cited_sources": [],
            }))
        settings = make_settings(ANTHROPIC_API_KEY="sk-test", ANTHROPIC_BASE_URL=claude.url,
                                 SUPPORTBOT_HUMAN_THRESHOLD="0.3")
        from bot.evaluation.routing import load_rows, run_routing
        from bot.pipeline.drafting.factory import make_drafter

        drafter = make_drafter(settings)
        loaded = load_rows(rows)
        outcomes = await run_routing(loaded, resolve_kbs(loaded, base=rows.parent, default=None),
                                     settings=settings, drafter=drafter)
        await drafter.aclose()
        assert len(claude.requests) == len(ROWS)  # one grounded draft per row
        for o in outcomes:
            parts = o.analysis.confidence.parts
            assert parts["self_rating"] == (0.95 if o.row.answerable else 0.0), o.row.text
            assert (o.decision.value == "human") is not o.row.answerable, o.row.text

        for _ in ROWS:
            claude.queue(Scenario.ok())
        args = parser.parse_args(["eval", "routing", str(rows), "--json"])
        assert await args.func(settings, args) == 0
        assert len(claude.requests) == 2 * len(ROWS)  # the command drafts with Claude too
        assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["rows"] == len(ROWS)

        offline = parser.parse_args(["eval", "routing", str(rows), "--offline"])
        assert await offline.func(settings, offline) == 0
        assert len(claude.requests) == 2 * len(ROWS)  # --offline never calls the API
