"""How many seeds and test items a run needs to detect a given PGR, from a pilot run's noise.

The PGR's test against 0 is the test of its gain, W2S - weak, over the same items (the gap
only scales it), so what decides is that gain's standard error. From a pilot run, per
capability: the items' variance of the per-item gain within a seed, and the variance of the
seeds' mean gains beyond what their items explain (method of moments, truncated at 0; with
one pilot seed it cannot be measured, and the plan says so). A run of k seeds with n test
items each then has, in expectation, a standard error of sqrt((seed variance + item variance
/ n) / k), and detects a PGR of ``detectable_ses(k)`` standard errors over the gap
(``harness.stats``). ``harness plan --detect-pgr 0.3 --pilot RUN`` prints the items each
seed count needs.
"""

from __future__ import annotations

from math import ceil
from statistics import fmean

from pydantic import BaseModel
from tabulate import tabulate

from harness.schemas import CapabilityResult
from harness.stats import detectable_ses

SEEDS = (1, 3, 5, 10)


class Noise(BaseModel):
    """One capability's pilot measurements of naive W2S's gain over weak."""

    capability: str
    gap: float
    """Mean ceiling - weak over the pilot's seeds."""
    item_var: float
    """Variance of the per-item gain (W2S - weak) within a seed, averaged over seeds."""
    seed_var: float | None
    """Variance of the seeds' mean gains beyond their items' share; None with one seed."""
    seeds: int
    items: int
    """Test items a seed in the pilot."""


def noise(results: list[CapabilityResult], method: str) -> list[Noise]:
    """Per capability, ``method``'s pilot noise (its first mixture's results)."""
    out = []
    mixture = next((r.mixture for r in results if r.method == method), None)
    for cap in dict.fromkeys(r.capability for r in results):
        rows = [r for r in results if r.method == method and r.capability == cap
                and r.mixture == mixture and r.items]
        if not rows:
            continue
        gains = [[w - v for w, v in zip(r.items["w2s"], r.items["weak"])] for r in rows]
        means = [fmean(g) for g in gains]
        within = [sum((x - m) ** 2 for x in g) / max(1, len(g) - 1) for g, m in zip(gains, means)]
        items = round(fmean(len(g) for g in gains))
        seed_var = None
        if len(rows) > 1:
            between = sum((m - fmean(means)) ** 2 for m in means) / (len(means) - 1)
            seed_var = max(0.0, between - fmean(within) / items)
        out.append(Noise(capability=cap, gap=fmean(r.ceiling - r.weak for r in rows),
                         item_var=fmean(within), seed_var=seed_var, seeds=len(rows),
                         items=items))
    return out


def items_needed(n: Noise, target: float, seeds: int) -> int | None:
    """Test items a seed needs for ``seeds`` seeds to detect a PGR of ``target`` at 80%
    power; None where no number of items can (the seeds' own noise is too large, or there
    is no gap to recover)."""
    if n.gap <= 0:
        return None
    se = target * n.gap / detectable_ses(seeds)
    room = seeds * se ** 2 - (n.seed_var or 0.0)
    if room <= 0:
        return None
    return max(1, ceil(n.item_var / room))


def report(noises: list[Noise], target: float, method: str) -> str:
    """The plan as a table: per capability, the test items each seed count needs."""
    rows = []
    for n in noises:
        cells = [str(k) if (k := items_needed(n, target, s)) else "unreachable" for s in SEEDS]
        seeds = (f"{n.seed_var:.5f}" if n.seed_var is not None
                 else "not measured (1 pilot seed: assumed 0, so these are lower bounds)")
        rows.append([n.capability, f"{n.gap:.3f}", f"{n.item_var:.4f}", seeds, *cells])
    head = (f"Test items a seed needs to detect PGR >= {target:g} at 80% power ({method}; "
            "from the pilot's gap and noise):")
    return head + "\n\n" + tabulate(
        rows, headers=["capability", "pilot gap", "item variance", "seed variance",
                       *[f"{s} seed{'s' if s > 1 else ''}" for s in SEEDS]],
        disable_numparse=True)
