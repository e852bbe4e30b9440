"""The language model's load (monitors.extract.langmodel.load), each in a fresh process:
built with no cache to write (`$NEWSMON_CACHE_DIR` unusable), built and cached (an empty
cache directory), and read from the cache. Per case: the load's CPU and wall time, best
of `--runs`; the process's RSS before it, the peak during it (VmHWM, reset before the
load) and the RSS after it, of the run whose peak rose most. The processes run with
glibc's mmap threshold and arena cap as the pipeline sets them (`open_pipeline`).

    python bench/langmodel.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHILD = """
import json, time
from monitors.extract import langmodel

def status(field):
    with open("/proc/self/status") as lines:
        return next(int(line.split()[1]) for line in lines if line.startswith(field + ":"))

before = status("VmRSS")
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # resets VmHWM to the current RSS
cpu, wall = time.process_time(), time.perf_counter()
model = langmodel.load()
cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
print(json.dumps({"cpu": cpu, "wall": wall, "before": before, "peak": status("VmHWM"),
                  "after": status("VmRSS")}))
"""
ALLOCATOR = {"MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_ARENA_MAX": "2"}


def run(cache_dir: str) -> dict[str, float]:
    """One load in a fresh process with `cache_dir` as `$NEWSMON_CACHE_DIR`."""
    env = {**os.environ, **ALLOCATOR, "NEWSMON_CACHE_DIR": cache_dir, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory(prefix="langmodel-bench-") as scratch:
        unusable = os.path.join(scratch, "a-file")
        Path(unusable).touch()  # a directory under a file can be neither made nor read
        warm = os.path.join(scratch, "warm")
        run(warm)
        cases = {
            "built, no cache": lambda _: run(os.path.join(unusable, "cache")),
            "built and cached": lambda n: run(os.path.join(scratch, f"cold-{n}")),
            "read from the cache": lambda _: run(warm),
        }
        print("| load | CPU s | wall s | RSS before MB | peak MB (over before) | after MB |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, case in cases.items():
            results = [case(n) for n in range(runs)]
            best = min(results, key=lambda r: r["cpu"])
            top = max(results, key=lambda r: r["peak"] - r["before"])
            print(
                f"| {name} | {best['cpu']:.3f} | {min(r['wall'] for r in results):.3f} "
                f"| {top['before'] / 1024:.1f} "
                f"| {top['peak'] / 1024:.1f} (+{(top['peak'] - top['before']) / 1024:.1f}) "
                f"| {top['after'] / 1024:.1f} |"
            )


if __name__ == "__main__":
    main()
