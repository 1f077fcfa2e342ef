"""Reliability diagram: predicted confidence against the observed share of positives.

matplotlib is imported inside the function with the Agg backend, so the CLI works on headless
servers and importing this module costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from bot.evaluation.metrics import reliability


def reliability_png(
    path: Path,
    series: Mapping[str, tuple[Sequence[bool], Sequence[float]]],
    *,
    title: str = "Confidence reliability",
    bins: int = 10,
) -> Path:
    """Draw one reliability curve per series (name → labels, scores) plus a histogram of the
    scores, and save it as a PNG at ``path`` (parent folders are created)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (curve, histogram) = plt.subplots(
        2, 1, figsize=(6, 7), gridspec_kw={"height_ratios": [3, 1]}, sharex=True
    )
    curve.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    for name, (labels, scores) in series.items():
        points = [b for b in reliability(labels, scores, bins) if b.count]
        curve.plot(
            [b.mean_confidence or 0.0 for b in points],
            [b.observed or 0.0 for b in points],
            marker="o",
            label=f"{name} (n={len(scores)})",
        )
        histogram.hist(list(scores), bins=bins, range=(0, 1), alpha=0.5, label=name)
    curve.set_ylabel("observed share answerable")
    curve.set_ylim(0, 1)
    curve.set_title(title)
    curve.legend(loc="upper left", fontsize="small")
    histogram.set_xlabel("confidence")
    histogram.set_ylabel("rows")
    histogram.set_xlim(0, 1)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
