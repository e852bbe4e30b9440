"""Canonical URLs: one spelling per article, whatever the feed or the share button added."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitors.ingest.urls import (
    TRACKING_PARAMS,
    TRACKING_PREFIXES,
    canonical_url,
    is_tracking,
    site_of,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://News.Example.COM/World/Story", "http://news.example.com/World/Story"),
        ("HtTpS://WWW.EXAMPLE.org/a", "https://www.example.org/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:80/a", "https://example.com:80/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com:443", "https://example.com/"),
        ("http://example.com", "http://example.com/"),
        ("http://example.com?", "http://example.com/"),
        ("http://example.com./a", "http://example.com/a"),
        ("http://example.com/a#comments", "http://example.com/a"),
        ("http://example.com/a?x=1#section-2", "http://example.com/a?x=1"),
        ("http://example.com/a#frag?utm_source=x", "http://example.com/a"),
        ("  https://example.com/a \n", "https://example.com/a"),
        ("https://example.com/a\n/b", "https://example.com/a/b"),
        ("http://user:secret@example.com/a", "http://example.com/a"),
    ],
)
def test_scheme_host_port_fragment(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_path_and_query_values_keep_their_case() -> None:
    assert canonical_url("https://Example.com/News/Item?ID=AbC") == (
        "https://example.com/News/Item?ID=AbC"
    )


@pytest.mark.parametrize(
    "param",
    [
        "utm_source=rss",
        "utm_medium=feed",
        "utm_campaign=morning",
        "utm_term=kyiv",
        "utm_content=top",
        "utm_id=42",
        "UTM_Source=Twitter",
        "fbclid=IwAR2xQ",
        "gclid=Cj0KCQiA",
        "dclid=CLr",
        "gbraid=0AAAA",
        "wbraid=CjkK",
        "msclkid=5b1a",
        "yclid=123",
        "igshid=MzRl",
        "twclid=2-abc",
        "ttclid=E.C.P",
        "li_fat_id=9f1c",
        "srsltid=AfmBOo",
        "_ga=2.1.2.3",
        "_gl=1*abc",
        "mc_cid=4f2a9c",
        "mc_eid=77aa01",
        "_hsenc=p2ANqtz",
        "_hsmi=2",
        "mkt_tok=eyJp",
        "ocid=msedgntp",
        "cmpid=rss",
        "smid=tw-share",
        "ns_mchannel=rss",
        "ns_source=PublicRSS20-sa",
        "ns_campaign=bbc_news",
        "ns_linkname=news_central",
        "ns_fee=0",
        "at_medium=RSS",
        "at_campaign=KARANGA",
        "at_custom1=x",
        "at_custom4=y",
        "taid=5f3",
        "ito=792",
        "sr_share=twitter",
        "src_trk=em",
        "guccounter=1",
        "guce_referrer=aHR0",
        "guce_referrer_sig=AQAA",
        "pk_campaign=feed",
        "pk_kwd=x",
        "mtm_source=newsletter",
        "utm_source",  # no value at all
        "fbclid=",
    ],
)
def test_every_kind_of_tracking_parameter_goes(param: str) -> None:
    url = f"https://example.com/story?id=7&{param}&page=2"
    assert canonical_url(url) == "https://example.com/story?id=7&page=2"
    assert is_tracking(param.partition("=")[0])


def test_tracking_names_listed_are_all_recognised() -> None:
    for name in TRACKING_PARAMS:
        assert is_tracking(name) and is_tracking(name.upper())
    for prefix in TRACKING_PREFIXES:
        assert is_tracking(prefix + "anything")
    for name in ("id", "page", "q", "ref", "story", "utm", "gclid_like", "p"):
        assert not is_tracking(name)


def test_only_tracking_parameters_leaves_no_query() -> None:
    url = "https://example.com/a?utm_source=x&utm_medium=y&fbclid=z&gclid=w&mc_cid=v"
    assert canonical_url(url) == "https://example.com/a"


def test_tracking_name_written_with_escapes_still_goes() -> None:
    assert canonical_url("https://example.com/a?utm%5Fsource=x&b=1") == "https://example.com/a?b=1"


def test_parameter_order_does_not_matter() -> None:
    variants = [
        "https://example.com/a?b=2&a=1&c=3",
        "https://example.com/a?c=3&b=2&a=1",
        "https://example.com/a?utm_source=x&a=1&c=3&b=2#top",
        "HTTPS://EXAMPLE.COM:443/a?a=1&b=2&c=3",
    ]
    assert {canonical_url(v) for v in variants} == {"https://example.com/a?a=1&b=2&c=3"}


def test_repeated_and_blank_parameters_are_kept() -> None:
    assert canonical_url("http://example.com/a?tag=b&tag=a&empty=") == (
        "http://example.com/a?empty=&tag=a&tag=b"
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://[2001:DB8::1]/a", "http://[2001:db8::1]/a"),
        ("http://[2001:db8::1]:80/a?utm_source=x", "http://[2001:db8::1]/a"),
        ("https://[2001:db8::1]:8443/a#x", "https://[2001:db8::1]:8443/a"),
        ("http://[::1]/", "http://[::1]/"),
    ],
)
def test_ipv6_hosts_keep_their_brackets(url: str, expected: str) -> None:
    assert canonical_url(url) == expected
    assert urlsplit(canonical_url(url)).hostname == urlsplit(url).hostname.lower()


@pytest.mark.parametrize(
    "url",
    [
        "javascript:void(0)",
        "mailto:desk@example.com?utm_source=x",
        "ftp://Example.com/File.txt",
        "file:///var/www/index.html",
        "tag:courier.example.net,2026:entry-881",
        "urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6",
        "hg-world-20417",
        "/relative/path?utm_source=x",
        "http:///no-host",
        "http://example.com:99999/out-of-range-port",
        "",
    ],
)
def test_non_http_strings_are_returned_unchanged(url: str) -> None:
    assert canonical_url(url) == url
    assert canonical_url(f"  {url}\n") == url


@pytest.mark.parametrize(
    "url",
    [
        "HTTP://Example.COM:80/a?b=2&utm_source=x&a=1#f",
        "https://[2001:DB8::1]:443/?q=%C3%A9t%C3%A9&fbclid=1",
        "https://example.com/search?q=a+b&r=%20c&s=%26",
        "https://example.com/a?x=%FF",
        "https://example.com//double//slash?",
        "javascript:alert(1)",
    ],
)
def test_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


def test_site_of() -> None:
    assert site_of("https://www.example.co.uk/news/a") == "example.co.uk"
    assert site_of("https://News.Example.org:8443/x") == "news.example.org"
    assert site_of("not a url") == ""


# -- properties ---------------------------------------------------------------------------

_TRACKING_NAMES = sorted(TRACKING_PARAMS) + [p + "x" for p in TRACKING_PREFIXES]
_label = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,10}[A-Za-z0-9])?", fullmatch=True)
_host = st.one_of(
    st.lists(_label, min_size=1, max_size=3).map(".".join).map(lambda h: h + ".example"),
    st.sampled_from(["127.0.0.1", "[::1]", "[2001:DB8::A]", "[fe80::1:2]"]),
)
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
_plain_param = st.tuples(
    st.text(
        st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8
    ).filter(lambda k: not is_tracking(k.strip()) and not is_tracking(k)),
    _text,
)
_tracking_param = st.tuples(
    st.sampled_from(_TRACKING_NAMES).flatmap(
        lambda n: st.sampled_from([n, n.upper(), n.capitalize()])
    ),
    _text,
)


def _quote(text: str) -> str:
    return quote(text, safe="")


@st.composite
def http_urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "Https"]))
    host = draw(_host)
    port = draw(st.sampled_from(["", ":80", ":443", ":8080", ":1"]))
    segments = draw(st.lists(_text, max_size=4))
    path = "/" + "/".join(_quote(s) for s in segments) if segments or draw(st.booleans()) else ""
    params = draw(st.lists(st.one_of(_plain_param, _tracking_param), max_size=6))
    query = "&".join(f"{_quote(k)}={_quote(v)}" for k, v in params)
    fragment = draw(st.sampled_from(["", "#", "#top", "#a?utm_source=x"]))
    return f"{scheme}://{host}{port}{path}{'?' + query if query else ''}{fragment}"


@settings(max_examples=300, deadline=None)
@given(http_urls())
def test_property_canonical_is_idempotent_and_drops_tracking(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once
    parts = urlsplit(once)
    assert parts.scheme in ("http", "https")
    assert parts.fragment == ""
    assert parts.netloc == parts.netloc.lower()
    names = [k for k, _ in parse_qsl(parts.query, keep_blank_values=True)]
    assert not [k for k in names if is_tracking(k)]
    assert names == sorted(names)
