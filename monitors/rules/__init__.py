"""Watch rules: queries parsed, compiled together, and matched with an explanation.

1. `parse`: a query to `query` nodes (`Term`, `Phrase`, `And`, `Or`, `Not`, `Near`),
   with `aliases` replacing a name by its spellings; errors give the position.
2. `evaluate`: nodes compiled to operators over one needle table.
3. `prefilter`: every literal of every rule in one Aho-Corasick automaton, run once
   over an article's normalized words (`document`).
4. `ruleset`: only the rules whose anchor literals occur are evaluated; a match carries
   its terms, the `passage` that best shows the rule and the rule's `kin` words (the
   plain alternatives of each OR group: "ceding" and "giving up"). `limits` bound what
   one article costs: the characters read, and the CPU time.

A Cyrillic query word matches its inflected forms (`inflect`, from pymorphy3's
dictionaries); `release_dictionaries` lets the dictionaries go once the rules are compiled.

The query language is described in docs/rules.md.
"""

from monitors.rules.aliases import AliasError, Aliases
from monitors.rules.document import Document
from monitors.rules.inflect import release_dictionaries
from monitors.rules.limits import Limits
from monitors.rules.parse import parse_query
from monitors.rules.query import And, Literal, Near, Node, Not, Or, Phrase, Term
from monitors.rules.ruleset import Matching, Rule, RuleError, RuleSet

__all__ = [
    "AliasError",
    "Aliases",
    "And",
    "Document",
    "Limits",
    "Literal",
    "Matching",
    "Near",
    "Node",
    "Not",
    "Or",
    "Phrase",
    "Rule",
    "RuleError",
    "RuleSet",
    "Term",
    "parse_query",
    "release_dictionaries",
]
