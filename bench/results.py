"""bench/RESULTS.md: replace one `## ` section in place, keeping every other section."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
TITLE = "# newsmon benchmark results"


def replace_section(heading: str, lines: list[str], path: Path = RESULTS) -> None:
    """Put `lines` (starting with `heading`) in place of that section, or append them."""
    text = path.read_text(encoding="utf-8") if path.exists() else TITLE + "\n"
    current = text.rstrip("\n").split("\n")
    if heading in current:
        start = current.index(heading)
        end = next(
            (i for i in range(start + 1, len(current)) if current[i].startswith("## ")),
            len(current),
        )
        current[start:end] = [*lines, ""]
    else:
        current += ["", *lines]
    path.write_text("\n".join(current).rstrip("\n") + "\n", encoding="utf-8")
    print(f"wrote {heading!r} to {path}")
