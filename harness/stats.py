"""One interval procedure for every mean, paired difference and PGR a run reports.

A run's noise has two sources: the test items each seed draws, and training (each seed trains
and, in the testbed, pretrains its own models). A seed's mean over its test items carries
both, so the procedure works on **seed-level estimates**:

- the estimate is the mean over seeds of each seed's item mean;
- its variance is the seeds' sample variance / seeds: unbiased for the sum of both sources'
  shares, whatever their mix, since each seed's mean carries its items' noise and its
  training's once;
- the quantile is Student's t with seeds - 1 degrees of freedom (``scipy.special``).

This is the t-test on cluster means that Donald & Lang (2007) and Cameron & Miller (2015,
"A practitioner's guide to cluster-robust inference", section VI) recommend with few clusters,
each seed a cluster, and it is exact for normal seed means. An earlier version floored the
variance at the items' share; the t quantile already prices the chance that few seeds agree
by luck, so the floor only widened the interval: it covered 0.96-1.00 at 3-5 seeds where 0.95
was due (issue 48, ``docs/statistics.md``). With one seed there are no degrees of freedom for
the seed noise: the interval is the items' alone (normal quantile), labelled "items only", and
every verdict resting on it is provisional (``provisional``).

A PGR is a ratio, (W2S - weak) / (ceiling - weak), paired by item. Its interval inverts the
same test (Fieller's method): every R for which the paired contrast (W2S - weak) - R (ceiling -
weak) is not rejected. It is bounded exactly when the gap's own interval excludes 0, and
unbounded otherwise (then no interval is reported). ``bench/coverage.py`` checks by simulation
how often each interval covers the truth; ``harness.power`` says what a run could detect.
"""

from __future__ import annotations

from functools import lru_cache
from statistics import fmean

from pydantic import BaseModel

VERDICT_SEEDS = 3
"""Seeds a verdict ("yes", "holds", "does not hold") needs: fewer measure the seed noise not at
all (one) or with one degree of freedom (two, a t quantile of 12.7)."""


def provisional(seeds: int) -> str | None:
    """Why a verdict on ``seeds`` seeds is provisional (``1 seed: seed noise not measured``),
    or None when there are enough."""
    if seeds >= VERDICT_SEEDS:
        return None
    why = "seed noise not measured" if seeds < 2 else f"verdicts need {VERDICT_SEEDS}"
    return f"{seeds} seed{'s' if seeds != 1 else ''}: {why}"


@lru_cache(maxsize=None)
def quantile(seeds: int, confidence: float = 0.95) -> float:
    """The two-sided critical value for ``seeds`` seed-level estimates: Student's t with
    seeds - 1 degrees of freedom, the normal's with one seed (items only). From
    ``scipy.special``, the functions ``scipy.stats.t.ppf`` and ``norm.ppf`` call: the same
    values without importing ``scipy.stats`` (a second in each run's process)."""
    from scipy import special

    tail = (1 + confidence) / 2
    return float(special.stdtrit(seeds - 1, tail) if seeds > 1 else special.ndtri(tail))


class Estimate(BaseModel):
    """A mean with its interval (None where there is none); ``n`` is the seeds behind it."""

    mean: float
    low: float | None = None
    high: float | None = None
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Estimate:
        """The mean of seed-level ``values`` with its 95% t interval (none for one value)."""
        mean = fmean(values)
        if len(values) < 2:
            return cls(mean=mean, n=len(values))
        from statistics import stdev

        half = quantile(len(values)) * stdev(values) / len(values) ** 0.5
        return cls(mean=mean, low=mean - half, high=mean + half, n=len(values))

    @property
    def bounded(self) -> bool:
        return self.low is not None and self.high is not None

    @property
    def items_only(self) -> str:
        """" (items only)" for one seed's interval, which counts the test items' noise and not
        training's, so cannot claim 95%; else ""."""
        return " (items only)" if self.n == 1 and self.bounded else ""

    def __str__(self) -> str:
        if self.low is None or self.high is None:
            return f"{self.mean:.3f}"
        return f"{self.mean:.3f}±{(self.high - self.low) / 2:.3f}{self.items_only}"

    def bracket(self) -> str:
        """The estimate with its interval's ends, for an asymmetric interval."""
        if self.low is None or self.high is None:
            return f"{self.mean:.3f}"
        return f"{self.mean:.3f} [{self.low:.3f}, {self.high:.3f}]{self.items_only}"


def _moments(seeds: list[list[list[float]]]):
    """For per-seed rows of per-item series (seed -> [series][item]): the seed means (seeds x
    series), the covariance of their mean across seeds, and the items' share of it (each
    seed's within-seed covariance / its items, summed, / seeds²)."""
    import numpy as np

    arrays = [np.asarray(s, dtype=float).reshape(len(s), -1) for s in seeds]
    means = np.array([a.mean(axis=1) for a in arrays])
    k, p = means.shape
    seed_cov = np.cov(means.T, ddof=1).reshape(p, p) / k if k > 1 else np.zeros((p, p))
    item_cov = sum(np.cov(a, ddof=1).reshape(p, p) / a.shape[1] if a.shape[1] > 1
                   else np.zeros((p, p)) for a in arrays) / k ** 2
    return means.mean(axis=0), seed_cov, item_cov


def _cov(seeds: int, seed_cov, item_cov):
    """The covariance the procedure uses: the seed means' own, or with one seed the items'."""
    return seed_cov if seeds > 1 else item_cov


def interval(seeds: list[list[float]], confidence: float = 0.95) -> Estimate:
    """The mean over seeds of each seed's item mean (``seeds``: per seed, one value per test
    item) with its interval at ``confidence`` (the module's procedure)."""
    mean, seed_cov, item_cov = _moments([[s] for s in seeds])
    half = quantile(len(seeds), confidence) * _cov(len(seeds), seed_cov, item_cov)[0, 0] ** 0.5
    return Estimate(mean=float(mean[0]), low=float(mean[0] - half),
                    high=float(mean[0] + half), n=len(seeds))


POWER = 0.80
"""The power at which ``harness.power`` states the smallest effect a run could have shown."""


@lru_cache(maxsize=None)
def detectable_ses(seeds: int, confidence: float = 0.95, power: float = POWER) -> float:
    """The smallest true effect, in standard errors, that the two-sided test at
    ``confidence`` on ``seeds`` seed-level estimates rejects with probability ``power``:
    from the noncentral t (``scipy.stats.nct``) with seeds - 1 degrees of freedom, the normal
    with one seed."""
    if seeds < 2:
        from scipy import special

        return float(special.ndtri((1 + confidence) / 2) + special.ndtri(power))
    from scipy import optimize, stats

    df, crit = seeds - 1, quantile(seeds, confidence)

    def shortfall(nc: float) -> float:
        lower = stats.nct.cdf(-crit, df, nc)  # negligible, and NaN far out in the tail
        return float(stats.nct.sf(crit, df, nc) + (0.0 if lower != lower else lower)) - power

    return float(optimize.brentq(shortfall, 0.0, 100.0))


def paired_difference(seeds: list[tuple[list[float], list[float]]],
                      confidence: float = 0.95) -> Estimate:
    """Mean of ``a - b`` over every seed's items, where per seed ``a`` and ``b`` score the same
    items in the same order, with its interval (95% unless ``confidence`` says otherwise:
    0.90 gives the interval of two one-sided 5% tests)."""
    return interval([[x - y for x, y in zip(a, b)] for a, b in seeds], confidence)


def _fieller(g: float, d: float, cov, q: float) -> tuple[float, float] | None:
    """The R with (g - R d)^2 <= q^2 Var(g - R d), Var from the 2x2 ``cov`` of (g, d); None
    when that set is unbounded (the gap is not resolved at this level)."""
    a = d * d - q * q * cov[1, 1]
    if a <= 0:
        return None
    b = g * d - q * q * cov[0, 1]
    c = g * g - q * q * cov[0, 0]
    root = max(0.0, b * b - a * c) ** 0.5
    return (b - root) / a, (b + root) / a


ROLES = ("weak", "w2s", "ceiling")


def gain_and_gap(seed: dict[str, list[float]]) -> list[list[float]]:
    """One seed's per-item gain (W2S - weak) and gap (ceiling - weak): the PGR's two series."""
    weak, w2s, ceiling = (seed.get(r, []) for r in ROLES)
    return [[b - a for a, b in zip(weak, w2s)], [c - a for a, c in zip(weak, ceiling)]]


def pooled_pgr(seeds: list[dict[str, list[float]]], confidence: float = 0.95
               ) -> tuple[Estimate | None, str | None]:
    """The PGR over ``seeds`` (each: per-item test scores by role, aligned item by item), the
    ratio of mean gain (W2S - weak) to mean gap (ceiling - weak), with its Fieller interval
    under the module's procedure. No interval, with the reason, when the gap's interval
    reaches 0."""
    rows = [gain_and_gap(s) for s in seeds]
    if not rows or any(not gain for gain, _ in rows):
        return None, "no per-item scores"
    (gain, gap), seed_cov, item_cov = _moments(rows)
    if gap <= 0:
        return None, f"ceiling - weak {gap:.3f} <= 0: no gap to recover"
    value = float(gain / gap)
    q = quantile(len(seeds), confidence)
    cov = _cov(len(seeds), seed_cov, item_cov)
    bounds = _fieller(gain, gap, cov, q)
    if bounds is None:
        return Estimate(mean=value, n=len(seeds)), \
            f"the gap's interval reaches 0 ({gap:.3f} ± {q * cov[1, 1] ** 0.5:.3f})"
    return Estimate(mean=value, low=float(bounds[0]), high=float(bounds[1]), n=len(seeds)), None


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
    return 2 * (var / n) ** 0.5


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
    """One seed's PGR, or None with the reason when the gap is too small."""
    note = gap_note(weak, ceiling, min_gap, weak_items or [], ceiling_items or []) \
        if min_gap == "auto" or min_gap else None
    if note or ceiling <= weak:
        return None, note or f"ceiling {ceiling:.3f} <= weak {weak:.3f}: no gap to recover"
    return (w2s - weak) / (ceiling - weak), None


def within_seed_slope(rows: list[tuple[int, float, float]]) -> Estimate | None:
    """The slope of y on x across the methods *within* each seed (seed fixed effects: each
    seed's own least-squares slope over its (seed, x, y) rows), averaged over seeds with the
    t interval of seed-level estimates. Differences between seeds (one seed's models better
    at everything) cannot enter it. None where no seed has two distinct x."""
    import numpy as np

    by: dict[int, list[tuple[float, float]]] = {}
    for seed, x, y in rows:
        by.setdefault(seed, []).append((x, y))
    slopes = []
    for pairs in by.values():
        x, y = np.array(pairs, dtype=float).T
        if len(x) > 1 and x.std() > 0:
            slopes.append(float(np.polyfit(x, y, 1)[0]))
    return Estimate.of(slopes) if slopes else None
