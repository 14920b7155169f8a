"""Results over seeds: means with 95% intervals, and the tables a run prints and keeps.

Tables: the baselines (chance, the untuned weak and strong models on the test split, weak and
ceiling, and what the ceiling adds over the untuned strong model), with warnings where a result
is empty by construction; the main one (weak, ceiling, W2S, PGR, W2S against the untuned strong
model and whether the method generalizes weak to strong at all); the data analyses
(weak-label accuracy, the training set's size, label accuracy and diversity, agreement); joint
against single training side by side (capability independence); and the transfer matrix.
"""

from __future__ import annotations

from collections import defaultdict
from math import sqrt
from statistics import fmean

from pydantic import BaseModel
from tabulate import tabulate

from harness.outputs import SplitAccount
from harness.schemas import FORMAT, CapabilityResult, TransferResult
from harness.stats import (Estimate, gain_and_gap, interval, paired_difference, pooled_pgr,
                           provisional)

ANALYSIS_COLUMNS = {
    "weak_label_acc": "weak label acc",
    "selected_n": "selected n",
    "selected_label_acc": "selected label acc",
    "train_n": "train n",
    "train_examples": "train examples",
    "train_steps": "train steps",
    "train_label_acc": "train label acc",
    "train_distinct_2": "distinct-2",
    "train_compression": "compression",
    "pool_agreement": "weak=strong",
    "supervisor_agreement": "w2s=weak (test)",
    "rm_held_out_acc": "RM held-out acc",
    "rm_auc": "RM AUC (label correct)",
}


class Summary(BaseModel):
    """One method on one capability under one mixture, over every seed of a run."""

    mixture: str
    method: str
    capability: str
    seeds: list[int]
    weak: Estimate
    ceiling: Estimate
    w2s: Estimate
    pgr: Estimate | None = None
    """The PGR over every seed's test items with its Fieller interval (``harness.stats``)."""
    pgr_note: str | None = None
    """Why ``pgr`` has no interval (or no value), where it has none."""
    analysis: dict[str, Estimate]
    baselines: dict[str, Estimate] = {}
    """The baselines' test accuracy: the untuned models (``strong_0shot``, ``weak_0shot``,
    ...) and the format-only control (``strong_format``)."""
    strong_base: str | None = None
    """The best strong baseline by mean accuracy (the untuned model 0- or k-shot, or the
    format-only control trained on shuffled weak labels): the one W2S has to beat. Choosing
    the best on the test items flatters the baseline, which makes a W2S claim harder, not
    easier."""
    vs_base: Estimate | None = None
    """W2S - ``strong_base``, paired by seed and test item, with its 95% interval."""
    vs_weak: Estimate | None = None
    """W2S - weak, paired likewise."""
    ceiling_over_base: Estimate | None = None
    """Ceiling - ``strong_base``: what fine-tuning on gold adds over the untuned strong model;
    near 0, there is nothing for weak supervision to elicit."""
    weak_over_base: Estimate | None = None
    """Weak - the best untuned weak baseline: below 0, gold fine-tuning made the weak model
    worse than it was."""
    chance: float | None = None
    items_n: int = 0
    """Test items over every seed."""
    empty: dict[str, int] = {}
    """Per role and baseline, empty test completions over every seed."""
    detect: dict[str, float | None] = {}
    """What this run could detect at 80% power, from its design (``harness.power``): the
    smallest W2S - weak (``weak``), W2S - strong base (``strong base``) and PGR (``pgr``,
    None where the gap is resolved in fewer than 80% of runs this size)."""
    detect_bound: bool = False
    """True where the seeds' noise is not measured (one seed): each figure in ``detect``
    counts the items only, a lower bound."""

    @property
    def generalizes(self) -> str:
        """``yes`` only where W2S beats both the weak model and the best strong baseline
        (both paired 95% intervals above 0); else ``no``, with what it does not beat (or lies
        wholly below) and what it could have shown."""
        if not self.items_n:
            return "not measured: no test items"
        if self.vs_weak is None or self.vs_base is None:
            return "not measured"
        missing = [f"below {what}" if d.high is not None and d.high < 0 else
                   f"not above {what}{self._could(what)}"
                   for what, d in (("weak", self.vs_weak), ("strong base", self.vs_base))
                   if d.low is None or d.low <= 0]
        said = "no: " + ", ".join(missing) if missing else "yes"
        early = provisional(len(self.seeds))
        return f"provisional ({early}): {said}" if early else said

    def _could(self, what: str) -> str:
        """" (could detect >= X)" for the comparison with ``what``, where it was sized."""
        if what not in self.detect:
            return ""
        if self.detect[what] is None:
            return " (no effect found 80% of the time at this size)"
        return f" ({self._detect_text(what, 3)})"

    def _detect_text(self, what: str, digits: int) -> str:
        """"could detect >= X", marked a lower bound where the seeds' noise is unmeasured."""
        return f"could detect >= {self.detect[what]:.{digits}f}" + (
            ", items only: a lower bound" if self.detect_bound else "")

    def pgr_text(self, reason: bool = False) -> str:
        """The PGR with its interval; without one, the value marked (with why, when asked)."""
        if self.pgr is None:
            return f"n/a ({self.pgr_note})" if reason and self.pgr_note else "n/a"
        if self.pgr_note:
            return f"{self.pgr.mean:.3f} " + (f"(no interval: {self.pgr_note})" if reason
                                              else "(interval unbounded)")
        if self.pgr.low is not None and self.pgr.low > 0 or "pgr" not in self.detect:
            return self.pgr.bracket()
        least = self.detect["pgr"]
        if least is None:
            return self.pgr.bracket() + "; no PGR detectable at this size (the gap is " \
                "resolved in fewer than 80% of runs)"
        return self.pgr.bracket() + f"; {self._detect_text('pgr', 2)}"


def summarise(results: list[CapabilityResult]) -> list[Summary]:
    groups: dict[tuple[str, str, str], list[CapabilityResult]] = defaultdict(list)
    for r in results:
        groups[(r.mixture, r.method, r.capability)].append(r)
    out = []
    for (mixture, method, cap), rs in groups.items():
        keys = [k for k in ANALYSIS_COLUMNS if all(k in r.analysis for r in rs)]
        has_items = all(r.items for r in rs)
        value, note = pooled_pgr([r.items for r in rs]) if has_items \
            else (None, "no per-item scores")
        bases = [b for b in rs[0].baselines if all(b in r.baselines for r in rs)]
        baselines = {b: _mean(rs, b) for b in bases}
        best = _best(bases, baselines, "strong_")
        weak_best = _best(bases, baselines, "weak_")
        out.append(Summary(
            mixture=mixture, method=method, capability=cap, seeds=[r.seed for r in rs],
            weak=_mean(rs, "weak"), ceiling=_mean(rs, "ceiling"), w2s=_mean(rs, "w2s"),
            pgr=value, pgr_note=note,
            analysis={k: Estimate.of([r.analysis[k] for r in rs]) for k in keys},
            baselines=baselines, strong_base=best, chance=rs[0].chance,
            vs_base=difference(rs, "w2s", best) if best and has_items else None,
            vs_weak=difference(rs, "w2s", "weak") if has_items else None,
            ceiling_over_base=difference(rs, "ceiling", best) if best and has_items else None,
            weak_over_base=difference(rs, "weak", weak_best) if weak_best and has_items
            else None,
            items_n=sum(len(r.items.get("w2s", [])) for r in rs),
            empty={k: sum(r.empty.get(k, 0) for r in rs) for k in rs[0].empty},
        ))
    _size(out, groups)
    return out


def _size(summaries: list[Summary],
          groups: dict[tuple[str, str, str], list[CapabilityResult]]) -> None:
    """Fill each summary's ``detect`` from its run's design, the seeds' noise pooled over
    the methods of one mixture and capability (``harness.power``)."""
    from harness.power import designs, detectable, detectable_pgr

    cells: dict[tuple[str, str], list[Summary]] = defaultdict(list)
    for s in summaries:
        if s.items_n and s.vs_weak is not None:
            cells[(s.mixture, s.capability)].append(s)
    for mine in cells.values():
        rs = [groups[(s.mixture, s.method, s.capability)] for s in mine]
        series = {"weak": [[[_minus(r, "w2s", "weak")] for r in g] for g in rs],
                  "pgr": [[gain_and_gap(r.items) for r in g] for g in rs]}
        if all(s.strong_base for s in mine):
            series["strong base"] = [[[_minus(r, "w2s", s.strong_base or "")] for r in g]
                                     for s, g in zip(mine, rs)]
        sized = {what: designs(cells) for what, cells in series.items()}
        for i, s in enumerate(mine):
            s.detect = {what: detectable(found[i]) for what, found in sized.items()
                        if what != "pgr"}
            s.detect["pgr"] = detectable_pgr(sized["pgr"][i], s.ceiling.mean - s.weak.mean)
            s.detect_bound = sized["weak"][i].bound


def _minus(r: CapabilityResult, a: str, b: str) -> list[float]:
    return [x - y for x, y in zip(r.items[a], r.items[b])]


def _mean(rs: list[CapabilityResult], role: str) -> Estimate:
    """``role``'s test accuracy over seeds with its interval, from the per-item scores where
    every seed has them (``harness.stats.interval``), else from the seeds' accuracies."""
    if all(r.items.get(role) for r in rs):
        return interval([r.items[role] for r in rs])
    return Estimate.of([r.baselines[role] if role in r.baselines else getattr(r, role)
                        for r in rs])


def _best(keys: list[str], baselines: dict[str, Estimate], who: str) -> str | None:
    mine = [b for b in keys if b.startswith(who)]
    return max(mine, key=lambda b: baselines[b].mean) if mine else None


def difference(rs: list[CapabilityResult], a: str, b: str) -> Estimate:
    """Role ``a`` minus role ``b`` over every seed's test items, paired by seed and item."""
    return paired_difference([(r.items[a], r.items[b]) for r in rs])


def baselines_table(summaries: list[Summary]) -> str | None:
    """Per mixture and capability (they do not depend on the method): chance, each untuned
    model, weak and ceiling, and the ceiling's gain over the best untuned strong model."""
    seen, rows = set(), []
    for s in summaries:
        if not s.baselines or (s.mixture, s.capability) in seen:
            continue
        seen.add((s.mixture, s.capability))
        rows.append([s.mixture, s.capability, chance_cell(s.chance),
                     *[str(s.baselines[b]) for b in s.baselines], str(s.weak), str(s.ceiling),
                     s.ceiling_over_base.bracket() if s.ceiling_over_base else "n/a"])
    if not rows:
        return None
    names = [_base_name(b) for b in next(s for s in summaries if s.baselines).baselines]
    return tabulate(rows, headers=["mixture", "capability", "chance", *names, "weak",
                                   "ceiling", "ceiling - strong base [95% CI]"],
                    disable_numparse=True)


def _base_name(key: str) -> str:
    """``strong_3shot`` -> ``strong base 3-shot``; ``strong_format`` -> ``format-only
    control``."""
    if key == FORMAT:
        return "format-only control"
    who, shots = key.rsplit("_", 1)
    return f"{who} base {shots.removesuffix('shot')}-shot"


def chance_cell(value: float | None) -> str:
    return "?" if value is None else f"{value:.3f}"


def warnings(summaries: list[Summary]) -> list[str]:
    """What makes a result empty or suspect: a model below chance (its accuracy plus two
    standard errors of the pooled test items still under it), a weak model that its own
    gold fine-tuning made worse than its untuned self (paired interval below 0), and a model
    that gave empty completions (it ended its answer at once: no answer, scored 0)."""
    out, seen = [], set()
    for s in summaries:
        key = (s.mixture, s.capability)
        for role, n in s.empty.items():
            if n and (role == "w2s" or key not in seen):
                what = f"{s.method} W2S" if role == "w2s" else \
                    role if role in ("weak", "ceiling") else _base_name(role)
                out.append(f"{s.capability} ({s.mixture}): {what} gave {n} empty completions "
                           f"of {s.items_n}")
        if s.chance is not None:
            models = [(f"{s.method} W2S", s.w2s)]
            if key not in seen:
                models += [("weak", s.weak), ("ceiling", s.ceiling),
                           *[(_base_name(b), e) for b, e in s.baselines.items()]]
            for what, e in models:
                n = s.items_n
                if n and e.mean + 2 * sqrt(max(e.mean * (1 - e.mean), 1 / n) / n) < s.chance:
                    out.append(f"{s.capability} ({s.mixture}): {what} {e.mean:.3f} is below "
                               f"chance ({s.chance:.3f})")
        if key not in seen and s.weak_over_base is not None and s.weak_over_base.high is not \
                None and s.weak_over_base.high < 0:
            out.append(f"{s.capability} ({s.mixture}): gold fine-tuning made the weak model "
                       f"worse than its untuned self: weak - weak base "
                       f"{s.weak_over_base.bracket()}")
        seen.add(key)
    return out


def results_table(summaries: list[Summary]) -> str:
    """Mean ± 95% half-interval over seeds; the PGR with its interval (none where the gap's
    own interval reaches 0); W2S against the best untuned strong model (paired); and
    whether the method generalizes weak to strong (beats the weak model and that baseline)."""
    rows = [[s.mixture, s.method, s.capability, len(s.seeds), str(s.weak), str(s.ceiling),
             str(s.w2s), s.pgr_text(reason=True),
             s.vs_base.bracket() if s.vs_base else "n/a", s.generalizes] for s in summaries]
    return tabulate(rows, headers=["mixture", "method", "capability", "seeds", "weak",
                                   "ceiling", "w2s", "pgr [95% CI]",
                                   "w2s - strong base [95% CI]", "w2s beats weak and base?"],
                    disable_numparse=True)


def analysis_table(summaries: list[Summary]) -> str:
    present = [k for k in ANALYSIS_COLUMNS if any(k in s.analysis for s in summaries)]
    rows = [[s.mixture, s.method, s.capability,
             *[analysis_cell(k, s.analysis.get(k)) for k in present]]
            for s in summaries]
    return tabulate(rows, headers=["mixture", "method", "capability",
                                   *[ANALYSIS_COLUMNS[k] for k in present]],
                    disable_numparse=True)


def analysis_cell(key: str, value: Estimate | None) -> str:
    if value is None:
        return ""
    return f"{value.mean:.0f}" if key in ("train_n", "train_examples", "train_steps") \
        else f"{value.mean:.3f}"


def mixtures_table(summaries: list[Summary]) -> str | None:
    """Joint against single training per method and capability, when a run has both."""
    by = {(s.mixture, s.method, s.capability): s for s in summaries}
    pairs = [(m, c) for (mix, m, c) in by if mix == "joint" and ("single", m, c) in by]
    if not pairs:
        return None
    rows = []
    for method, cap in pairs:
        joint, single = by[("joint", method, cap)], by[("single", method, cap)]
        rows.append([method, cap, str(joint.w2s), str(single.w2s),
                     f"{joint.w2s.mean - single.w2s.mean:+.3f}",
                     joint.pgr_text(), single.pgr_text()])
    return tabulate(rows, headers=["method", "capability", "w2s joint", "w2s single",
                                   "joint-single", "pgr joint", "pgr single"],
                    disable_numparse=True)


def transfer_table(results: list[TransferResult]) -> str | None:
    """Per method: rows trained on one capability's weak labels, columns evaluated on each."""
    if not results:
        return None
    cells: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for r in results:
        cells[(r.method, r.trained_on, r.evaluated_on)].append(r.accuracy)
    evaluated = list(dict.fromkeys(r.evaluated_on for r in results))
    rows = []
    for method, trained in dict.fromkeys((r.method, r.trained_on) for r in results):
        rows.append([method, trained, *[f"{fmean(cells[(method, trained, e)]):.3f}"
                                        for e in evaluated]])
    return tabulate(rows, headers=["method", "trained on", *evaluated], disable_numparse=True)


def splits_table(splits: dict[str, SplitAccount]) -> str | None:
    """Rows made against rows asked for, per split, and the rows making them dropped."""
    if not splits:
        return None
    names = ("labeled", "unlabeled", "test")
    rows = [[cap, *[f"{a.rows.get(s, 0)} / {a.requested.get(s, 0)}" for s in names],
             a.duplicates, a.overlap] for cap, a in sorted(splits.items())]
    return tabulate(rows, headers=["capability", *[f"{s} (made / asked)" for s in names],
                                   "repeated rows dropped", "train rows in test dropped"],
                    disable_numparse=True)


def report(results: list[CapabilityResult], transfer: list[TransferResult],
           splits: dict[str, SplitAccount] | None = None) -> str:
    """Every table of a run, titled, for the terminal and for ``report.md``."""
    summaries = summarise(results)
    warned = warnings(summaries)
    parts = [("Baselines: chance, untuned models and the ceiling on the test split",
              baselines_table(summaries)),
             ("Warnings", "\n".join(f"- {w}" for w in warned) if warned else None),
             ("Results (mean ± 95% interval half-width over seeds)", results_table(summaries)),
             ("Weak labels, training data and agreement (means over seeds)",
              analysis_table(summaries)),
             ("Joint vs single-capability training", mixtures_table(summaries)),
             ("Transfer: single-capability W2S models on every capability (accuracy)",
              transfer_table(transfer)),
             ("Data: the splits of the first seed", splits_table(splits or {}))]
    return "\n\n".join(f"## {title}\n\n{table}" for title, table in parts if table)


def md_table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table: the board's and the reference pages'."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)
