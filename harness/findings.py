"""The paper's five findings, each with a verdict and the intervals behind it, from a run.

Methods are recognised by what they are, not by their names in the suite: naive W2S is the
``all`` selector with the suite's own trainer; the paper's method is the ``reward_model``
selector through ``two_stage``; its controls are ``random`` through ``two_stage`` (same size,
same stages) and ``all`` through ``two_stage`` (epoch-matched); self-bootstrapping is the
``self_bootstrap`` trainer. A finding whose methods (or mixtures) the suite did not run is
"not measured".

Verdicts: **holds** when every interval it rests on points the claimed way, **does not
hold** when one points the other way, else **inconclusive**. Intervals are 95%: pooled PGR and
W2S differences by paired bootstrap over seeds and test items (``harness.stats``);
correlations by bootstrap over result rows.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

from pydantic import BaseModel

from harness.models import CapabilityResult, Suite, TransferResult
from harness.report import summarise
from harness.stats import Estimate, paired_difference

Verdict = Literal["holds", "does not hold", "inconclusive", "not measured"]
LITTLE = 0.05
"""Finding 2: joint and single training "differ little" when the W2S difference's interval
lies within this much accuracy either side of zero."""


class Finding(BaseModel):
    number: int
    claim: str
    verdict: Verdict
    evidence: list[str]


def roles(suite: Suite) -> dict[str, str]:
    """The suite's method for each role the findings compare (see the module docstring)."""
    out: dict[str, str] = {}
    for m in suite.methods:
        selector, trainer = m.selector.name, suite.method_trainer(m).name
        role = {("all", suite.train.name): "naive", ("all", "two_stage"): "epoch-matched",
                ("reward_model", "two_stage"): "rm-two-stage",
                ("random", "two_stage"): "random-two-stage"}.get((selector, trainer))
        if trainer == "self_bootstrap":
            role = "self-bootstrap"
        if role:
            out.setdefault(role, m.name)
    return out


def _by(results: list[CapabilityResult]) -> dict[tuple[str, str, str], list[CapabilityResult]]:
    """(mixture, method, capability) -> its results, in seed order."""
    out: dict[tuple[str, str, str], list[CapabilityResult]] = defaultdict(list)
    for r in sorted(results, key=lambda r: r.seed):
        out[(r.mixture, r.method, r.capability)].append(r)
    return out


def _difference(a: list[CapabilityResult], b: list[CapabilityResult]) -> Estimate:
    """W2S of ``a`` minus W2S of ``b``, paired by seed and test item."""
    pairs = {r.seed: r for r in b}
    return paired_difference([(r.items["w2s"], pairs[r.seed].items["w2s"])
                              for r in a if r.seed in pairs])


def _verdict(estimates: list[Estimate], sign: int) -> Verdict:
    """``sign`` 1: each must be above 0; -1: below 0."""
    if all((e.low or 0) * sign > 0 and (e.high or 0) * sign > 0 for e in estimates):
        return "holds"
    if any(e.low is not None and e.high is not None and e.low * -sign > 0 and e.high * -sign > 0
           for e in estimates):
        return "does not hold"
    return "inconclusive"


def _pearson(xs: list[float], ys: list[float], rounds: int = 2000) -> Estimate | None:
    import numpy as np

    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    if len(x) < 4 or x.std() == 0 or y.std() == 0:
        return None
    rng = np.random.default_rng(0)
    reps = []
    for idx in rng.integers(0, len(x), (rounds, len(x))):
        if x[idx].std() > 0 and y[idx].std() > 0:
            reps.append(np.corrcoef(x[idx], y[idx])[0, 1])
    low, high = np.percentile(reps, [2.5, 97.5])
    return Estimate(mean=float(np.corrcoef(x, y)[0, 1]), low=float(low), high=float(high),
                    n=len(x))


def findings(suite: Suite, results: list[CapabilityResult],
             transfer: list[TransferResult]) -> list[Finding]:
    if not results or not all(r.items for r in results):
        return []
    role = roles(suite)
    by = _by(results)
    caps = list(dict.fromkeys(r.capability for r in results))
    joint = "joint" if any(r.mixture == "joint" for r in results) else "single"
    out = []

    # 1. PGR > 0 on every capability, for some method.
    summaries = [s for s in summarise(results) if s.mixture == joint]
    lines, above = [], []
    for cap in caps:
        positive = [s for s in summaries if s.capability == cap and s.pooled
                    and s.pooled.low is not None and s.pooled.low > 0]
        above.append(bool(positive))
        naive = next((s for s in summaries if s.capability == cap
                      and s.method == role.get("naive")), None)
        lines.append(f"{cap}: PGR interval above 0 for "
                     + (", ".join(f"{s.method} {s.pooled.bracket()}" for s in positive)
                        if positive else "no method")
                     + (f"; naive {naive.pooled_text()}" if naive and naive not in positive
                        else ""))
    out.append(Finding(number=1, claim="W2S recovers part of the gap (PGR > 0) on every "
                                       "capability", verdict="holds" if all(above) else
                       "does not hold" if not any(above) else "inconclusive", evidence=lines))

    # 2. Joint and single training differ little.
    if {"joint", "single"} <= {r.mixture for r in results} and "naive" in role:
        naive = role["naive"]
        diffs = {cap: _difference(by[("joint", naive, cap)], by[("single", naive, cap)])
                 for cap in caps if by.get(("single", naive, cap))}
        lines = [f"{cap}: {naive} W2S joint - single {d.bracket()}" for cap, d in diffs.items()]
        within = all(-LITTLE <= d.low and d.high <= LITTLE for d in diffs.values()
                     if d.low is not None and d.high is not None)
        apart = _verdict(list(diffs.values()), 1) == "holds" or \
            _verdict(list(diffs.values()), -1) == "holds"
        cells: dict[tuple[str, str], list[float]] = defaultdict(list)
        for t in transfer:
            if t.method == naive:
                cells[(t.trained_on, t.evaluated_on)].append(t.accuracy)
        for trained in caps:
            row = [f"{e} {sum(v) / len(v):.3f}" for e in caps
                   for v in [cells.get((trained, e))] if v]
            if row:
                lines.append(f"transfer: {naive} trained on {trained} only: " + ", ".join(row))
        out.append(Finding(number=2, claim=f"joint and single-capability training differ "
                                            f"little (W2S within ±{LITTLE})",
                           verdict="holds" if within else "does not hold" if apart
                           else "inconclusive", evidence=lines))
    else:
        out.append(Finding(number=2, claim="joint and single-capability training differ little",
                           verdict="not measured", evidence=["needs both mixtures and naive"]))

    # 3. Weak-label quality and diversity drive W2S.
    lines, quality = [], []
    for cap in caps:
        rows = [r for r in results if r.capability == cap and r.mixture == joint
                and "train_label_acc" in r.analysis]
        q = _pearson([r.analysis["train_label_acc"] for r in rows], [r.w2s for r in rows])
        d = _pearson([r.analysis["train_distinct_2"] for r in rows], [r.w2s for r in rows])
        if q:
            quality.append(q)
        lines.append(f"{cap}: corr(training-label accuracy, W2S) "
                     f"{q.bracket() if q else 'n/a'}; corr(distinct-2, W2S) "
                     f"{d.bracket() if d else 'n/a'} over {len(rows)} method-seed rows")
    out.append(Finding(number=3, claim="the quality of the weak data a method trains on drives "
                                       "W2S (diversity reported beside it)",
                       verdict=_verdict(quality, 1) if quality else "not measured",
                       evidence=lines))

    # 4. Self-bootstrapping degrades; 5. reward-model selection with two stages helps.
    out.append(_compare(4, "strong-model self-bootstrapping degrades W2S (vs naive)", by, joint,
                        caps, role, "self-bootstrap", ["naive"], -1))
    out.append(_compare(5, "reward-model selection with two-stage training beats naive, "
                           "random-two-stage and epoch-matched", by, joint, caps, role,
                        "rm-two-stage", ["naive", "random-two-stage", "epoch-matched"], 1))
    return out


def _compare(number: int, claim: str, by, mixture: str, caps: list[str], role: dict[str, str],
             method: str, others: list[str], sign: int) -> Finding:
    if method not in role or any(o not in role for o in others):
        return Finding(number=number, claim=claim, verdict="not measured",
                       evidence=[f"needs {method} and {', '.join(others)}"])
    lines, estimates = [], []
    for cap in caps:
        for other in others:
            d = _difference(by[(mixture, role[method], cap)], by[(mixture, role[other], cap)])
            estimates.append(d)
            lines.append(f"{cap}: W2S {role[method]} - {role[other]} {d.bracket()}")
    return Finding(number=number, claim=claim, verdict=_verdict(estimates, sign), evidence=lines)


def table(found: list[Finding]) -> str:
    """The findings as Markdown: claim, verdict, then the evidence lines."""
    return "\n\n".join(f"{f.number}. **{f.claim}**: {f.verdict.upper()}\n"
                       + "\n".join(f"   - {line}" for line in f.evidence) for f in found)
