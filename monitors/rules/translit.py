"""Built-in transliteration between Latin and Cyrillic spellings of a name, for aliases.

A name written in Latin letters gets the Cyrillic spellings Ukrainian and Russian writers
give it (Witkoff: Віткофф, Уиткофф; Zelensky: Зеленський, Зеленский; Putin: Путін,
Путин), and a name written in Cyrillic gets its romanizations (Зеленський: Zelenskyi,
Zelenskyy, Zelenskiy; Донбас: Donbas). Both directions list the usual choices for each
letter (w: в or у; y at the end: и, ий, і or ій; х: kh or h…), so a spelling is a
candidate, not a claim: the ones no article holds cost nothing but a search string.
Spellings come out as written names (capitalized, with й, ї, ь), so that inflection
(monitors.rules.inflect) can decline the Cyrillic ones as names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import combinations, product

MAX_SPELLINGS = 24  # per spelling transliterated: the likeliest first
MAX_CHANGES = 3  # second choices in one word

# words spelled so far: second choices taken in all, each word's choice, the words
Spelled = tuple[int, tuple[int, ...], tuple[str, ...]]

# Latin to Cyrillic, longest letter group first; the first choice is the likeliest
_FROM_LATIN: list[tuple[str, tuple[str, ...]]] = [
    ("shch", ("щ",)),
    ("skyy", ("ський", "ский")),
    ("skyi", ("ський", "ский")),
    ("skiy", ("ський", "ский")),
    ("skij", ("ський", "ский")),
    ("sky$", ("ський", "ский")),
    ("ski$", ("ський", "ский", "скі", "ски")),
    ("tsk$", ("цьк", "цк")),
    ("nsk$", ("нськ", "нск")),
    ("sk$", ("ськ", "ск")),
    ("zh", ("ж",)),
    ("kh", ("х",)),
    ("ch", ("ч",)),
    ("sh", ("ш",)),
    ("ts", ("ц", "тс")),
    ("tz", ("ц",)),
    ("ph", ("ф",)),
    ("th", ("т",)),
    ("ck", ("к",)),
    ("ya", ("я",)),
    ("ia", ("я", "іа", "иа")),
    ("yu", ("ю",)),
    ("iu", ("ю",)),
    ("ye", ("є", "е")),
    ("ie", ("є", "іе", "ие")),
    ("yi", ("иї", "ї", "ий", "ій")),
    ("yo", ("йо", "ё")),
    ("iy", ("ий", "ій")),
    ("ee", ("і", "и")),
    ("oo", ("у",)),
    ("ou", ("у", "оу")),
    ("ff", ("фф", "ф")),
    ("ss", ("сс", "с")),
    ("ll", ("лл", "л")),
    ("tt", ("тт", "т")),
    ("nn", ("нн", "н")),
    ("mm", ("мм", "м")),
    ("rr", ("рр", "р")),
    ("gg", ("гг", "г")),
    ("a", ("а",)),
    ("b", ("б",)),
    ("c", ("к", "с")),
    ("d", ("д",)),
    ("e", ("е", "є")),
    ("f", ("ф",)),
    ("g", ("г", "ґ")),
    ("h", ("х", "г")),
    ("i", ("і", "и")),
    ("j", ("дж", "й")),
    ("k", ("к",)),
    ("l", ("л",)),
    ("m", ("м",)),
    ("n", ("н",)),
    ("o", ("о",)),
    ("p", ("п",)),
    ("q", ("к",)),
    ("r", ("р",)),
    ("s", ("с",)),
    ("t", ("т",)),
    ("u", ("у", "а")),
    ("v", ("в",)),
    ("w", ("в", "у")),
    ("x", ("кс",)),
    ("y$", ("и", "ий", "і", "ій")),
    ("y", ("и", "і", "й")),
    ("z", ("з",)),
]

# Cyrillic to Latin, by the Ukrainian national system and the usual Russian romanizations
_FROM_CYRILLIC: list[tuple[str, tuple[str, ...]]] = [
    ("ський$", ("skyi", "skyy", "sky", "skiy")),
    ("ский$", ("sky", "skiy", "skii", "skyi")),
    ("ий$", ("yi", "y", "iy", "yy")),
    ("ій$", ("yi", "iy", "i")),
    ("зг", ("zgh", "zg")),
    ("уи", ("wi", "ui", "uy")),
    ("уо", ("wo", "uo")),
    ("а", ("a",)),
    ("б", ("b",)),
    ("в", ("v", "w")),
    ("г", ("h", "g")),
    ("ґ", ("g",)),
    ("д", ("d",)),
    ("е", ("e",)),
    ("є", ("ye", "ie")),
    ("ё", ("yo", "e")),
    ("ж", ("zh",)),
    ("з", ("z",)),
    ("и", ("y", "i")),
    ("і", ("i",)),
    ("ї", ("yi", "i")),
    ("й", ("y", "i")),
    ("к", ("k",)),
    ("л", ("l",)),
    ("м", ("m",)),
    ("н", ("n",)),
    ("о", ("o",)),
    ("п", ("p",)),
    ("р", ("r",)),
    ("с", ("s",)),
    ("т", ("t",)),
    ("у", ("u",)),
    ("ф", ("f",)),
    ("х", ("kh", "h")),
    ("ц", ("ts",)),
    ("ч", ("ch",)),
    ("ш", ("sh",)),
    ("щ", ("shch", "sch")),
    ("ъ", ("",)),
    ("ы", ("y",)),
    ("ь", ("",)),
    ("э", ("e",)),
    ("ю", ("yu", "iu")),
    ("я", ("ya", "ia")),
    ("'", ("",)),
]

_LATIN = re.compile(r"[a-z]+")
_CYRILLIC = re.compile(r"[\u0400-\u04ff']+")


def transliterations(spelling: str) -> list[str]:
    """The other script's spellings of `spelling` (a name, one word or several, in Latin or
    Cyrillic letters), likeliest first; none for anything else (digits, wildcards)."""
    words = spelling.replace("\u2019", "'").replace("\u02bc", "'").casefold().split()
    if not words:
        return []
    if all(_LATIN.fullmatch(word) for word in words):
        table = _FROM_LATIN
    elif all(_CYRILLIC.fullmatch(word) for word in words):
        table = _FROM_CYRILLIC
    else:
        return []
    best: list[Spelled] = [(0, (), ())]
    for word in words:
        best = _likeliest(
            (rank + more, indexes + (index,), texts + (spelled.capitalize(),))
            for rank, indexes, texts in best
            for index, (spelled, more) in enumerate(_word_choices(word, table))
        )
    return [" ".join(texts) for _, _, texts in best]


def romanize(word: str) -> str:
    """The likeliest Latin spelling of a Cyrillic word, lower case ("зеленський" is
    "zelenskyi", "київ" "kyiv"); the letters the table lacks are kept."""
    plain = word.replace("\u2019", "'").replace("\u02bc", "'").casefold()
    pieces = _pieces(plain, _FROM_CYRILLIC)
    return "".join(options[0] for options in pieces)


def _likeliest(combos: Iterable[Spelled]) -> list[Spelled]:
    """The `MAX_SPELLINGS` likeliest spellings of the words so far: fewest second choices
    in all, then the words' own likeliest first. Those of the words before are enough to
    find those of one more word, so a phrase costs its words' choices added, not
    multiplied."""
    return sorted(combos)[:MAX_SPELLINGS]


def _word_choices(word: str, table: list[tuple[str, tuple[str, ...]]]) -> list[tuple[str, int]]:
    """The `MAX_SPELLINGS` likeliest spellings of one word with how many second choices
    each took (at most `MAX_CHANGES`), likeliest first."""
    pieces = _pieces(word, table)
    branching = [i for i, options in enumerate(pieces) if len(options) > 1]
    spelled: dict[str, int] = {}
    for rank in range(MAX_CHANGES + 1):
        for where in combinations(branching, rank):
            for picks in product(*(range(1, len(pieces[i])) for i in where)):
                chosen = dict(zip(where, picks, strict=True))
                text = "".join(options[chosen.get(i, 0)] for i, options in enumerate(pieces))
                spelled.setdefault(text, rank)
                if len(spelled) == MAX_SPELLINGS:  # the rest come after these
                    return list(spelled.items())
    return list(spelled.items())


def _pieces(word: str, table: list[tuple[str, tuple[str, ...]]]) -> list[tuple[str, ...]]:
    """The choices for each letter group of `word`, read left to right, longest first."""
    pieces: list[tuple[str, ...]] = []
    pos = 0
    while pos < len(word):
        for letters, options in table:
            group = letters.rstrip("$")
            at_end = letters.endswith("$")
            if word.startswith(group, pos) and (not at_end or pos + len(group) == len(word)):
                pieces.append(options)
                pos += len(group)
                break
        else:
            pieces.append((word[pos],))
            pos += 1
    return pieces
