"""Translations: gettext catalogs inside the package (found from any working directory)."""

from __future__ import annotations

from pathlib import Path

from aiogram.utils.i18n import I18n

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
DEFAULT_LOCALE = "ru"
LANGUAGES = ("ru", "kk", "en")


def make_i18n() -> I18n:
    return I18n(path=LOCALES_DIR, default_locale=DEFAULT_LOCALE, domain=DOMAIN)


def pick_locale(*candidates: str | None) -> str:
    """The first supported language among candidates (a person's saved one, then Telegram's)."""
    for candidate in candidates:
        if not candidate:
            continue
        code = candidate.split("-")[0].lower()
        if code == "kz":  # people and some clients write Kazakh as kz
            code = "kk"
        if code in LANGUAGES:
            return code
    return DEFAULT_LOCALE


def N_(message: str) -> str:
    """Marks a string for extraction; it is translated later, where the language is known."""
    return message
