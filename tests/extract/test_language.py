"""monitors.extract.language: the language of a text, its page's declared one a hint."""

from __future__ import annotations

import threading

import pytest
import yaml

from monitors.config import ExtractConfig
from monitors.extract import Extractor, article_from, extract_article, language
from monitors.extract.language import UNKNOWN, detect_language, primary_tag
from monitors.models import Entry
from monitors.rules import RuleSet
from tests.conftest import DATA

LANGUAGES = DATA / "languages"
HEADLINES: dict[str, list[str]] = yaml.safe_load((LANGUAGES / "headlines.yaml").read_text())
TEXTS: dict[str, list[str]] = yaml.safe_load((LANGUAGES / "texts.yaml").read_text())


def accuracy(samples: dict[str, list[str]], declared: str | None = None) -> float:
    told = [
        detect_language(text, declared) == lang for lang, texts in samples.items() for text in texts
    ]
    return sum(told) / len(told)


def test_the_six_languages_are_told_from_texts_and_headlines() -> None:
    assert sorted(HEADLINES) == sorted(TEXTS) == ["de", "en", "fr", "pl", "ru", "uk"]
    assert accuracy(TEXTS) == 1.0
    assert accuracy(HEADLINES) >= 0.95


def test_a_headline_keeps_its_pages_language_when_the_model_doubts() -> None:
    assert detect_language("Merz in Paris") == UNKNOWN
    assert detect_language("Merz in Paris", "de-DE") == "de"
    assert all(
        detect_language(text, lang) == lang for lang, texts in HEADLINES.items() for text in texts
    )


@pytest.mark.parametrize("lang", ["uk", "ru", "de", "fr", "pl"])
def test_a_page_declaring_the_wrong_language_is_read_as_what_it_is(lang: str) -> None:
    assert all(detect_language(text, "en") == lang for text in TEXTS[lang])
    assert all(detect_language(text, "en") == lang for text in HEADLINES[lang][:5])


def test_ukrainian_and_russian_letters_settle_a_doubt() -> None:
    assert detect_language("Рішення ухвалила Верховна Рада") == "uk"  # і
    assert detect_language("Решение вынесла Госдума, объявил спикер") == "ru"  # ы, ъ


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "12 345 678 — 2025-12-15 !!! ??? %%%",
        "🙂🙂🙂 👍👍 ★★★",
        "ok",
        # look-alike spam: words mixing Latin and Cyrillic letters
        "Вuy cheаp Viаgrа Дешево bонус kазино wиn прiз",
        # no script holds most letters
        "FREE СКИДКА 免费 免费 免费 免费 متجر متجر متجر Ελλάδα",
    ],
)
def test_bad_input_is_unknown(text: str) -> None:
    assert detect_language(text) == UNKNOWN
    assert detect_language(text, "en") == UNKNOWN


def test_primary_tag() -> None:
    assert [primary_tag(t) for t in ("uk-UA", "EN_gb", " fr ", "", None, "<x>", "x" * 9)] == [
        "uk",
        "en",
        "fr",
        None,
        None,
        None,
        None,
    ]


def test_the_declared_language_crosses_the_extraction_worker_and_the_summary_has_its_own() -> None:
    url = "https://www.pravda.example/news/1"
    body = (
        '<html lang="en"><head><title>Новини</title></head><body><article>'
        + "".join(f"<p>{text}</p>" for text in TEXTS["uk"][:2])
        + "</article></body></html>"
    ).encode()
    extractor = Extractor(ExtractConfig(workers=1))
    try:
        found = extractor.page_text(body, url)
    finally:
        extractor.close()
    assert found.declared == "en"
    entry = Entry(url, url, url, title=HEADLINES["uk"][0], summary=" ".join(TEXTS["ru"]))
    assert article_from(found, entry, url, min_chars=200).language == "uk"
    thin = article_from(found, entry, url, min_chars=len(found.text) + 1)
    assert (thin.source, thin.language) == ("summary", "ru")


@pytest.mark.parametrize(
    "body",
    [
        "Вuy cheаp Viаgrа Дешево bонус kазино wиn прiз Kиїв Zеленський " * 20,
        "12 345 678 — 2025-12-15 !!! ??? %%% " * 30,
        "FREE СКИДКА 免费 免费 免费 免费 متجر متجر متجر Ελλάδα " * 20,
    ],
)
def test_a_garbled_page_is_unknown_and_no_lang_rule_matches_it(body: str) -> None:
    url = "https://spam.example/offer"
    html = f'<html lang="en"><body><article><p>{body}</p></article></body></html>'.encode()
    found = extract_article(html, Entry(url, url, url, title="Kyiv"), url, min_chars=50)
    assert found.language == UNKNOWN
    rules = RuleSet.compile([("en", "Kyiv lang:en"), ("any", "Kyiv"), ("not-uk", "Kyiv -lang:uk")])
    matched = rules.match(found.title, found.text, site=found.site, lang=found.language)
    assert [m.rule_id for m in matched] == ["any", "not-uk"]


def test_the_model_loads_once_in_the_background() -> None:
    """A cycle with entries to record starts loading the model while feeds poll; asking
    again starts no second load, and telling a language meanwhile waits for the one."""
    language.load_model_in_background()
    language.load_model_in_background()
    loading = [t for t in threading.enumerate() if t.name == "language model"]
    assert len(loading) <= 1
    assert detect_language("Zelensky says Kyiv will not give up the Donbas") == "en"
    assert language._load_identifier.cache_info().misses == 1


ENGLISH = (
    "The Senate would have to ratify the security guarantees for Ukraine, which were "
    "drafted by the United States and its European allies after talks in Geneva, officials "
    "said on Tuesday. The text has not been published, but two people who have seen it said "
    "that it would commit Washington to respond within 24 hours to a renewed attack."
)


def test_plain_english_is_told_without_the_model() -> None:
    assert language.plainly_english(ENGLISH)
    assert language.plainly_english(ENGLISH.replace("'", "\u2019").replace(",", " \u2014"))
    assert not language.plainly_english(ENGLISH[:120])  # too few words to be sure
    assert language.plainly_english(ENGLISH.replace("Geneva", "Genève"))  # a name's accent
    assert not language.plainly_english(ENGLISH.replace("e", "é"))  # many letters beyond ASCII
    german = (
        "Die Regierung in Berlin hat am Dienstag erklaert, dass die Gespraeche ueber die "
        "Sicherheitsgarantien fuer die Ukraine in Genf fortgesetzt werden, was die Opposition "
        "als Erfolg wertete. Der Text wird nicht veroeffentlicht, sagten zwei Diplomaten, "
        "die ihn gesehen haben, und die Frist fuer eine Antwort sei nicht festgelegt."
    )
    assert not language.plainly_english(german)
    assert detect_language(german) == "de"
    texts = [t for lang, items in TEXTS.items() if lang != "en" for t in items]
    assert not any(language.plainly_english(text) for text in texts)


def test_the_model_loads_early_only_for_headlines_beyond_ascii() -> None:
    assert not language.needs_model(["Kyiv\u2019s \u201cplan\u201d \u2014 a draft", "U.S. envoy"])
    assert language.needs_model(["Kyiv plan", "Київ ухвалив план"])
    assert language.needs_model(["Café talks in Genève"])


TITLE_CASE = """\
Senate Panel Backs Ukraine Aid Package
Kyiv Says Talks Stalled Over Donbas
Zelensky Meets Allies In Geneva
Lawmakers Demand Vote On Treaty
Stocks Slide Amid Ukraine Crisis
Rebels Pull Back From Frontline Town
Allies Split Over Security Guarantees
Parliament Approves Budget Bill
Oil Falls As China Signals Demand Concerns
Ceasefire Holds For Second Day""".splitlines()


@pytest.mark.parametrize("headline", TITLE_CASE)
def test_a_short_english_headline_in_title_case_is_english(headline: str) -> None:
    assert detect_language(headline) == "en"


@pytest.mark.parametrize(
    ("text", "told"),
    [
        ("Krieg in der Ukraine", "de"),
        ("Guerra in Ucraina", "it"),
        ("Wojna w Ukrainie", "pl"),
        ("Ukraine et l'OTAN", "fr"),
        ("Sanktionen gegen Russland", "de"),
    ],
)
def test_a_short_headline_in_another_latin_language_is_not_taken_for_english(
    text: str, told: str
) -> None:
    assert detect_language(text) == told


def test_a_few_words_the_model_cannot_tell_are_unknown_not_a_guess() -> None:
    assert detect_language("Ukraine and nato.") == UNKNOWN  # was Estonian, at 0.18
