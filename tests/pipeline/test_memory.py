"""The allocator tuning of a process that runs the pipeline."""

from __future__ import annotations

import platform
import subprocess
import sys

CHECK = """
import sys
from pathlib import Path
from monitors.pipeline.memory import tune_allocator

def rss():
    status = Path("/proc/self/status").read_text().split("VmRSS:")[1]
    return int(status.split()[0]) // 1024

print(tune_allocator())
grown = rss()
kept = []
for _ in range(3):  # page bodies freed, small values made meanwhile kept (as a cycle does)
    bodies = []
    for _ in range(300):
        bodies.append(bytes(300_000))
        kept.append(bytes(1000))
    del bodies
print(rss() - grown)
"""


def test_page_bodies_go_back_to_the_system_once_freed_on_glibc() -> None:
    tuned, grown = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, check=True
    ).stdout.split()
    on_glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert tuned == str(on_glibc)
    if on_glibc:
        assert int(grown) < 20  # MB: 90 MB of bodies passed through, none kept
