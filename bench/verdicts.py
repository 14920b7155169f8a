"""Every verdict and "could detect" figure the board shows, per published entry, and what
changed between two renders of them (issue 48: the entries re-rendered under new statistics).

    python bench/verdicts.py --out new.json [--root DIR]    # render a checkout's board
    python bench/verdicts.py --old old.json --new new.json  # the changes, as Markdown

Run the first at an old commit (a ``git worktree``) and at the new one; the second lists each
cell and finding whose words or figures moved, old against new.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def render(root: Path) -> dict[str, str]:
    """Cell or finding -> what the board says of it."""
    from harness.findings import findings
    from harness.leaderboard import entries

    out = {}
    for e in entries(root / "leaderboard"):
        for s in e.summaries:
            where = f"{e.id} | {s.mixture} {s.method} {s.capability}"
            out[f"{where} | W2S beats weak and base?"] = s.generalizes
            out[f"{where} | PGR"] = s.pgr_text()
        for f in findings(e.manifest.suite, e.results, e.transfer):
            out[f"{e.id} | finding {f.number}"] = f.headline()
    return out


def verdict(text: str) -> str:
    """What a cell says with its figures and power clauses taken out: its verdict's words."""
    text = re.sub(r" \((could detect|no effect found)[^)]*\)", "", text)
    text = re.sub(r"; (could detect|no PGR detectable).*", "", text)
    return re.sub(r"-?\d+\.\d+", "#", text).strip()


def changes(old: dict[str, str], new: dict[str, str]) -> str:
    """The cells whose verdict's words differ, then every cell whose text does, as Markdown."""
    keys = sorted(set(old) | set(new))
    head = ["| entry | cell | what | before | after |", "|---|---|---|---|---|"]
    def row(k: str) -> str:
        where = (k.split(" | ") + ["verdict"])[:3]  # a finding's key has no third part
        return f"| {' | '.join(where)} | {old.get(k, '(absent)')} | {new.get(k, '(absent)')} |"

    moved = [row(k) for k in keys if verdict(old.get(k, "")) != verdict(new.get(k, ""))]
    rows = [row(k) for k in keys if old.get(k) != new.get(k)]
    return "\n".join([f"## Verdicts whose words changed ({len(moved)} of {len(keys)})", "",
                      *head, *moved, "", f"## Every cell that changed ({len(rows)} of "
                      f"{len(keys)}: figures, power clauses and words)", "", *head, *rows])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--old", type=Path)
    ap.add_argument("--new", type=Path)
    ap.add_argument("--root", type=Path, default=ROOT, help="the checkout whose board to render")
    args = ap.parse_args()
    if args.old and args.new:
        print(changes(json.loads(args.old.read_text()), json.loads(args.new.read_text())))
        return
    rendered = json.dumps(render(args.root), indent=1) + "\n"
    if args.out:
        args.out.write_text(rendered)
    else:
        print(rendered)


if __name__ == "__main__":
    main()
