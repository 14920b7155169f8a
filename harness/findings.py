"""The paper's five findings, each with a verdict and the intervals behind it, from a run.

Methods are recognised by what they are, not by their names in the suite: naive W2S is the
``all`` selector with the suite's own trainer; the paper's method is the ``reward_model``
selector through ``two_stage``; its compute-matched controls are ``random`` through
``two_stage`` (same size, same stages) and ``all`` through ``two_stage`` (epoch-matched);
self-bootstrapping is the ``self_bootstrap`` trainer. A finding whose methods (or mixtures) the
suite did not run, or whose effect the data cannot resolve (no gap to recover, an interval
wider than the equivalence margin), is "not measured".

What each verdict rests on:

1. naive W2S alone (the paper's primary): its pooled PGR above 0 *and* W2S above the best
   untuned strong model, on every capability. Other methods are listed, never counted.
2. an equivalence test (two one-sided 5% tests, i.e. a 90% interval inside ±``MARGIN``) of
   naive W2S joint - single per capability; the weak supervisors of the two mixtures are
   compared too, and where they differ the confound is stated with the gain over them.
3. the correlation of training-label accuracy (over everything a method trained on) with W2S
   over methods and seeds, its interval from resampling methods and seeds as clusters.
4. and 5. against the compute-matched controls (epoch-matched; random-two-stage and
   epoch-matched); naive is listed second, not tested, since extra training alone moves W2S.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

from pydantic import BaseModel

from harness.schemas import CapabilityResult, Suite, TransferResult
from harness.report import Summary, summarise
from harness.stats import Estimate, paired_difference

Verdict = Literal["holds", "does not hold", "inconclusive", "not measured"]
MARGIN = 0.05
"""Finding 2: joint and single training "differ little" when the 90% interval of their W2S
difference lies within this much accuracy either side of zero."""
RULE = ("Each verdict is an intersection-union test: *holds* needs every comparison it rests "
        "on to point the claimed way at 95% (two-sided; finding 2: a 90% interval inside "
        f"±{MARGIN}, two one-sided 5% tests), so it needs no multiplicity correction; *does "
        "not hold* needs one comparison to point the other way at 95%, uncorrected over the "
        "k comparisons of a finding (a false alarm rate up to k x 2.5%). Listed methods and "
        "comparisons are not tested.")


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


def combine(per_capability: list[Verdict]) -> Verdict:
    """A claim made on every capability: holds where it holds on each, does not where it
    fails on one, not measured where no capability could test it, else inconclusive."""
    if not per_capability or all(v == "not measured" for v in per_capability):
        return "not measured"
    if "does not hold" in per_capability:
        return "does not hold"
    return "holds" if all(v == "holds" for v in per_capability) else "inconclusive"


def sign_verdict(estimates: list[Estimate], sign: int) -> Verdict:
    """``sign`` 1: each interval must be above 0; -1: below. One pointing the other way is
    "does not hold"; none (or one without an interval) is "not measured"."""
    if not estimates or any(e.low is None or e.high is None for e in estimates):
        return "not measured"
    if all(e.low * sign > 0 and e.high * sign > 0 for e in estimates):  # type: ignore[operator]
        return "holds"
    if any(e.low * -sign > 0 and e.high * -sign > 0 for e in estimates):  # type: ignore[operator]
        return "does not hold"
    return "inconclusive"


def equivalence(d90: Estimate, d95: Estimate, margin: float = MARGIN) -> Verdict:
    """Two one-sided tests: "holds" (equivalent) when the 90% interval lies inside ±margin;
    "does not hold" when the 95% interval excludes 0; "not measured" when the 90% interval is
    too wide for equivalence ever to be shown at this margin; else inconclusive."""
    if d90.low is None or d90.high is None or d95.low is None or d95.high is None:
        return "not measured"
    if -margin < d90.low and d90.high < margin:
        return "holds"
    if d95.low > 0 or d95.high < 0:
        return "does not hold"
    if d90.high - d90.low >= 2 * margin:
        return "not measured"
    return "inconclusive"


def _by(results: list[CapabilityResult]) -> dict[tuple[str, str, str], list[CapabilityResult]]:
    """(mixture, method, capability) -> its results, in seed order."""
    out: dict[tuple[str, str, str], list[CapabilityResult]] = defaultdict(list)
    for r in sorted(results, key=lambda r: r.seed):
        out[(r.mixture, r.method, r.capability)].append(r)
    return out


def _difference(a: list[CapabilityResult], b: list[CapabilityResult], role: str = "w2s",
                confidence: float = 0.95) -> Estimate:
    """``role`` of ``a`` minus ``role`` of ``b``, paired by seed and test item."""
    pairs = {r.seed: r for r in b}
    return paired_difference([(r.items[role], pairs[r.seed].items[role])
                              for r in a if r.seed in pairs], confidence=confidence)


def _gain_difference(a: list[CapabilityResult], b: list[CapabilityResult]) -> Estimate:
    """(W2S - weak) of ``a`` minus that of ``b``: the gain over each one's own supervisor."""
    pairs = {r.seed: r for r in b}
    gain = lambda r: [x - w for x, w in zip(r.items["w2s"], r.items["weak"])]  # noqa: E731
    return paired_difference([(gain(r), gain(pairs[r.seed])) for r in a if r.seed in pairs])


def pearson(pairs: list[tuple[float, float]]) -> float | None:
    """Pearson's r of the pairs, None without variation in either."""
    import numpy as np

    x, y = np.array(pairs, dtype=float).reshape(-1, 2).T
    return float(np.corrcoef(x, y)[0, 1]) if len(x) > 2 and x.std() and y.std() else None


def cluster_correlation(rows: list[tuple[str, int, float, float]], rounds: int = 2000
                        ) -> Estimate | None:
    """Pearson's r of x and y over (method, seed, x, y) rows, with a 95% interval from
    resampling methods and seeds as clusters (every row of each drawn method and seed): rows
    of one method share its selection and rows of one seed its models, so they are not
    independent. None with fewer than 3 methods or no variation."""
    import numpy as np

    methods = sorted({m for m, *_ in rows})
    seeds = sorted({s for _, s, *_ in rows})
    x = np.array([r[2] for r in rows], dtype=float)
    y = np.array([r[3] for r in rows], dtype=float)
    value = pearson(list(zip(x, y)))
    if len(methods) < 3 or value is None:
        return None
    at = {(m, s): k for k, (m, s, *_) in enumerate(rows)}
    rng = np.random.default_rng(0)
    reps = []
    for _ in range(rounds):
        ms = rng.choice(len(methods), len(methods))
        ss = rng.choice(len(seeds), len(seeds))
        idx = [at[(methods[i], seeds[j])] for i in ms for j in ss
               if (methods[i], seeds[j]) in at]
        if x[idx].std() > 0 and y[idx].std() > 0:
            reps.append(np.corrcoef(x[idx], y[idx])[0, 1])
    if len(reps) < rounds / 2:
        return None
    low, high = np.percentile(reps, [2.5, 97.5])
    return Estimate(mean=value, low=float(low), high=float(high), n=len(rows))


def findings(suite: Suite, results: list[CapabilityResult],
             transfer: list[TransferResult]) -> list[Finding]:
    if not results or not all(r.items for r in results):
        return []
    role = roles(suite)
    by = _by(results)
    caps = list(dict.fromkeys(r.capability for r in results))
    joint = "joint" if any(r.mixture == "joint" for r in results) else "single"
    summaries = {(s.method, s.capability): s for s in summarise(results) if s.mixture == joint}
    return [_first(summaries, caps, role), _second(by, caps, role, transfer, results),
            _third(results, caps, joint),
            _compare(4, "strong-model self-bootstrapping degrades W2S (vs epoch-matched "
                        "training on the weak labels)", by, joint, caps, role,
                     "self-bootstrap", ["epoch-matched"], ["naive"], -1),
            _fifth(by, joint, caps, role, results)]


def _first(summaries: dict[tuple[str, str], Summary], caps: list[str],
           role: dict[str, str]) -> Finding:
    claim = ("naive W2S recovers part of the gap (PGR > 0) and beats the untuned strong model, "
             "on every capability")
    if "naive" not in role:
        return Finding(number=1, claim=claim, verdict="not measured", evidence=["needs naive"])
    naive = role["naive"]
    verdicts, lines = [], []
    for cap in caps:
        s = summaries.get((naive, cap))
        if s is None:
            continue
        if s.pooled is None or s.pooled_note or s.pooled.low is None:
            verdicts.append("not measured")
            lines.append(f"{cap}: not measured: {s.pooled_note or 'no gap to recover'}")
        else:
            tested = [s.pooled] + ([s.vs_base] if s.vs_base else [])
            verdicts.append(sign_verdict(tested, 1))
            lines.append(f"{cap}: {naive} PGR {s.pooled.bracket()}; W2S - strong base "
                         + (f"({s.strong_base}) {s.vs_base.bracket()}" if s.vs_base
                            else "not measured (no untuned baseline in this run)"))
        others = [o for (m, c), o in summaries.items() if c == cap and m != naive]
        if others:
            lines.append(f"{cap}, other methods (listed, not tested): " + "; ".join(
                f"{o.method} PGR {o.pooled_text()}, W2S - strong base "
                f"{o.vs_base.bracket() if o.vs_base else 'n/a'}" for o in others))
    return Finding(number=1, claim=claim, verdict=combine(verdicts), evidence=lines)


def _second(by, caps: list[str], role: dict[str, str], transfer: list[TransferResult],
            results: list[CapabilityResult]) -> Finding:
    claim = f"joint and single-capability training differ little (W2S within ±{MARGIN})"
    if not {"joint", "single"} <= {r.mixture for r in results} or "naive" not in role:
        return Finding(number=2, claim=claim, verdict="not measured",
                       evidence=["needs both mixtures and naive"])
    naive = role["naive"]
    verdicts, lines = [], []
    for cap in caps:
        a, b = by.get(("joint", naive, cap)), by.get(("single", naive, cap))
        if not a or not b:
            continue
        d90, d95 = _difference(a, b, confidence=0.90), _difference(a, b)
        verdicts.append(equivalence(d90, d95))
        lines.append(f"{cap}: {naive} W2S joint - single {d95.bracket()} (90%: "
                     f"[{d90.low:.3f}, {d90.high:.3f}]): {verdicts[-1]}")
        weak = _difference(a, b, role="weak")
        if weak.low is not None and weak.high is not None and (weak.low > 0 or weak.high < 0):
            lines.append(f"{cap}: confound: the weak supervisors differ (weak joint - single "
                         f"{weak.bracket()}); gain over the supervisor, joint - single: "
                         f"{_gain_difference(a, b).bracket()}")
        else:
            lines.append(f"{cap}: the weak supervisors do not differ beyond noise (weak joint - "
                         f"single {weak.bracket()})")
    cells: dict[tuple[str, str], list[float]] = defaultdict(list)
    for t in transfer:
        if t.method == naive:
            cells[(t.trained_on, t.evaluated_on)].append(t.accuracy)
    for trained in caps:
        row = [f"{e} {sum(v) / len(v):.3f}" for e in caps
               for v in [cells.get((trained, e))] if v]
        if row:
            lines.append(f"transfer: {naive} trained on {trained} only: " + ", ".join(row))
    return Finding(number=2, claim=claim, verdict=combine(verdicts), evidence=lines)


def _third(results: list[CapabilityResult], caps: list[str], mixture: str) -> Finding:
    claim = ("the quality of the weak data a method trains on drives W2S (label accuracy over "
             "every training step; diversity reported beside it)")
    verdicts, lines = [], []
    for cap in caps:
        rows = [r for r in results if r.capability == cap and r.mixture == mixture
                and "train_label_acc" in r.analysis]
        q = cluster_correlation([(r.method, r.seed, r.analysis["train_label_acc"], r.w2s)
                                 for r in rows])
        d = cluster_correlation([(r.method, r.seed, r.analysis["train_distinct_2"], r.w2s)
                                 for r in rows if "train_distinct_2" in r.analysis])
        verdicts.append(sign_verdict([q], 1) if q else "not measured")
        methods = sorted({r.method for r in rows})
        loo = [c for m in methods for c in [pearson(
            [(r.analysis["train_label_acc"], r.w2s) for r in rows if r.method != m])]
               if c is not None]
        lines.append(f"{cap}: corr(training-label accuracy, W2S) "
                     f"{q.bracket() if q else 'n/a (needs 3 methods with varying values)'} over "
                     f"{len(rows)} rows of {len(methods)} methods (methods and seeds resampled "
                     "as clusters)"
                     + (f"; leaving one method out, r {min(loo):.3f} to {max(loo):.3f}"
                        if loo else "")
                     + f"; corr(distinct-2, W2S) {d.bracket() if d else 'n/a'}")
    return Finding(number=3, claim=claim, verdict=combine(verdicts), evidence=lines)


def _compare(number: int, claim: str, by, mixture: str, caps: list[str], role: dict[str, str],
             method: str, controls: list[str], listed: list[str], sign: int) -> Finding:
    """The verdict rests on ``method`` against each of ``controls``; ``listed`` comparisons
    are shown beside it."""
    if method not in role or any(c not in role for c in controls):
        return Finding(number=number, claim=claim, verdict="not measured",
                       evidence=[f"needs {method} and {', '.join(controls)}"])
    verdicts, lines = [], []
    for cap in caps:
        mine = by[(mixture, role[method], cap)]
        tested = [_difference(mine, by[(mixture, role[c], cap)]) for c in controls]
        verdicts.append(sign_verdict(tested, sign))
        lines.append(f"{cap}: " + "; ".join(f"W2S {role[method]} - {role[c]} {d.bracket()}"
                                            for c, d in zip(controls, tested)))
        shown = [o for o in listed if o in role]
        if shown:
            lines.append(f"{cap}, listed, not tested: " + "; ".join(
                f"W2S {role[method]} - {role[o]} "
                f"{_difference(mine, by[(mixture, role[o], cap)]).bracket()}" for o in shown))
    return Finding(number=number, claim=claim, verdict=combine(verdicts), evidence=lines)


def _fifth(by, mixture: str, caps: list[str], role: dict[str, str],
           results: list[CapabilityResult]) -> Finding:
    found = _compare(5, "reward-model selection with two-stage training beats its "
                        "compute-matched controls (random-two-stage, epoch-matched)", by,
                     mixture, caps, role, "rm-two-stage", ["random-two-stage", "epoch-matched"],
                     ["naive"], 1)
    if "rm-two-stage" in role:
        for cap in caps:
            rows = by.get((mixture, role["rm-two-stage"], cap), [])
            parts = [f"{label} {Estimate.of(values)}" for key, label in
                     (("rm_held_out_acc", "held-out pairwise accuracy"),
                      ("rm_auc", "AUC of rewards for weak-label correctness"),
                      ("selected_label_acc", "selected labels' accuracy"),
                      ("weak_label_acc", "pool's"))
                     for values in [[r.analysis[key] for r in rows if key in r.analysis]]
                     if values]
            if parts:
                found.evidence.append(f"{cap}: reward model: " + ", ".join(parts))
    return found


def table(found: list[Finding]) -> str:
    """The findings as Markdown: claim, verdict, then the evidence lines, then the rule."""
    return "\n\n".join(f"{f.number}. **{f.claim}**: {f.verdict.upper()}\n"
                       + "\n".join(f"   - {line}" for line in f.evidence) for f in found) \
        + f"\n\n{RULE}"
