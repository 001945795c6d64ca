"""The visitor's language: the choice order, English fallback, and the finder of visitor
texts that no catalogue translates. Pure functions and files, no services."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from api import i18n
from api.pages import visitor_texts
from api.pages.fields import field_views
from core.forms.fields import FieldSpec, SubmissionInvalid, validate_values

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "api" / "templates"
# What the catalogues are made from (api/locales/babel.cfg): "[method: path]" sections.
_SOURCES = re.findall(r"^\[(\w+): ([^\]]+)\]", (ROOT / "api/locales/babel.cfg").read_text(), re.M)
TRANSLATED = tuple(Path(path).name for method, path in _SOURCES if method == "jinja2")
# Every call that marks a text: api.i18n's and core.forms.speech's (the checkers' messages).
KEYWORDS = {
    "_": None,
    "gettext_": None,
    "N_": None,
    "_Invalid": None,
    "_invalid_n": (1, 2),
    "ngettext": (1, 2),
}
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
        method_map=[(path, method) for method, path in _SOURCES],
        options_map={"**.html": {"extensions": "jinja2.ext.i18n"}},
        keywords=KEYWORDS,
    )
    return {message if isinstance(message, str) else message[0] for _, _, message, _, _ in found}


def test_the_finder_sees_the_texts() -> None:
    texts = _extracted()
    assert "Open secure form" in texts  # a template's
    assert "This link has expired" in texts  # the Python side's
    assert "%(label)s is required." in texts  # core's validation messages
    assert "%(label)s must be %(num)s digit." in texts  # and their plural forms
    assert "I need more time" in texts  # the form script's, handed over by the page
    assert "Choose…" in texts  # a field's
    assert "There is a problem" in texts  # the error summary's


@pytest.mark.parametrize("lang", LANGS)
def test_every_marked_text_is_in_every_catalogue_with_its_placeholders(lang: str) -> None:
    path = ROOT / "api" / "locales" / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fp:
        catalog = read_po(fp, locale=lang)
    missing = [t for t in sorted(_extracted()) if not _translated(catalog.get(t))]
    assert not missing, f"{path.relative_to(ROOT)} lacks: {missing}"
    for message in catalog:
        if message.id:
            placeholders = set(re.findall(r"%\(\w+\)s", str(message.id)))
            assert set(re.findall(r"%\(\w+\)s", str(message.string))) == placeholders, message.id


def _translated(message: Message | None) -> bool:
    if message is None:
        return False
    forms = message.string if isinstance(message.string, tuple) else (message.string,)
    return bool(forms) and all(forms)


def _bare_text(template: str) -> list[str]:
    """Words a template shows that no gettext call wraps."""
    # A block that fills in a class attribute ("main_class") holds a name, not words.
    text = re.sub(r"\{% block \w+_class %\}.*?\{% endblock %\}", " ", template)
    text = re.sub(r"\{#.*?#\}|\{\{.*?\}\}|\{%.*?%\}", " ", text, flags=re.S)
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


def test_validation_messages_speak_the_page_language_with_its_plural_forms() -> None:
    fields = [
        FieldSpec(name="card", label="Numéro de carte", type="card_number", required=True),
        FieldSpec(name="pin", label="Code", type="pin", min_length=4, max_length=4),
    ]
    with i18n.speaking("fr"), pytest.raises(SubmissionInvalid) as fr:
        validate_values(fields, {"pin": "12"})
    assert fr.value.errors == {
        "card": "Numéro de carte est obligatoire.",
        "pin": "Code doit comporter 4 chiffres.",
    }
    with i18n.speaking("es"), pytest.raises(SubmissionInvalid) as es:
        validate_values(fields, {"card": "4"})
    assert es.value.errors["card"] == (
        "Numéro de carte tiene 1 dígito; los números Visa tienen 13, 16 o 19 dígitos."
    )
    with pytest.raises(SubmissionInvalid) as en:  # outside a page: English, as before
        validate_values(fields, {"card": "4"})
    assert en.value.errors["card"] == (
        "Numéro de carte has 1 digit; Visa numbers have 13, 16 or 19 digits."
    )


@pytest.mark.parametrize(
    ("lang", "day", "minutes", "second"),
    [
        ("en", "July 31, 2024", "15 minutes", "{0} second"),
        ("fr", "31 juillet 2024", "15 minutes", "{0}\u00a0seconde"),  # a no-break space
        ("es", "31 de julio de 2024", "15 minutos", "{0} segundo"),
        ("de", "31. Juli 2024", "15 Minuten", "{0} Sekunde"),
    ],
)
def test_dates_and_the_countdown_are_said_by_babel_for_the_language(
    lang: str, day: str, minutes: str, second: str
) -> None:
    with i18n.speaking(lang):
        (view,) = field_views([FieldSpec(name="born", label="Born", type="date")], language=lang)
        units = json.loads(visitor_texts.countdown_units())
        assert visitor_texts.time_left(14 * 60 + 10) == minutes  # rounded up, never hours
    assert view.type_hint is not None and view.type_hint.endswith(f"{day}.")
    assert units["locale"] == lang and units["second"]["one"] == second
    assert all("{0}" in pattern for pattern in units["minute"].values())
