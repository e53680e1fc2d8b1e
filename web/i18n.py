"""The pages' languages: message catalogs and the choice of language for a request.

Catalogs are flat JSON files under ``locales/`` (``en.json`` is the reference: every other catalog
has exactly its keys, which a test checks). A request gets the language named by ``?lang=`` (the
visible switch on every page), else the best match in ``Accept-Language``, else English.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

LOCALES_DIR = Path(__file__).parent / "locales"
DEFAULT_LANGUAGE = "en"


@cache
def catalogs() -> dict[str, dict[str, str]]:
    """Every catalog, by language code."""
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(LOCALES_DIR.glob("*.json"))
    }


def languages() -> list[str]:
    """The language codes the pages are available in, English first."""
    return sorted(catalogs(), key=lambda code: (code != DEFAULT_LANGUAGE, code))


def _accepted(header: str) -> list[str]:
    """The primary language tags of an ``Accept-Language`` header, best first (RFC 9110 12.5.4)."""
    ranked = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                weight = float(params[2:])
            except ValueError:
                continue
        if tag and weight > 0:
            ranked.append((-weight, position, tag.strip().lower().split("-")[0]))
    return [tag for *_, tag in sorted(ranked)]


def negotiate(query_lang: str | None, accept_language: str | None) -> str:
    """The language for a request: ``?lang=`` if offered, else Accept-Language, else English."""
    available = catalogs()
    if query_lang and query_lang.lower() in available:
        return query_lang.lower()
    for tag in _accepted(accept_language or ""):
        if tag in available:
            return tag
    return DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Translator:
    """Looks messages up in one language, falling back to English for a missing one."""

    language: str

    def __call__(self, key: str, **values: object) -> str:
        found = catalogs().get(self.language, {}).get(key)
        if found is None:
            found = catalogs()[DEFAULT_LANGUAGE][key]  # a missing English key is a bug: KeyError
        return found.format(**values) if values else found
