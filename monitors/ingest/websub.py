"""WebSub (W3C Recommendation) from the subscriber's side, without state: where a feed's
hub is, what to ask of it, and whether pushed content is signed by it.

- `discover`: the hub and topic of a fetched feed. HTTP `Link` headers come first
  (rel="hub", rel="self"), else the feed's own links (`<link rel="hub">` in Atom,
  `<atom:link>` in RSS); the topic is the self URL, else the URL fetched.
- `ask_hub`: a subscribe or unsubscribe request, a form POSTed to the hub under the
  fetcher's guards (a hub answers 202 Accepted, then checks the intent at the callback).
- `signature_ok`: `X-Hub-Signature: method=hex`, the HMAC of the body with the
  subscription's `hub.secret` (sha256, sha384, sha512; sha1 still accepted).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin

from monitors.config import check_http_url
from monitors.errors import FetchError
from monitors.ingest.fetch import Fetcher

SIGNATURES = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384,
              "sha512": hashlib.sha512}  # fmt: skip
SECRET_BYTES = 32  # hub.secret: 64 hex characters, under the spec's 200 bytes
CALLBACK_BYTES = 18  # a callback id: 24 URL-safe characters nobody can guess
MODES = ("subscribe", "unsubscribe")
_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]+)*)")
_REL = re.compile(r"""(?i)\brel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""")


@dataclass(frozen=True)
class Hub:
    """Where a feed is pushed from: its hub and the topic to ask for."""

    hub: str
    topic: str


def link_header(values: Iterable[str], base: str) -> list[tuple[str, str]]:
    """(rel, absolute URL) of every link in HTTP `Link` header values; a link with
    several relations ("hub self") is listed once for each."""
    found = []
    for value in values:
        for match in _LINK.finditer(value):
            rel = _REL.search(match.group(2))
            if rel is None:
                continue
            url = urljoin(base, match.group(1).strip())
            found += [(r, url) for r in (rel.group(1) or rel.group(2)).lower().split()]
    return found


def discover(headers: Iterable[str], feed_links: Iterable[tuple[str, str]], url: str) -> Hub | None:
    """The hub and topic of the feed at `url` from its answer's Link `headers`, else from
    the feed's own (rel, href) links; None without a usable hub. The first hub named
    is taken."""
    links = link_header(headers, url)
    if not any(rel == "hub" for rel, _ in links):
        links = [(rel, urljoin(url, href)) for rel, href in feed_links]
    hubs = [href for rel, href in links if rel == "hub" and _http(href)]
    topics = [href for rel, href in links if rel == "self" and _http(href)]
    if not hubs:
        return None
    return Hub(hubs[0], topics[0] if topics else url)


def _http(url: str) -> bool:
    try:
        check_http_url(url)
    except ValueError:
        return False
    return True


def new_secret() -> str:
    """A fresh `hub.secret`."""
    return secrets.token_hex(SECRET_BYTES)


def new_callback_id() -> str:
    """A fresh, unguessable callback id."""
    return secrets.token_urlsafe(CALLBACK_BYTES)


def request_form(
    mode: str, hub: Hub, callback: str, lease: float | None, secret: str | None
) -> dict[str, str]:
    """The form of a subscribe (with the lease asked and the secret) or unsubscribe."""
    if mode not in MODES:
        raise ValueError(f"hub.mode {mode!r}: use subscribe or unsubscribe")
    form = {"hub.mode": mode, "hub.topic": hub.topic, "hub.callback": callback}
    if mode == "subscribe":
        if lease is not None:
            form["hub.lease_seconds"] = str(int(lease))
        if secret is not None:
            form["hub.secret"] = secret
    return form


async def ask_hub(fetcher: Fetcher, hub: Hub, form: dict[str, str]) -> int:
    """POST a request to the hub; its status (2xx, normally 202 Accepted). Raises
    FetchError when the hub cannot be reached or refuses (with what it said)."""
    answer = await fetcher.post_form(hub.hub, form)
    if not 200 <= answer.status < 300:
        said = " ".join(answer.body[:200].decode("utf-8", "replace").split())
        raise FetchError(hub.hub, f"HTTP {answer.status}" + (f": {said}" if said else ""))
    return answer.status


def signature_ok(secret: str, header: str | None, body: bytes) -> bool:
    """Whether `X-Hub-Signature` (`method=hex`) is the HMAC of `body` with `secret` by a
    method named in SIGNATURES; compared in constant time."""
    method, _, given = (header or "").strip().partition("=")
    digest = SIGNATURES.get(method.strip().lower())
    if digest is None or not given:
        return False
    expected = hmac.new(secret.encode(), body, digest).hexdigest()
    return hmac.compare_digest(expected, given.strip().lower())
