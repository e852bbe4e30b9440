"""Canonical URLs: one spelling per article, so variants of a seen link are recognised."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "igshid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "srsltid",
        "_ga",
        "_gl",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "ocid",
        "cmpid",
        "smid",
        "ns_mchannel",
        "ns_source",
        "ns_campaign",
        "ns_linkname",
        "ns_fee",
        "at_medium",
        "at_campaign",
        "at_custom1",
        "at_custom2",
        "at_custom3",
        "at_custom4",
        "taid",
        "ito",
        "sr_share",
        "src_trk",
        "guccounter",
        "guce_referrer",
        "guce_referrer_sig",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_")
DEFAULT_PORTS = {"http": 80, "https": 443}
_SPACES = re.compile(r"\s+")


def is_tracking(name: str) -> bool:
    """Whether a query parameter only tracks the click (utm_*, fbclid, gclid, ...)."""
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """The URL with a lower-case scheme and host, no default port, no fragment,
    no tracking parameters and the remaining parameters sorted.

    A string that is not an http(s) URL is returned stripped, unchanged otherwise.
    """
    url = _SPACES.sub("", url.strip())
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return url
    host = parts.hostname.rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    params = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking(k)
    ]
    query = urlencode(sorted(params), doseq=True)
    return urlunsplit((scheme, host, parts.path or "/", query, ""))


def site_of(url: str) -> str:
    """The host of a URL without a leading "www.", for display."""
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.")


def host_of(url: str) -> str:
    """The host a fetch of `url` goes to, lower-cased ("" when it names none): pages of
    one host share its slots and its page budget."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:  # refused with its reason once fetched
        return ""
