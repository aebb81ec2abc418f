"""Translations are complete and the compiled catalogs match their sources."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from views.i18n import LANGUAGES, LOCALES_DIR, pick_locale

ROOT = Path(__file__).parent.parent
KEYWORDS = {"_": None, "N_": None, "__": None, "lazy_gettext": None}


def code_messages() -> set[str]:
    found: set[str] = set()
    for folder in ("bot", "handlers", "runtime", "views", "services"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


def catalog(language: str):
    with (LOCALES_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle)


def test_every_string_in_the_code_is_in_every_catalog():
    messages = code_messages()
    assert messages, "extraction found nothing"
    for language in LANGUAGES:
        ids = {m.id for m in catalog(language) if m.id}
        missing = messages - ids
        assert not missing, f"{language}: run `make locales`; missing {sorted(missing)[:5]}"


def forms(value: str | tuple[str, ...]) -> tuple[str, ...]:
    """A message's id or string as a tuple: plural messages have several forms."""
    return value if isinstance(value, tuple) else (value,)


@pytest.mark.parametrize("language", ["kk", "en"])
def test_kazakh_and_english_are_complete_and_keep_placeholders(language):
    for message in catalog(language):
        if not message.id:
            continue
        source = forms(message.id)[0]
        for translated in forms(message.string):
            assert translated, f"{language}: untranslated {message.id!r}"
            assert set(re.findall(r"\{\w+\}", source)) == set(re.findall(r"\{\w+\}", translated)), message.id
            assert source.count("<") == translated.count("<"), f"tags differ: {message.id!r}"
        assert not message.fuzzy, f"{language}: fuzzy {message.id!r}"


def test_russian_plurals_have_all_three_forms():
    for message in catalog("ru"):
        if isinstance(message.id, tuple):
            assert len(message.string) == 3 and all(message.string), f"ru plural forms of {message.id[0]!r}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_compiled_catalog_matches_its_source(language):
    mo_path = LOCALES_DIR / language / "LC_MESSAGES" / "messages.mo"
    with mo_path.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for message in catalog(language):
        if not message.id or not all(forms(message.string)):
            continue
        if isinstance(message.id, tuple):
            for n in (1, 2, 5):
                index = compiled.plural(n) if hasattr(compiled, "plural") else 0
                expected = forms(message.string)[min(index, len(forms(message.string)) - 1)]
                assert compiled.ngettext(message.id[0], message.id[1], n) == expected, (
                    f"{language}: run `make locales`"
                )
        else:
            assert compiled.gettext(message.id) == message.string, f"{language}: run `make locales`"


def test_pick_locale():
    assert pick_locale(None, "ru") == "ru"
    assert pick_locale("kk", "en") == "kk"
    assert pick_locale(None, "en-US") == "en"
    assert pick_locale(None, "kz") == "kk"
    assert pick_locale(None, "de") == "ru"
    assert pick_locale(None, None) == "ru"


def test_no_translation_call_hides_inside_an_f_string():
    # Babel does not extract _("…") inside f-strings: such text would stay Russian everywhere.
    pattern = re.compile(r"""\{_\(\s*["']""")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("bot", "handlers", "runtime", "views", "services")
        for path in (ROOT / folder).rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offenders, offenders
