"""Means with 95% intervals over seeds, pooled PGR with a paired bootstrap interval, and when
a PGR is worth reporting.

Two PGRs, because they answer different questions:
- the **mean of per-seed PGRs** (Student's t interval over seeds; its quantile comes from the
  closed-form CDF for integer degrees of freedom, Abramowitz & Stegun 26.7.3-4): how a method
  does run to run, undefined whenever one seed's gap is too small;
- the **ratio of means**, (mean W2S - mean weak) / (mean ceiling - mean weak) over every seed's
  test items, with a **paired bootstrap** interval: seeds resampled, then test items within
  each seed, the same items for the weak, W2S and ceiling models (their errors are correlated
  item by item, which resampling each model on its own would ignore). It exists with one seed,
  and a small per-seed gap does not blow it up.
"""

from __future__ import annotations

from math import atan, cos, pi, sin, sqrt
from statistics import fmean, stdev
from typing import Any

from pydantic import BaseModel


def _central(t: float, df: int) -> float:
    """P(|T| < t) for Student's t with ``df`` degrees of freedom."""
    theta = atan(t / sqrt(df))
    c2 = cos(theta) ** 2
    term = total = 1.0
    if df % 2:
        if df == 1:
            return 2 * theta / pi
        for k in range(1, (df - 1) // 2):
            term *= 2 * k / (2 * k + 1) * c2
            total += term
        return 2 / pi * (theta + sin(theta) * cos(theta) * total)
    for k in range(1, df // 2):
        term *= (2 * k - 1) / (2 * k) * c2
        total += term
    return sin(theta) * total


def t_quantile(df: int, confidence: float = 0.95) -> float:
    """The two-sided critical value: P(|T| < value) = confidence."""
    lo, hi = 0.0, 1e4
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _central(mid, df) < confidence else (lo, mid)
    return (lo + hi) / 2


class Estimate(BaseModel):
    """A mean over seeds with its 95% interval (None with a single seed)."""

    mean: float
    low: float | None = None
    high: float | None = None
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Estimate:
        mean = fmean(values)
        if len(values) < 2:
            return cls(mean=mean, n=len(values))
        half = t_quantile(len(values) - 1) * stdev(values) / sqrt(len(values))
        return cls(mean=mean, low=mean - half, high=mean + half, n=len(values))

    def __str__(self) -> str:
        if self.low is None or self.high is None:
            return f"{self.mean:.3f}"
        return f"{self.mean:.3f}±{(self.high - self.low) / 2:.3f}"

    def bracket(self) -> str:
        """The estimate with its interval's ends, for an asymmetric (bootstrap) interval."""
        if self.low is None or self.high is None:
            return f"{self.mean:.3f}"
        return f"{self.mean:.3f} [{self.low:.3f}, {self.high:.3f}]"


def noise_gap(weak: float, ceiling: float, n: int) -> float:
    """Two binomial standard errors of the difference of two accuracies on ``n`` test items:
    a ceiling-weak gap below this is within test-set noise (about a 95% one-sided test)."""
    return 2 * sqrt((weak * (1 - weak) + ceiling * (1 - ceiling)) / max(1, n))


def gap_note(weak: float, ceiling: float, min_gap: float | str, n: int) -> str | None:
    """Why a PGR would be noise here, or None when the gap is large enough to report it.
    ``min_gap`` is a number, or ``auto`` for ``noise_gap`` on the ``n`` test items."""
    need = noise_gap(weak, ceiling, n) if min_gap == "auto" else float(min_gap)
    if ceiling - weak < need:
        why = f"2 binomial SEs on {n} test items" if min_gap == "auto" else "min_gap"
        return f"ceiling {ceiling:.3f} - weak {weak:.3f} < {need:.3f} ({why})"
    return None


def pgr(weak: float, w2s: float, ceiling: float, min_gap: float | str = 0.0,
        n: int = 0) -> tuple[float | None, str | None]:
    """Performance gap recovered, or None with the reason when the gap is too small."""
    note = gap_note(weak, ceiling, min_gap, n) if min_gap == "auto" or min_gap else None
    if note or ceiling <= weak:
        return None, note or f"ceiling {ceiling:.3f} <= weak {weak:.3f}: no gap to recover"
    return (w2s - weak) / (ceiling - weak), None


ROLES = ("weak", "w2s", "ceiling")


def resampled_means(seeds: list, rounds: int, rng) -> Any:
    """Means of resampled scores, shape (rows, rounds): each seed's items (its array's
    columns) resampled with replacement, the same items for every row, then the seeds
    themselves resampled; a row is a model (weak, W2S, ceiling) scored on the same items."""
    import numpy as np

    per_seed = np.stack([a[:, rng.integers(0, a.shape[1], (rounds, a.shape[1]))].mean(axis=2)
                         for a in seeds], axis=1)  # (rows, seeds, rounds)
    picked = rng.integers(0, len(seeds), (rounds, len(seeds))) if len(seeds) > 1 \
        else np.zeros((rounds, 1), dtype=int)
    return per_seed[:, picked, np.arange(rounds)[:, None]].mean(axis=2)


def pooled_pgr(seeds: list[dict[str, list[float]]], rounds: int = 2000,
               seed: int = 0) -> tuple[Estimate | None, str | None]:
    """The ratio-of-means PGR over ``seeds`` (each: per-item test scores by role, aligned item
    by item) with its paired bootstrap 95% interval; no interval when over 2.5% of the
    resamples have no gap to recover (the interval would be unbounded)."""
    import numpy as np

    scores = [np.array([s[r] for r in ROLES], dtype=float) for s in seeds]  # (3, items) each
    if not scores or any(a.shape[1] == 0 for a in scores):
        return None, "no per-item scores"
    weak, w2s, ceiling = np.mean([a.mean(axis=1) for a in scores], axis=0)
    if ceiling <= weak:
        return None, f"pooled ceiling {ceiling:.3f} <= weak {weak:.3f}: no gap to recover"
    value = float((w2s - weak) / (ceiling - weak))
    means = resampled_means(scores, rounds, np.random.default_rng(seed))
    gaps = means[2] - means[0]
    if (gaps <= 0).mean() > 0.025:
        return Estimate(mean=value, n=len(seeds)), \
            f"the gap's bootstrap interval reaches 0 ({(gaps <= 0).mean():.0%} of resamples)"
    gained = means[1] - means[0]
    with np.errstate(divide="ignore", invalid="ignore"):  # a resample with no gap: unbounded
        ratios = np.where(gaps > 0, gained / gaps, np.where(gained >= 0, np.inf, -np.inf))
    low, high = np.percentile(ratios, [2.5, 97.5])
    if not (np.isfinite(low) and np.isfinite(high)):
        return Estimate(mean=value, n=len(seeds)), "the gap's bootstrap interval reaches 0"
    return Estimate(mean=value, low=float(low), high=float(high), n=len(seeds)), None


def paired_difference(seeds: list[tuple[list[float], list[float]]], rounds: int = 2000,
                      seed: int = 0) -> Estimate:
    """Mean of ``a - b`` over every seed's items, where per seed ``a`` and ``b`` score the same
    items in the same order, with its paired bootstrap 95% interval."""
    import numpy as np

    arrays = [np.array(pair, dtype=float) for pair in seeds]  # (2, items) each
    value = float(np.mean([a[0].mean() - a[1].mean() for a in arrays]))
    means = resampled_means(arrays, rounds, np.random.default_rng(seed))
    low, high = np.percentile(means[0] - means[1], [2.5, 97.5])
    return Estimate(mean=value, low=float(low), high=float(high), n=len(seeds))


def pgr_over_seeds(gaps: list[float], pgrs: list[float | None],
                   notes: list[str | None]) -> tuple[Estimate | None, str | None]:
    """Mean PGR with its interval, only when every seed has one and the gap's interval > 0."""
    missing = [n for p, n in zip(pgrs, notes) if p is None]
    if missing:
        return None, f"{len(missing)} of {len(pgrs)} seeds: {missing[0]}"
    gap = Estimate.of(gaps)
    if gap.low is not None and gap.low <= 0:
        return None, f"ceiling-weak gap {gap} has a 95% interval reaching 0"
    return Estimate.of([p for p in pgrs if p is not None]), None
