"""What every command shares: consoles, options, loading the config and the store."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from monitors.errors import ConfigError, StoreError
from monitors.text import safe_text

if TYPE_CHECKING:
    from monitors.config import Config
    from monitors.store import Store

PIPED_WIDTH = 160  # tables written to a file or a pipe: wide enough not to fold a URL


def _width(stream: object) -> int | None:
    """Rich's own width on a terminal or with $COLUMNS; PIPED_WIDTH otherwise."""
    tty = getattr(stream, "isatty", lambda: False)()
    return None if tty or "COLUMNS" in os.environ else PIPED_WIDTH


out = Console(soft_wrap=True, width=_width(sys.stdout))
err = Console(stderr=True, soft_wrap=True, width=_width(sys.stderr))

EXIT_CONFIG = 2
EXIT_STORE = 3

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Config file (default: $NEWSMON_CONFIG, else ./newsmon.yaml)."
    ),
]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Log each step.")]


def add_row(table: Table, *cells: str | None) -> None:
    """Add a row shown as it is: text from feeds and servers is never read as markup, and
    its control characters (bidirectional ones too) are dropped."""
    table.add_row(*(Text(safe_text(cell or "")) for cell in cells))


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def load_config(path: Path | None) -> Config:
    """The config, or exit 2 after printing every problem."""
    from monitors import config as config_mod

    try:
        return config_mod.load(path)
    except ConfigError as exc:
        err.print(f"[bold red]The config has {len(exc.problems)} problem(s):[/]")
        for problem in exc.problems:
            err.print(f"  {problem}", markup=False, highlight=False)
        raise typer.Exit(EXIT_CONFIG) from None


def open_store(config: Config) -> Store:
    """The store, or exit 3 with the reason."""
    from monitors.store import Store

    try:
        return Store.open(config.store)
    except StoreError as exc:
        err.print(f"[bold red]Store unavailable:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(EXIT_STORE) from None


@contextmanager
def store_for(cfg: Config) -> Iterator[Store]:
    store = open_store(cfg)
    try:
        yield store
    finally:
        store.close()
