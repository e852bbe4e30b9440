"""How values look on the desk's pages: times, links, highlighted passages, errors.

Templates escape every string themselves (autoescape); these helpers only decide what is
shown: a link only for an http(s) URL, marks as separate pieces, secrets never.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime

from monitors.delivery.render import safe_url

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")


def when(moment: datetime | None) -> str:
    """A UTC time to the minute, or ""."""
    return f"{moment:%Y-%m-%d %H:%M}" if moment else ""


def href(url: str | None) -> str | None:
    """The URL if a link may point there (http or https), else None: no `javascript:`."""
    return safe_url(url or "") or None


def pieces(text: str, marks: Iterable[Iterable[int]]) -> list[tuple[str, bool]]:
    """A passage cut at its marks: (text, marked) pieces in order."""
    out, pos = [], 0
    for start, end in sorted((int(a), int(b)) for a, b in marks):
        if start < pos or end > len(text):
            continue
        out += [(text[pos:start], False), (text[start:end], True)]
        pos = end
    out.append((text[pos:], False))
    return [piece for piece in out if piece[0]]


def skipped(stored: str | None) -> list[str]:
    """A feed's stored skip reasons."""
    try:
        reasons = json.loads(stored) if stored else []
    except ValueError:
        return [stored or ""]
    return [str(r) for r in reasons] if isinstance(reasons, list) else [str(reasons)]


class Redactor:
    """Takes secrets out of text shown on a page: every known secret value (channel URLs,
    the token), and the credentials of any URL."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text: str | None) -> str:
        if not text:
            return ""
        for secret in self.secrets:
            text = text.replace(secret, "[secret]")
        return _USERINFO.sub(r"\1[secret]@", text)
