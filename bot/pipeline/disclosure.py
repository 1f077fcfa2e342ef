"""The line an automatic reply carries: it was written automatically, and how to reach a person.

Replying "human" (any channel; triage's wants-a-human flag) hands the conversation to people.
The configured line (``SUPPORTBOT_AUTO_DISCLOSURE``, ``off`` to omit) is used as written; the
default English line is translated for the languages triage recognises.
"""

from __future__ import annotations

from config.settings import DEFAULT_DISCLOSURE

_TRANSLATED = {
    "de": "Diese Antwort wurde automatisch verfasst. Wenn sie nicht hilft, antworten Sie "
          "\"human\" und ein Mensch übernimmt.",
    "fr": "Cette réponse a été rédigée automatiquement. Si elle ne vous aide pas, répondez "
          "« human » et une personne prendra le relais.",
    "es": "Esta respuesta se escribió automáticamente. Si no le ayuda, responda \"human\" y "
          "una persona se encargará.",
    "it": "Questa risposta è stata scritta automaticamente. Se non è utile, risponda \"human\" "
          "e una persona se ne occuperà.",
    "nl": "Dit antwoord is automatisch geschreven. Helpt het niet, antwoord dan \"human\" en "
          "een medewerker neemt het over.",
    "pt": "Esta resposta foi escrita automaticamente. Se não ajudar, responda \"human\" e uma "
          "pessoa assumirá.",
}


def disclosure_line(configured: str | None, language: str | None) -> str | None:
    """The line for a reply in ``language``; None when disclosure is off."""
    if configured is None:
        return None
    if configured == DEFAULT_DISCLOSURE and language in _TRANSLATED:
        return _TRANSLATED[language]
    return configured


def disclose(text: str, configured: str | None, language: str | None = None) -> str:
    """``text`` with the disclosure line appended (once), or unchanged when it is off."""
    line = disclosure_line(configured, language)
    if line is None or line in text:
        return text
    return f"{text.rstrip()}\n\n— {line}"
