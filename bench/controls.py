"""The controls' outcome table (docs/controls.md) from runs' results files.

    python bench/controls.py A=bench/results/controls/A B=bench/results/controls/B ...

Each folder holds a run's record (``record.json``, or the earlier layout's ``manifest.json``
and ``results.jsonl``, copied from ``runs/<id>/``; ``harness.record.load`` reads both). One row per variant
and arm: the supervisor's test accuracy ("weak"), the W2S student, the ceiling, the best
untuned strong model, the format-only control, chance, W2S - weak, the PGR and the verdict, each with
its 95% interval (``harness.report.summarise``, the board's own numbers).
"""

from __future__ import annotations

import sys
from pathlib import Path

from harness.record import load
from harness.report import summarise
from harness.schemas import FORMAT


def rows(variant: str, folder: Path) -> list[str]:
    out = []
    for s in summarise(load(folder).results):
        strong = max((v for k, v in s.baselines.items() if k.startswith("strong_")
                      and k != FORMAT), key=lambda e: e.mean)
        fmt = s.baselines.get(FORMAT)
        out.append(" | ".join([
            variant, s.method, str(len(s.seeds)), f"{s.chance:.3f}", str(s.weak), str(s.w2s),
            str(s.ceiling), str(strong), str(fmt) if fmt else "n/a",
            s.vs_weak.bracket() if s.vs_weak else "n/a", s.pgr_text(), s.generalizes]))
    return out


def main(argv: list[str]) -> None:
    print("| variant | arm | seeds | chance | supervisor (weak) | W2S | ceiling | best untuned "
          "strong | format-only control | W2S - weak [95%] | PGR [95%] | beats weak and base? |")
    print("|" + "---|" * 12)
    for arg in argv:
        variant, _, folder = arg.partition("=")
        for line in rows(variant, Path(folder)):
            print(f"| {line} |")


if __name__ == "__main__":
    main(sys.argv[1:])
