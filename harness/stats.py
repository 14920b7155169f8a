"""Means with 95% intervals over seeds, pooled PGR with a paired bootstrap interval, and when
a PGR is worth reporting.

Two PGRs, because they answer different questions:
- the **mean of per-seed PGRs** (Student's t interval over seeds; its quantile comes from the
  closed-form CDF for integer degrees of freedom, Abramowitz & Stegun 26.7.3-4): how a method
  does run to run, undefined whenever one seed's gap is too small;
- the **ratio of means**, (mean W2S - mean weak) / (mean ceiling - mean weak) over every seed's
  test items, with a **paired** interval: the delta method on per-item differences (the same
  items for the weak, W2S and ceiling models, whose errors are correlated item by item), with
  the item noise within seeds and a between-seed component counted once each
  (``components``). It exists with one seed, and a small per-seed gap does not blow it up.
"""

from __future__ import annotations

from functools import lru_cache
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


@lru_cache(maxsize=None)
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


def noise_gap(weak: list[float], ceiling: list[float]) -> float:
    """Two standard errors of the mean per-item difference ceiling - weak, over the same test
    items (``weak`` and ``ceiling`` score them in one order): a gap below this is within
    test-set noise (about a 95% one-sided paired test). Paired, since both models err on the
    same hard items: the variance of the difference is what decides, not the two variances."""
    n = len(weak)
    if n < 2:
        return float("inf")
    diffs = [c - w for w, c in zip(weak, ceiling)]
    mean = fmean(diffs)
    var = sum((d - mean) ** 2 for d in diffs) / (n - 1)
    return 2 * sqrt(var / n)


def gap_note(weak: float, ceiling: float, min_gap: float | str, weak_items: list[float],
             ceiling_items: list[float]) -> str | None:
    """Why a PGR would be noise here, or None when the gap is large enough to report it.
    ``min_gap`` is a number, or ``auto`` for ``noise_gap`` on the per-item scores."""
    need = noise_gap(weak_items, ceiling_items) if min_gap == "auto" else float(min_gap)
    if ceiling - weak < need:
        why = (f"2 SEs of the paired difference on {len(weak_items)} test items"
               if min_gap == "auto" else "min_gap")
        return f"ceiling {ceiling:.3f} - weak {weak:.3f} < {need:.3f} ({why})"
    return None


def pgr(weak: float, w2s: float, ceiling: float, min_gap: float | str = 0.0,
        weak_items: list[float] | None = None,
        ceiling_items: list[float] | None = None) -> tuple[float | None, str | None]:
    """Performance gap recovered, or None with the reason when the gap is too small."""
    note = gap_note(weak, ceiling, min_gap, weak_items or [], ceiling_items or []) \
        if min_gap == "auto" or min_gap else None
    if note or ceiling <= weak:
        return None, note or f"ceiling {ceiling:.3f} <= weak {weak:.3f}: no gap to recover"
    return (w2s - weak) / (ceiling - weak), None


ROLES = ("weak", "w2s", "ceiling")
NORMAL_DF = 1000
"""Degrees of freedom at which Student's t stands in for the normal quantile."""


def components(seeds: list[list[float]], confidence: float = 0.95) -> tuple[float, float]:
    """The mean over seeds of each seed's item mean of ``seeds`` (per seed, one value per test
    item), and the half-width of its interval at ``confidence``, from two variance components:
    the items' variance within each seed (the test-set noise), plus a between-seed component
    (training and pretraining noise) estimated as what the seeds' means vary beyond that,
    truncated at 0. The quantile is Student's t with seeds - 1 degrees of freedom when there is
    a between-seed component, else the normal's. One seed sees only its items' noise.

    Counting the item noise once is the point: a bootstrap over seeds *and* items counts it
    twice (once in how the seeds' means vary, once in each seed's items), which covered a true
    PGR 99.7% of the time instead of 95% in ``tests/test_stats.py``'s simulation."""
    import numpy as np

    arrays = [np.asarray(a, dtype=float) for a in seeds]
    means = np.array([a.mean() for a in arrays])
    k = len(arrays)
    within = np.array([a.var(ddof=1) / len(a) if len(a) > 1 else 0.0 for a in arrays])
    between = max(0.0, float(means.var(ddof=1)) - float(within.mean())) if k > 1 else 0.0
    variance = float(within.sum()) / k ** 2 + between / k
    df = k - 1 if between > 0 else NORMAL_DF
    return float(means.mean()), t_quantile(df, confidence) * variance ** 0.5


def pooled_pgr(seeds: list[dict[str, list[float]]]) -> tuple[Estimate | None, str | None]:
    """The ratio-of-means PGR over ``seeds`` (each: per-item test scores by role, aligned item
    by item) with its 95% interval, by the delta method on the paired per-item differences
    (``components``): R = mean(w2s - weak) / mean(ceiling - weak), its error linearised per
    item as (w2s - weak) - R (ceiling - weak). No interval when the gap's own interval reaches
    0 (the ratio's would be unbounded)."""
    import numpy as np

    scores = [np.array([s[r] for r in ROLES], dtype=float) for s in seeds]  # (3, items) each
    if not scores or any(a.shape[1] == 0 for a in scores):
        return None, "no per-item scores"
    gains = [a[1] - a[0] for a in scores]
    gaps = [a[2] - a[0] for a in scores]
    gap, gap_half = components(gaps)
    if gap <= 0:
        weak, ceiling = np.mean([a[0].mean() for a in scores]), \
            np.mean([a[2].mean() for a in scores])
        return None, f"pooled ceiling {ceiling:.3f} <= weak {weak:.3f}: no gap to recover"
    value = float(np.mean([g.mean() for g in gains]) / gap)
    if gap - gap_half <= 0:
        return Estimate(mean=value, n=len(seeds)), \
            f"the gap's 95% interval reaches 0 ({gap:.3f} ± {gap_half:.3f})"
    _, half = components([g - value * d for g, d in zip(gains, gaps)])
    return Estimate(mean=value, low=value - half / gap, high=value + half / gap,
                    n=len(seeds)), None


def paired_difference(seeds: list[tuple[list[float], list[float]]],
                      confidence: float = 0.95) -> Estimate:
    """Mean of ``a - b`` over every seed's items, where per seed ``a`` and ``b`` score the same
    items in the same order, with its interval (``components``; 95% unless ``confidence``
    says otherwise: 0.90 gives the interval of two one-sided 5% tests)."""
    mean, half = components([[x - y for x, y in zip(a, b)] for a, b in seeds], confidence)
    return Estimate(mean=mean, low=mean - half, high=mean + half, n=len(seeds))


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
