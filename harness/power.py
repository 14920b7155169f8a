"""What a run could detect, from its design: the planned seeds and test items, and the noise
its cells measured. One piece of code for the "could detect >= X" beside every comparison a
run shows nothing on, and for ``harness plan --detect-pgr``.

A comparison's seed-level mean (a paired difference, or the PGR's gain and gap together) has
covariance ``seed_cov + item_cov / items`` a seed: the items' share, measured within each seed
with hundreds of degrees of freedom, and the seeds' own, the between-seed covariance of the
means beyond what their items explain (method of moments). Measured in one cell over 3 seeds
that second share has 2 degrees of freedom, and a figure built on it swings from run to run
(issue 48: 0.12-0.22 at 3 seeds with the truth fixed). So it is **pooled over the run's cells**
of one capability and mixture (every method's, for the same comparison), weighted by their
degrees of freedom: the figure then moves with the design, not with one cell's luck. It is the method-of-moments estimate as it comes, not truncated at 0:
truncating would bias every figure upward where the seeds add nothing, and its sum with the
items' share stays positive. With one seed it cannot be measured; the figure counts the items
only, and is printed as the lower bound it is.

- A difference: the smallest true effect the t test on seeds - 1 degrees of freedom finds at
  80% power is ``detectable_ses(seeds)`` standard errors (the noncentral t), exact for normal
  seed means.
- The PGR: its verdict needs the gap resolved (the Fieller set bounded) *and* the gain above 0,
  so its power is the chance of both; the gap's own uncertainty counts. It is computed by
  simulating seed means from the design (``DRAWS``, seeded: the same figure every time) and
  taking the smallest PGR found 80% of the time; where the gap itself is resolved in fewer than
  80% of runs no PGR is, and the figure is None.
"""

from __future__ import annotations

from math import ceil
from statistics import fmean
from typing import Any

from pydantic import BaseModel
from tabulate import tabulate

from harness.schemas import CapabilityResult
from harness.stats import POWER, detectable_ses, gain_and_gap, quantile

SEEDS = (1, 3, 5, 10)
DRAWS = 8000
"""Simulated runs behind a PGR figure: its Monte Carlo error is about 0.005 in power."""
FAR = 200.0
"""Standard errors beyond which no effect is sought (a figure that far is none)."""


class Design(BaseModel):
    """What a comparison's power rests on: seeds, test items a seed, the per-item covariance
    of its series within a seed, and the seeds' own covariance beyond the items' share
    (None: not measured, one seed)."""

    seeds: int
    items: int
    item_cov: list[list[float]]
    seed_cov: list[list[float]] | None = None
    df: float | None = None
    """Degrees of freedom of the estimated variance of a seed's mean (None: taken as exact)."""

    @property
    def bound(self) -> bool:
        """True when the seeds' noise is not measured, so a figure is a lower bound."""
        return self.seed_cov is None

    def mean_cov(self) -> Any:
        """The covariance of one seed's mean of each series, kept positive semi-definite (the
        seeds' share is an unbiased estimate, so it may come out below 0)."""
        import numpy as np

        seed = np.asarray(self.seed_cov) if self.seed_cov is not None else 0.0
        value, vectors = np.linalg.eigh(seed + np.asarray(self.item_cov) / self.items)
        return (vectors * np.clip(value, 0.0, None)) @ vectors.T

    def at(self, seeds: int | None = None, items: int | None = None) -> Design:
        """The same noise under another plan. The seeds' share is held at or above 0 there:
        an estimate below 0 is noise around a small share, and carried to many more items
        it would claim a precision no run has."""
        import numpy as np

        seed = None
        if self.seed_cov is not None:
            value, vectors = np.linalg.eigh(np.asarray(self.seed_cov))
            seed = ((vectors * np.clip(value, 0.0, None)) @ vectors.T).tolist()
        return self.model_copy(update={"seeds": seeds or self.seeds,
                                       "items": items or self.items, "seed_cov": seed})


def designs(cells: list[list[list[list[float]]]]) -> list[Design]:
    """Per cell (seed -> series -> per-item values), its design, with the seeds' covariance
    pooled over every cell with two or more seeds (the module's docstring says why), and the
    degrees of freedom of each cell's estimated variance (Satterthwaite's, from the pooled
    between-seed variances it rests on)."""
    import numpy as np

    own, excess, between, weights = [], [], [], []
    for cell in cells:
        arrays = [np.asarray(s, dtype=float).reshape(len(s), -1) for s in cell]
        items = round(fmean(a.shape[1] for a in arrays))
        shares = [np.atleast_2d(np.cov(a, ddof=1)) for a in arrays]
        own.append((len(cell), items, np.mean(shares, axis=0)))
        if len(cell) > 1:
            means = np.array([a.mean(axis=1) for a in arrays])
            seeds = np.atleast_2d(np.cov(means.T, ddof=1))
            between.append(seeds[0, 0])
            excess.append(seeds - np.mean([s / a.shape[1] for s, a in zip(shares, arrays)],
                                          axis=0))
            weights.append(len(cell) - 1)
    if not excess:
        return [Design(seeds=k, items=n, item_cov=cov.tolist()) for k, n, cov in own]
    w = np.asarray(weights, dtype=float)
    pooled = np.average(excess, axis=0, weights=w)
    # Var of the pooled share: each cell's between-seed variance s^2 has 2 s^4 / (k - 1), and
    # the pool weighs it by k - 1.
    spread = float(np.sum(2 * w * np.asarray(between) ** 2) / w.sum() ** 2)
    out = []
    for k, n, cov in own:
        total = float(pooled[0, 0] + cov[0, 0] / n)
        df = 2 * total ** 2 / spread if spread > 0 and total > 0 else None
        out.append(Design(seeds=k, items=n, item_cov=cov.tolist(), seed_cov=pooled.tolist(),
                          df=df))
    return out


def _scales(design: Design) -> Any:
    """Per simulated run, the true noise's standard deviation over the estimated one: 1 where
    the estimate is exact, else sqrt(df / chi2(df)), so that a figure is what runs that print
    it detect 80% of the time on average, the estimate's own error included."""
    import numpy as np

    if design.df is None or design.seeds < 2:
        return np.ones(DRAWS)
    draws = np.random.default_rng(1).chisquare(design.df, DRAWS)
    return (design.df / np.maximum(draws, np.finfo(float).tiny)) ** 0.5  # a draw of 0: no inf


def detectable(design: Design, confidence: float = 0.95) -> float | None:
    """The smallest true difference (the design's first series) its run finds at 80% power.
    One seed's test counts its items' noise only, while the seed's own shifts its mean too.
    Where the design's noise is an estimate (``df``), averaged over its error; None where
    that error is so large that no effect is found in 80% of runs."""
    import numpy as np

    se = (design.mean_cov()[0, 0] / design.seeds) ** 0.5
    if se == 0:
        return 0.0
    if design.seeds < 2:
        from scipy import special

        items = (design.item_cov[0][0] / design.items) ** 0.5
        return float(quantile(1, confidence) * items + special.ndtri(POWER) * se)
    if design.df is None:
        return detectable_ses(design.seeds, confidence) * se
    from scipy import optimize, stats

    k, crit = design.seeds, quantile(design.seeds, confidence)
    inverse = 1 / np.quantile(_scales(design), (np.arange(64) + 0.5) / 64)

    def shortfall(ses: float) -> float:
        return float(stats.nct.sf(crit, k - 1, ses * inverse).mean()) - POWER

    if shortfall(FAR) < 0:
        return None
    return float(optimize.brentq(shortfall, 0.0, FAR)) * se


def detectable_pgr(design: Design, gap: float, confidence: float = 0.95) -> float | None:
    """The smallest PGR its run shows above 0 at 80% power (design: the gain and the gap;
    ``gap``: the true ceiling - weak the runs are drawn around), or None where the gap is
    resolved in fewer than 80% of runs."""
    import numpy as np

    if gap <= 0:
        return None
    k, q = design.seeds, quantile(design.seeds, confidence)
    cov = design.mean_cov()
    value, vectors = np.linalg.eigh(cov)
    root = vectors * np.clip(value, 0.0, None) ** 0.5
    noise = np.random.default_rng(0).standard_normal((DRAWS, k, 2)) @ root.T \
        * _scales(design)[:, None, None]
    centre = noise.mean(axis=1)  # the seed means' noise around (PGR x gap, gap)
    if k > 1:
        spread = noise - centre[:, None, :]
        var = (spread ** 2).sum(axis=1) / (k - 1) / k
    else:  # one seed: its test knows the items' covariance only
        var = np.broadcast_to(np.diag(design.item_cov) / design.items, (DRAWS, 2))
    resolved = (gap + centre[:, 1] > 0) & ((gap + centre[:, 1]) ** 2 > q * q * var[:, 1])
    if resolved.mean() < POWER:
        return None
    # The gain clears 0 when PGR x gap + its noise > q x its standard error: per draw, the
    # PGR at which it starts to; the smallest PGR found in 80% of the draws.
    needs = np.where(resolved, (q * var[:, 0] ** 0.5 - centre[:, 0]) / gap, np.inf)
    return float(max(0.0, np.sort(needs)[ceil(POWER * DRAWS) - 1]))


def smallest_margin(design: Design, confidence: float = 0.90) -> float:
    """The smallest equivalence margin its run establishes at 80% power when the true
    difference is 0 (finding 2: "holds" needs the 90% interval inside ±margin): the 80th
    percentile, over simulated runs of the design, of |mean| + the interval's half-width."""
    import numpy as np

    k, q = design.seeds, quantile(design.seeds, confidence)
    noise = np.random.default_rng(0).standard_normal((DRAWS, k)) * design.mean_cov()[0, 0] ** 0.5
    centre = noise.mean(axis=1)
    if k > 1:
        half = q * (noise.var(axis=1, ddof=1) / k) ** 0.5
    else:
        half = np.full(DRAWS, q * (design.item_cov[0][0] / design.items) ** 0.5)
    return float(np.quantile(np.abs(centre) + half, POWER))


def pgr_design(results: list[CapabilityResult], method: str) -> dict[str, tuple[Design, float]]:
    """Per capability, ``method``'s PGR design (gain and gap) and mean gap in a pilot run (its
    first mixture), the seeds' noise pooled over the pilot's methods."""
    mixture = next((r.mixture for r in results if r.method == method), None)
    rows = [r for r in results if r.mixture == mixture and r.items]
    cells = {(r.method, r.capability): [] for r in rows}  # type: dict[tuple[str, str], list]
    for r in rows:
        cells[(r.method, r.capability)].append(r)
    out = {}
    for cap in dict.fromkeys(c for m, c in cells if m == method):
        mine = [k for k in cells if k[1] == cap]
        found = designs([[gain_and_gap(r.items) for r in cells[k]] for k in mine])
        rs = cells[(method, cap)]
        out[cap] = (found[mine.index((method, cap))], fmean(r.ceiling - r.weak for r in rs))
    return out


def _fewest(enough) -> int | None:
    """The fewest test items a seed for which ``enough(items)`` holds (it must hold for more
    items once it does), or None where even 2^20 do not suffice."""
    top = 1 << 20
    if not enough(top):
        return None
    low, high = 0, top
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if enough(mid) else (mid, high)
    return high


def items_needed(design: Design, gap: float, target: float, seeds: int) -> int | None:
    """Test items a seed needs for ``seeds`` seeds to show a PGR of ``target`` at 80% power;
    None where no number of items can (the seeds' own noise is too large, or there is no gap).
    """
    def enough(n: int) -> bool:
        least = detectable_pgr(design.at(seeds, n), gap)
        return least is not None and least <= target

    return _fewest(enough) if gap > 0 else None


def items_for_margin(design: Design, margin: float, seeds: int) -> int | None:
    """Test items a seed needs for ``seeds`` seeds to establish equivalence within
    ±``margin`` (finding 2) at 80% power were the truth 0; None where none can."""
    return _fewest(lambda n: smallest_margin(design.at(seeds, n)) <= margin)


def margin_design(results: list[CapabilityResult], method: str) -> dict[str, Design]:
    """Per capability, the design of ``method``'s W2S joint - single in a pilot run that has
    both mixtures (finding 2's comparison), paired by seed and item."""
    by = {(r.mixture, r.capability, r.seed): r for r in results
          if r.method == method and r.items}
    out = {}
    for cap in dict.fromkeys(c for m, c, _ in by if m == "joint"):
        cell = [[[a - b for a, b in zip(r.items["w2s"], by[("single", cap, s)].items["w2s"])]]
                for (m, c, s), r in by.items() if m == "joint" and c == cap
                and ("single", cap, s) in by]
        if cell:
            out[cap] = designs([cell])[0]
    return out


def margin_report(found: dict[str, Design], margin: float, method: str) -> str:
    """The margin plan as a table: per capability, the test items each seed count needs."""
    rows = [[cap, f"{d.item_cov[0][0]:.4f}", *[str(n) if (n := items_for_margin(d, margin, k))
                                              else "unreachable" for k in SEEDS]]
            for cap, d in found.items()]
    head = (f"Test items a seed needs for finding 2 to hold within ±{margin:g} at 80% power "
            f"were the truth 0 ({method}, W2S joint - single; from the pilot's noise):")
    return head + "\n\n" + tabulate(
        rows, headers=["capability", "item variance",
                       *[f"{s} seed{'s' if s > 1 else ''}" for s in SEEDS]],
        disable_numparse=True)


def report(found: dict[str, tuple[Design, float]], target: float, method: str) -> str:
    """The plan as a table: per capability, the test items each seed count needs."""
    rows = []
    for cap, (design, gap) in found.items():
        cells = [str(n) if (n := items_needed(design, gap, target, s)) else "unreachable"
                 for s in SEEDS]
        seeds = (f"{design.seed_cov[0][0]:.5f}" if design.seed_cov is not None
                 else "not measured (1 pilot seed: assumed 0, so these are lower bounds)")
        rows.append([cap, f"{gap:.3f}", f"{design.item_cov[0][0]:.4f}", seeds, *cells])
    head = (f"Test items a seed needs to show PGR >= {target:g} at 80% power ({method}; "
            "from the pilot's gap and noise, the gap's own uncertainty included; a 1-seed "
            "run's interval counts its items only, so its verdicts stay provisional):")
    return head + "\n\n" + tabulate(
        rows, headers=["capability", "pilot gap", "gain item variance", "gain seed variance",
                       *[f"{s} seed{'s' if s > 1 else ''}" for s in SEEDS]],
        disable_numparse=True)
