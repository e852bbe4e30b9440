"""The cache of data newsmon builds once and reads in every later process (the language
model's compact form, the stop words' buckets): `$NEWSMON_CACHE_DIR`, else
`$XDG_CACHE_HOME/newsmon`, else `~/.cache/newsmon`. Files are written to a temporary
file beside their place and renamed, so that a reader never sees half of one; a cache
that cannot be written is no cache, logged at debug level only."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)


def directory() -> Path | None:
    """The cache's directory (perhaps not made yet), or None when there is no such place."""
    try:
        return Path(
            os.environ.get("NEWSMON_CACHE_DIR")
            or os.path.join(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "newsmon")
        )
    except RuntimeError as exc:  # no home directory
        log.debug("no cache directory (%s)", exc)
        return None


def write(path: Path, fill: Callable[[IO[bytes]], None]) -> None:
    """Write the file at `path` with `fill`, atomically; a failure leaves no file."""
    temp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f"{path.name}.", suffix=".tmp")
        with open(handle, "wb") as stream:
            fill(stream)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except Exception as exc:  # noqa: BLE001 (a cache that cannot be written is no cache)
        log.debug("not cached at %s (%r)", path, exc)
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)
