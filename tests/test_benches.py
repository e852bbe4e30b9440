"""Every bench script starts: it imports what it needs and answers `--help` with its usage,
running nothing (a bench that fails is one nobody reads; tests/rules/test_bench_rules.py
and tests/stories/test_bench_ceiling.py run two of them on small inputs)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = sorted(p for p in BENCH.glob("*.py") if 'if __name__ == "__main__":' in p.read_text())

# Run in one fresh interpreter: each script as `python script --help` would run it (its
# imports shared, so the whole takes seconds), its exit code and output kept.
DRIVER = """
import contextlib, io, json, runpy, sys
done = {}
for script in sys.argv[1:]:
    out, code = io.StringIO(), 0
    sys.argv = [script, "--help"]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            runpy.run_path(script, run_name="__main__")
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except Exception as error:
        code, out = 1, io.StringIO(f"{type(error).__name__}: {error}")
    done[script] = [code, out.getvalue()[:300]]
print(json.dumps(done))
"""


def test_the_benches_with_an_entry_point_are_found() -> None:
    names = {p.stem for p in SCRIPTS}
    assert {"cycle", "stories", "watches", "rereads", "lookalikes"} <= names
    assert "stream" not in names  # a library of the benches, no script


def test_every_bench_answers_help_with_its_usage() -> None:
    run = subprocess.run(
        [sys.executable, "-c", DRIVER, *map(str, SCRIPTS)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=BENCH.parent,
    )
    assert run.returncode == 0, run.stderr
    done = json.loads(run.stdout.splitlines()[-1])
    failed = {
        Path(script).stem: output
        for script, (code, output) in done.items()
        if code != 0 or not output.startswith("usage: ")
    }
    assert not failed
    assert len(done) == len(SCRIPTS)
