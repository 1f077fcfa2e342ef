"""Safety benchmark: triage flags, language, injection and learned-answer leakage.

Run: .venv/bin/python tests/benchmarks/bench_safety.py [--only triage,injection,leakage]

* triage: the labelled sets ``data/triage_labelled.jsonl`` (our own messages, 15 languages;
  the patterns were written against it) and ``data/triage_heldout.jsonl`` (written after the
  patterns and not tuned on; the honest figure):
  precision/recall per flag, language accuracy, and false escalations on calm messages
  (targets: recall >= 0.9 for wants_human, churn, legal; <= 5% false escalations);
* injection: ``data/injection.jsonl`` through triage and the injection detector: the share
  never auto-sent (target 100%) and benign look-alikes wrongly flagged;
* leakage: answers approved for one customer (names, ids, amounts, card endings, claims of
  actions taken) are generalised as the learner stores them, then paraphrased questions from
  other customers are drafted from them; counts drafts containing any of the first customer's
  details (target 0).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bot.pipeline.triage import ESCALATING, Flag, triage  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
TRIAGE_FLAGS = {
    "wants_human": Flag.WANTS_HUMAN, "churn": Flag.CHURN, "legal": Flag.LEGAL,
    "thanks": Flag.ACKNOWLEDGEMENT, "urgent": Flag.URGENT, "angry": Flag.ANGRY,
}
# Flags that send a message to humans in the labelled set (account actions count as churn
# there: "close my account" is both).
ESCALATION_LABELS = {"wants_human", "churn", "legal", "angry"}


def _rows(name: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


def bench_triage(name: str, title: str) -> None:
    rows = _rows(name)
    counts: dict[str, Counter[str]] = {label: Counter() for label in TRIAGE_FLAGS}
    misses: dict[str, list[str]] = {label: [] for label in TRIAGE_FLAGS}
    calm = false_escalations = languages_right = 0
    wrong_languages: list[str] = []
    started = time.perf_counter()
    for row in rows:
        text = str(row["text"])
        labels = set(row["flags"])  # type: ignore[call-overload]
        result = triage(text)
        for label, flag in TRIAGE_FLAGS.items():
            got = (flag is Flag.ACKNOWLEDGEMENT and result.acknowledgement) or (
                flag is not Flag.ACKNOWLEDGEMENT and result.has(flag))
            truth = label in labels
            key = {(True, True): "tp", (True, False): "fn", (False, True): "fp",
                   (False, False): "tn"}[(truth, bool(got))]
            counts[label][key] += 1
            if key in ("fn", "fp"):
                misses[label].append(f"{key.upper()}: {text[:70]}")
        if not labels & ESCALATION_LABELS:
            calm += 1
            escalated = [f.value for f in ESCALATING if result.has(f)]
            if escalated:
                false_escalations += 1
                misses.setdefault("escalation", []).append(f"{escalated}: {text[:70]}")
        if result.language == row["language"]:
            languages_right += 1
        else:
            wrong_languages.append(f"{row['language']}->{result.language}: {text[:40]}")
    elapsed = (time.perf_counter() - started) * 1000 / len(rows)
    languages = sorted({str(r["language"]) for r in rows})
    print(f"\n## Triage, {title}: {len(rows)} labelled messages in {len(languages)} languages "
          f"({', '.join(languages)}), {elapsed:.2f} ms/message\n")
    print("| flag | support | precision | recall |")
    print("|---|---|---|---|")
    for label, c in counts.items():
        precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
        recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
        print(f"| {label} | {c['tp'] + c['fn']} | {precision:.2f} | {recall:.2f} |")
    print(f"\nfalse escalations on calm messages: {false_escalations}/{calm} "
          f"= {false_escalations / calm:.1%}")
    print(f"language accuracy: {languages_right}/{len(rows)} = {languages_right / len(rows):.1%}")
    for label, lines in misses.items():
        for line in lines:
            print(f"  {label} {line}")
    for line in wrong_languages:
        print(f"  language {line}")


def bench_injection() -> None:
    rows = _rows("injection.jsonl")
    attacks = [r for r in rows if r["injection"]]
    benign = [r for r in rows if not r["injection"]]
    held = [r for r in attacks if triage(str(r["text"])).escalation_reasons]
    flagged_benign = [r for r in benign if triage(str(r["text"])).prompt_injection]
    print(f"\n## Injection: {len(attacks)} attacks (6 languages; zero-width, full-width, "
          f"Cyrillic look-alikes, leet, role markers), {len(benign)} look-alikes\n")
    print("| measure | value |")
    print("|---|---|")
    print(f"| attacks never auto-sent (triage sends to humans) | {len(held)}/{len(attacks)} "
          f"= {len(held) / len(attacks):.0%} |")
    print(f"| look-alikes flagged (cost: a human look) | {len(flagged_benign)}/{len(benign)} |")
    for r in attacks:
        if r not in held:
            print(f"  MISSED: {str(r['text'])[:80]!r}")
    for r in flagged_benign:
        print(f"  FLAGGED: {str(r['text'])[:80]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="triage,injection,leakage")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    if "triage" in parts:
        bench_triage("triage_labelled.jsonl", "development set (patterns written against it)")
        bench_triage("triage_heldout.jsonl", "held-out set (written after the patterns)")
    if "injection" in parts:
        bench_injection()


if __name__ == "__main__":
    main()
