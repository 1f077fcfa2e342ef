"""Storage: the only code that imports Tortoise.

Models, database set-up, migrations, leases and runtime settings, plus one named function per
state change and per query. Layer rule: imports only the root domain types, ports and clock.
"""
