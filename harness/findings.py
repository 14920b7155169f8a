"""The paper's five findings, each with a verdict and the intervals behind it, from a run.

Methods are recognised by the part they play (``harness.controls``). A finding whose methods
(or mixtures) the suite did not run, whose controls do not train as much as the method, or
whose effect the data cannot resolve, is "not measured". With fewer than ``VERDICT_SEEDS``
seeds a verdict is "provisional": the intervals then hold no (or hardly any) seed noise.

What each verdict rests on (every interval is ``harness.stats``'s one procedure):

1. naive W2S alone (the paper's primary): its PGR above 0 *and* W2S above the best untuned
   strong model, on every capability. Other methods are listed, never counted.
2. equivalence, both ways, of naive W2S joint - single per capability (holds: the 90%
   interval inside ±``MARGIN``; does not hold: the 95% interval wholly outside it), and of
   each off-diagonal cell of the transfer matrix against the untuned strong model on the same
   items (training on one capability leaves another within ±``MARGIN`` of where it was).
3. the slope of W2S on training-label accuracy across methods *within* each seed (seed fixed
   effects), averaged over seeds; "not measured" unless the methods spread training-label
   accuracy within a seed by more than ``SPREAD`` times its binomial noise.
4. and 5. against controls matched in examples and steps (``harness.controls``); naive is
   listed beside them, not tested, since extra training alone moves W2S.
"""

from __future__ import annotations

from collections import defaultdict
from statistics import fmean, median
from typing import Literal

from pydantic import BaseModel

from harness import controls
from harness.report import Summary, summarise
from harness.schemas import FORMAT, CapabilityResult, Suite, TransferResult
from harness.stats import (VERDICT_SEEDS, Estimate, paired_difference, provisional,
                           within_seed_slope)

Verdict = Literal["holds", "does not hold", "inconclusive", "not measured", "provisional"]
MARGIN = 0.05
"""Findings 2: two W2S accuracies "differ little" (and a capability is "unchanged") within this
much accuracy either side."""
SPREAD = 2.0
"""Finding 3 is measured only where the methods' training-label accuracies spread (their sd
within a seed, averaged over seeds) by more than this many binomial standard errors."""
RULE = ("Each verdict is an intersection-union test: *holds* needs every comparison it rests "
        "on to point the claimed way at 95% (two-sided; finding 2: a 90% interval inside "
        f"±{MARGIN}, two one-sided 5% tests), so it needs no multiplicity correction; *does "
        "not hold* needs one comparison to point the other way at 95% (finding 2: a 95% "
        f"interval wholly outside ±{MARGIN}), uncorrected over the k comparisons of a finding "
        "(a false alarm rate up to k x 2.5%). Listed methods and comparisons are not tested. "
        f"Verdicts on fewer than {VERDICT_SEEDS} seeds are provisional.")


class Finding(BaseModel):
    number: int
    claim: str
    verdict: Verdict
    evidence: list[str]
    reason: str | None = None
    """Why the verdict is what it is, where that is not in the evidence: what is not
    measured, or what makes it provisional."""

    def headline(self) -> str:
        return self.verdict.upper() + (f" ({self.reason})" if self.reason else "")


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
    """Equivalence tested both ways: "holds" when the 90% interval lies inside ±margin (two
    one-sided 5% tests); "does not hold" when the 95% interval lies wholly outside it (the
    difference is larger than the margin at 95%); otherwise "inconclusive"."""
    if d90.low is None or d90.high is None or d95.low is None or d95.high is None:
        return "not measured"
    if -margin < d90.low and d90.high < margin:
        return "holds"
    if d95.low > margin or d95.high < -margin:
        return "does not hold"
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


def _margin(a: list[CapabilityResult], b: list[CapabilityResult]) -> str:
    """The smallest margin a run of this size establishes (``harness.power``), in words:
    ``a`` and ``b`` are one method's joint and single results on one capability."""
    from harness.power import margin_design, smallest_margin

    design = margin_design(a + b, a[0].method)[a[0].capability]
    return (f"the smallest margin this run's size establishes at 80% power, were the truth 0: "
            f"±{smallest_margin(design):.3f}" + (" (items only: a lower bound)"
                                                  if design.bound else ""))


def _gain_difference(a: list[CapabilityResult], b: list[CapabilityResult]) -> Estimate:
    """(W2S - weak) of ``a`` minus that of ``b``: the gain over each one's own supervisor."""
    pairs = {r.seed: r for r in b}
    gain = lambda r: [x - w for x, w in zip(r.items["w2s"], r.items["weak"])]  # noqa: E731
    return paired_difference([(gain(r), gain(pairs[r.seed])) for r in a if r.seed in pairs])


def findings(suite: Suite, results: list[CapabilityResult],
             transfer: list[TransferResult]) -> list[Finding]:
    if not results or not all(r.items for r in results):
        return []
    have = controls.roles(suite)
    by = _by(results)
    caps = list(dict.fromkeys(r.capability for r in results))
    joint = "joint" if any(r.mixture == "joint" for r in results) else "single"
    summaries = {(s.method, s.capability): s for s in summarise(results) if s.mixture == joint}
    found = [_first(summaries, caps, have), _second(by, caps, have, transfer, results),
             _third(results, caps, joint),
             _compare(4, "strong-model self-bootstrapping degrades W2S (vs a control trained "
                         "as much on the weak labels)", by, joint, caps, have, -1),
             _fifth(by, joint, caps, have)]
    seeds = len({r.seed for r in results})
    early = provisional(seeds)
    if early:
        for f in found:
            if f.verdict in ("holds", "does not hold"):
                f.evidence.append(f"with {VERDICT_SEEDS}+ seeds this rule would say "
                                  f"{f.verdict.upper()}")
                f.verdict, f.reason = "provisional", early
    return found


def _first(summaries: dict[tuple[str, str], Summary], caps: list[str],
           have: dict[str, list[str]]) -> Finding:
    claim = ("naive W2S recovers part of the gap (PGR > 0) and beats the untuned strong model, "
             "on every capability")
    if "naive" not in have:
        return Finding(number=1, claim=claim, verdict="not measured", reason="needs naive",
                       evidence=[])
    naive = have["naive"][0]
    verdicts, lines = [], []
    for cap in caps:
        s = summaries.get((naive, cap))
        if s is None:
            continue
        if s.pgr is None or s.pgr_note or s.pgr.low is None:
            verdicts.append("not measured")
            lines.append(f"{cap}: not measured: {s.pgr_note or 'no gap to recover'}")
        else:
            tested = [s.pgr] + ([s.vs_base] if s.vs_base else [])
            verdicts.append(sign_verdict(tested, 1))
            lines.append(f"{cap}: {naive} PGR {s.pgr.bracket()}; W2S - strong base "
                         + (f"({s.strong_base}) {s.vs_base.bracket()}" if s.vs_base
                            else "not measured (no untuned baseline in this run)"))
        others = [o for (m, c), o in summaries.items() if c == cap and m != naive]
        if others:
            lines.append(f"{cap}, other methods (listed, not tested): " + "; ".join(
                f"{o.method} PGR {o.pgr_text()}, W2S - strong base "
                f"{o.vs_base.bracket() if o.vs_base else 'n/a'}" for o in others))
    return Finding(number=1, claim=claim, verdict=combine(verdicts), evidence=lines)


def _second(by, caps: list[str], have: dict[str, list[str]], transfer: list[TransferResult],
            results: list[CapabilityResult]) -> Finding:
    claim = (f"capabilities are independent: joint and single-capability training give W2S "
             f"within ±{MARGIN}, and training on one capability leaves each other within "
             f"±{MARGIN} of the untuned strong model")
    if not {"joint", "single"} <= {r.mixture for r in results} or "naive" not in have:
        return Finding(number=2, claim=claim, verdict="not measured",
                       reason="needs both mixtures and naive", evidence=[])
    naive = have["naive"][0]
    verdicts, lines = [], []
    for cap in caps:
        a, b = by.get(("joint", naive, cap)), by.get(("single", naive, cap))
        if not a or not b:
            continue
        d90, d95 = _difference(a, b, confidence=0.90), _difference(a, b)
        verdicts.append(equivalence(d90, d95))
        lines.append(f"{cap}: {naive} W2S joint - single {d95.bracket()} (90%: "
                     f"[{d90.low:.3f}, {d90.high:.3f}]): {verdicts[-1]}; "
                     f"{_margin(a, b)}")
        weak = _difference(a, b, role="weak")
        if weak.low is not None and weak.high is not None and (weak.low > 0 or weak.high < 0):
            lines.append(f"{cap}: confound: the weak supervisors differ (weak joint - single "
                         f"{weak.bracket()}); gain over the supervisor, joint - single: "
                         f"{_gain_difference(a, b).bracket()}")
        else:
            lines.append(f"{cap}: the weak supervisors do not differ beyond noise (weak joint - "
                         f"single {weak.bracket()})")
    cells = _transfer(by, naive, transfer)
    for (trained, evaluated), pairs in cells.items():
        if not pairs:
            verdicts.append("not measured")
            lines.append(f"transfer {trained} -> {evaluated}: not measured (no per-item scores "
                         "in this run, or no untuned strong baseline)")
            continue
        d90 = paired_difference(pairs, confidence=0.90)
        d95 = paired_difference(pairs)
        verdicts.append(equivalence(d90, d95))
        lines.append(f"transfer: {naive} trained on {trained} only, on {evaluated} - the "
                     f"untuned strong model {d95.bracket()} (90%: [{d90.low:.3f}, "
                     f"{d90.high:.3f}]): {verdicts[-1]}")
    return Finding(number=2, claim=claim, verdict=combine(verdicts), evidence=lines)


def _transfer(by, naive: str, transfer: list[TransferResult]
              ) -> dict[tuple[str, str], list[tuple[list[float], list[float]]]]:
    """(trained on, evaluated on) -> per seed, the transferred model's per-item scores and the
    best untuned strong model's on the same items, for every off-diagonal cell; empty for a
    cell where a seed lacks them (a run from before transfer items were kept)."""
    cells: dict[tuple[str, str], list[tuple[list[float], list[float]]]] = {}
    broken = set()
    for t in transfer:
        if t.method != naive or t.trained_on == t.evaluated_on:
            continue
        key = (t.trained_on, t.evaluated_on)
        cells.setdefault(key, [])
        r = next((r for r in by.get(("single", naive, t.evaluated_on), [])
                  if r.seed == t.seed), None)
        strong = [b for b in (r.baselines if r else {})  # the untuned model: the format
                  if b.startswith("strong_") and b != FORMAT]  # control learned this one
        base = max(strong, key=lambda b: r.baselines[b]) if strong else None  # type: ignore
        if r is not None and base and t.items and len(r.items[base]) == len(t.items):
            cells[key].append((t.items, r.items[base]))
        else:
            broken.add(key)
    return {k: [] if k in broken else v for k, v in cells.items()}


def _third(results: list[CapabilityResult], caps: list[str], mixture: str) -> Finding:
    claim = ("the quality of the weak data a method trains on drives W2S: within a seed, "
             "methods whose training labels are more accurate reach higher W2S (slope > 0)")
    verdicts, lines = [], []
    for cap in caps:
        rows = [r for r in results if r.capability == cap and r.mixture == mixture
                and "train_label_acc" in r.analysis]
        methods = sorted({r.method for r in rows})
        spread, noise = _spread(rows)
        slope = within_seed_slope([(r.seed, r.analysis["train_label_acc"], r.w2s)
                                   for r in rows])
        diversity = within_seed_slope([(r.seed, r.analysis["train_distinct_2"], r.w2s)
                                       for r in rows if "train_distinct_2" in r.analysis])
        if len(methods) < 3 or slope is None or spread <= SPREAD * noise:
            verdicts.append("not measured")
            lines.append(f"{cap}: not measured: {len(methods)} methods spread training-label "
                         f"accuracy by sd {spread:.3f} within a seed, against its binomial "
                         f"noise {noise:.3f} (needs 3 methods and over {SPREAD:g}x the noise)")
        else:
            verdicts.append(sign_verdict([slope], 1))
            lines.append(f"{cap}: within-seed slope of W2S on training-label accuracy "
                         f"{slope.bracket()} over {len(methods)} methods and {slope.n} seeds "
                         f"(methods' sd {spread:.3f} vs noise {noise:.3f})")
        lines.append(f"{cap}, listed, not tested: within-seed slope of W2S on distinct-2 "
                     f"{diversity.bracket() if diversity else 'n/a'}")
    return Finding(number=3, claim=claim, verdict=combine(verdicts), evidence=lines)


def _spread(rows: list[CapabilityResult]) -> tuple[float, float]:
    """The methods' sd of training-label accuracy within a seed (mean over seeds), and the
    median binomial standard error of one method's training-label accuracy."""
    by: dict[int, list[float]] = defaultdict(list)
    for r in rows:
        by[r.seed].append(r.analysis["train_label_acc"])
    sds = [(sum((x - fmean(v)) ** 2 for x in v) / (len(v) - 1)) ** 0.5
           for v in by.values() if len(v) > 1]
    ses = [(p * (1 - p) / max(1.0, r.analysis.get("train_n", 1.0))) ** 0.5
           for r in rows for p in [r.analysis["train_label_acc"]]]
    return (fmean(sds) if sds else 0.0), (median(ses) if ses else 0.0)


def _budget(rows: list[CapabilityResult]) -> controls.Budget | None:
    """A method's training budget as its first seed recorded it (None: not recorded)."""
    a = rows[0].analysis if rows else {}
    if "train_examples" not in a or "train_steps" not in a:
        return None
    return controls.Budget(examples=a["train_examples"], steps=int(a["train_steps"]))


def _compare(number: int, claim: str, by, mixture: str, caps: list[str],
             have: dict[str, list[str]], sign: int) -> Finding:
    """The verdict rests on the finding's method (``controls.TESTED``) against a matched
    control of each role it names; naive is listed beside them."""
    tested, roles = controls.TESTED[number]
    if tested not in have or any(c not in have for c in roles):
        return Finding(number=number, claim=claim, verdict="not measured", evidence=[],
                       reason=f"needs {tested} and {', '.join(roles)}")
    method = have[tested][0]
    verdicts, lines = [], []
    for cap in caps:
        mine = by[(mixture, method, cap)]
        budgets = {m: b for m in [method, *[c for r in roles for c in have[r]]]
                   for b in [_budget(by[(mixture, m, cap)])] if b}
        picked = {r: controls.matched(have[r], budgets, method) for r in roles}
        arms = "; ".join(f"{m}: {budgets[m]}" for m in budgets)
        if any(c is None for c in picked.values()):
            verdicts.append("not measured")
            lines.append(f"{cap}: controls not matched ("
                         + (arms or "this run recorded no training budgets") + ")")
            continue
        diffs = [_difference(mine, by[(mixture, c, cap)]) for c in picked.values()]
        verdicts.append(sign_verdict(diffs, sign))
        lines.append(f"{cap}: " + "; ".join(f"W2S {method} - {c} {d.bracket()}"
                                            for c, d in zip(picked.values(), diffs))
                     + f" (arms: {arms})")
        if "naive" in have:
            naive = have["naive"][0]
            lines.append(f"{cap}, listed, not tested: W2S {method} - {naive} "
                         f"{_difference(mine, by[(mixture, naive, cap)]).bracket()}")
    verdict = combine(verdicts)
    reason = "controls not matched" if verdict == "not measured" and lines else None
    return Finding(number=number, claim=claim, verdict=verdict, evidence=lines, reason=reason)


def _fifth(by, mixture: str, caps: list[str], have: dict[str, list[str]]) -> Finding:
    found = _compare(5, "reward-model selection with two-stage training beats its "
                        "compute-matched controls (random selection through the same stages, "
                        "every weak label trained on as much)", by, mixture, caps, have, 1)
    for method in have.get("rm-two-stage", [])[:1]:
        for cap in caps:
            rows = by.get((mixture, method, cap), [])
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
    return "\n\n".join(f"{f.number}. **{f.claim}**: {f.headline()}\n"
                       + "\n".join(f"   - {line}" for line in f.evidence) for f in found) \
        + f"\n\n{RULE}"
