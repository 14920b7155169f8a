"""Results over seeds: means with 95% intervals, and the tables a run prints and keeps.

Tables: the main one (weak, ceiling, W2S, PGR per method and capability); the data analyses
(weak-label accuracy, the training set's size, label accuracy and diversity, agreement); joint
against single training side by side (capability independence); and the transfer matrix.
"""

from __future__ import annotations

from collections import defaultdict
from statistics import fmean

from pydantic import BaseModel
from tabulate import tabulate

from harness.models import CapabilityResult, TransferResult
from harness.stats import Estimate, pgr_over_seeds, pooled_pgr

ANALYSIS_COLUMNS = {
    "weak_label_acc": "weak label acc",
    "train_n": "train n",
    "train_label_acc": "train label acc",
    "train_distinct_2": "distinct-2",
    "train_compression": "compression",
    "pool_agreement": "weak=strong",
    "supervisor_agreement": "w2s=weak (test)",
    "rm_held_out_acc": "RM held-out acc",
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
    pgr: Estimate | None
    pgr_note: str | None = None
    pooled: Estimate | None = None
    """The ratio-of-means PGR with its paired bootstrap interval (``harness.stats``)."""
    pooled_note: str | None = None
    analysis: dict[str, Estimate]

    def pgr_text(self, reason: bool = False) -> str:
        """The PGR with its interval, or ``n/a`` (with why, when asked)."""
        if self.pgr:
            return str(self.pgr)
        return f"n/a ({self.pgr_note})" if reason else "n/a"

    def pooled_text(self) -> str:
        if self.pooled is None:
            return "n/a"
        return self.pooled.bracket() + (" (interval unbounded)" if self.pooled_note else "")


def summarise(results: list[CapabilityResult]) -> list[Summary]:
    groups: dict[tuple[str, str, str], list[CapabilityResult]] = defaultdict(list)
    for r in results:
        groups[(r.mixture, r.method, r.capability)].append(r)
    out = []
    for (mixture, method, cap), rs in groups.items():
        value, note = pgr_over_seeds([r.ceiling - r.weak for r in rs], [r.pgr for r in rs],
                                     [r.pgr_note for r in rs])
        keys = [k for k in ANALYSIS_COLUMNS if all(k in r.analysis for r in rs)]
        pooled, pooled_note = pooled_pgr([r.items for r in rs]) \
            if all(r.items for r in rs) else (None, "no per-item scores")
        out.append(Summary(
            mixture=mixture, method=method, capability=cap, seeds=[r.seed for r in rs],
            weak=Estimate.of([r.weak for r in rs]), ceiling=Estimate.of([r.ceiling for r in rs]),
            w2s=Estimate.of([r.w2s for r in rs]), pgr=value, pgr_note=note,
            pooled=pooled, pooled_note=pooled_note,
            analysis={k: Estimate.of([r.analysis[k] for r in rs]) for k in keys},
        ))
    return out


def results_table(summaries: list[Summary]) -> str:
    """Mean ± 95% half-interval over seeds; PGR only where the gap supports one; the pooled
    PGR with its bootstrap interval."""
    rows = [[s.mixture, s.method, s.capability, len(s.seeds), str(s.weak), str(s.ceiling),
             str(s.w2s), s.pooled_text(), s.pgr_text(reason=True)] for s in summaries]
    return tabulate(rows, headers=["mixture", "method", "capability", "seeds", "weak",
                                   "ceiling", "w2s", "pgr pooled [95% CI]", "pgr mean of seeds"],
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
    return f"{value.mean:.0f}" if key == "train_n" else f"{value.mean:.3f}"


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


def report(results: list[CapabilityResult], transfer: list[TransferResult]) -> str:
    """Every table of a run, titled, for the terminal and for ``report.md``."""
    summaries = summarise(results)
    parts = [("Results (mean ± 95% interval half-width over seeds)", results_table(summaries)),
             ("Weak labels, training data and agreement (means over seeds)",
              analysis_table(summaries)),
             ("Joint vs single-capability training", mixtures_table(summaries)),
             ("Transfer: single-capability W2S models on every capability (accuracy)",
              transfer_table(transfer))]
    return "\n\n".join(f"## {title}\n\n{table}" for title, table in parts if table)
