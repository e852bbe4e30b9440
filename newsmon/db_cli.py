"""`newsmon db`: the store's schema version, and migrating it."""

from __future__ import annotations

from typing import Annotated

import typer

from monitors.errors import StoreError
from newsmon.common import EXIT_STORE, ConfigOption, err, load_config, out

db_app = typer.Typer(
    help="The store's schema: its version, and migrating it (also done on every start).",
    no_args_is_help=True,
)


@db_app.command("upgrade")
def upgrade(
    config: ConfigOption = None,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Migrate the store's schema to the newest revision (or REVISION)."""
    from monitors.store import migrate

    cfg = load_config(config)
    try:
        before, after = migrate(cfg.store, revision)
    except StoreError as exc:
        err.print(f"[bold red]Store unavailable:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_STORE) from None
    if before == after:
        out.print(f"store schema already at {after}")
    else:
        out.print(f"store schema migrated from {before or 'empty'} to {after}")


@db_app.command("current")
def current(config: ConfigOption = None) -> None:
    """Show the store's schema revision and the newest this newsmon knows."""
    from monitors.store import connect, current, head

    cfg = load_config(config)
    try:
        engine = connect(cfg.store)
        revision = current(engine)
        engine.dispose()
    except StoreError as exc:
        err.print(f"[bold red]Store unavailable:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_STORE) from None
    newest = head()
    state = "up to date" if revision == newest else f"behind (newest: {newest})"
    out.print(f"store schema at {revision or 'empty'}: {state}")
