"""One identity for the many names of a country, bloc or institution.

"US", "U.S.", "United States", "America", "American", "Washington" and "the White House"
all name one party: a later article that writes another of them says nothing new. Each
entry lists, as normalized words, the names, demonyms, capitals and seats of one party
(a capital where talks are held, "in Berlin" or "the Berlin talks", names a venue, not
its country). A name not listed is its own identity (see `identity`), and a multi-word
name is also known by its initials ("European Union" is "EU").
"""

from __future__ import annotations

import re
from functools import cache

from monitors.stories.similarity import Roots
from monitors.text import words


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_TABLE = """
us: us|usa|america|american|americans|washington|white house|trump administration|
    biden administration|state department|secretary of state|pentagon|united states|
    united states of america
uk: uk|britain|british|briton|united kingdom|great britain|london|downing street|whitehall
ukraine: ukraine|ukrainian|ukrainians|kyiv|kiev
russia: russia|russian|russians|moscow|kremlin|russian federation
eu: eu|european union|brussels|european commission
europe: europe|european|europeans
nato: nato|north atlantic treaty organization|atlantic alliance
un: un|united nations
west: west|western|westerners
congress: congress|congressional|capitol hill|lawmakers|legislators
senate: senate|senators|senator|upper chamber|upper house
house: house of representatives|lower chamber|lower house|house speaker|speaker of the house|
    house republicans|house democrats|house majority|house minority|house vote
china: china|chinese|beijing
france: france|french|paris|elysee
germany: germany|german|germans|berlin|bundestag
poland: poland|polish|warsaw
italy: italy|italian|italians|rome
spain: spain|spanish|madrid
turkey: turkey|turkish|turkiye|ankara
japan: japan|japanese|tokyo
india: india|indian|new delhi
canada: canada|canadian|canadians|ottawa
israel: israel|israeli|israelis|jerusalem
iran: iran|iranian|iranians|tehran
taiwan: taiwan|taiwanese|taipei
sweden: sweden|swedish|stockholm
finland: finland|finnish|helsinki
norway: norway|norwegian|oslo
denmark: denmark|danish|copenhagen
netherlands: netherlands|dutch|amsterdam|the hague
belgium: belgium|belgian
austria: austria|austrian|vienna
switzerland: switzerland|swiss|bern
hungary: hungary|hungarian|budapest
romania: romania|romanian|bucharest
moldova: moldova|moldovan|chisinau
belarus: belarus|belarusian|minsk
czechia: czechia|czech|czech republic|prague
slovakia: slovakia|slovak|bratislava
baltics: baltics|baltic states
estonia: estonia|estonian|tallinn
latvia: latvia|latvian|riga
lithuania: lithuania|lithuanian|vilnius
georgia: georgia|georgian|tbilisi
armenia: armenia|armenian|yerevan
azerbaijan: azerbaijan|azerbaijani|baku
saudi arabia: saudi arabia|saudi|saudis|riyadh
qatar: qatar|qatari|doha
uae: uae|emirati|united arab emirates|abu dhabi
egypt: egypt|egyptian|cairo
south korea: south korea|south korean|seoul
north korea: north korea|north korean|pyongyang
australia: australia|australian|canberra
brazil: brazil|brazilian|brasilia
mexico: mexico|mexican
south africa: south africa|south african|pretoria
greece: greece|greek|athens
portugal: portugal|portuguese|lisbon
ireland: ireland|irish|dublin
iceland: iceland|icelandic|reykjavik
luxembourg: luxembourg|luxembourgish
croatia: croatia|croatian|zagreb
slovenia: slovenia|slovenian|ljubljana
bulgaria: bulgaria|bulgarian|sofia
serbia: serbia|serbian|belgrade
albania: albania|albanian|tirana
montenegro: montenegro|montenegrin
north macedonia: north macedonia|macedonian|skopje
bosnia: bosnia|bosnian|sarajevo
kosovo: kosovo|kosovan|pristina
cyprus: cyprus|cypriot|nicosia
malta: malta|maltese|valletta
kazakhstan: kazakhstan|kazakh|astana
uzbekistan: uzbekistan|uzbek|tashkent
pakistan: pakistan|pakistani|islamabad
bangladesh: bangladesh|bangladeshi|dhaka
indonesia: indonesia|indonesian|jakarta
vietnam: vietnam|vietnamese|hanoi
thailand: thailand|thai|bangkok
philippines: philippines|filipino|manila
malaysia: malaysia|malaysian|kuala lumpur
singapore: singapore|singaporean
new zealand: new zealand|wellington
iraq: iraq|iraqi|baghdad
syria: syria|syrian|damascus
lebanon: lebanon|lebanese|beirut
jordan: jordan|jordanian|amman
kuwait: kuwait|kuwaiti
oman: oman|omani|muscat
bahrain: bahrain|bahraini
morocco: morocco|moroccan|rabat
algeria: algeria|algerian|algiers
nigeria: nigeria|nigerian|abuja
kenya: kenya|kenyan|nairobi
ethiopia: ethiopia|ethiopian|addis ababa
argentina: argentina|argentine|argentinian|buenos aires
chile: chile|chilean|santiago
colombia: colombia|colombian|bogota
venezuela: venezuela|venezuelan|caracas
"""
CAPITALS = _wordset(
    """
    washington london kyiv kiev moscow brussels beijing paris berlin warsaw rome madrid
    ankara tokyo ottawa jerusalem tehran taipei stockholm helsinki oslo copenhagen
    amsterdam vienna bern budapest bucharest chisinau minsk prague bratislava tallinn
    riga vilnius tbilisi yerevan baku riyadh doha cairo seoul pyongyang canberra
    brasilia athens lisbon dublin geneva
    """
)
VENUE_BEFORE = _wordset("in at from to")
# an institution named by its country ("the Ukrainian parliament", "Ukraine's parliament")
# is a party of its own; its government or cabinet is the country itself
INSTITUTIONS = _wordset("parliament parliaments court courts central bank duma rada assembly")
VENUE_AFTER = _wordset("talks summit meeting meetings conference format process round")
# a bloc named earlier stands for these named later ("European troops" after "Western
# troops" is no news; "Britain and France" after "European partners" is)
MEMBERS = {
    "west": ("us", "europe", "eu", "nato"),
    "europe": ("eu",),
    "eu": ("europe",),
    "congress": ("senate", "house"),
}
# a chamber named earlier makes its whole known ("Congress" after "the Senate"; "the House"
# after "the Senate" is news)
WHOLES = {"senate": "congress", "house": "congress"}


@cache
def _by_name() -> dict[tuple[str, ...], str]:
    table: dict[tuple[str, ...], str] = {}
    for line in _TABLE.replace("|\n", "|").strip().splitlines():
        party, names = line.split(":", 1)
        for name in names.split("|"):
            table[tuple(name.split())] = party.strip()
    return table


_PAIR = re.compile(r"(?<=[\w.])-(?=[A-Z])")


def parties_in(text: str) -> list[str]:
    """The parties a text names, in order (longest names first); a capital named as the
    venue of talks is left out. A list ("Denmark, Sweden, Norway and Finland") names each,
    as does a pair joined by a hyphen ("the US-Ukraine treaty")."""
    if "," in text or ";" in text or _PAIR.search(text):
        pieces = [part for piece in re.split(r"[,;]", text) for part in _PAIR.split(piece)]
        return [party for piece in pieces for party in parties_in(piece)]
    table = _by_name()
    longest = max(map(len, table))
    found, tokens, i = [], words(text), 0
    while i < len(tokens):
        for size in range(min(longest, len(tokens) - i), 0, -1):
            party = table.get(tuple(tokens[i : i + size]))
            if party is not None:
                after = tokens[i + size] if i + size < len(tokens) else ""
                if after == "s" and i + size + 1 < len(tokens):  # "Ukraine's parliament"
                    owned = tokens[i + size + 1]
                    after = owned if owned in INSTITUTIONS else after
                following = table.get((after,))
                if following is not None and following != party:
                    pass  # "US Senate": the Senate's own party follows
                elif after in INSTITUTIONS:
                    found.append(f"{party} {after}")
                elif not _venue(tokens, i, size):
                    found.append(party)
                i += size
                break
        else:
            i += 1
    return found


def _venue(tokens: list[str], i: int, size: int) -> bool:
    if size != 1 or tokens[i] not in CAPITALS:
        return False
    before = tokens[i - 1] if i else ""
    after = tokens[i + 1] if i + 1 < len(tokens) else ""
    return before in VENUE_BEFORE or after in VENUE_AFTER


def identity(name: str) -> frozenset[str]:
    """The keys by which a written name is known: its party in the table, else its
    normalized words joined, and its initials when it has several words."""
    tokens = words(name)
    parties = parties_in(name)
    if len(parties) == 1 and len(tokens) <= 3:
        return frozenset(parties)
    keys = {" ".join(tokens)}
    if len(tokens) > 1:
        keys.add("".join(t[0] for t in tokens if t))
    return frozenset(keys)


def known(keys: frozenset[str], seen: set[str]) -> bool:
    """Whether a name of these keys was seen, spelt the same up to an ending ("Donbass"
    after "Donbas"), a bloc standing for it, or, for a whole, one of its parts."""
    if keys & seen or any(member in keys for b in seen for member in MEMBERS.get(b, ())):
        return True
    if any(WHOLES.get(part) in keys for part in seen):
        return True
    roots = Roots(seen)
    return any(roots.seen(key) for key in keys if key.isalpha())
