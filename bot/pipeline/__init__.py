"""The pipeline's pure steps: triage, redaction, passages, drafting, confidence and ``decide()``.

Retriever and drafter are injected; nothing here touches the database or a channel. Layer rule:
imports only the root domain types, ports and clock (never ``bot.store``, ``bot.flow``,
``bot.ops``).
"""
