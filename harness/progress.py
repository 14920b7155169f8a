"""Progress bars on stderr with rate and ETA (quiet when ``HARNESS_QUIET`` is set), and status
lines that also go to the current run's log file."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from pathlib import Path


def progress(total: int, desc: str, unit: str = "it"):
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        disable=bool(os.environ.get("HARNESS_QUIET")),
        dynamic_ncols=True,
        mininterval=1.0,
    )


_log: Path | None = None


def log_to(path: Path | None) -> None:
    """Append every status line to ``path`` as well (None stops)."""
    global _log
    _log = path


def say(message: str) -> None:
    """One status line on stderr (stdout is kept for tables and plans) and in the run's log."""
    print(message, file=sys.stderr, flush=True)
    if _log is not None:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        with _log.open("a") as f:
            f.write(f"{stamp} {message}\n")
