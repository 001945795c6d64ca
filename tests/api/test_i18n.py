"""The visitor's language: the choice order, English fallback, and the finder of visitor
texts that no catalogue translates. Pure functions and files, no services."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from api import i18n

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "api" / "templates"
# The visitor pages whose every text goes through gettext so far (api/locales/babel.cfg).
TRANSLATED = ("base.html", "visitor_preview.html", "visitor_done.html", "error.html")
LANGS = [lang for lang in i18n.LANGUAGES if lang != i18n.DEFAULT]


def test_the_request_wins_then_accept_language_then_the_site() -> None:
    assert i18n.choose("es", "fr-FR,fr;q=0.9", "de") == "es"
    assert i18n.choose(None, "fr-FR,fr;q=0.9", "de") == "fr"
    assert i18n.choose("xx", "es-419", "de") == "es"  # a language we lack is no choice
    assert i18n.choose(None, None, "de") == "de"
    assert i18n.choose(None, "ja", "de") == "de"
    assert i18n.choose(None, None, "xx") == "en"


def test_weights_are_read_and_q0_means_not_this() -> None:
    assert i18n.choose(None, "fr;q=0.2, de;q=0.8") == "de"
    assert i18n.choose(None, "fr;q=0, es") == "es"
    assert i18n.choose(None, "fr;q=junk, es") == "es"
    assert i18n.choose(None, ",;;,q=,") == "en"


def test_arabic_falls_back_cleanly() -> None:
    # No right-to-left catalogue yet: the next choice, never a broken page.
    assert i18n.choose(None, "ar-SA,ar;q=0.9") == "en"
    assert i18n.choose(None, "ar, es;q=0.5") == "es"
    with i18n.speaking("ar"):
        assert i18n.current() == "en"
        assert i18n.gettext_("Open secure form") == "Open secure form"


@pytest.mark.parametrize("lang", LANGS)
def test_a_missing_or_empty_translation_is_english_never_empty(lang: str) -> None:
    with i18n.speaking(lang):
        assert i18n.gettext_("A sentence no catalogue has.") == "A sentence no catalogue has."
        assert i18n.gettext_("Open secure form") not in ("", "Open secure form")


def _extracted() -> set[str]:
    found = extract_from_dir(
        str(ROOT),
        method_map=[
            ("api/pages/visitor_form.py", "python"),
            *[(f"api/templates/{name}", "jinja2") for name in TRANSLATED],
        ],
        options_map={"**.html": {"extensions": "jinja2.ext.i18n"}},
        keywords={"_": None, "gettext_": None},
    )
    return {message for _, _, message, _, _ in found if isinstance(message, str)}


def test_the_finder_sees_the_texts() -> None:
    texts = _extracted()
    assert "Open secure form" in texts  # a template's
    assert "This link has expired" in texts  # the Python side's


@pytest.mark.parametrize("lang", LANGS)
def test_every_marked_text_is_in_every_catalogue_with_its_placeholders(lang: str) -> None:
    path = ROOT / "api" / "locales" / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fp:
        catalog = read_po(fp, locale=lang)
    missing = [t for t in sorted(_extracted()) if not (catalog.get(t) and catalog.get(t).string)]
    assert not missing, f"{path.relative_to(ROOT)} lacks: {missing}"
    for message in catalog:
        if message.id:
            placeholders = set(re.findall(r"%\(\w+\)s", str(message.id)))
            assert set(re.findall(r"%\(\w+\)s", str(message.string))) == placeholders, message.id


def _bare_text(template: str) -> list[str]:
    """Words a template shows that no gettext call wraps."""
    text = re.sub(r"\{#.*?#\}|\{\{.*?\}\}|\{%.*?%\}", " ", template, flags=re.S)
    text = re.sub(r"<[^>]*>", " ", text)
    return [w for w in re.findall(r"[^\W\d_]{2,}", text)]


@pytest.mark.parametrize("name", TRANSLATED)
def test_no_visitor_text_is_left_outside_gettext(name: str) -> None:
    assert _bare_text((TEMPLATES / name).read_text()) == []


def test_the_bare_text_finder_can_fail() -> None:
    assert _bare_text('<p class="x">{{ _("Fine") }} Untranslated words</p>') == [
        "Untranslated",
        "words",
    ]
