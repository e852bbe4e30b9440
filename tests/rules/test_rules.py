"""monitors.text and monitors.rules: tokenizing, query parsing, matching and passages."""

from __future__ import annotations

import time
from itertools import product
from typing import Any

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from monitors.errors import QueryError
from monitors.models import Match
from monitors.rules import (
    AliasError,
    Aliases,
    And,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    RuleError,
    RuleSet,
    Term,
    parse_query,
    release_dictionaries,
)
from monitors.rules.document import Document
from monitors.rules.evaluate import Compiler, Scan
from monitors.rules.inflect import forms
from monitors.rules.passage import MAX_PASSAGE
from monitors.rules.translit import romanize, transliterations
from monitors.text import (
    Token,
    any_tokens,
    normalize,
    sentences,
    tokenize,
    word_spans,
    words,
)
from tests.conftest import DATA

NEAR_NEEDS = (
    "NEAR at position 7 needs a number of words, as in NEAR/5, "
    "or s for one sentence, as in NEAR/s or NEAR/15s"
)


def word(text: str, field: str | None = None) -> Term:
    """The term a query word gives: normalized, with its inflected forms."""
    return Term(normalize(text), field=field, forms=forms(text))


def match(query: str, title: str = "", text: str = "") -> Match | None:
    """The match of a one-rule set (id "r") against an article, or None."""
    found = RuleSet.compile([("r", query)]).match(title, text)
    return found[0] if found else None


def matches(query: str, title: str = "", text: str = "") -> bool:
    return match(query, title, text) is not None


def split(text: str) -> list[str]:
    return [text[start:end] for start, end in sentences(text)]


# monitors.text


def test_normalize_folds_case_accents_and_apostrophes() -> None:
    assert normalize("ZELENSKYY") == normalize("Zelenskyy") == "zelenskyy"
    assert normalize("Donbás") == normalize("Donba\u0301s") == "donbas"
    assert normalize("Straße") == "strasse"
    assert normalize("ДОНБАС") == "донбас"
    assert normalize("½") == "12"


def test_apostrophes_of_every_kind_separate_words() -> None:
    assert words("Ukraine’s Ukraineʼs Ukraine's") == ["ukraine", "s"] * 3


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_words_and_word_spans_agree_with_tokenize(text: str) -> None:
    tokens = tokenize(text)
    assert words(text) == [token.norm for token in tokens]
    assert word_spans(text) == [(token.start, token.end) for token in tokens]
    for line in text.split("\n"):
        assert all(" " not in word and "\n" not in word for word in words(line))


def test_tokenize_gives_offsets_into_the_original_text() -> None:
    assert tokenize("  Congress-approved!") == [
        Token("congress", 2, 10),
        Token("approved", 11, 19),
    ]


def test_tokenize_splits_on_hyphens_apostrophes_and_punctuation() -> None:
    assert [t.norm for t in tokenize("Article 5-style")] == ["article", "5", "style"]
    assert [t.norm for t in tokenize("Ukraine’s U.S.-led ally")] == [
        "ukraine",
        "s",
        "us",
        "led",
        "ally",
    ]


@pytest.mark.parametrize("mark", ["\u00ad", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"])
def test_invisible_characters_inside_a_word_are_dropped(mark: str) -> None:
    text = f"Kyiv would with{mark}draw from Donbas, Ukrain{mark}ian officials said."
    assert words(text) == words("Kyiv would withdraw from Donbas, Ukrainian officials said.")
    found = match("withdraw* NEAR/3 Donbas", text=text)
    assert found is not None and found.terms == (f"with{mark}draw", "Donbas")


def test_single_letters_joined_by_dots_are_one_word() -> None:
    assert words("U.S. US U.S u.s.a. e.g. U.S.-led") == ["us", "us", "us", "usa", "eg", "us", "led"]
    assert words("Plan B.The end. J. Smith x.yz ab.c") == [
        "plan",
        "b",
        "the",
        "end",
        "j",
        "smith",
        "x",
        "yz",
        "ab",
        "c",
    ]
    assert [t.norm for t in tokenize("Київ і U.S.")] == ["киів", "і", "us"]


@pytest.mark.parametrize("query", ["U.S.", "US", "U.S", '"U.S."'])
@pytest.mark.parametrize("text", ["U.S. envoy", "US envoy", "U.S envoy", "the U.S.", "U.S.-led"])
def test_us_in_a_rule_matches_every_spelling_of_the_acronym(query: str, text: str) -> None:
    assert matches(query, text=text)


@given(st.text(alphabet="aZé1Ж .-\u00ad\u200b\u0301", max_size=40))
def test_acronyms_and_invisible_characters_tokenize_alike_everywhere(text: str) -> None:
    tokens = tokenize(text)
    assert words(text) == [token.norm for token in tokens]
    assert word_spans(text) == [(token.start, token.end) for token in tokens]
    ascii_text = text.encode("ascii", "ignore").decode()
    assert words(ascii_text) == [token.norm for token in tokenize(ascii_text)]
    assert word_spans(ascii_text) == [(t.start, t.end) for t in tokenize(ascii_text)]


@given(st.text(alphabet="aZé1Ж .-\n\u00ad\u200b\u0301", max_size=60))
def test_a_documents_text_words_are_the_words_of_the_whole_text(text: str) -> None:
    """Tokenized line by line, the text has the words `words` finds in all of it."""
    assert Document("A title", text).text_words() == words(text)


@given(
    st.text(
        alphabet="aZ1 .-'\n\u2019\u201c\u201d\u2014\u2026\u00a0\u00abé\u0301\u00ad\u02bcЖ٣",
        max_size=40,
    )
)
@example("Z.Ж’Ж")  # an initialism before an apostrophe inside a Cyrillic word
@example("Z.Ж’Ж.Ж")
@example("в’я.з")  # a letter after an apostrophe inside a Cyrillic word opens no initialism
def test_the_ascii_patterns_find_the_words_of_text_whose_words_are_ascii(text: str) -> None:
    """Quotes, dashes and spaces beyond ASCII leave the fast patterns in use; a letter,
    digit or joiner beyond ASCII does not: either way, the words of the general ones."""
    tokens = any_tokens(text)
    assert tokenize(text) == tokens
    assert words(text) == [token.norm for token in tokens]
    assert word_spans(text) == [(token.start, token.end) for token in tokens]


def test_tokenize_keeps_unicode_words_whole() -> None:
    text = "Донбас and Donba\u0301s"
    assert [(t.norm, text[t.start : t.end]) for t in tokenize(text)] == [
        ("донбас", "Донбас"),
        ("and", "and"),
        ("donbas", "Donba\u0301s"),
    ]


def test_sentences_split_after_stops_but_not_abbreviations() -> None:
    text = 'The U.S. Senate met. Mr. Smith said "no." Then 5 left! "Why?" asked Dr. Li. ok'
    assert split(text) == [
        "The U.S. Senate met.",
        'Mr. Smith said "no."',
        "Then 5 left!",
        '"Why?" asked Dr. Li. ok',
    ]


def test_no_sentence_ends_after_a_numbers_name_before_its_digit() -> None:
    text = (
        "They met at No. 10 on Friday. Art. 5 applies. It was No. Then ст. 5 Статуту. "
        "Sens. Kim and Reid agreed."
    )
    assert split(text) == [
        "They met at No. 10 on Friday.",
        "Art. 5 applies.",
        "It was No.",
        "Then ст. 5 Статуту.",
        "Sens. Kim and Reid agreed.",
    ]


def test_sentences_split_on_lines_and_skip_blank_ones() -> None:
    assert split("  First line\n\n  second line  \r\nthird") == [
        "First line",
        "second line",
        "third",
    ]


# Parsing


def test_parse_builds_our_ast() -> None:
    assert parse_query('Senate -"NATO-style" (withdraw* OR "security guarantee*")') == And(
        (
            word("senate"),
            Not(Phrase((word("nato"), word("style")))),
            Or(
                (
                    Term("withdraw", prefix=True),
                    Phrase((word("security"), Term("guarantee", prefix=True))),
                )
            ),
        )
    )


def test_unquoted_term_of_several_words_is_a_phrase() -> None:
    assert parse_query("Donbas-region") == Phrase((word("donbas"), word("region")))
    assert parse_query("Ukraine’s") == parse_query('"ukraine\'s"')


def test_and_binds_tighter_than_or() -> None:
    assert parse_query("a OR b AND c") == Or((Term("a"), And((Term("b"), Term("c")))))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "empty query"),
        ("   ", "empty query"),
        ("(a OR b", "unbalanced parenthesis: '(' at position 0 is not closed"),
        ("a OR b)", "unbalanced parenthesis: ')' at position 6 closes nothing"),
        ("AND x", "unexpected 'AND' at position 0"),
        ("x AND AND y", "unexpected 'AND' at position 6"),
        ("x AND", "unexpected end of query at position 5"),
        ("()", "unexpected ')' at position 1"),
        ('kyiv "open phrase', "unbalanced quotes: '\"' at position 5 is not closed"),
        (
            '"a b" OR c d" OR "e f"',
            "unbalanced quotes: '\"' at position 21 is not closed (a quote is likely missing "
            "near position 12: the quotes pair up wrongly from there)",
        ),
        ("a*", "wildcard too broad at position 0: at least 3 letters before '*'"),
        ('"security g*"', "wildcard too broad at position 10: at least 3 letters before '*'"),
        ("*", "'*' at position 0 holds no word"),
        ("*kyiv", "wildcard '*' at position 0 must end a word"),
        ("wi*draw", "wildcard '*' at position 2 must end a word"),
        ("Kyiv=", "'=' at position 4 must start a word"),
        ('"with=draw"', "'=' at position 5 must start a word"),
        ("kyiv -", "'-' at position 5 holds no word"),
        (
            "foo:bar",
            "unknown field 'foo:' at position 0 (fields: title:, text:, site:, lang:, rule:)",
        ),
        (
            "kyiv url:x",
            "unknown field 'url:' at position 5 (fields: title:, text:, site:, lang:, rule:)",
        ),
        ("title:(text:x)", "field 'text:' at position 7 inside 'title:'"),
        ("kyiv title:", "field 'title:' at position 5 scopes nothing"),
        ("Senate NEAR ratify", NEAR_NEEDS),
        ("Senate NEAR/x ratify", NEAR_NEEDS),
        ("Senate NEAR/ ratify", NEAR_NEEDS),
        ("Senate NEAR/5S ratify", NEAR_NEEDS),
        ("Senate near/s ratify", "'near/s' at position 7: operators are upper case, write NEAR/s"),
        ("Senate near/5 ratify", "'near/5' at position 7: operators are upper case, write NEAR/5"),
        ("kyiv Near/12 talks", "'Near/12' at position 5: operators are upper case, write NEAR/12"),
        ("Senate NEAR/5000 ratify", "distance 5000 at position 7 is above 1000 words"),
        ("NEAR/3 x", "unexpected 'NEAR/3' at position 0"),
        (
            '"Senate ratify"~',
            "'~' at position 15 needs a number of words, as in \"Senate ratify\"~8",
        ),
        (
            "kyiv NEAR/3 -moscow",
            "NEAR/3 at position 5: each side needs words of the title or text "
            "(not NOT, site: or lang:)",
        ),
        (
            "site:bbc.com NEAR/3 kyiv",
            "NEAR/3 at position 13: each side needs words of the title or text "
            "(not NOT, site: or lang:)",
        ),
        (
            "kyiv~2",
            "fuzzy matching ('~') is not supported: list the spellings, or use aliases "
            "(at position 4)",
        ),
        ("kyiv^2", "boosts ('^') are not supported (at position 4)"),
        ("kyi?", "the wildcard '?' is not supported: end a word with '*' (at position 3)"),
        ("[a TO b]", "unexpected character '[' (at position 0)"),
        ("/kyi.v/", "regular expressions ('/') are not supported (at position 0)"),
        ("a && b", "'&&' at position 2: write AND"),
        ("a || b", "'||' at position 2: write OR"),
        ("!a", "'!' at position 0: write NOT"),
        ("-kyiv", "query can match articles holding none of its terms (only NOT parts?)"),
        (
            "kyiv OR NOT moscow",
            "query can match articles holding none of its terms (only NOT parts?)",
        ),
        ("(" * 41 + "a" + ")" * 41, "nested too deeply at position 40 (at most 40 levels)"),
    ],
)
def test_bad_queries_name_the_rule_and_the_position(query: str, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        RuleSet.compile([("ok", "kyiv"), ("donbas-withdrawal", query)])
    assert isinstance(caught.value, RuleError)
    assert caught.value.rule_id == "donbas-withdrawal"
    assert caught.value.reason == message
    assert str(caught.value) == f"rule 'donbas-withdrawal': {message}"


def test_duplicate_rule_ids_are_refused() -> None:
    with pytest.raises(RuleError, match="rule 'r': duplicate rule id"):
        RuleSet.compile([("r", "kyiv"), ("r", "moscow")])
    with pytest.raises(RuleError, match="rule 'r': duplicate rule id"):
        RuleSet.compile([("r", "kyiv"), ("r", "(moscow")])


# Operators


def test_bare_term() -> None:
    assert matches("Kyiv", text="Talks in Kyiv.")
    assert not matches("Kyiv", text="Talks in Kyivstar.")


def test_and() -> None:
    assert matches("Senate AND ratify", text="The Senate will ratify.")
    assert not matches("Senate AND ratify", text="The Senate will vote.")


def test_or() -> None:
    assert matches("Kyiv OR Kiev", text="Kiev, then.")
    assert not matches("Kyiv OR Kiev", text="Lviv, then.")


def test_not() -> None:
    assert matches("Kyiv NOT Moscow", text="Kyiv only.")
    assert not matches("Kyiv NOT Moscow", text="Kyiv and Moscow.")


def test_implicit_operator_is_and() -> None:
    assert matches("Senate ratify", text="Will the Senate ratify it?")
    assert not matches("Senate ratify", text="The Senate met.")


def test_minus_excludes_and_plus_requires() -> None:
    assert matches("+Kyiv -Moscow", text="Kyiv today.")
    assert not matches("+Kyiv -Moscow", text="Kyiv and Moscow today.")
    assert not matches("+Kyiv -Moscow", text="Nothing today.")


def test_nested_parentheses() -> None:
    query = "(Kyiv OR Kiev) AND ((Senate AND ratify) OR (NATO -Moscow))"
    assert matches(query, text="Kiev: the Senate may ratify.")
    assert matches(query, text="Kyiv and NATO.")
    assert not matches(query, text="Kyiv, NATO and Moscow.")
    assert not matches(query, text="The Senate may ratify.")


def test_lower_case_operator_words_are_terms() -> None:
    assert not matches("Kyiv and Moscow", text="Kyiv, Moscow.")
    assert matches("Kyiv and Moscow", text="Kyiv and Moscow.")


# Phrases and wildcards


def test_phrase_needs_consecutive_words() -> None:
    assert matches('"security guarantees"', text="New security guarantees now.")
    assert not matches('"security guarantees"', text="Security and guarantees.")
    assert not matches('"security guarantees"', text="Guarantees security.")


def test_wildcard_term_matches_longer_words() -> None:
    for word in ("withdraw", "withdrawal", "Withdrawing"):
        assert matches("withdraw*", text=f"A {word} from Donbas.")
    assert not matches("withdraw*", text="They withdrew.")


def test_wildcard_inside_phrase() -> None:
    found = match('"security guarantee*"', text="Security guarantees were offered.")
    assert found is not None
    assert found.terms == ("Security guarantees",)
    assert not matches('"security guarantee*"', text="Security and guarantees.")


def test_phrase_does_not_cross_title_and_text() -> None:
    assert not matches('"talks security"', title="Peace talks", text="Security first.")
    assert matches('"talks security"', text="Peace talks security first.")


# Insensitivity


def test_case_insensitive() -> None:
    assert matches("Zelenskyy", text="ZELENSKYY SPEAKS")
    assert matches("ZELENSKYY", text="Zelenskyy speaks")


def test_accent_insensitive() -> None:
    assert matches("Donbás", text="In the Donbas.")
    assert matches("Donbas", text="In the Donbás.")
    assert matches("Donbas", text="In the Donba\u0301s.")


def test_cyrillic() -> None:
    found = match("Донбас", text="Бои на ДОНБАСЕ и в Донбасі, Донбас, Донбасові.")
    assert found is not None
    assert found.terms == ("ДОНБАСЕ", "Донбасі", "Донбас", "Донбасові")
    assert match("=Донбас", text="Бои на ДОНБАСЕ и в Донбасі.") is None


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("Донбас", "Україна не поступиться Донбасом."),
        ("Донбасс", "Вывод войск из Донбасса."),
        ("Донбасс", "Переговоры о Донбассе."),
        ("Сенат", "передати на ратифікацію до Сенату"),
        ("Сенат", "договор внесут в Сенате"),
        ("ратифікувати", "Конгрес ратифікує угоду."),
        ("ратифицировать", "Сенат ратифицировал договор."),
        ("ратифікація", "передати на ратифікацію"),
        ('"гарантії безпеки"', "Україна отримає гарантіями безпеки"),
        ('"гарантии безопасности"', "о гарантиях безопасности для Киева"),
        ('"відвести війська"', "Київ не відведе війська з Донбасу."),
        ("поступитися", "Україна не поступиться Донбасом."),
        ("guarantee", "The guarantees hold."),
        ("treaty", "Two treaties were signed."),
        ("approach", "It approaches the Senate."),
    ],
)
def test_a_word_matches_its_inflected_forms(query: str, text: str) -> None:
    assert matches(query, text=text)


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("Сенат", "Сенатор Грэм выступил против."),
        ("Рада", "Радар засік ракету."),
        ("Рада", "Він був радий зустрічі."),
        ("мир", "Мирний план обговорили."),
        ("Донбас", "Донбасенергo не працює."),
        ("retreat", "Ukrainian troops retreated."),
        ("accord", "According to officials."),
        ("US", "He uses it."),
        ("=Donbas", "Fighting in the Donbases."),
    ],
)
def test_a_word_does_not_match_look_alike_words(query: str, text: str) -> None:
    assert not matches(query, text=text)


def test_inflection_applies_inside_phrases_and_stops_at_exact_words() -> None:
    assert matches('"вивести війська"', text="погодилася вивести військами")
    assert not matches('"вивести =війська"', text="погодилася вивести військами")
    assert matches('"вивести =війська"', text="погодилася вивести війська")


@pytest.mark.parametrize(
    ("text", "norms"),
    [
        ("обовʼязкові гарантії", ["обовязкові", "гарантіі"]),
        ("обов’язкові обов'язкові", ["обовязкові", "обовязкові"]),
        ("Слов'янськ", ["словянськ"]),
        ("Ukraine's army", ["ukraine", "s", "army"]),
        ("Kиїв", ["киів"]),  # a Latin K in a Cyrillic word
        ("НАТО", ["нато"]),
        ("HАТО", ["нато"]),  # a Latin H
        ("Ukrаine", ["ukraine"]),  # a Cyrillic а in a Latin word
        ("ёлка Ёлка елка", ["елка", "елка", "елка"]),
    ],
)
def test_cyrillic_apostrophes_and_homoglyphs_are_normalized(text: str, norms: list[str]) -> None:
    assert [token.norm for token in tokenize(text)] == norms
    assert words(text) == norms
    assert [text[start:end] for start, end in word_spans(text)] == [
        text[token.start : token.end] for token in tokenize(text)
    ]


def test_homoglyph_and_apostrophe_spellings_match_the_plain_ones() -> None:
    assert matches("Київ", text="Удар по Kиєву.")  # a Latin K, an inflected form
    assert matches('"гарантії обовʼязкові"', text="гарантії обов'язкові")
    assert matches("Ukraine", text="Ukrаine's army")


def test_curly_and_straight_apostrophes_agree() -> None:
    assert matches("Ukraine’s", text="Ukraine's army.")
    assert matches("Ukraine's", text="Ukraine’s army.")
    assert not matches("Ukraine's", text="Ukraine army.")


def test_hyphenated_document_word() -> None:
    text = "A Congress-approved plan."
    assert matches("congress AND approved", text=text)
    assert matches('"congress approved"', text=text)
    assert matches("Congress-approved", text="The congress approved it.")


def test_phrase_matches_the_start_of_a_hyphenated_word() -> None:
    found = match('"Article 5"', text="An Article 5-style pledge.")
    assert found is not None
    assert found.passage.marked("[", "]") == "An [Article 5]-style pledge."


def test_hyphenated_query_term_keeps_word_order() -> None:
    assert matches("NATO-style", text="A NATO style pact.")
    assert not matches("NATO-style", text="A style of NATO.")


# Matches: terms and passages


TEXT = (
    "Kyiv wants help. "
    "Officials discussed security guarantees and an Article 5-style pledge for Kyiv. "
    "Moscow objected."
)


def test_match_terms_in_order_of_first_appearance() -> None:
    found = match('"security guarantee*" OR "Article 5" OR Kyiv', text=TEXT)
    assert found is not None
    assert (found.rule_id, found.terms) == ("r", ("Kyiv", "security guarantees", "Article 5"))


def test_passage_is_the_sentence_with_most_terms() -> None:
    found = match('"security guarantee*" OR "Article 5" OR Kyiv', text=TEXT)
    assert found is not None
    assert found.passage.marked("[", "]") == (
        "Officials discussed [security guarantees] and an [Article 5]-style pledge for [Kyiv]."
    )
    start, end = found.passage.marks[0]
    assert found.passage.text[start:end] == "security guarantees"


def test_terms_deduplicated_case_and_accent_insensitively() -> None:
    found = match("kyiv OR donbas", title="KYIV and Donbás", text="Kyiv. The Donbas. kyiv.")
    assert found is not None
    assert found.terms == ("KYIV", "Donbás")


def test_an_initialism_keeps_its_last_full_stop_in_the_terms() -> None:
    found = match('"U.S." NEAR/5 guarantee*', text="The U.S. offered guarantees. Kyiv U.S.A")
    assert found is not None
    assert found.terms == ("U.S.", "guarantees")


def test_not_parts_never_give_hits() -> None:
    found = match("Kyiv -(Moscow AND Sochi)", text="Kyiv and Moscow.")
    assert found is not None
    assert found.terms == ("Kyiv",)
    assert found.passage.marked("[", "]") == "[Kyiv] and Moscow."


def test_passage_of_two_sentences_when_they_hold_more_terms() -> None:
    text = "Weather was fine. Sanctions were discussed. The Senate may ratify. Lunch followed."
    found = match("Senate AND ratify AND sanctions", text=text)
    assert found is not None
    assert found.passage.marked("[", "]") == (
        "[Sanctions] were discussed. The [Senate] may [ratify]."
    )


def test_passage_ties_go_to_more_hits_then_earlier() -> None:
    found = match("Kyiv", text="Kyiv is calm. Kyiv meets Kyiv. Kyiv again.")
    assert found is not None
    assert found.passage.marked("[", "]") == "[Kyiv] meets [Kyiv]."
    found = match("Kyiv", text="Kyiv is calm. Kyiv is busy.")
    assert found is not None
    assert found.passage.marked("[", "]") == "[Kyiv] is calm."


def test_passage_is_the_title_when_only_the_title_holds_hits() -> None:
    found = match("Zelenskyy", title="Zelenskyy in Washington", text="He met senators.")
    assert found is not None
    assert found.passage.marked("[", "]") == "[Zelenskyy] in Washington"


def test_overlapping_marks_are_merged() -> None:
    text = "New security guarantees for Kyiv."
    found = match('"security guarantees" OR "guarantees for"', text=text)
    assert found is not None
    assert found.passage.marks == ((4, 27),)
    assert found.passage.marked("[", "]") == "New [security guarantees for] Kyiv."
    assert found.terms == ("security guarantees", "guarantees for")


def test_hits_inside_longer_hits_are_not_terms() -> None:
    text = "New security guarantees. Nothing else. Guarantees matter."
    found = match('"security guarantees" OR guarantees', text=text)
    assert found is not None
    assert found.terms == ("security guarantees", "Guarantees")
    assert found.passage.marked("[", "]") == "New [security guarantees]."


def test_long_passage_is_trimmed_around_the_hits() -> None:
    text = "alpha " * 150 + "the Kyiv talks" + " omega" * 150
    found = match("Kyiv", text=text)
    assert found is not None
    passage = found.passage
    assert passage.text.startswith("…alpha ") and passage.text.endswith(" omega…")
    assert len(passage.text) <= 420
    assert "[Kyiv]" in passage.marked("[", "]")
    start, end = passage.marks[0]
    assert passage.text[start:end] == "Kyiv"


def test_match_returns_rules_in_rule_order() -> None:
    rules = RuleSet.compile([("b", "Moscow"), ("a", "Kyiv"), ("c", "Minsk")])
    found = rules.match("Kyiv and Moscow", "")
    assert [m.rule_id for m in found] == ["b", "a"]


# Proximity


def test_near_s_keeps_to_one_sentence() -> None:
    assert parse_query("a NEAR/s b") == Near((Term("a"), Term("b")), 1000, True)
    assert parse_query("a NEAR/12s b") == Near((Term("a"), Term("b")), 12, True)
    text = "Kyiv will not withdraw from the Donbas. Peace talks resume on Monday, he said."
    assert matches("(withdraw* NEAR/5 Donbas) NEAR/20 talks", text=text)
    assert not matches("(withdraw* NEAR/5 Donbas) NEAR/s talks", text=text)
    assert not matches("withdraw* NEAR/20s talks", text=text)
    assert matches("withdraw* NEAR/5s Donbas", text=text)
    assert matches("Monday NEAR/s Peace", title="Peace talks on Monday", text=text)
    assert not matches("withdraw* NEAR/s Donbas", text="Kyiv will not withdraw.\nDonbas is ours.")
    found = match("(Peace OR Donbas) NEAR/s Monday", text=text)
    assert found is not None and found.terms == ("Peace", "Monday")


def test_near_s_spans_a_whole_sentence_and_no_more() -> None:
    first = "The U.S. Senate, after long debate, " + "and more " * 40 + "voted to ratify it."
    text = f"{first} Senators then left."
    assert matches("ratify NEAR/s Senate", text=text)
    assert not matches("ratify NEAR/s Senators", text=text)
    assert not matches("ratify NEAR/s Senate", text=text.replace(", after", ". After"))


def test_near_and_proximity_phrase_parse_alike() -> None:
    near = Near((word("senate"), word("ratify")), 8)
    assert parse_query("Senate NEAR/8 ratify") == near
    assert parse_query('"Senate ratify"~8') == near
    assert parse_query('"Senate"~3') == word("senate")


def test_near_chains_left_to_right_and_binds_tighter_than_and() -> None:
    assert parse_query("a NEAR/3 b NEAR/5 c AND d") == And(
        (Near((Near((Term("a"), Term("b")), 3), Term("c")), 5), Term("d"))
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Senate will ratify it.", True),
        ("Ratify, said the Senate.", True),
        ("The Senate one two three ratify.", True),
        ("The Senate one two three four ratify.", False),
        ("The Senate met.", False),
    ],
)
def test_near_counts_the_words_between_in_either_order(text: str, expected: bool) -> None:
    assert matches("Senate NEAR/3 ratify", text=text) is expected
    assert matches('"Senate ratify"~3', text=text) is expected


def test_near_between_groups_and_phrases() -> None:
    query = '(Senate OR Congress) NEAR/4 (ratif* OR "advice and consent")'
    assert matches(query, text="Congress must give its advice and consent.")
    assert matches(query, text="Ratification by the U.S. Senate.")
    assert not matches(query, text="Congress met. Much later, in another debate, they ratified it.")


def test_near_of_an_and_needs_the_whole_and_close() -> None:
    query = "(Senate AND vote) NEAR/2 Ukraine"
    assert matches(query, text="Ukraine: the Senate will vote.")
    assert not matches(query, text="Ukraine and others. The Senate will vote.")


def test_near_nested() -> None:
    query = "(pull* NEAR/1 out) NEAR/5 Donbas"
    assert matches(query, text="Troops would pull back out of the Donbas.")
    assert not matches(query, text="Troops would pull their forces out of the Donbas.")
    assert not matches(query, text="Troops would pull out, far from all we know of the Donbas.")


def test_near_never_spans_title_and_text() -> None:
    assert not matches("talks NEAR/5 Donbas", title="Peace talks", text="Donbas first.")
    assert matches("talks AND Donbas", title="Peace talks", text="Donbas first.")


def test_near_counts_only_words_in_no_occurrence_of_a_side() -> None:
    """A longer spelling of a side is not counted as words between (the sweep once took the
    shorter one starting there), nor a word that one side finds and another reuses."""
    rules = RuleSet.compile(
        [("r", "Donbas NEAR/1 withdrawal")], aliases={"Donbas": ["Donbass", "Donbas region"]}
    )
    assert rules.match("", "Kyiv rejects a Donbas region troop withdrawal.")
    assert not rules.match("", "Kyiv rejects a Donbas region troop pull-out and withdrawal.")
    assert matches('"Senate ratif* ratify"~0', text="A Senate ratification ratify vote.")


def test_an_inner_near_counts_from_its_tightest_stretches_only() -> None:
    """Its stretch is "Senate vote", whichever way round, and the second "vote" is then a
    word between it and "today"."""
    assert matches("(Senate NEAR/3 vote) NEAR/0 today", text="The Senate vote today.")
    assert not matches("(Senate NEAR/3 vote) NEAR/0 today", text="The Senate vote, vote today.")
    assert not matches("today NEAR/0 (Senate NEAR/3 vote)", text="Today Senate, Senate vote.")


def test_an_and_spanning_headline_and_text_adds_no_words_to_a_near() -> None:
    query = "(Kyiv NEAR/0 talks) NEAR/0 (truce AND truce)"
    assert not matches(query, title="Truce", text="Kyiv talks on a truce.")
    assert matches(query, title="Truce", text="Kyiv talks truce.")


def test_proximity_phrase_of_three_words_counts_all_extra_words() -> None:
    query = '"Senate ratify treaty"~2'
    assert matches(query, text="The treaty the Senate may ratify.")
    assert not matches(query, text="Treaty: the Senate, they say, will ratify.")


def test_a_not_inside_a_near_operand_drops_only_the_occurrences_it_overlaps() -> None:
    query = '(Donbas -"Donbas village") NEAR/3 withdraw*'
    assert matches(query, text="A withdrawal from the Donbas.")
    assert not matches(query, text="A withdrawal from the Donbas village.")
    assert matches(query, text="The Donbas village is quiet. Kyiv may withdraw from the Donbas.")


def test_a_not_inside_a_near_operand_that_overlaps_nothing_excludes_nothing() -> None:
    query = "(Donbas -village) NEAR/3 withdraw*"
    assert matches(query, text="A withdrawal from the Donbas village.")
    assert not matches(
        "(Donbas NEAR/3 withdraw*) -village", text="A withdrawal from the Donbas village."
    )


def test_a_near_operand_keeps_a_not_inside_its_not_for_the_whole_article() -> None:
    query = '("security assurance*" -(("security assurance*" NEAR/s 1994) -talks)) NEAR/10 Ukraine'
    assert not matches(query, text="Ukraine got security assurances in 1994.")
    assert matches(query, text="Ukraine got security assurances in 1994. Talks resume today.")


def test_across_sentences_the_later_operands_are_marked_only_beside_the_first() -> None:
    text = "Zelensky flew to Berlin for Ukraine. They discussed security guarantees for Kyiv."
    found = match('"security guarantee*" NEAR/20 (Ukraine OR Kyiv)', text=text)
    assert found is not None
    assert found.terms == ("security guarantees", "Kyiv")
    found = match('"security guarantee*" NEAR/20 Zelensky', text=text)
    assert found is not None
    assert found.terms == ("security guarantees",)


def test_a_near_operand_marks_only_the_occurrences_kept() -> None:
    found = match(
        '(cede -"cede ground") NEAR/6 Donbas', text="Kyiv will cede ground but not cede the Donbas."
    )
    assert found is not None
    assert found.passage.marked("[", "]") == "Kyiv will cede ground but not [cede] the [Donbas]."
    assert not matches(
        '(cede -"cede ground") NEAR/6 Donbas', text="Kyiv will cede ground in Donbas."
    )


def test_a_not_leaves_out_what_overlaps_the_rest_of_its_own_bracket() -> None:
    """`a AND (b -c)` inside a NEAR is not `a b -c`: the NOT sets aside the loan guarantees,
    not every stretch from "Ukraine" that passes them."""
    query = '(Ukraine AND (guarantee* -"loan guarantee*")) NEAR/3 security'
    text = "Ukraine, beyond loan guarantees, wants guarantees for its security."
    assert matches(query, text=text)
    assert not matches('(Ukraine guarantee* -"loan guarantee*") NEAR/3 security', text=text)
    assert parse_query("a AND (b -c)") == And((word("a"), And((word("b"), Not(word("c"))))))


def test_not_parts_beside_no_words_inside_a_near_operand_ask_the_whole_article() -> None:
    query = "(talks AND (Kyiv OR (-Moscow -Minsk))) NEAR/5 Donbas"
    assert matches(query, text="Talks on the Donbas resumed.")
    assert not matches(query, text="Talks on the Donbas resumed in Minsk.")
    assert matches(query, text="Talks on the Donbas resumed in Kyiv, not Minsk.")


# Fields


def test_title_and_text_scopes() -> None:
    assert matches("title:Kyiv", title="Kyiv talks", text="Nothing.")
    assert not matches("title:Kyiv", title="Talks", text="In Kyiv.")
    assert matches("text:Kyiv", title="Talks", text="In Kyiv.")
    assert not matches("text:Kyiv", title="Kyiv talks", text="Nothing.")
    assert matches('title:("peace talks" OR truce) AND Kyiv', title="Peace talks", text="Kyiv.")


def test_field_names_ignore_case() -> None:
    assert parse_query("Title:Kyiv") == word("kyiv", field="title")


def test_site_scope_matches_a_host_or_a_site_name() -> None:
    rules = RuleSet.compile([("bbc", "kyiv site:bbc.co.uk"), ("name", 'kyiv site:"Kyiv Post"')])
    assert [m.rule_id for m in rules.match("", "Kyiv.", site="www.bbc.co.uk")] == ["bbc"]
    assert [m.rule_id for m in rules.match("", "Kyiv.", site="Kyiv Post")] == ["name"]
    assert rules.match("", "Kyiv.", site="reuters.com") == []
    assert rules.match("", "Kyiv.") == []


def test_lang_scope_and_its_exclusion() -> None:
    rules = RuleSet.compile([("en", "kyiv lang:en"), ("not-ru", "kyiv -lang:ru")])
    assert [m.rule_id for m in rules.match("", "Kyiv.", lang="en")] == ["en", "not-ru"]
    assert [m.rule_id for m in rules.match("", "Kyiv.", lang="ru")] == []
    assert [m.rule_id for m in rules.match("", "Kyiv.")] == ["not-ru"]


def test_site_and_lang_filter_without_terms_or_marks() -> None:
    rules = RuleSet.compile([("r", "site:kyivindependent.com")])
    found = rules.match("Talks", "Talks went on.", site="kyivindependent.com")
    assert [(m.rule_id, m.terms) for m in found] == [("r", ())]
    assert found[0].passage.marked("[", "]") == "Talks"


def test_scoped_words_are_not_found_in_other_fields() -> None:
    assert not matches("Kyiv", title="", text="")
    rules = RuleSet.compile([("r", "bbc")])
    assert rules.match("", "Nothing here.", site="bbc.co.uk", lang="en") == []


# Aliases


ALIASES = {
    "Donbas": ["Donbass", "Донбас*", "Donbas region"],
    "Zelensky": ["Zelenskyy", "Zelenskiy"],
    "Kyiv": ["Kiev"],
}


def alias_match(query: str, text: str) -> Match | None:
    found = RuleSet.compile([("r", query)], aliases=ALIASES).match("", text)
    return found[0] if found else None


@pytest.mark.parametrize(
    "text",
    ["Fighting in the Donbas.", "Fighting in Donbass.", "Бои в Донбассе.", "The DONBÁS region."],
)
def test_an_alias_name_matches_every_spelling(text: str) -> None:
    assert alias_match("Donbas", text) is not None


def test_aliases_apply_to_words_inside_phrases_and_proximity() -> None:
    assert alias_match('"President Zelensky"', "President Zelenskiy spoke.") is not None
    assert alias_match('"Zelensky Kyiv"~3', "Zelenskyy returned to Kiev.") is not None
    assert alias_match('"President Zelensky"', "Zelenskiy, the president.") is None


def test_alias_expansion_keeps_the_field() -> None:
    found = parse_query("title:Kyiv", Aliases.compile(ALIASES))
    assert isinstance(found, Or)
    assert found.children[:2] == (word("kyiv", field="title"), word("kiev", field="title"))
    assert word("Київ", field="title") in found.children
    assert all(child.field == "title" for child in found.children)


def test_an_alias_spelling_naming_another_alias_brings_its_spellings() -> None:
    aliases = Aliases.compile({"Ukraine capital": ["Kyiv"], "Kyiv": ["Kiev", "Київ*"]})
    found = parse_query('"Ukraine capital"', aliases)
    assert isinstance(found, Or)
    assert found.children[:4] == (
        Phrase((word("ukraine"), word("capital"))),
        word("kyiv"),
        word("kiev"),
        Term(normalize("Київ"), prefix=True),
    )


@pytest.mark.parametrize(
    ("name", "spellings", "text"),
    [
        ("Witkoff", ["Steve Witkoff"], "Віткофф прибув до Москви."),
        ("Witkoff", ["Steve Witkoff"], "Путин встретился с Уиткоффом."),
        ("Zelensky", ["Zelenskyy"], "Зустріч із Зеленським."),
        ("Zelensky", ["Zelenskyy"], "Встреча с Зеленским."),
        ("Donbas", ["Donbass"], "Україна не поступиться Донбасом."),
        ("Donbas", ["Donbass"], "Вывод войск из Донбасса."),
        ("Зеленський", ["Зеленский"], "Zelenskyy said."),
        ("Зеленський", ["Зеленский"], "Zelensky said."),
        ("Уиткофф", ["Віткофф"], "Witkoff said."),
        ("Путін", ["Путин"], "Putin said."),
    ],
)
def test_aliases_match_their_transliterations(name: str, spellings: list[str], text: str) -> None:
    rules = RuleSet.compile([("r", name)], aliases={name: spellings})
    assert [m.rule_id for m in rules.match("", text)] == ["r"]


def test_transliterations_do_not_match_other_names() -> None:
    rules = RuleSet.compile([("r", "Witkoff OR Zelensky")], aliases={"Zelensky": ["Zelenskyy"]})
    assert rules.match("", "Зеленська, Уіткін і Віталій Кличко.") == []


@pytest.mark.parametrize(
    ("cyrillic", "latin"),
    [("Зеленський", "zelenskyi"), ("Донбас", "donbas"), ("Уиткофф", "witkoff")],
)
def test_a_cyrillic_word_has_one_likeliest_romanization(cyrillic: str, latin: str) -> None:
    assert romanize(cyrillic) == latin == transliterations(cyrillic)[0].lower()


def test_terms_of_an_alias_match_are_the_spellings_found() -> None:
    found = alias_match("Donbas", "Donbass, then the Donbas region, then Донбасі.")
    assert found is not None
    assert found.terms == ("Donbass", "Donbas region", "Донбасі")


@pytest.mark.parametrize(
    ("aliases", "name", "reason"),
    [
        (
            {"Donbas": ["Donbass"], "Donbass": ["Donbas"]},
            "Donbas",
            "cycle Donbas → Donbass → Donbas",
        ),
        ({"A": ["B"], "B": ["C"], "C": ["B"]}, "B", "cycle B → C → B"),
        ({"Donbas": []}, "Donbas", "no spellings listed"),
        (
            {"Donbas": ["Do*"]},
            "Donbas",
            "spelling 'Do*': wildcard too broad at position 0: at least 3 letters before '*'",
        ),
        ({"Donbas": ["--"]}, "Donbas", "spelling '--': '--' at position 0 holds no word"),
        ({"Donbas*": ["x"]}, "Donbas*", "a name cannot hold a wildcard"),
        ({"Kyiv": ["Kiev"], "KYIV": ["Kyjiw"]}, "KYIV", "same words as alias 'Kyiv'"),
    ],
)
def test_bad_aliases_name_the_alias(aliases: dict[str, list[str]], name: str, reason: str) -> None:
    with pytest.raises(AliasError) as caught:
        RuleSet.compile([("r", "kyiv")], aliases=aliases)
    assert (caught.value.name, caught.value.reason) == (name, reason)
    assert str(caught.value) == f"alias {name!r}: {reason}"


def test_alias_expansion_is_bounded() -> None:
    many = {f"w{i}": [f"w{i}x{j}" for j in range(20)] for i in range(3)}
    with pytest.raises(
        RuleError, match=r"more than 256 spellings once aliases are expanded \(at position 0\)"
    ):
        RuleSet.compile([("r", '"w0 w1 w2"')], aliases=many)


# The prefilter


def test_only_rules_whose_terms_occur_are_evaluated() -> None:
    rules = RuleSet.compile(
        [
            ("kyiv", "Kyiv AND talks"),
            ("senate", "Senate NEAR/5 ratif*"),
            ("any", "Moscow OR Minsk"),
            ("not", "Kyiv -Moscow"),
        ]
    )
    assert rules.candidates("", "Talks in Kyiv.") == ["kyiv", "not"]
    assert rules.candidates("", "Kyiv talks in Moscow.") == ["kyiv", "any", "not"]
    assert rules.candidates("", "The Senate will ratify.") == ["senate"]
    assert rules.candidates("", "The Senate met.") == []


WORDS = ["kyiv", "kiev", "talks", "senate", "ratify", "ratified", "donbas", "the", "moscow"]
QUERIES = [
    "kyiv AND talks",
    "(kyiv OR kiev) -moscow",
    "senate NEAR/2 ratif*",
    '"senate ratif*" OR "the donbas"',
    'title:kyiv OR text:"the talks"',
    "(donbas OR moscow) AND NOT (senate ratify)",
    '"talks kyiv donbas"~1',
    "(kyiv AND donbas) NEAR/3 talks",
    "((kyiv NEAR/1 talks) OR donbas) NEAR/2 (senate OR the)",
]


Fields = tuple[list[list[str]], list[list[int]]]  # each field's words, and each word's line


def oracle_spans(node: Node, fields: Fields) -> set[tuple[int, int, int]]:
    """Where `node` matches, as (field, start, end), found by brute force: a phrase in one
    line; for `And` and `Near`, the shortest stretches of one field holding a span of each
    child (for `Near`, with at most its slop of words in no span of a child)."""
    if isinstance(node, Term | Phrase):
        parts = node.parts
        allowed = {None: (0, 1), "title": (0,), "text": (1,)}[node.field]
        found, lines = fields
        return {
            (f, i, i + len(parts))
            for f in allowed
            for i in range(len(found[f]) - len(parts) + 1)
            if all(
                found[f][i + k].startswith(p.word) if p.prefix else found[f][i + k] == p.word
                for k, p in enumerate(parts)
            )
            and lines[f][i] == lines[f][i + len(parts) - 1]
        }
    if isinstance(node, Or):
        return set().union(*(oracle_spans(child, fields) for child in node.children))
    if isinstance(node, Not):
        return set()
    groups = [oracle_spans(child, fields) for child in node.children if child.positional]
    slop = node.slop if isinstance(node, Near) else None
    if isinstance(node, And) and not all(oracle_matches(c, fields) for c in node.children):
        return set()
    ours = {(f, i) for group in groups for f, s, e in group for i in range(s, e)}
    stretches = {}
    for combo in product(*groups):
        if len({f for f, _, _ in combo}) == 1:
            field = combo[0][0]
            start, end = min(s for _, s, _ in combo), max(e for _, _, e in combo)
            others = sum((field, i) not in ours for i in range(start, end))
            stretches[(field, start, end)] = others
    shortest = [
        (f, s, e)
        for f, s, e in stretches
        if not any(g == f and s <= t and u <= e and (t, u) != (s, e) for g, t, u in stretches)
    ]
    return {window for window in shortest if slop is None or stretches[window] <= slop}


def oracle_matches(node: Node, fields: Fields) -> bool:
    if isinstance(node, Not):
        return not oracle_matches(node.child, fields)
    if isinstance(node, And):
        return all(oracle_matches(child, fields) for child in node.children)
    if isinstance(node, Or):
        return any(oracle_matches(child, fields) for child in node.children)
    return bool(oracle_spans(node, fields))


def test_an_and_across_headline_and_text_is_no_stretch_for_a_near() -> None:
    """The headline's "kyiv" and the text's "donbas" satisfy the AND, but hold no stretch of
    one field: the four words between "talks" and the text's own "donbas kyiv" are too many
    (they once counted as covered by a stretch running from the headline into the text)."""
    rules = RuleSet.compile([("r", "(kyiv AND donbas) NEAR/3 talks")])
    assert rules.match("kyiv", "talks kiev kiev kiev kiev donbas kyiv") == []
    assert rules.match("kyiv", "talks donbas") == []
    assert [m.rule_id for m in rules.match("kyiv", "talks kiev donbas kyiv")] == ["r"]


@given(
    st.lists(st.sampled_from(WORDS), max_size=6),
    st.lists(st.sampled_from([*WORDS, "\n"]), max_size=24),
)
def test_matches_agree_with_brute_force(title: list[str], text: list[str]) -> None:
    rules = RuleSet.compile([(str(i), query) for i, query in enumerate(QUERIES)])
    lines = [words(line) for line in " ".join(text).split("\n")]
    fields = (
        [words(" ".join(title)), [word for line in lines for word in line]],
        [[0] * len(words(" ".join(title))), [n for n, line in enumerate(lines) for _ in line]],
    )
    expected = [rule.rule_id for rule in rules.rules if oracle_matches(rule.node, fields)]
    assert [m.rule_id for m in rules.match(" ".join(title), " ".join(text))] == expected
    assert set(expected) <= set(rules.candidates(" ".join(title), " ".join(text)))


# Explanations


def test_passage_shows_every_concept_before_more_terms() -> None:
    text = (
        "Senators and the Senate voted, and the vote was close.\n"
        "Guarantees need ratification by the Senate. Nothing else happened."
    )
    found = match("(Senate OR senators) NEAR/10 (ratif* OR vot*) AND guarantee*", text=text)
    assert found is not None
    assert found.passage.marked("[", "]") == ("[Guarantees] need [ratification] by the [Senate].")


def test_passage_prefers_a_sentence_naming_the_senate() -> None:
    text = (
        "The security guarantees for Ukraine would be binding and must be ratified, and "
        "guarantees are what Ukraine wants. The Senate will vote on them next week."
    )
    query = "Senate AND (ratif* OR vote) AND (guarantee* OR Ukraine)"
    found = match(query, text=text)
    assert found is not None
    assert "[Senate]" in found.passage.marked("[", "]")


def test_passage_does_not_pair_sentences_across_lines() -> None:
    found = match("Kyiv AND talks", text="Talks resumed.\nKyiv agreed.")
    assert found is not None
    assert found.passage.marked("[", "]") == "[Talks] resumed."


def test_match_terms_come_only_from_the_parts_that_matched() -> None:
    found = match(
        "(Senate AND ratify) OR (Congress AND approve)", text="Congress and the Senate ratify."
    )
    assert found is not None
    assert found.terms == ("Senate", "ratify")


def test_near_marks_only_the_words_that_are_near() -> None:
    text = "Senate first. Then nothing for a long while here. The Senate may ratify."
    found = match("Senate NEAR/3 ratify", text=text)
    assert found is not None
    assert found.terms == ("Senate", "ratify")
    assert found.passage.marked("[", "]") == "The [Senate] may [ratify]."


def test_match_passes_site_and_lang_as_keywords() -> None:
    rules = RuleSet.compile([("r", "kyiv site:example.com lang:uk")])
    found = rules.match("Київ", "Kyiv.", site="news.example.com", lang="uk")
    assert [m.rule_id for m in found] == ["r"]


# Bounds


@pytest.mark.timeout(60)
def test_pathological_queries_and_texts_stay_bounded() -> None:
    def group(first: int, last: int) -> str:
        return "(" + " OR ".join(f"w{i:03d}*" for i in range(first, last)) + ")"

    query = f"{group(0, 100)} NEAR/1000 ({group(100, 150)} NEAR/1000 {group(150, 200)})"
    text = " ".join(f"w{i % 200:03d}x" for i in range(20_000))
    found = RuleSet.compile([("r", query)]).match("", text)
    assert [m.rule_id for m in found] == ["r"]
    assert len(found[0].passage.text) <= MAX_PASSAGE + 20


def test_queries_with_too_many_terms_are_refused() -> None:
    query = " OR ".join(f"w{i}" for i in range(5001))
    with pytest.raises(RuleError, match="query too large: more than 5,000 terms with aliases"):
        RuleSet.compile([("r", query)])


def test_a_long_near_chain_is_evaluated_once_per_sub_query() -> None:
    """Each NEAR of a chain asks its left side whether, where and on what it matches:
    without the answers kept per article, 16 NEARs took a minute (CPU time of this
    thread, so that a loaded machine does not fail it; a fraction of a second here)."""
    chain = " NEAR/5 ".join(f"(w{i} OR vv{i}*)" for i in range(17))
    text = " ".join(f"w{i % 17} vv{i % 17}x" for i in range(3_000))
    rules = RuleSet.compile([("r", chain)])
    started = time.thread_time()
    found = rules.match("", text)
    assert time.thread_time() - started < 3.0
    assert [m.rule_id for m in found] == ["r"]


def test_a_near_chain_longer_than_the_nesting_limit_is_refused() -> None:
    chain = " NEAR/5 ".join(f"w{i}" for i in range(42))
    with pytest.raises(QueryError, match=r"nested too deeply .* \(at most 40 levels\)"):
        parse_query(chain)


def test_a_set_every_branch_of_an_or_needs_is_required() -> None:
    """The cheapest sets of the branches here are {donbas} and {negotiations}: an article
    with "negotiations" alone must still be kept out, as both branches need "donbas"."""
    query = "(donbas NEAR/5 cede) OR ((donbas NEAR/5 withdraw*) NEAR/s negotiations)"
    rules = RuleSet.compile([("r", query)])
    assert rules.candidates("", "Negotiations on the ceasefire will cede nothing.") == []
    text = "Negotiations: Kyiv will not withdraw from Donbas."
    assert rules.candidates("", text) == ["r"]
    assert [m.rule_id for m in rules.match("", text)] == ["r"]


def test_a_phrase_needs_each_of_its_words_somewhere_to_be_a_candidate() -> None:
    """A phrase "the hill" is searched as " the " (its next word has forms: "hill",
    "hills", checked after the search); an article without "hill" or "hills" is out."""
    rules = RuleSet.compile([("r", '"the hill" NEAR/5 vote*')])
    assert rules.candidates("", "The vote was held in the city.") == []
    assert rules.candidates("", "The vote was held on the hills.") == ["r"]
    assert [m.rule_id for m in rules.match("", "The hill votes today.")] == ["r"]


@pytest.mark.parametrize(
    ("text", "possible", "matches"),
    [
        ("Talks on the Donbas.", False, False),  # each branch lacks a word
        ("Kyiv: talks on the Donbas.", True, True),
        ("The Senate met. Much later, long after that, the Donbas was named.", True, False),
        ("The Senate heard of the hills of Donbas.", True, True),
    ],
)
def test_what_a_match_needs_is_asked_before_any_literal_is_looked_for(
    text: str, possible: bool, matches: bool
) -> None:
    """`possible` reads the search strings an article holds, every word of a phrase
    among them: False rules the article out (`test` would say False too); True only says
    that `test` must look."""
    query = '(kyiv AND talks) OR (senate NEAR/4 donbas) OR ("the hills" AND senate AND donbas)'
    compiler = Compiler()
    op = compiler.compile(parse_query(query))
    compiler.prefilter.freeze()
    doc = Document("", text)
    scan = Scan(doc, compiler.prefilter.scan(doc.haystack), compiler.needles)
    assert op.possible(scan) is possible
    assert op.test(scan) is matches


def test_equal_sub_queries_of_a_rule_set_share_one_operator() -> None:
    """So their answers about an article are computed once for all the rules."""
    near = "(Senate OR Congress) NEAR/12s ratif*"
    rules = RuleSet.compile([("a", near), ("b", f"{near} AND (Ukraine OR Kyiv)")])
    first, second = rules._compiled
    assert second.concepts[0] is first.op is first.concepts[0]
    text = "The Senate will ratify the pact with Kyiv."
    assert [m.rule_id for m in rules.match("", text)] == ["a", "b"]


LOOKALIKES = yaml.safe_load((DATA / "rules" / "lookalikes.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", LOOKALIKES, ids=[case["query"] for case in LOOKALIKES])
def test_inflection_finds_every_form_and_no_look_alike(case: dict[str, Any]) -> None:
    rules = RuleSet.compile([("r", case["query"])])
    assert [word for word in case["forms"] if not rules.match("", word)] == []
    assert [word for word in case["others"] if rules.match("", word)] == []


def test_compiled_rules_match_inflected_forms_after_the_dictionaries_are_released() -> None:
    rules = RuleSet.compile([("donbas", "Донбас"), ("senate", "Сенат")])
    release_dictionaries()
    matched = rules.match("Новини", "Війська з Донбасу; у Сенате спорят.", site="x", lang="uk")
    assert [m.rule_id for m in matched] == ["donbas", "senate"]
    assert "ратифікує" in forms("ратифікувати")  # a word inflected later loads them again


def test_a_reference_stands_for_the_other_rules_query_and_needs_rules_to_refer_to() -> None:
    other = parse_query("guarantee* NEAR/3 Ukraine")
    node = parse_query("Senate AND rule:g", references=lambda rule_id, _: {"g": other}[rule_id])
    assert node == parse_query("Senate AND (guarantee* NEAR/3 Ukraine)")
    with pytest.raises(QueryError, match=r"'rule:g' at position 11: there are no other rules"):
        parse_query("Senate AND rule:g")


def test_a_phrase_is_read_within_one_sentence() -> None:
    rules = RuleSet.compile([("p", '"Russian security"'), ("w", '"security guarantee*"')])
    assert rules.match("", "They stay Russian. Security: the US offers guarantees.") == []
    assert rules.match("", "They stay Russian.\nSecurity guarantees: none.")[0].rule_id == "w"
    assert [m.rule_id for m in rules.match("Russian security pact", "")] == ["p"]
    assert [m.rule_id for m in rules.match("", "The Russian security services.")] == ["p"]


def test_a_reference_as_a_side_of_a_near_is_read_as_written_there() -> None:
    """As docs/rules.md says: its NOT parts leave out only what they overlap."""
    rules = RuleSet.compile([("q", "Kyiv NEAR/3 rule:x")], library=[("x", "Kyiv -Moscow")])
    assert [m.rule_id for m in rules.match("", "Kyiv and Moscow")] == ["q"]
    assert RuleSet.compile([("x", "Kyiv -Moscow")]).match("", "Kyiv and Moscow") == []
