"""The house rules of the code base, checked on its source: packages import only from those
below them (the order of monitors/__init__.py), no import circles, SQL only in the store,
the engine never imports Prefect, the flows never import the command line."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = [
    {"errors", "models", "text"},
    {"rules"},
    {"config"},
    {"store"},
    {"ingest"},
    {"extract"},
    {"stories"},
    {"delivery"},
    {"backfill"},
    {"pipeline"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def modules(package: str) -> dict[str, Path]:
    """Every module of a top-level package by dotted name (migration scripts left out)."""
    found = {}
    for path in (ROOT / package).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(path: Path) -> set[str]:
    """The absolute module names a file imports (under TYPE_CHECKING too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def graph() -> dict[str, set[str]]:
    """monitors' modules and the monitors modules each imports (a module's own packages
    left out: importing a sibling runs them first whatever the spelling)."""
    mods = modules("monitors")
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in mods.items():
        for target in imports(path):
            while target not in mods and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in mods and not name.startswith(target):  # its own package: no edge
                edges[name].add(target)
    return edges


def layer(module: str) -> str:
    return module.split(".")[1]


def test_every_package_has_a_place_in_the_order() -> None:
    packages = {layer(m) for m in modules("monitors") if m != "monitors"}
    assert packages == set(RANK)


def test_packages_import_only_from_packages_below_them() -> None:
    wrong = [
        (a, b)
        for a, targets in graph().items()
        for b in targets
        if layer(a) != layer(b) and RANK[layer(b)] >= RANK[layer(a)] and RANK[layer(a)] > 0
    ]
    assert wrong == []


def test_no_import_circles() -> None:
    edges = graph()
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            pytest.fail("import circle: " + " -> ".join(path[path.index(node) :] + [node]))
        if node in done:
            return
        for target in sorted(edges.get(node, ())):
            visit(target, [*path, node])
        done.add(node)

    for module in sorted(modules("monitors")):
        visit(module, [])


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("monitors", ("prefect", "flows", "newsmon")),
        ("flows", ("newsmon",)),
    ],
)
def test_lower_layers_never_import_higher_ones(package: str, forbidden: tuple[str, ...]) -> None:
    found = [
        (name, target)
        for name, path in modules(package).items()
        for target in imports(path)
        if target.split(".")[0] in forbidden
    ]
    assert found == []


def test_only_the_store_speaks_sql() -> None:
    speakers = [
        name
        for package in ("monitors", "flows", "newsmon")
        for name, path in modules(package).items()
        if not name.startswith("monitors.store")
        and any(t.split(".")[0] in ("sqlalchemy", "alembic") for t in imports(path))
    ]
    assert speakers == []
