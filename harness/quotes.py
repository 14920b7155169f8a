"""Docs that quote the board: a block opened by ``<!-- board: ENTRY VIEW -->`` and closed by
``<!-- /board -->`` is regenerated from the published entry ENTRY (its run id), so a figure
in the docs cannot drift from the board's when the statistics or an entry change.

VIEW is ``findings`` (the paper's findings, as the board shows them) or a capability (the
board's detail table for it: baselines, W2S, the comparisons, the verdict, the PGR).
``harness leaderboard build`` rewrites the blocks of the README and every page under ``docs/``
beside the board; ``stale`` names the pages whose blocks differ, which the tests check.
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.errors import HarnessError

BLOCK = re.compile(r"(<!-- board: (\S+) (\S+) -->\n)(.*?)(<!-- /board -->)", re.S)


def fill(text: str, entries: dict) -> str:
    """``text`` with every block's body regenerated from ``entries`` (run id -> Entry)."""
    from harness.findings import findings, table
    from harness.leaderboard import capability_table

    def body(match: re.Match) -> str:
        opening, entry_id, view, _, closing = match.groups()
        entry = entries.get(entry_id)
        if entry is None:
            raise HarnessError(f"a docs block quotes entry {entry_id}, which is not on the "
                               "board; fix its id, or add the run with `harness leaderboard add`")
        if view == "findings":
            quoted = table(findings(entry.manifest.suite, entry.results, entry.transfer))
        elif view in {s.capability for s in entry.summaries}:
            quoted = capability_table(entry, view)
        else:
            raise HarnessError(f"a docs block quotes view {view!r} of entry {entry_id}; give "
                               "'findings' or one of its capabilities")
        return f"{opening}{quoted}\n{closing}"

    return BLOCK.sub(body, text)


def pages(root: Path) -> list[Path]:
    """The Markdown pages beside the board ``root`` that quote it: the project's README and
    the pages under ``docs/``."""
    top = root.resolve().parent
    found = [top / "README.md", *sorted((top / "docs").glob("*.md"))]
    return [p for p in found if p.is_file() and BLOCK.search(p.read_text())]


def stale(root: Path, entries: dict) -> list[Path]:
    """The pages whose blocks differ from what the board says now."""
    return [p for p in pages(root) if fill(p.read_text(), entries) != p.read_text()]


def write(root: Path, entries: dict) -> list[Path]:
    """Rewrite the stale pages' blocks; the pages rewritten."""
    out = stale(root, entries)
    for p in out:
        p.write_text(fill(p.read_text(), entries))
    return out
