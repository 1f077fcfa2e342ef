"""Mail parsing throughput over the .eml corpus (a script; pytest does not collect it).

    .venv/bin/python tests/benchmarks/bench_mail.py [--repeats 7] [--rounds 20]

Prints messages/s per fixture and for the whole corpus: the median over ``--repeats`` runs,
each parsing every fixture ``--rounds`` times (``parse_mail``: MIME, charsets, HTML → text,
quote stripping, loop checks; no disk, no network).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from channels.mail.parse import MailRejected, parse_mail  # noqa: E402

CORPUS = ROOT / "tests" / "channels" / "mail" / "fixtures"
OURS = frozenset({"acme.example"})


def _parse(raw: bytes) -> None:
    try:
        parse_mail(raw, our_domains=OURS)
    except MailRejected:
        pass  # own mail is rejected by design; it is still parsed


def rate(messages: list[bytes], rounds: int) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        for raw in messages:
            _parse(raw)
    return rounds * len(messages) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    files = sorted(CORPUS.glob("*.eml"))
    corpus = {p.name: p.read_bytes() for p in files}
    for raw in corpus.values():  # warm-up: regex compilation, codec lookups
        _parse(raw)
    rows = []
    for name, raw in corpus.items():
        rates = [rate([raw], args.rounds) for _ in range(args.repeats)]
        rows.append((name, len(raw), statistics.median(rates)))
    total = [rate(list(corpus.values()), args.rounds) for _ in range(args.repeats)]
    width = max(len(n) for n, _, _ in rows)
    print(f"{'fixture':<{width}}  {'bytes':>7}  {'msg/s':>9}  {'ms/msg':>7}")
    for name, size, value in rows:
        print(f"{name:<{width}}  {size:>7}  {value:>9.0f}  {1000 / value:>7.2f}")
    median = statistics.median(total)
    print(
        f"{f'corpus ({len(rows)} messages)':<{width}}  {'':>7}  "
        f"{median:>9.0f}  {1000 / median:>7.2f}"
    )
    print(
        f"median of {args.repeats} repeats x {args.rounds} rounds; Python {sys.version.split()[0]}"
    )


if __name__ == "__main__":
    main()
