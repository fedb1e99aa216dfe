"""The language the sheet, the reasons and the reports speak: English or Russian.

Texts are written in English in the code and translated through gettext catalogs
(``sheets_sync/locale/<lang>/LC_MESSAGES/sheets_sync.po``, compiled to ``.mo`` with Babel:
``python -m sheets_sync.i18n compile``; ``extract`` updates the catalog from the code). A text
is marked with :func:`_` where it is used, or with :func:`N_` where it is defined (a constant)
and translated with :func:`_` where it is shown.

The language of one run is a context variable (:func:`use_language`), set from the config's
``language`` (default: the system locale, ``LANG`` starting with ``ru`` gives Russian), so the
functions deep in a sync need no extra parameter. ``tests/test_i18n.py`` fails when a marked
text has no Russian translation or the compiled catalog is older than its source.
"""

from __future__ import annotations

import gettext
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

import numpy as np

DOMAIN = "sheets_sync"
LOCALE_DIR = Path(__file__).with_name("locale")
LANGUAGES = ("en", "ru")
DEFAULT = "en"

_current: ContextVar[str] = ContextVar("sheets_sync_language", default="")


def system_language() -> str:
    """The language of the system locale: ``ru`` when ``LC_ALL``, ``LC_MESSAGES`` or ``LANG``
    (the first one set) starts with ``ru``, else ``en``."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "").strip()
        if value:
            return "ru" if value.lower().startswith("ru") else DEFAULT
    return DEFAULT


def language() -> str:
    """The language in force: the one set by :func:`use_language`, else the system's."""
    return _current.get() or system_language()


@contextmanager
def use_language(lang: str | None) -> Iterator[str]:
    """Speak ``lang`` inside the block (``None`` or empty: follow the system locale)."""
    token = _current.set(lang or "")
    try:
        yield language()
    finally:
        _current.reset(token)


def set_language(lang: str | None) -> None:
    """Speak ``lang`` from now on in this context (empty: follow the system locale)."""
    _current.set(lang or "")


@cache
def translations(lang: str) -> gettext.NullTranslations:
    if lang == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)


def _(message: str) -> str:
    """``message`` in the language in force."""
    return translations(language()).gettext(message)


def translate(message: str) -> str:
    """A text marked elsewhere (with :func:`N_`) in the language in force; for dynamic lookups,
    which a catalog extractor must not take for texts."""
    return translations(language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(language()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` of ``context`` (``header``: a column header) in the language in force."""
    return translations(language()).pgettext(context, message)


def NC_(context: str, message: str) -> str:  # noqa: N802
    """Mark ``message`` of ``context`` for translation; translate it with :func:`pgettext`."""
    return message


def N_(message: str) -> str:  # noqa: N802 (gettext's name for a marker)
    """Mark ``message`` for translation where it is defined; translate it with :func:`_`."""
    return message


def in_language(message: str, lang: str) -> str:
    """``message`` in ``lang`` (for recognising a header in any language)."""
    return translations(lang).gettext(message)


def all_languages(message: str, context: str | None = None) -> list[str]:
    """``message`` in every language we ship, English first."""
    if context is not None:
        return list(dict.fromkeys(translations(lang).pgettext(context, message) for lang in LANGUAGES))
    return list(dict.fromkeys(in_language(message, lang) for lang in LANGUAGES))


# -- numbers and dates as the language writes them

_GROUP = re.compile(r"(\d)(?=(\d{3})+(?!\d))")
NBSP = "\u00a0"


def number(value: float | int, decimals: int = 2) -> str:
    """``value`` with at most ``decimals`` decimals, no trailing zeros: ``208.6`` in English,
    ``208,6`` in Russian (thousands grouped by a no-break space from 10 000 on)."""
    rounded = round(float(value), decimals)
    text = str(int(rounded)) if rounded.is_integer() else f"{rounded:.{decimals}f}".rstrip("0")
    return localise_number(text)


def localise_number(text: str) -> str:
    if language() != "ru":
        return text
    sign = text[:1] if text[:1] in "-−" else ""
    body = text[len(sign):].replace("-", "−")
    whole, _, frac = body.partition(".")
    if len(whole) > 4 and whole.isdigit():
        whole = _GROUP.sub(r"\1" + NBSP, whole)
    return (("−" if sign else "") + whole + ("," + frac if frac else ""))


def localise_numbers(texts: np.ndarray) -> np.ndarray:
    """:func:`localise_number` over an array of texts (vectorized for the common case)."""
    if language() != "ru" or not len(texts):
        return texts
    out = np.strings.replace(texts, ".", ",")
    dot = np.strings.find(texts, ".")
    whole = np.where(dot >= 0, dot, np.strings.str_len(texts))  # digits before the decimal mark
    for i in np.flatnonzero(whole > 4):  # 10 000 and more: grouped (few of them)
        out[i] = localise_number(str(texts[i]))
    return out


def day(value: object) -> str:
    """A date as the language writes it: ``01.08.2026`` in Russian, ``2026-08-01`` in English."""
    iso = value.isoformat()[:10] if hasattr(value, "isoformat") else str(value)[:10]
    if language() == "ru" and len(iso) == 10 and iso[4] == "-":
        return f"{iso[8:]}.{iso[5:7]}.{iso[:4]}"
    return iso


# -- the catalogs: python -m sheets_sync.i18n extract|compile (Babel, a development tool)

def _pybabel(args: list[str]) -> None:
    from babel.messages.frontend import CommandLineInterface

    CommandLineInterface().run(["pybabel", *args])


def extract() -> None:  # pragma: no cover - a development command
    pot = LOCALE_DIR / f"{DOMAIN}.pot"
    keywords = ["-k", "_", "-k", "N_", "-k", "ngettext:1,2", "-k", "pgettext:1c,2", "-k", "NC_:1c,2"]
    _pybabel(["extract", *keywords, "--no-location", "--omit-header", "--sort-output", "-o", str(pot),
              str(Path(__file__).parent)])
    for lang in LANGUAGES[1:]:
        po = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        _pybabel(["update", "-i", str(pot), "-o", str(po), "-l", lang, "--no-fuzzy-matching",
                  "--omit-header"])


def compile_catalogs() -> None:
    for lang in LANGUAGES[1:]:
        base = LOCALE_DIR / lang / "LC_MESSAGES" / DOMAIN
        _pybabel(["compile", "-i", f"{base}.po", "-o", f"{base}.mo", "-l", lang, "--statistics"])


if __name__ == "__main__":  # pragma: no cover
    import sys

    {"extract": extract, "compile": compile_catalogs}[sys.argv[1]]()
