"""Channel URLs kept in Prefect Secret blocks (`channels: {slack: {secret: NAME}}`)."""

from __future__ import annotations

from monitors.errors import DeliveryError


def prefect_secret(name: str) -> str:
    """The value of the Prefect Secret block `name`; Prefect is imported only when needed."""
    try:
        from prefect.blocks.system import Secret

        value = Secret.load(name).get()
    except Exception as exc:  # a missing block or an unreachable Prefect API
        raise DeliveryError(f"cannot read Prefect secret {name!r}: {type(exc).__name__}") from None
    return str(value)
