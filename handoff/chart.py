"""The ``/support stats`` chart: drafts per day by outcome, with the inbound volume."""

from __future__ import annotations

import io

from bot.ops.stats import OUTCOMES, Stats

_COLOURS = {"auto_sent": "#2eb67d", "approved": "#36c5f0", "edited": "#ecb22e",
            "rejected": "#e01e5a", "human": "#4a154b", "pending": "#b0b0b0"}


def render_chart(stats: Stats) -> bytes:
    """A PNG (CPU-bound: callers run it in a thread with ``asyncio.to_thread``)."""
    # Imported here: matplotlib takes a moment to load and only this command needs it.
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    days = [p.day.strftime("%m-%d") for p in stats.daily]
    figure = Figure(figsize=(8, 4), dpi=100)
    axes = figure.subplots()
    bottom = [0] * len(days)
    for outcome in OUTCOMES:
        values = [p.outcomes.get(outcome, 0) for p in stats.daily]
        axes.bar(days, values, bottom=bottom, label=outcome.replace("_", " "),
                 color=_COLOURS[outcome])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axes.plot(days, [p.inbound for p in stats.daily], color="black", marker="o",
              linewidth=1, label="inbound messages")
    axes.set_title(f"Support desk, {stats.since:%Y-%m-%d} to {stats.until:%Y-%m-%d}")
    axes.set_ylabel("per day")
    axes.legend(fontsize="small", ncols=2)
    if len(days) > 10:
        axes.tick_params(axis="x", labelrotation=60, labelsize="small")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
