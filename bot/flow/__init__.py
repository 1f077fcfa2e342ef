"""The side effects in pipeline order: inbox, router (load facts, analyse, store), worker, outbox,
decisions and learning. Layer rule: imports ``bot.pipeline`` and ``bot.store`` and the root types,
never ``bot.ops``, the entry points or ``bot.evaluation``.
"""
