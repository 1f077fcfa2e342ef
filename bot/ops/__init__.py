"""Operations: scheduled jobs, the scheduler, stats, metrics and the HTTP surface.

Layer rule: may import ``bot.flow`` and everything below it; only the entry points import this.
"""
