"""Extract: from a fetched page to an article with the analysis of its text.

Owns page text (`page`: trafilatura, the page's own title and site, the entry's summary
as the fallback), the language of an article's words (`language`), the worker pool that
runs it within a deadline and a memory cap (`workers`), and the text analysis story
placement needs (`analysis`: IDF weighted terms, the keys of names and numbers; the
facts novelty reads in a sentence: names, numbers and quotes; `marks`: names, places
and numbers keyed alike across Latin and Cyrillic), and the on-disk cache of what it builds
once (`cache`: the language model's compact form, justext's stop words in buckets).
Imports the bottom layer, `rules` (transliteration), `config` and `ingest` (URLs).
"""

from monitors.extract.analysis import (
    RARE_IDF,
    STOPWORDS,
    IdfTable,
    analyse,
    default_idf,
    features,
    features_of,
    stem,
    terms,
)
from monitors.extract.language import load_model_in_background, needs_model
from monitors.extract.page import PageText, article_from, extract_article, page_text, text_hash
from monitors.extract.workers import Extractor

__all__ = [
    "RARE_IDF",
    "STOPWORDS",
    "Extractor",
    "IdfTable",
    "PageText",
    "analyse",
    "article_from",
    "default_idf",
    "extract_article",
    "features",
    "features_of",
    "load_model_in_background",
    "needs_model",
    "page_text",
    "stem",
    "terms",
    "text_hash",
]
