"""Channel URLs kept in Prefect Secret blocks (`channels: {slack: {secret: NAME}}`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import cast

from monitors.config import Config, SecretChannel, channel_problem
from monitors.errors import DeliveryError, Problem


def prefect_secret(name: str) -> str:
    """The value of the Prefect Secret block `name`; Prefect is imported only when needed.
    DeliveryError says why it cannot be read (the value is never part of the reason)."""
    # Without PREFECT_API_URL, Prefect starts a local server in this process; its usage
    # reports race its first migration on SQLite ("database is locked", a traceback, then
    # a timeout): they are off unless the environment says otherwise.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    try:
        from prefect.blocks.system import Secret

        # called outside an event loop, Secret.load returns the block (no coroutine)
        value = cast("Secret[str]", Secret.load(name)).get()
    except ValueError as exc:  # Prefect's "Unable to find block document named ..."
        reason = f"{_why(exc)} on {secrets_server()}; create it: {CREATE_HINT.format(name=name)}"
        raise DeliveryError(f"cannot read Prefect secret {name!r}: {reason}") from None
    except Exception as exc:  # an unreachable Prefect API
        reason = f"{_why(exc)} ({secrets_server()})"
        raise DeliveryError(f"cannot read Prefect secret {name!r}: {reason}") from None
    return str(value)


CREATE_HINT = (
    'python -c "from prefect.blocks.system import Secret; '
    "Secret(value='APPRISE_URL').save('{name}')\", or in the Prefect UI (Blocks)"
)


def prefect_api() -> str | None:
    """The Prefect API's URL (PREFECT_API_URL or the profile's), None for none: Prefect
    then starts a local server in the process when a block is first read."""
    from prefect.settings import get_current_settings

    return get_current_settings().api.url


def secrets_server() -> str:
    """The Prefect server the blocks are read from."""
    return prefect_api() or "the local Prefect server (no PREFECT_API_URL set)"


def _why(exc: Exception) -> str:
    """The first line of an error, or its kind when it says nothing."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def secret_problems(
    config: Config, read: Callable[[str], str] = prefect_secret
) -> Iterator[Problem]:
    """Each channel kept in a Secret block that cannot be read or holds no apprise URL."""
    for name, value in config.channels.items():
        if not isinstance(value, SecretChannel):
            continue
        try:
            problem = channel_problem(read(value.secret))
            reason = problem and f"Prefect secret {value.secret!r} holds {problem}"
        except DeliveryError as exc:
            reason = str(exc)
        if reason:
            yield Problem(config.source, f"channels.{name}", reason)
