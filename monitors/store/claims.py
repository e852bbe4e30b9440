"""Who holds a claim: a worker is `host:pid`, and a local worker can be seen to be gone."""

from __future__ import annotations

import os
import socket


def worker_id() -> str:
    """This process, as `host:pid`."""
    return f"{socket.gethostname()}:{os.getpid()}"


def dead_local_worker(claimed_by: str | None) -> bool:
    """Whether a claim was made on this host by a process that no longer exists."""
    host, _, pid = (claimed_by or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
