"""Means with 95% intervals over seeds, and when a PGR is worth reporting.

Student's t interval; its quantile is computed here from the closed-form CDF for integer
degrees of freedom (Abramowitz & Stegun 26.7.3-4), so no statistics package is needed.
"""

from __future__ import annotations

from math import atan, cos, pi, sin, sqrt
from statistics import fmean, stdev

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


def gap_note(weak: float, ceiling: float, min_gap: float) -> str | None:
    """Why a PGR would be noise here, or None when the gap is large enough to report it."""
    if ceiling - weak < min_gap:
        return f"ceiling {ceiling:.3f} - weak {weak:.3f} < min_gap {min_gap}"
    return None


def pgr(weak: float, w2s: float, ceiling: float,
        min_gap: float = 0.0) -> tuple[float | None, str | None]:
    """Performance gap recovered, or None with the reason when the gap is too small."""
    note = gap_note(weak, ceiling, min_gap) if min_gap > 0 else None
    if note or ceiling <= weak:
        return None, note or f"ceiling {ceiling:.3f} <= weak {weak:.3f}: no gap to recover"
    return (w2s - weak) / (ceiling - weak), None


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
