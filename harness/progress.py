"""Progress bars on stderr with rate and ETA; quiet when ``HARNESS_QUIET`` is set."""

from __future__ import annotations

import os
import sys


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


def say(message: str) -> None:
    """One status line on stderr (stdout is kept for tables and plans)."""
    print(message, file=sys.stderr, flush=True)
