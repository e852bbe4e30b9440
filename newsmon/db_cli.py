"""`newsmon db`: the store's schema version, and migrating it."""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer
from rich.markup import escape

from monitors.errors import StoreError
from newsmon.common import EXIT_CONFIG, EXIT_STORE, App, ConfigOption, err, load_config, out

db_app = App(
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

    cfg = load_config(config, sends=False)
    try:
        before, after = migrate(cfg.store, revision)
    except ValueError as exc:  # a revision this newsmon does not have
        err.print(f"Error: {exc}", markup=False, highlight=False)
        raise typer.Exit(EXIT_CONFIG) from None
    except StoreError as exc:
        _unavailable(exc)
    if before == after:
        out.print(f"store schema already at {after}")
    else:
        out.print(f"store schema migrated from {before or 'empty'} to {after}")


@db_app.command("current")
def current(config: ConfigOption = None) -> None:
    """Show the store's schema revision and the newest this newsmon knows (a SQLite
    store that does not exist yet is not created)."""
    from monitors.store import connect, current, head, sqlite_file

    cfg = load_config(config, sends=False)
    newest = head()
    path = sqlite_file(cfg.store)
    if path is not None and not path.exists():
        out.print(f"no store at {path} yet: the first run (or `newsmon db upgrade`) creates it")
        return
    try:
        engine = connect(cfg.store)
        revision = current(engine)
        engine.dispose()
    except StoreError as exc:
        _unavailable(exc)
    state = "up to date" if revision == newest else f"behind (newest: {newest})"
    out.print(f"store schema at {revision or 'empty'}: {state}")


def _unavailable(exc: StoreError) -> NoReturn:
    err.print(f"[bold red]Store unavailable:[/] {escape(str(exc))}", highlight=False)
    raise typer.Exit(EXIT_STORE) from None
