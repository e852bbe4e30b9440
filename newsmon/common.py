"""What every command shares: consoles, options, loading the config and the store."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from typer.core import TyperArgument, TyperCommand, TyperGroup

from monitors.errors import ConfigError, Problem, StoreError
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
        "--config",
        "-c",
        help="Config file (default: $NEWSMON_CONFIG, else ./newsmon.yaml).",
        metavar="PATH",
    ),
]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Log each step.")]


def _plain_help(params: list[Any]) -> list[Any]:
    """Typer's help shows each parameter's Python type (`<bool>`, `<list[str]>`): a flag
    shows nothing instead, another option its name in capitals (or its own metavar), an
    argument its name."""
    for param in params:
        if isinstance(param, TyperArgument):
            param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]
        elif param.metavar is None:
            param.metavar = "" if getattr(param, "is_flag", False) else (param.name or "").upper()
    return params


class Command(TyperCommand):
    """A command whose help names values, not Python types."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_help(super().get_params(ctx))


class Group(TyperGroup):
    """A group of commands whose help names values, not Python types."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_help(super().get_params(ctx))


class App(typer.Typer):
    """newsmon's Typer: -h and --help, plain help (see `Command`), no tracebacks."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(
            cls=Group,
            context_settings={"help_option_names": ["-h", "--help"]},
            add_completion=False,
            pretty_exceptions_enable=False,
            rich_markup_mode="markdown",  # help paragraphs flow: line breaks are not kept
            **settings,
        )

    def command(self, *args: Any, **kwargs: Any) -> Any:
        return super().command(*args, cls=kwargs.pop("cls", Command), **kwargs)


def counted(n: int, noun: str) -> str:
    """`n` and its noun, plural unless one ("1 feed", "2 feeds")."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def add_row(table: Table, *cells: str | None) -> None:
    """Add a row shown as it is: text from feeds and servers is never read as markup, and
    its control characters (bidirectional ones too) are dropped."""
    table.add_row(*(Text(safe_text(cell or "")) for cell in cells))


# Warnings the command's own report lists anyway (a feed's failure, a delivery's and
# apprise's reason for it, a backfill listing not read): printed once, in the report,
# unless --verbose.
REPORTED = (
    "feed %s failed: %s",
    "delivery %s to %s failed (%s): %s",
    "backfill: %s not read: %s",
)


class _Unreported(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        by_apprise = record.name.startswith("apprise") and record.levelno < logging.ERROR
        return not by_apprise and record.msg not in REPORTED


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        for handler in logging.getLogger().handlers:
            handler.addFilter(_Unreported())


def load_config(path: Path | None, sends: bool = True) -> Config:
    """The config, or exit 2 after printing every problem (and, when there is no such
    file, where the shipped one is to start from). A command that sends nothing (`sends`
    false) needs no channel's environment variable."""
    from monitors import config as config_mod

    try:
        return config_mod.load(path, channels_needed=sends)
    except ConfigError as exc:
        print_problems(exc.problems)
        if not (path or config_mod.default_path()).exists():
            err.print(f"A config to start from: {shipped_config_path()}", highlight=False)
        raise typer.Exit(EXIT_CONFIG) from None


def shipped_config_path() -> Path:
    """config/newsmon.yaml: installed beside the package, or in the source tree."""
    for candidate in (
        Path(__file__).parent / "config" / "newsmon.yaml",
        Path(__file__).parent.parent / "config" / "newsmon.yaml",
    ):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("the shipped config/newsmon.yaml is missing from this install")


def print_problems(problems: list[Problem]) -> None:
    err.print(f"[bold red]The config has {counted(len(problems), 'problem')}:[/]")
    for problem in problems:
        err.print(f"  {problem}", markup=False, highlight=False)


def parse_since(value: str, option: str = "--since") -> datetime:
    """A date or ISO 8601 time given to an option, or a usage error saying the format."""
    from monitors.config import parse_moment

    try:
        return parse_moment(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def open_store(config: Config) -> Store:
    """The store, or exit 3 with the reason."""
    from monitors.store import Store

    try:
        return Store.open(config.store)
    except StoreError as exc:
        origin = " (the store URL is $NEWSMON_STORE's)" if config.store_from_env else ""
        err.print(f"[bold red]Store unavailable:[/] {escape(str(exc))}{origin}", highlight=False)
        raise typer.Exit(EXIT_STORE) from None


@contextmanager
def store_for(cfg: Config) -> Iterator[Store]:
    store = open_store(cfg)
    try:
        yield store
    finally:
        store.close()
