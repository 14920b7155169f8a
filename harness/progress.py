"""Progress bars with rate and ETA (quiet when ``HARNESS_QUIET`` is set), and status lines that
also go to the current run's log file.

In a stage's worker, stdout and stderr are the stage's log: whatever plugins and libraries
print stays there. The harness's own lines and bars go to the worker's *console* file as well
(``console_to``), which is all the run forwards to the terminal.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO


_console: TextIO | None = None


def console_to(stream: TextIO | None) -> None:
    """In a worker: also write status lines, and write progress bars, to ``stream`` (None
    stops), the file the run shows on its console."""
    global _console
    _console = stream


def progress(total: int, desc: str, unit: str = "it"):
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=_console or sys.stderr,
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
    if _console is not None:
        print(message, file=_console, flush=True)
    log_only(message)


def log_only(message: str) -> None:
    """A line for the run's log file alone (what the console already says another way)."""
    if _log is not None:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        with _log.open("a") as f:
            f.write(f"{stamp} {message}\n")
